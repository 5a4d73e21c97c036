// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the compacted bitmap decoder, iterator and
 * encoder. The first input byte picks what the rest is:
 *   0: an encoded bitmap, decoded as received (checksum and all);
 *   1: a payload: the target writes a header with a valid checksum for
 *      it (npages from the next 3 bytes), so mutations reach the segment
 *      parser instead of dying at the checksum;
 *   2: a raw bitmap: encode, decode, compare.
 * For whatever decodes, the iterator must agree with the decoder and a
 * re-encoding must decode to the same bitmap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/loosetrace_bitmap.h>
#include "bitmap_codec.h"
#include "forge.h"

#define MAX_PAGES	(1U << 17)
#define HDR_MAX		LOOSETRACE_BITMAP_HDR_MAX

static uint64_t bm[MAX_PAGES / 64 + 1], bm2[MAX_PAGES / 64 + 1];
static uint8_t buf[1 << 17];

static void check_decoded(const uint8_t *in, size_t len, uint32_t npages)
{
	size_t nw = lt_bm_words(npages), cap = lt_bm_encoded_max(npages);
	struct lt_bm_iter it;
	uint32_t np, s, c, end = 0;
	uint8_t *enc;
	long l;
	int ret;

	/* The iterator sees the same runs. */
	memset(bm2, 0, sizeof(bm2));
	if (lt_bm_iter_init(&it, in, len, MAX_PAGES, &np) || np != npages)
		abort();
	while ((ret = lt_bm_iter_next(&it, &s, &c)) == 1) {
		if (!c || s < end || (uint64_t)s + c > npages)
			abort();
		for (end = s; end < s + c; end++) {
			/* Whole words where the run covers them. */
			if (!(end & 63) && end + 64 <= s + c) {
				bm2[end >> 6] = ~0ULL;
				end += 63;
				continue;
			}
			bm2[end >> 6] |= 1ULL << (end & 63);
		}
	}
	if (ret || memcmp(bm, bm2, nw * 8))
		abort();
	/* Nothing set past npages; a re-encoding decodes the same. */
	if ((npages & 63) && (bm[nw - 1] >> (npages & 63)))
		abort();
	enc = malloc(cap);
	l = lt_bm_encode((const u64 *)bm, npages, enc, cap);
	if (l < 5 || lt_bm_decode(enc, l, (u64 *)bm2, npages) != npages ||
	    memcmp(bm, bm2, nw * 8))
		abort();
	free(enc);
}

/* libFuzzer's entry point, named by an asm label. */
int fuzz_one_input(const uint8_t *data, size_t size)
	__asm__("LLVMFuzzerTestOneInput");

int fuzz_one_input(const uint8_t *data, size_t size)
{
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	uint32_t npages;
	long got;

	if (size < 1)
		return 0;
	switch (data[0]) {
	case 0:
		break;
	case 1:
		if (size < 4 || size - 4 > sizeof(buf) - HDR_MAX)
			return 0;
		npages = (data[1] | data[2] << 8 | data[3] << 16) % MAX_PAGES;
		len = forge(buf, npages, data + 4, size - 4);
		in = buf;
		break;
	case 2:
		npages = len * 8 > MAX_PAGES ? MAX_PAGES : len * 8;
		memset(bm, 0, sizeof(bm));
		memcpy(bm, in, (npages + 7) / 8);
		if (npages & 63)
			bm[npages / 64] &= (1ULL << (npages & 63)) - 1;
		got = lt_bm_encode((const u64 *)bm, npages, buf, sizeof(buf));
		if (got < 5)
			abort();
		memcpy(bm2, bm, sizeof(bm));
		if (lt_bm_decode(buf, got, (u64 *)bm, npages) != npages ||
		    memcmp(bm, bm2, sizeof(bm)))
			abort();
		check_decoded(buf, got, npages);
		return 0;
	default:
		return 0;
	}
	bm[MAX_PAGES / 64] = 0x5a5a5a5a5a5a5a5aULL;
	got = lt_bm_decode(in, len, (u64 *)bm, MAX_PAGES);
	if (bm[MAX_PAGES / 64] != 0x5a5a5a5a5a5a5a5aULL)
		abort();
	if (got >= 0)
		check_decoded(in, len, (uint32_t)got);
	else if (got != -EINVAL && got != -EMSGSIZE && got != -EBADMSG &&
		 got != -EOVERFLOW)
		abort();
	return 0;
}
