/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * loosetrace compacted dirty bitmap, version 1.
 *
 * A dirty bitmap has one bit per 4 KiB guest page: bit i set means page i
 * (counted from the first page the bitmap covers) was written. The
 * compacted form below is what HARVEST returns per memslot and what the
 * agent sends to its peer. Every multi-byte field is little-endian.
 *
 * Header (5 to 17 bytes)
 * ----------------------
 *   bytes 0-1  magic        0x4c 0x42 ("LB"), LOOSETRACE_BITMAP_MAGIC
 *   byte  2    version      LOOSETRACE_BITMAP_VERSION (1)
 *   varint     npages       pages the bitmap covers (bits)
 *   varint     payload_len  bytes of payload after the header
 *   4 bytes    checksum     of the payload (below); absent when
 *                           payload_len is 0
 * A varint is LEB128: 7 bits per byte, least significant first, the top
 * bit set on every byte but the last; at most 5 bytes, value < 2^32.
 * The header is 3 + len(npages) + len(payload_len) + (payload_len ? 4 : 0)
 * bytes: LOOSETRACE_BITMAP_HDR_MIN (5) for an empty bitmap of fewer than
 * 128 pages (100 pages: 4c 42 01 64 00), 9 or more when there is a
 * payload, LOOSETRACE_BITMAP_HDR_MAX (17) at most.
 * Header and payload are the whole encoding: no byte may follow.
 *
 * Payload: a sequence of segments
 * -------------------------------
 * The pages are cut into blocks of LOOSETRACE_BITMAP_BLOCK_PAGES (65536)
 * pages; the last block may be shorter. Segments cover whole blocks, one
 * after the other from page 0. Pages after the last segment are clean, so
 * an empty bitmap has an empty payload. A segment opens with a varint:
 *   bits 0-1   type: 1 = RLE, 2 = RAW (0 and 3 are invalid)
 *   bits 2-    number of blocks covered, minus one
 * A segment must not start at or beyond npages, and its last block must
 * start before npages (it ends at npages if that comes first).
 *
 * RAW segment: the covered pages as plain bitmap bytes, ceil(pages / 8) of
 * them; bit j of byte b is page 8 * b + j of the segment. Bits past
 * npages in the last byte must be zero.
 *
 * RLE segment: a bit stream, read from the least significant bit of each
 * byte upwards, then padded with zero bits to a byte boundary; a field of
 * several bits in it is written least significant bit first. It holds
 * alternating clean-gap and dirty-run lengths, starting with a gap:
 *   gap:  the first of the segment is coded as its length (>= 0), every
 *         later gap as length - 1 (runs are maximal, so gaps are >= 1);
 *   run:  coded as length - 1.
 * Decoding stops as soon as the position reaches the segment's end, after
 * a gap or after a run; a gap or run that would pass the end is an error.
 *
 * Each length is an adaptive Rice code. Gaps and runs keep separate
 * states (a, n), reset to (LOOSETRACE_BITMAP_RICE_A0, 1) at each segment.
 * The parameter k is the smallest k >= 0 with (n << (k + 1)) >= a,
 * at most 31. A value v is coded as:
 *   q = v >> k; if q < LOOSETRACE_BITMAP_RICE_QMAX (16): q zero bits, one
 *   bit 1, then the k low bits of v;
 *   otherwise (escape): 16 zero bits, 5 bits holding L - 1 where L is the
 *   bit length of v (1..32), then the L - 1 bits of v below its top bit.
 * After each value the state becomes a += min(v, 2^(k + CLAMP)), with the
 * k that coded v and CLAMP = LOOSETRACE_BITMAP_RICE_CLAMP (5),
 * n += 1, and when n reaches LOOSETRACE_BITMAP_RICE_NMAX both are halved
 * (rounding down).
 *
 * Singles mode: before each gap (before its marker, if any) the run state
 * decides: while a * 8 < n, runs are nearly all one page long and most
 * are not coded. It is never in force for a segment's first gap (the run
 * state is still (A0, 1) there). In singles mode:
 *   - a gap of length L (>= 1) is coded as the value L: its usual value,
 *     L - 1, plus one. 0 is never a gap there;
 *   - a coded 0 in place of a gap is a marker. It is a value of the gap
 *     state like any other: coded with the gap state's k, it updates the
 *     gap state (a += 0, n += 1, halving) before the gap after it is
 *     coded. It leaves the run state alone;
 *   - after a marker come the gap (coded L, never 0) and the run, coded
 *     as length - 1 with the run state, as outside singles mode (of any
 *     length: the encoder marks every run longer than one page, even one
 *     it then cuts to a single page at a block end);
 *   - after a gap without a marker no run is coded: the run is one page,
 *     and the run state is updated as for a coded 0 (a unchanged, n += 1,
 *     halving). A gap that ends the segment is followed by nothing.
 * A marker followed by 0, or by a gap that ends the segment, is an error.
 * Example: pages 3, 7, ..., 163 and 167-168 of 170 (41 single pages, 3
 * clean pages apart, then a 2-page run). Runs 1 to 40 are coded; the run
 * state is then (1, 9), so the 41st gap is coded 3 and its run not at
 * all. The gap state is then (21, 10), k = 1: the marker is the bits 1 0,
 * the state becomes (21, 11), k = 0, and the 42nd gap is 0 0 0 1
 * (Documentation/bitmap-format.rst works it through byte by byte).
 *
 * Checksum
 * --------
 * Four lanes h[0..3] start at LOOSETRACE_BITMAP_SEED ^ npages ^
 * (payload_len << 32) ^ lane, in 64 bits. The whole payload (segment
 * headers included) is read as 64-bit little-endian words, the last one
 * padded with zero bytes when payload_len % 8 != 0. With
 * G = payload_len / 32 (rounded down), word i < 4 * G goes to lane i % 4;
 * every later word (at most three whole words, then the padded one) goes
 * to lane 0, in order. A padded word never completes a group of four: of
 * 60 payload bytes, words 0-3 go to lanes 0-3 and words 4-7 to lane 0; of
 * 76, words 0-7 to lanes 0-3 twice and words 8-9 to lane 0. Each word w
 * does h = (h ^ w) * 0x9e3779b97f4a7c15, h ^= h >> 29. The result is
 * h[0] ^ rol(h[1], 17) ^ rol(h[2], 31) ^ rol(h[3], 47), mixed by
 * x ^= x >> 33, x *= 0xff51afd7ed558ccd, x ^= x >> 33,
 * x *= 0xc4ceb9fe1a85ec53, x ^= x >> 33; the low 32 bits are stored.
 * It detects transmission damage; it is not a defence against forgery,
 * the decoder checks every structural rule on its own.
 *
 * Size: an encoder never emits an RLE segment larger than the RAW
 * segment for the same blocks, so an encoding is at most the raw bitmap
 * plus 17 bytes, 3 bytes per segment and, for a short last block, 64.
 */
#ifndef _UAPI_LINUX_LOOSETRACE_BITMAP_H
#define _UAPI_LINUX_LOOSETRACE_BITMAP_H

#include <linux/types.h>

#define LOOSETRACE_BITMAP_MAGIC		0x424c
#define LOOSETRACE_BITMAP_VERSION	1
#define LOOSETRACE_BITMAP_HDR_MIN	5
#define LOOSETRACE_BITMAP_HDR_MAX	17
#define LOOSETRACE_BITMAP_BLOCK_SHIFT	16
#define LOOSETRACE_BITMAP_BLOCK_PAGES	65536	/* 1 << BLOCK_SHIFT */
#define LOOSETRACE_BITMAP_SEG_MAX	3
#define LOOSETRACE_BITMAP_SEG_RLE	1
#define LOOSETRACE_BITMAP_SEG_RAW	2
#define LOOSETRACE_BITMAP_RICE_A0	16
#define LOOSETRACE_BITMAP_RICE_NMAX	16
#define LOOSETRACE_BITMAP_RICE_QMAX	16
#define LOOSETRACE_BITMAP_RICE_CLAMP	5
#define LOOSETRACE_BITMAP_SEED		0x6c6f6f7365747263ULL

#endif /* _UAPI_LINUX_LOOSETRACE_BITMAP_H */
