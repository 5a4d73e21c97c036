/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Encoder, decoder and run iterator of the compacted dirty bitmap
 * (format: <linux/loosetrace_bitmap.h>). One implementation, built into
 * loosetrace.ko and into userspace. It allocates nothing and uses little
 * stack: callers supply every buffer.
 *
 * A bitmap in memory is an array of 64-bit words in CPU byte order, bit i
 * of word w standing for page 64 * w + i, like KVM's dirty bitmaps.
 * Bits at or beyond npages are ignored when encoding and are left zero
 * when decoding.
 *
 * Errors (negative errno):
 *   -EINVAL    not this format: bad magic, version or flags
 *   -EOVERFLOW more pages than the caller allows
 *   -EMSGSIZE  the input is shorter or longer than its header declares,
 *              or an output buffer is too small
 *   -EBADMSG   checksum mismatch or a malformed payload
 */
#ifndef LOOSETRACE_BITMAP_CODEC_H
#define LOOSETRACE_BITMAP_CODEC_H

#include "codec_compat.h"

/* Words of an in-memory bitmap of @npages pages. */
static inline size_t lt_bm_words(u32 npages)
{
	return ((size_t)npages + 63) / 64;
}

/* Largest encoding of any bitmap of @npages pages: size buffers with it. */
size_t lt_bm_encoded_max(u32 npages);

/*
 * Encode the first @npages bits of @bitmap into @out (@out_size bytes).
 * Returns the encoded length or -EMSGSIZE.
 */
long lt_bm_encode(const u64 *bitmap, u32 npages, void *out, size_t out_size);

/*
 * Check the header of the @len bytes at @in: format, declared length
 * equal to @len, checksum and @npages <= @max_pages. On success returns 0
 * and stores the page count in @npages.
 */
int lt_bm_check(const void *in, size_t len, u32 max_pages, u32 *npages);

/*
 * Decode @len bytes at @in into @bitmap, which holds @max_pages bits
 * (lt_bm_words(@max_pages) words). Every word is written: words past the
 * decoded page count are zeroed. Returns the page count or an error, in
 * which case the bitmap content is undefined.
 */
long lt_bm_decode(const void *in, size_t len, u64 *bitmap, u32 max_pages);

/*
 * Dirty runs of an encoded bitmap, in increasing order, without building
 * the bitmap. Runs that touch are not always merged (one may end where a
 * segment ends and the next begin there).
 */
struct lt_bm_iter {
	const u8 *seg;		/* next segment header */
	const u8 *end;		/* end of the payload */
	const u8 *bytes;	/* RLE: next byte to load; RAW: segment data */
	u64 bits;		/* RLE: bit buffer */
	u32 nbits;		/* RLE: valid bits in @bits */
	u32 npages;
	u32 pos;		/* next page to look at */
	u32 seg_end;		/* first page after the current segment */
	u32 seg_start;
	u64 ga, ra;		/* RLE: adaptive Rice sums, gaps and runs */
	u32 gn, rn;		/* RLE: and their counts */
	u8 type;		/* current segment type, 0 between segments */
	bool first;		/* RLE: next gap is the segment's first */
};

/*
 * Start iterating over @len bytes at @in after lt_bm_check(). Returns 0
 * and the page count in @npages, or an error.
 */
int lt_bm_iter_init(struct lt_bm_iter *it, const void *in, size_t len,
		    u32 max_pages, u32 *npages);

/*
 * Next dirty run: returns 1 and fills @start, @count; 0 at the end; or an
 * error for a malformed payload (the iterator then stays in error).
 */
int lt_bm_iter_next(struct lt_bm_iter *it, u32 *start, u32 *count);

/* The format's checksum of @len bytes (exposed for tests). */
u32 lt_bm_checksum(const void *data, size_t len, u32 npages);

#endif /* LOOSETRACE_BITMAP_CODEC_H */
