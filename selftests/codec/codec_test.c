// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the compacted bitmap codec (lib/bitmap_codec.c):
 * round trips through the decoder and the run iterator, the size bound,
 * and rejection of truncated, oversized, corrupted and malformed input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"

#include <linux/loosetrace_bitmap.h>
#include "bitmap_codec.h"
#include "forge.h"
#include "workloads.h"

#define HDR_MAX LOOSETRACE_BITMAP_HDR_MAX

/* Everything one round trip needs, sized for @npages. */
struct rt {
	uint32_t npages;
	size_t nw;
	uint64_t *bm;		/* input */
	uint64_t *dec;		/* decoded, one guard word past the end */
	uint64_t *runs;		/* rebuilt from the iterator */
	uint8_t *enc;
	size_t cap;
	long len;
};

static void rt_alloc(struct rt *t, uint32_t npages)
{
	t->npages = npages;
	t->nw = lt_bm_words(npages);
	t->bm = calloc(t->nw + 1, 8);
	t->dec = calloc(t->nw + 1, 8);
	t->runs = calloc(t->nw + 1, 8);
	t->cap = lt_bm_encoded_max(npages);
	t->enc = malloc(t->cap);
}

static void rt_free(struct rt *t)
{
	free(t->bm);
	free(t->dec);
	free(t->runs);
	free(t->enc);
}

static void mask_tail(struct rt *t)
{
	if (t->npages & 63)
		t->bm[t->nw - 1] &= (1ULL << (t->npages & 63)) - 1;
}

static void set_bits(uint64_t *bm, uint32_t start, uint32_t count)
{
	uint64_t p;

	for (p = start; p < (uint64_t)start + count; p++)
		bm[p >> 6] |= 1ULL << (p & 63);
}

/*
 * Encode, decode, iterate: returns NULL on success, else what went wrong.
 * Also checks the encoding against the documented worst case.
 */
static const char *round_trip(struct rt *t)
{
	struct lt_bm_iter it;
	uint32_t np, s, c, prev_end = 0;
	size_t raw = ((size_t)t->npages + 7) / 8;
	size_t nseg = ((size_t)t->npages + 65535) / 65536;
	long got;
	int ret;

	mask_tail(t);
	t->len = lt_bm_encode((const u64 *)t->bm, t->npages, t->enc, t->cap);
	if (t->len < 5)
		return "encode failed";
	if ((size_t)t->len > t->cap ||
	    (size_t)t->len > HDR_MAX + raw + 3 * nseg + 64)
		return "encoding larger than the documented bound";
	t->dec[t->nw] = 0x5a5a5a5a5a5a5a5aULL;
	memset(t->dec, 0xff, t->nw * 8);
	got = lt_bm_decode(t->enc, t->len, (u64 *)t->dec, t->npages);
	if (got != (long)t->npages)
		return "decode failed";
	if (memcmp(t->dec, t->bm, t->nw * 8))
		return "decoded bitmap differs";
	if (t->dec[t->nw] != 0x5a5a5a5a5a5a5a5aULL)
		return "decoder wrote past the bitmap";
	memset(t->runs, 0, t->nw * 8);
	if (lt_bm_iter_init(&it, t->enc, t->len, t->npages, &np) ||
	    np != t->npages)
		return "iterator init failed";
	while ((ret = lt_bm_iter_next(&it, &s, &c)) == 1) {
		if (!c || s < prev_end || (uint64_t)s + c > t->npages)
			return "iterator run out of order or bounds";
		set_bits(t->runs, s, c);
		prev_end = s + c;
	}
	if (ret)
		return "iterator failed";
	if (memcmp(t->runs, t->bm, t->nw * 8))
		return "iterated runs differ";
	return NULL;
}

static long decode_forged(uint32_t npages, const uint8_t *payload,
			  uint32_t plen)
{
	uint8_t buf[4200];
	uint64_t bm[4096];
	size_t len = forge(buf, npages, payload, plen);

	if (npages > 4096 * 64)
		return -1;
	return lt_bm_decode(buf, len, (u64 *)bm, npages);
}

TEST(empty)
{
	static const uint32_t sizes[] = { 0, 1, 63, 64, 65536, 1000003 };
	struct rt t;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		rt_alloc(&t, sizes[i]);
		ASSERT_EQ(NULL, round_trip(&t)) TH_LOG("%u pages", sizes[i]);
		/* An empty bitmap is its header alone, with no checksum. */
		ASSERT_EQ(forge_hdr_len(t.enc), (size_t)t.len);
		ASSERT_GE(8, t.len);
		rt_free(&t);
	}
}

TEST(full)
{
	static const uint32_t sizes[] = { 1, 64, 65536, 65537, 1000003 };
	struct rt t;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		rt_alloc(&t, sizes[i]);
		memset(t.bm, 0xff, t.nw * 8);
		ASSERT_EQ(NULL, round_trip(&t)) TH_LOG("%u pages", sizes[i]);
		ASSERT_LT(t.len, 64);
		rt_free(&t);
	}
}

TEST(single_page)
{
	static const uint32_t pages[] = { 0, 1, 63, 64, 65535, 65536, 131071,
					  999999 };
	struct rt t;
	unsigned int i;

	rt_alloc(&t, 1);
	t.bm[0] = 1;
	ASSERT_EQ(NULL, round_trip(&t));
	rt_free(&t);
	for (i = 0; i < ARRAY_SIZE(pages); i++) {
		rt_alloc(&t, 1000000);
		set_bits(t.bm, pages[i], 1);
		ASSERT_EQ(NULL, round_trip(&t)) TH_LOG("page %u", pages[i]);
		rt_free(&t);
	}
}

TEST(not_multiple_of_64)
{
	static const uint32_t sizes[] = { 7, 65, 100, 65536 + 37,
					  3 * 65536 + 63, 1000003 };
	uint64_t seed = 1;
	struct rt t;
	unsigned int i;
	size_t w;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		rt_alloc(&t, sizes[i]);
		for (w = 0; w < t.nw; w++)
			t.bm[w] = wl_rand(&seed) & wl_rand(&seed) &
				  wl_rand(&seed);
		set_bits(t.bm, sizes[i] - 1, 1);
		ASSERT_EQ(NULL, round_trip(&t)) TH_LOG("%u pages", sizes[i]);
		/* Bits past npages in the input are ignored. */
		if (sizes[i] & 63) {
			t.bm[t.nw - 1] |= ~0ULL << (sizes[i] & 63);
			t.len = lt_bm_encode((const u64 *)t.bm, t.npages,
					     t.enc, t.cap);
			ASSERT_EQ(t.npages, lt_bm_decode(t.enc, t.len,
							 (u64 *)t.dec,
							 t.npages));
			mask_tail(&t);
			ASSERT_EQ(0, memcmp(t.dec, t.bm, t.nw * 8));
		}
		rt_free(&t);
	}
}

/* Runs that start, end and cross block ends, with raw blocks between. */
TEST(block_edges)
{
	uint64_t seed = 7;
	struct rt t;
	uint32_t b;

	rt_alloc(&t, 8 * 65536 + 5);
	set_bits(t.bm, 65536 - 3, 6);		/* crosses 1 block end */
	set_bits(t.bm, 2 * 65536, 1);		/* starts a block */
	set_bits(t.bm, 3 * 65536 - 1, 1);	/* ends a block */
	for (b = 3 * 1024; b < 4 * 1024; b++)	/* block 3: random, raw */
		t.bm[b] = wl_rand(&seed);
	set_bits(t.bm, 4 * 65536 + 10, 3 * 65536);	/* long run */
	set_bits(t.bm, 8 * 65536, 5);		/* short last block */
	ASSERT_EQ(NULL, round_trip(&t));
	rt_free(&t);
}

/*
 * Uniform random bitmaps of 20% to 60% dirty over one to three blocks:
 * blocks go over budget and roll back to raw at every kind of boundary.
 */
TEST(rollback_sweep)
{
	uint64_t seed = 88172645463325252ULL;
	uint32_t npages, pct, i;
	struct rt t;

	for (npages = 65537; npages < 3 * 65536; npages += 1009) {
		for (pct = 20; pct <= 60; pct += 5) {
			rt_alloc(&t, npages);
			for (i = 0; i < npages; i++)
				if (wl_rand(&seed) % 100 < pct)
					t.bm[i / 64] |= 1ULL << (i % 64);
			ASSERT_EQ(NULL, round_trip(&t)) {
				TH_LOG("%u pages, %u%% dirty", npages, pct);
			}
			rt_free(&t);
		}
	}
}

TEST(pages_2_28)
{
	struct rt t;

	rt_alloc(&t, 1U << 28);
	workload_fill(&workloads[2], t.bm, t.npages, 0.01, 28);
	ASSERT_EQ(NULL, round_trip(&t));
	workload_fill(&workloads[12], t.bm, t.npages, 0, 28);
	ASSERT_EQ(NULL, round_trip(&t));
	memset(t.bm, 0, t.nw * 8);
	set_bits(t.bm, t.npages - 1, 1);
	ASSERT_EQ(NULL, round_trip(&t));
	memset(t.bm, 0xff, t.nw * 8);
	ASSERT_EQ(NULL, round_trip(&t));
	rt_free(&t);
}

FIXTURE(wl) {
	struct rt t;
};

FIXTURE_VARIANT(wl) {
	int index;
};

FIXTURE_SETUP(wl)
{
	rt_alloc(&self->t, (1U << 20) + 77);
}

FIXTURE_TEARDOWN(wl)
{
	rt_free(&self->t);
}

FIXTURE_VARIANT_ADD(wl, W0) {
	.index = 0,
};

FIXTURE_VARIANT_ADD(wl, W1) {
	.index = 1,
};

FIXTURE_VARIANT_ADD(wl, W2) {
	.index = 2,
};

FIXTURE_VARIANT_ADD(wl, W3) {
	.index = 3,
};

FIXTURE_VARIANT_ADD(wl, W4) {
	.index = 4,
};

FIXTURE_VARIANT_ADD(wl, W5) {
	.index = 5,
};

FIXTURE_VARIANT_ADD(wl, W6_4) {
	.index = 6,
};

FIXTURE_VARIANT_ADD(wl, W6_16) {
	.index = 7,
};

FIXTURE_VARIANT_ADD(wl, W6_64) {
	.index = 8,
};

FIXTURE_VARIANT_ADD(wl, W7) {
	.index = 9,
};

FIXTURE_VARIANT_ADD(wl, W8_10) {
	.index = 10,
};

FIXTURE_VARIANT_ADD(wl, W8_50) {
	.index = 11,
};

FIXTURE_VARIANT_ADD(wl, W8_alt) {
	.index = 12,
};

/* Every workload at every density, at 2^20 + 77 and 2^16 + 77 pages. */
TEST_F(wl, round_trip)
{
	static const double dens[] = { 0.0001, 0.001, 0.01, 0.1 };
	const struct workload *w = &workloads[variant->index];
	uint32_t sizes[] = { (1U << 20) + 77, (1U << 16) + 77 }, s;
	unsigned int d;
	size_t raw;

	ASSERT_EQ(13, nr_workloads);
	for (s = 0; s < 2; s++) {
		for (d = 0; d < (w->uses_density ? 4 : 1); d++) {
			self->t.npages = sizes[s];
			self->t.nw = lt_bm_words(sizes[s]);
			workload_fill(w, self->t.bm, sizes[s], dens[d],
				      100 + d);
			ASSERT_EQ(NULL, round_trip(&self->t))
				TH_LOG("%s %g%% %u pages", w->name,
				       dens[d] * 100, sizes[s]);
			raw = (sizes[s] + 7) / 8;
			/* Adversarial input: raw + 0.1% + 64 at most. */
			if (w->family == 8)
				ASSERT_LE((size_t)self->t.len,
					  raw + raw / 1000 + 64);
		}
	}
}

TEST(truncated)
{
	struct rt t;
	long l;

	rt_alloc(&t, 300000);
	workload_fill(&workloads[2], t.bm, t.npages, 0.01, 5);
	ASSERT_EQ(NULL, round_trip(&t));
	for (l = 0; l < t.len; l++)
		ASSERT_EQ(-EMSGSIZE, lt_bm_decode(t.enc, l, (u64 *)t.dec,
						  t.npages)) TH_LOG("%ld", l);
	rt_free(&t);
}

TEST(oversized)
{
	uint8_t small[HDR_MAX + 8];
	struct rt t;

	rt_alloc(&t, 300000);
	workload_fill(&workloads[5], t.bm, t.npages, 0.01, 6);
	ASSERT_EQ(NULL, round_trip(&t));
	/* Trailing bytes after the declared payload. */
	ASSERT_EQ(-EMSGSIZE, lt_bm_decode(t.enc, t.len + 1, (u64 *)t.dec,
					  t.npages));
	/* More pages than the caller's bitmap holds. */
	ASSERT_EQ(-EOVERFLOW, lt_bm_decode(t.enc, t.len, (u64 *)t.dec,
					   t.npages - 1));
	/* An output buffer too small for the encoding. */
	ASSERT_EQ(-EMSGSIZE, lt_bm_encode((const u64 *)t.bm, t.npages,
					  small, sizeof(small)));
	ASSERT_EQ(-EMSGSIZE, lt_bm_encode((const u64 *)t.bm, t.npages,
					  t.enc, t.len - 1));
	rt_free(&t);
}

TEST(bad_header)
{
	struct rt t;
	int i;

	rt_alloc(&t, 5000);
	set_bits(t.bm, 10, 100);
	ASSERT_EQ(NULL, round_trip(&t));
	for (i = 0; i < 3; i++) {
		t.enc[i] ^= 0x10;
		ASSERT_EQ(-EINVAL, lt_bm_decode(t.enc, t.len, (u64 *)t.dec,
						t.npages)) TH_LOG("byte %d", i);
		t.enc[i] ^= 0x10;
	}
	t.enc[forge_hdr_len(t.enc) - 1] ^= 1;		/* the checksum */
	ASSERT_EQ(-EBADMSG, lt_bm_decode(t.enc, t.len, (u64 *)t.dec,
					 t.npages));
	rt_free(&t);
}

/*
 * Every single-bit flip is caught by the checksum; with the checksum
 * recomputed (a forger), the decoder still stays within bounds.
 */
TEST(corrupted)
{
	struct rt t;
	uint8_t *copy;
	long l, bit, got, caught = 0, flips = 0, h;

	rt_alloc(&t, 200000);
	workload_fill(&workloads[9], t.bm, t.npages, 0.01, 9);
	ASSERT_EQ(NULL, round_trip(&t));
	copy = malloc(t.len);
	h = forge_hdr_len(t.enc);
	for (bit = 8 * h; bit < 8 * t.len; bit++) {
		memcpy(copy, t.enc, t.len);
		copy[bit / 8] ^= 1 << (bit % 8);
		ASSERT_EQ(-EBADMSG, lt_bm_decode(copy, t.len, (u64 *)t.dec,
						 t.npages)) TH_LOG("bit %ld", bit);
		l = forge(copy, t.npages, copy + h, t.len - h);
		t.dec[t.nw] = 0x5a5a5a5a5a5a5a5aULL;
		got = lt_bm_decode(copy, l, (u64 *)t.dec, t.npages);
		ASSERT_TRUE(got == (long)t.npages || got == -EBADMSG);
		ASSERT_EQ(0x5a5a5a5a5a5a5a5aULL, t.dec[t.nw]);
		caught += got < 0;
		flips++;
	}
	/* Most forged flips break the structure too. */
	ASSERT_GT(caught, flips / 4);
	free(copy);
	rt_free(&t);
}

/* Structurally invalid payloads with valid checksums. */
TEST(malformed)
{
	static const uint8_t raw_short[] = { 0x02, 0xff };
	static const uint8_t raw_pad[] = { 0x02, 0xff, 0xff };
	static const uint8_t raw_ok[] = { 0x02, 0xff, 0x0f };
	static const uint8_t short_hdr[] = { 0x81 };
	static const uint8_t long_hdr[] = { 0x81, 0x80, 0x80, 0x80, 0x80,
					    0x00 };
	/* First gap: an escape (16 zeros, L - 1 = 31), 2^32 - 1 pages. */
	static const uint8_t gap_past_end[] = { 0x01, 0x00, 0x00, 0xff, 0xff,
						0xff, 0xff, 0xff };
	uint8_t enc[64], p[64];
	uint64_t bm = 1;
	uint32_t plen;
	long len;

	/* A valid RLE payload for page 0 of 12, mutated below. */
	len = lt_bm_encode((const u64 *)&bm, 12, enc, sizeof(enc));
	ASSERT_GT(len, (long)forge_hdr_len(enc));
	plen = len - forge_hdr_len(enc);
	memcpy(p, enc + forge_hdr_len(enc), plen);
	ASSERT_EQ(LOOSETRACE_BITMAP_SEG_RLE, p[0]);
	ASSERT_EQ(12, decode_forged(12, p, plen));
	ASSERT_EQ(12, decode_forged(12, raw_ok, sizeof(raw_ok)));
	ASSERT_EQ(0, decode_forged(0, NULL, 0));

	p[0] = 0;		/* segment type 0 */
	ASSERT_EQ(-EBADMSG, decode_forged(12, p, plen));
	p[0] = 3;		/* segment type 3 */
	ASSERT_EQ(-EBADMSG, decode_forged(12, p, plen));
	p[0] = 1 | 4;		/* two blocks for 12 pages */
	ASSERT_EQ(-EBADMSG, decode_forged(12, p, plen));
	p[0] = 1;
	/* The stream ends before the segment does. */
	ASSERT_EQ(-EBADMSG, decode_forged(12, p, plen - 1));
	/* A segment that starts at npages. */
	memcpy(p + plen, p, plen);
	ASSERT_EQ(-EBADMSG, decode_forged(12, p, 2 * plen));
	/* A set padding bit after the last code. */
	p[plen - 1] |= 0x80;
	ASSERT_EQ(-EBADMSG, decode_forged(12, p, plen));
	ASSERT_EQ(-EBADMSG, decode_forged(0, raw_ok, sizeof(raw_ok)));
	ASSERT_EQ(-EBADMSG, decode_forged(12, raw_short, sizeof(raw_short)));
	ASSERT_EQ(-EBADMSG, decode_forged(12, raw_pad, sizeof(raw_pad)));
	ASSERT_EQ(-EBADMSG, decode_forged(12, short_hdr, sizeof(short_hdr)));
	ASSERT_EQ(-EBADMSG, decode_forged(12, long_hdr, sizeof(long_hdr)));
	ASSERT_EQ(-EBADMSG, decode_forged(12, gap_past_end,
					  sizeof(gap_past_end)));
}

/*
 * An independent writer of RLE streams, written from the description in
 * <linux/loosetrace_bitmap.h>, to check the codec against the text and to
 * build streams the encoder never emits.
 */
struct spec {
	uint8_t buf[4096];
	uint32_t bits;
	uint64_t a[2];		/* 0: gaps, 1: runs */
	uint32_t n[2];
};

static void spec_bits(struct spec *w, uint64_t v, uint32_t nb)
{
	uint32_t i;

	for (i = 0; i < nb; i++, w->bits++)
		if (v >> i & 1)
			w->buf[w->bits / 8] |= 1 << (w->bits % 8);
}

static void spec_init(struct spec *w)
{
	memset(w, 0, sizeof(*w));
	w->buf[0] = LOOSETRACE_BITMAP_SEG_RLE;	/* one block */
	w->bits = 8;
	w->a[0] = LOOSETRACE_BITMAP_RICE_A0;
	w->a[1] = LOOSETRACE_BITMAP_RICE_A0;
	w->n[0] = 1;
	w->n[1] = 1;
}

static void spec_val(struct spec *w, int which, uint64_t v)
{
	uint64_t *a = &w->a[which], lim;
	uint32_t *n = &w->n[which], k = 0, len = 0;

	while (((uint64_t)*n << (k + 1)) < *a && k < 31)
		k++;
	if ((v >> k) < LOOSETRACE_BITMAP_RICE_QMAX) {
		spec_bits(w, 0, v >> k);
		spec_bits(w, 1, 1);
		spec_bits(w, v, k);
	} else {
		while (v >> len)
			len++;
		spec_bits(w, 0, LOOSETRACE_BITMAP_RICE_QMAX);
		spec_bits(w, len - 1, 5);
		spec_bits(w, v, len - 1);
	}
	lim = 1ULL << (k + LOOSETRACE_BITMAP_RICE_CLAMP);
	*a += v < lim ? v : lim;
	if (++*n == LOOSETRACE_BITMAP_RICE_NMAX) {
		*a >>= 1;
		*n >>= 1;
	}
}

static bool spec_singles(const struct spec *w)
{
	return (w->a[1] << 3) < w->n[1];
}

/* Payload bytes so far (stream padded to a byte). */
static uint32_t spec_len(const struct spec *w)
{
	return (w->bits + 7) / 8;
}

/* A gap, in singles mode or not; @marker: a coded run follows. */
static void spec_gap(struct spec *w, uint64_t v, bool marker)
{
	if (spec_singles(w)) {
		if (marker)
			spec_val(w, 0, 0);
		v++;
	}
	spec_val(w, 0, v);
}

/* A single page, unsaid in singles mode. */
static void spec_single(struct spec *w, bool singles)
{
	if (!singles) {
		spec_val(w, 1, 0);
		return;
	}
	if (++w->n[1] == LOOSETRACE_BITMAP_RICE_NMAX) {
		w->a[1] >>= 1;
		w->n[1] >>= 1;
	}
}

/*
 * 60 single pages, 9 clean pages apart, written by the spec writer, are
 * byte for byte what the encoder writes, singles mode starting on the
 * way. Then streams the encoder never writes: a marker before the
 * segment's last gap and two markers in a row are rejected; a marker, a
 * gap and a coded run are fine.
 */
TEST(spec_conformance)
{
	const uint32_t npages = 4096;
	uint64_t bm[64] = { 0 }, dec[64];
	struct spec w, base;
	uint8_t enc[4096];
	int i, singles = 0;
	bool sm;
	long len;

	spec_init(&w);
	for (i = 0; i < 60; i++) {
		set_bits(bm, 9 + 10 * i, 1);
		sm = spec_singles(&w);
		singles += sm;
		spec_gap(&w, i ? 8 : 9, false);
		spec_single(&w, sm);
	}
	ASSERT_GT(singles, 5);
	ASSERT_TRUE(spec_singles(&w));
	base = w;
	spec_gap(&w, npages - 600 - 1, false);
	len = lt_bm_encode((const u64 *)bm, npages, enc, sizeof(enc));
	ASSERT_GT(len, (long)forge_hdr_len(enc));
	ASSERT_EQ(spec_len(&w), (uint32_t)(len - forge_hdr_len(enc)));
	ASSERT_EQ(0, memcmp(w.buf, enc + forge_hdr_len(enc), spec_len(&w)));
	ASSERT_EQ(npages, decode_forged(npages, w.buf, spec_len(&w)));

	/* A marker, then a gap that ends the segment. */
	w = base;
	spec_gap(&w, npages - 600 - 1, true);
	ASSERT_EQ(-EBADMSG, decode_forged(npages, w.buf, spec_len(&w)));
	/* Two markers in a row. */
	w = base;
	spec_val(&w, 0, 0);
	spec_val(&w, 0, 0);
	ASSERT_EQ(-EBADMSG, decode_forged(npages, w.buf, spec_len(&w)));
	/* A marker, a gap of 5, a run of 4 pages, the last gap. */
	w = base;
	spec_gap(&w, 5 - 1, true);
	spec_val(&w, 1, 4 - 1);
	spec_gap(&w, npages - 609 - 1, false);
	{
		uint8_t buf[4200];
		size_t l = forge(buf, npages, w.buf, spec_len(&w));

		ASSERT_EQ(npages, lt_bm_decode(buf, l, (u64 *)dec, npages));
	}
	set_bits(bm, 605, 4);
	ASSERT_EQ(0, memcmp(bm, dec, sizeof(bm)));
}

/*
 * The wire format is an ABI: this exact encoding must not change without
 * a new LOOSETRACE_BITMAP_VERSION.
 */
TEST(wire_format)
{
	static const uint8_t want[] = {
		0x4c, 0x42, 0x01,		/* magic, version */
		0x80, 0x01,			/* npages 128 */
		0x08,				/* payload_len 8 */
		0x44, 0xe4, 0x7f, 0xfe,		/* checksum */
		0x01,				/* RLE segment, 1 block */
		/*
		 * Pages 0, 5-7, 100. Coded values (length, or length - 1
		 * after the first gap and for runs) and parameters:
		 * gap 0 k=3, run 0 k=3, gap 3 k=2, run 2 k=2, gap 91 as an
		 * escape (L = 7), run 0 k=2, last gap 26 k=4 (q = 1).
		 */
		0x11, 0x2f, 0x00, 0x80, 0xd9, 0xa2, 0x02,
	};
	struct rt t;

	rt_alloc(&t, 128);
	set_bits(t.bm, 0, 1);
	set_bits(t.bm, 5, 3);
	set_bits(t.bm, 100, 1);
	ASSERT_EQ(NULL, round_trip(&t));
	ASSERT_EQ(sizeof(want), (size_t)t.len);
	ASSERT_EQ(0, memcmp(t.enc, want, sizeof(want)));
	rt_free(&t);
}

TEST_HARNESS_MAIN
