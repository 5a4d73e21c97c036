// SPDX-License-Identifier: GPL-2.0
/*
 * Conformance vectors of the compacted bitmap format: fixed encodings of
 * small bitmaps, worked out from the rules of <linux/loosetrace_bitmap.h>
 * (Documentation/bitmap-format.rst shows the derivations), checked both
 * ways: the encoder must write exactly these bytes, the decoder and the
 * run iterator must give back exactly the bitmap. They pin the points
 * the text once left open: the header length, a gap in singles mode, the
 * marker and the gap state, the checksum lanes. For the two singles-mode
 * points, the bytes the other reading gives are checked not to decode to
 * the same bitmap, so that the vector tells the readings apart; for the
 * lanes, the checksums of the misreadings are listed.
 */
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"

#include <linux/loosetrace_bitmap.h>
#include "bitmap_codec.h"
#include "forge.h"

/* @count runs of @len dirty pages, one every @step pages from @first. */
struct pattern {
	uint32_t first, len, step, count;
};

struct vector {
	const char *name;
	uint32_t npages;
	struct pattern dirty[2];	/* count 0: unused */
	const uint8_t *enc;
	size_t len;
};

#define VEC(nm, np, bytes, ...) {					\
	.name = nm, .npages = np, .dirty = { __VA_ARGS__ },		\
	.enc = bytes, .len = sizeof(bytes),				\
}

static uint64_t *make_bitmap(const struct vector *v)
{
	uint64_t *bm = calloc(lt_bm_words(v->npages) + 1, 8);
	uint32_t i, j, p;

	for (i = 0; i < 2; i++)
		for (j = 0; j < v->dirty[i].count; j++)
			for (p = 0; p < v->dirty[i].len; p++) {
				uint32_t pg = v->dirty[i].first +
					      j * v->dirty[i].step + p;

				bm[pg / 64] |= 1ULL << (pg % 64);
			}
	return bm;
}

/*
 * Decode @len bytes at @enc for @npages pages with the decoder and with
 * the iterator; 0 when both give @want, else what went wrong.
 */
static const char *decodes_to(const uint8_t *enc, size_t len,
			      uint32_t npages, const uint64_t *want)
{
	size_t nw = lt_bm_words(npages);
	uint64_t *dec = calloc(nw + 1, 8), *runs = calloc(nw + 1, 8);
	const char *err = NULL;
	struct lt_bm_iter it;
	uint32_t np, s, c, p;
	long got;
	int ret;

	dec[nw] = 0x5a5a5a5a5a5a5a5aULL;
	got = lt_bm_decode(enc, len, (u64 *)dec, npages);
	if (got != (long)npages)
		err = "decoder failed";
	else if (memcmp(dec, want, nw * 8))
		err = "decoder gave another bitmap";
	else if (dec[nw] != 0x5a5a5a5a5a5a5a5aULL)
		err = "decoder wrote past the bitmap";
	else if (lt_bm_iter_init(&it, enc, len, npages, &np) || np != npages)
		err = "iterator init failed";
	if (err)
		goto out;
	while ((ret = lt_bm_iter_next(&it, &s, &c)) == 1)
		for (p = s; p < s + c && p < npages; p++)
			runs[p / 64] |= 1ULL << (p % 64);
	if (ret)
		err = "iterator failed";
	else if (memcmp(runs, want, nw * 8))
		err = "iterator gave other runs";
out:
	free(dec);
	free(runs);
	return err;
}

/* Both ways: encoder to the exact bytes, bytes back to the bitmap. */
static const char *check_vector(const struct vector *v)
{
	static char msg[128];
	size_t cap = lt_bm_encoded_max(v->npages), i;
	uint64_t *bm = make_bitmap(v);
	uint8_t *out = malloc(cap);
	const char *err = NULL;
	uint32_t np = 0;
	long len;

	len = lt_bm_encode((const u64 *)bm, v->npages, out, cap);
	if (len != (long)v->len) {
		snprintf(msg, sizeof(msg), "encoder wrote %ld bytes, not %zu",
			 len, v->len);
		err = msg;
		goto out;
	}
	for (i = 0; i < v->len; i++)
		if (out[i] != v->enc[i]) {
			snprintf(msg, sizeof(msg),
				 "encoder wrote 0x%02x at byte %zu, not 0x%02x",
				 out[i], i, v->enc[i]);
			err = msg;
			goto out;
		}
	if (lt_bm_check(v->enc, v->len, v->npages, &np) || np != v->npages)
		err = "lt_bm_check refused the vector";
	else
		err = decodes_to(v->enc, v->len, v->npages, bm);
out:
	free(bm);
	free(out);
	return err;
}

/* The bytes a misreading writes must not stand for the same bitmap. */
static bool tells_apart(const struct vector *v, const uint8_t *wrong,
			size_t len)
{
	uint64_t *bm = make_bitmap(v);
	bool apart = decodes_to(wrong, len, v->npages, bm);

	free(bm);
	return apart;
}

/*
 * Empty bitmaps are their header alone: 3 + len(npages) + len(0) bytes,
 * no checksum. Under 128 pages that is 5 bytes, HDR_MIN.
 */
static const uint8_t empty_0[] = { 0x4c, 0x42, 0x01, 0x00, 0x00 };
static const uint8_t empty_100[] = { 0x4c, 0x42, 0x01, 0x64, 0x00 };
static const uint8_t empty_127[] = { 0x4c, 0x42, 0x01, 0x7f, 0x00 };
static const uint8_t empty_128[] = { 0x4c, 0x42, 0x01, 0x80, 0x01, 0x00 };
/* 2^18 pages (1 GiB): LEB128 0x80 0x80 0x10. */
static const uint8_t empty_2_18[] = { 0x4c, 0x42, 0x01, 0x80, 0x80, 0x10,
				      0x00 };

TEST(header_length)
{
	static const struct vector v[] = {
		VEC("0 pages", 0, empty_0),
		VEC("100 pages", 100, empty_100),
		VEC("127 pages", 127, empty_127),
		VEC("128 pages", 128, empty_128),
		VEC("2^18 pages", 1U << 18, empty_2_18),
	};
	uint32_t np;
	unsigned int i;

	ASSERT_EQ(5, LOOSETRACE_BITMAP_HDR_MIN);
	ASSERT_EQ(LOOSETRACE_BITMAP_HDR_MIN, sizeof(empty_100));
	for (i = 0; i < ARRAY_SIZE(v); i++) {
		ASSERT_EQ(NULL, check_vector(&v[i])) TH_LOG("%s", v[i].name);
		/* A byte short of its header: payload_len is cut. */
		ASSERT_EQ(-EMSGSIZE, lt_bm_check(v[i].enc, v[i].len - 1,
						 v[i].npages, &np));
	}
}

/*
 * Singles mode, a gap of length L is coded L. Pages 0, 2, ..., 86 of 88:
 * 44 single pages, gaps of 1. Gaps and runs 1-40 are all the value 0
 * (k = 3, 2, 2, 1, 1, 1, 1, then 0); the run state is then (1, 9), so
 * gaps 41-44 and the last gap (page 87) are each coded 1 ("01", k = 0)
 * and runs 41-44 not at all. The header is 9 bytes, the least with a
 * payload.
 */
static const uint8_t singles[] = {
	0x4c, 0x42, 0x01, 0x58, 0x0f,		/* 88 pages, payload 15 */
	0x30, 0x23, 0x73, 0x8c,			/* checksum */
	0x01,					/* RLE, 1 block */
	0x11, 0x49, 0x52, 0x55, 0xf5, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xbf, 0xaa,
};

/* The same bitmap with singles-mode gaps coded L + 1 ("001"). */
static const uint8_t singles_len_plus_one[] = {
	0x4c, 0x42, 0x01, 0x58, 0x10, 0xdf, 0xcb, 0x91, 0x8b,
	0x01,
	0x11, 0x49, 0x52, 0x55, 0xf5, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0x3f, 0x49, 0x12,
};

TEST(singles_gap_is_its_length)
{
	static const struct vector v =
		VEC("singles", 88, singles, { 0, 1, 2, 44 });

	ASSERT_EQ(NULL, check_vector(&v));
	ASSERT_EQ(9, forge_hdr_len(singles));
	ASSERT_TRUE(tells_apart(&v, singles_len_plus_one,
				sizeof(singles_len_plus_one)));
}

/*
 * The marker is a gap-state value. Pages 3, 7, ..., 163 (41 single
 * pages), then 167-168, of 170. The 41st gap is in singles mode (run
 * state (1, 9)), coded 3 with k = 0. Before the 42nd gap the gap state is
 * (21, 10), k = 1: marker "10"; the state becomes (21, 11), k = 0, so the
 * gap is "0001", then the run of 2 is "01" and the last gap (1 page, out
 * of singles mode since the coded run) "1": bytes 0x19 0x43 0x03.
 */
static const uint8_t marker[] = {
	0x4c, 0x42, 0x01, 0xaa, 0x01, 0x19,	/* 170 pages, payload 25 */
	0xa5, 0xf0, 0x78, 0x23,			/* checksum */
	0x01,					/* RLE, 1 block */
	0x17, 0x95, 0xa6, 0xb5, 0xd6, 0x54, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x19, 0x43, 0x03,
};

/* The same bitmap with a marker that leaves the gap state (gap "011"). */
static const uint8_t marker_no_update[] = {
	0x4c, 0x42, 0x01, 0xaa, 0x01, 0x19, 0x26, 0x29, 0xfd, 0x69,
	0x01,
	0x17, 0x95, 0xa6, 0xb5, 0xd6, 0x54, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x19, 0xb3, 0x01,
};

TEST(marker_updates_gap_state)
{
	static const struct vector v =
		VEC("marker", 170, marker, { 3, 1, 4, 41 }, { 167, 2, 0, 1 });

	ASSERT_EQ(NULL, check_vector(&v));
	ASSERT_TRUE(tells_apart(&v, marker_no_update,
				sizeof(marker_no_update)));
}

/*
 * Checksum lanes, on RAW segments (alternating pages cost more as RLE
 * than raw): segment byte 0x02, then 0x55 for each 8 pages. 600 pages:
 * a 76-byte payload, words 0-7 to lanes 0-3 twice, words 8 and 9 (the
 * padded one) to lane 0. 472 pages: 60 bytes, words 0-3 to lanes 0-3,
 * words 4-7 to lane 0. 504 pages: 64 bytes, exactly two groups of four,
 * nothing left for lane 0 alone.
 */
static const uint8_t raw_600[] = {
	0x4c, 0x42, 0x01, 0xd8, 0x04, 0x4c,	/* 600 pages, payload 76 */
	0xa4, 0x9b, 0x01, 0xbd,			/* checksum */
	0x02,					/* RAW, 1 block */
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55,
};

static const uint8_t raw_472[] = {
	0x4c, 0x42, 0x01, 0xd8, 0x03, 0x3c,	/* 472 pages, payload 60 */
	0x0c, 0x38, 0xa7, 0x2a,			/* checksum */
	0x02,					/* RAW, 1 block */
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55,
};

static const uint8_t raw_504[] = {
	0x4c, 0x42, 0x01, 0xf8, 0x03, 0x40,	/* 504 pages, payload 64 */
	0x73, 0x9f, 0xf4, 0x57,			/* checksum */
	0x02,					/* RAW, 1 block */
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
};

/*
 * The checksums that misreadings of "while four whole words remain" give
 * instead (a reader's implementation can compare):
 *   a group completed by the padded word:        raw_472 0xc5b9d31f
 *   lane i % 4 while four whole words follow i:  raw_600 0x941fa667,
 *                                                raw_472 0xf9f434d8,
 *                                                raw_504 0x1d44392c
 *   lane i % 4 while words i to i + 3 are whole: raw_600 0x191c2fa8,
 *                                                raw_504 0x1d44392c
 *   a group only while more than 32 bytes remain: raw_504 0x1d44392c
 */
TEST(checksum_lanes)
{
	static const struct vector v[] = {
		VEC("raw 600", 600, raw_600, { 0, 1, 2, 300 }),
		VEC("raw 472", 472, raw_472, { 0, 1, 2, 236 }),
		VEC("raw 504", 504, raw_504, { 0, 1, 2, 252 }),
	};
	unsigned int i;
	uint32_t sum;
	size_t h;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		ASSERT_EQ(NULL, check_vector(&v[i])) TH_LOG("%s", v[i].name);
		/* The stored sum is lt_bm_checksum() of the payload. */
		h = forge_hdr_len(v[i].enc);
		memcpy(&sum, v[i].enc + h - 4, 4);
		ASSERT_EQ(le32toh(sum),
			  lt_bm_checksum(v[i].enc + h, v[i].len - h,
					 v[i].npages));
	}
}

TEST_HARNESS_MAIN
