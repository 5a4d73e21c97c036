/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dirty bitmaps as the agent uses them: raw little-endian 64-bit words,
 * one bit per page, and the compacted form of <linux/loosetrace_bitmap.h>
 * encoded and decoded by the shared codec in lib/.
 */
#ifndef LT_AGENT_BITMAP_H
#define LT_AGENT_BITMAP_H

#include <stddef.h>
#include <stdint.h>

static inline size_t bm_words(uint64_t npages)
{
	return (npages + 63) / 64;
}

static inline int bm_test(const uint64_t *w, uint64_t i)
{
	return (w[i / 64] >> (i % 64)) & 1;
}

static inline void bm_set(uint64_t *w, uint64_t i)
{
	w[i / 64] |= 1ULL << (i % 64);
}

/*
 * Decodes an untrusted compacted bitmap of exactly @npages pages into
 * @words (bm_words(npages) words). Returns 0 or -EBADMSG.
 */
int bm_decode(const uint8_t *in, size_t len, uint64_t npages,
	      uint64_t *words);
/* Encodes; returns the compacted size or -errno. *out is malloc'd. */
long bm_encode(const uint64_t *words, uint64_t npages, uint8_t **out);
uint64_t bm_count(const uint64_t *words, uint64_t npages);
/* Next set bit at or after @from, or @npages if none. */
uint64_t bm_next(const uint64_t *words, uint64_t npages, uint64_t from);

#endif /* LT_AGENT_BITMAP_H */
