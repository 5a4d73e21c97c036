// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's bitmap helpers on top of the shared codec (lib/): the
 * codec counts pages in u32, the agent in u64, and a decoded bitmap must
 * cover exactly the pages of the memslot it claims to describe.
 */
#include <errno.h>
#include <stdlib.h>

#include "bitmap_codec.h"
#include "bitmap.h"

int bm_decode(const uint8_t *in, size_t len, uint64_t npages,
	      uint64_t *words)
{
	long n;

	if (npages > UINT32_MAX)
		return -EOVERFLOW;
	n = lt_bm_decode(in, len, words, (u32)npages);
	if (n < 0)
		return -EBADMSG;
	return (uint64_t)n == npages ? 0 : -EBADMSG;
}

long bm_encode(const uint64_t *words, uint64_t npages, uint8_t **out)
{
	size_t max;
	long n;

	if (npages > UINT32_MAX)
		return -EOVERFLOW;
	max = lt_bm_encoded_max((u32)npages);
	*out = malloc(max);
	if (!*out)
		return -ENOMEM;
	n = lt_bm_encode(words, (u32)npages, *out, max);
	if (n < 0) {
		free(*out);
		*out = NULL;
	}
	return n;
}

uint64_t bm_count(const uint64_t *words, uint64_t npages)
{
	uint64_t i, n = 0, last = npages % 64;

	for (i = 0; i < npages / 64; i++)
		n += __builtin_popcountll(words[i]);
	if (last)
		n += __builtin_popcountll(words[i] & ((1ULL << last) - 1));
	return n;
}

uint64_t bm_next(const uint64_t *words, uint64_t npages, uint64_t from)
{
	uint64_t w, i;

	if (from >= npages)
		return npages;
	i = from / 64;
	w = words[i] & (~0ULL << (from % 64));
	for (;;) {
		if (w) {
			from = i * 64 + __builtin_ctzll(w);
			return from < npages ? from : npages;
		}
		if (++i >= bm_words(npages))
			return npages;
		w = words[i];
	}
}
