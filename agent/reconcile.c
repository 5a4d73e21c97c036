// SPDX-License-Identifier: GPL-2.0
/*
 * The reconcile pass (see reconcile.h). The scan reads all of guest
 * memory during the downtime, so it is split across threads by whole
 * 64-page words of the dirty bitmap: no two threads write one word.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "reconcile.h"

#define PAGE_BYTES	4096
#define MAX_THREADS	8

uint64_t page_hash(const void *page)
{
	return XXH3_64bits(page, PAGE_BYTES);
}

uint64_t zero_page_hash(void)
{
	static const uint8_t zero[PAGE_BYTES];

	return page_hash(zero);
}

unsigned int reconcile_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > MAX_THREADS ? MAX_THREADS : (unsigned int)n;
}

struct scan_part {
	const uint8_t *mem;
	const uint64_t *sent;
	uint64_t *dirty;
	uint64_t first, end;	/* pages, first a multiple of 64 */
	uint64_t added;
};

static void *scan_part(void *arg)
{
	struct scan_part *p = arg;
	uint64_t i, bit;

	for (i = p->first; i < p->end; i++) {
		bit = 1ULL << (i % 64);
		if (p->dirty[i / 64] & bit)
			continue;
		if (page_hash(p->mem + i * PAGE_BYTES) != p->sent[i]) {
			p->dirty[i / 64] |= bit;
			p->added++;
		}
	}
	return NULL;
}

uint64_t reconcile_scan(const uint8_t *mem, uint64_t npages,
			const uint64_t *sent, uint64_t *dirty,
			unsigned int threads)
{
	struct scan_part parts[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	uint64_t words = (npages + 63) / 64, per, added = 0;
	unsigned int i, started = 0;

	if (threads < 1)
		threads = 1;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (threads > words)
		threads = words ? words : 1;
	per = (words + threads - 1) / threads;
	for (i = 0; i < threads; i++) {
		parts[i] = (struct scan_part){
			.mem = mem, .sent = sent, .dirty = dirty,
			.first = i * per * 64,
			.end = (i + 1) * per * 64,
		};
		if (parts[i].end > npages)
			parts[i].end = npages;
		if (parts[i].first >= parts[i].end)
			break;
		/* the last part runs here; others get a thread if one starts */
		if (i + 1 < threads &&
		    !pthread_create(&tid[started], NULL, scan_part, &parts[i])) {
			started++;
			continue;
		}
		scan_part(&parts[i]);
	}
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	for (i = 0; i < threads && parts[i].first < parts[i].end; i++)
		added += parts[i].added;
	return added;
}
