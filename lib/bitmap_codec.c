// SPDX-License-Identifier: GPL-2.0
/*
 * Compacted dirty bitmap codec: encoder, decoder and run iterator for the
 * format described in <linux/loosetrace_bitmap.h>.
 *
 * The encoder walks the bitmap run by run, skipping clean memory eight
 * words at a time, and codes gap/run lengths with adaptive Rice codes. It
 * checks, block by block, that the code costs less than the raw bits; a
 * block that does not is rolled back and sent raw, which bounds the output
 * of adversarial bitmaps at the raw size plus a few bytes per segment.
 *
 * The decoder trusts nothing: every length is checked against the end of
 * its segment, every read against the end of the input.
 */
#include <linux/loosetrace_bitmap.h>

#include "bitmap_codec.h"

#define BLK_SHIFT	LOOSETRACE_BITMAP_BLOCK_SHIFT
#define BLK_PAGES	LOOSETRACE_BITMAP_BLOCK_PAGES
#define HDR_MAX		LOOSETRACE_BITMAP_HDR_MAX
#define SEG_MAX		LOOSETRACE_BITMAP_SEG_MAX
#define QMAX		LOOSETRACE_BITMAP_RICE_QMAX
#define QMAX_MASK	((1U << QMAX) - 1)
#define LEN_BITS	5
/* Bits kept back in each RLE block for the code that may close it. */
#define CLOSE_RESERVE	96
/* The last, short block may exceed its raw size by this much. */
#define SHORT_SLACK	(64 * 8)
#define RICE_NMAX	LOOSETRACE_BITMAP_RICE_NMAX

/* Adaptive Rice state: sum of recent values and their count. */
struct lt_rice {
	u64 a;
	u32 n;
};

static inline void rice_reset(struct lt_rice *s)
{
	s->a = LOOSETRACE_BITMAP_RICE_A0;
	s->n = 1;
}

static __always_inline u32 fls64_nz(u64 x)
{
	return 64 - __builtin_clzll(x);
}

/*
 * Smallest k with (n << (k + 1)) >= a, at most 31. Without branches: k
 * and its neighbours are equally likely from one value to the next.
 * With d the difference of the bit lengths (0 when m is the longer),
 * m << d is within a factor of two of a, so k is d or d + 1.
 */
static __always_inline u32 rice_k(u64 a, u32 n)
{
	u64 m = (u64)n << 1;
	int d = (int)fls64_nz(a | 1) - (int)fls64_nz(m);
	u32 k;

	d = d < 0 ? 0 : d;
	k = (u32)d + ((m << d) < a);
	return k > 31 ? 31 : k;
}

/*
 * One value far above the mean (the jump between two dirty regions) would
 * inflate k for many values after it: it counts as 2^(k + CLAMP) at most.
 */
static __always_inline u64 rice_clamp(u64 v, u32 k)
{
	u64 max = 1ULL << (k + LOOSETRACE_BITMAP_RICE_CLAMP);

	return v < max ? v : max;
}

static __always_inline void rice_update(struct lt_rice *s, u64 v, u32 k)
{
	u32 h = s->n + 1 == RICE_NMAX;

	/* Halving without a branch: it comes every eighth value. */
	s->a = (s->a + rice_clamp(v, k)) >> h;
	s->n = (s->n + 1) >> h;
}

/*
 * "Singles" mode: while nearly every run is one page long (mean coded run
 * below 1/8), runs are not coded. Gaps are coded plus one, and a 0 before
 * a gap announces that the run after it is coded, being longer (or cut).
 */
static __always_inline bool singles(u64 a, u32 n)
{
	return (a << 3) < n;
}

/* ---- encoder ---- */

/* LEB128: 7 bits a byte, low first, high bit set on all but the last. */
static u32 varint_len(u32 v)
{
	u32 n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static u32 put_varint(u8 *p, u32 v)
{
	u32 n = 0;

	while (v >= 0x80) {
		p[n++] = (u8)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (u8)v;
	return n;
}

/*
 * Bit writer, LSB first. Every put stores 8 bytes at once and keeps fewer
 * than 8 bits pending, so it has no data-dependent branch.
 */
struct lt_bw {
	u8 *buf;
	size_t cap;
	size_t off;	/* whole bytes written */
	u64 acc;	/* pending bits, also already stored at off */
	u32 n;		/* number of pending bits, < 8 */
	bool over;
};

static __always_inline void bw_store(struct lt_bw *w)
{
	u32 i;

	if (likely(w->off + 8 <= w->cap)) {
		lt_put_le64(w->buf + w->off, w->acc);
		return;
	}
	for (i = 0; i < (w->n + 7) / 8; i++) {
		if (w->off + i < w->cap)
			w->buf[w->off + i] = (u8)(w->acc >> (8 * i));
		else
			w->over = true;
	}
}

/* Append the @nb (<= 56) low bits of @v. */
static __always_inline void bw_put(struct lt_bw *w, u64 v, u32 nb)
{
	w->acc |= v << w->n;
	w->n += nb;
	bw_store(w);
	w->off += w->n >> 3;
	w->acc >>= w->n & ~7U;
	w->n &= 7;
}

static __always_inline u64 bw_bits(const struct lt_bw *w)
{
	return (u64)w->off * 8 + w->n;
}

/*
 * End on a byte boundary: the partial byte, zero-padded, is stored. It is
 * stored again here because a rollback restores a writer whose pending
 * bits were since overwritten in the buffer by the codes rolled back.
 */
static __always_inline void bw_flush(struct lt_bw *w)
{
	if (w->n) {
		bw_store(w);
		w->off++;
	}
	w->acc = 0;
	w->n = 0;
}

static __always_inline void put_val(struct lt_bw *w, struct lt_rice *s, u32 v)
{
	u32 k = rice_k(s->a, s->n);
	u32 q = v >> k;

	if (likely(q < QMAX)) {
		/* q zeros, a one, k low bits: at most 16 + 31 bits. */
		bw_put(w, (1ULL << q) | ((v & ((1ULL << k) - 1)) << (q + 1)),
		       q + 1 + k);
	} else {
		u32 len = fls64_nz(v);

		/* QMAX zeros, 5 bits of len - 1, v below its top bit. */
		bw_put(w, ((u64)(len - 1) << QMAX) |
		       ((v & ((1ULL << (len - 1)) - 1)) << (QMAX + LEN_BITS)),
		       QMAX + LEN_BITS + len - 1);
	}
	rice_update(s, v, k);
}

struct lt_enc {
	const u64 *bm;
	u8 *out;
	size_t cap;
	size_t len;
	u32 npages;
	u32 nwords;
	u32 nblocks;
	bool over;
};

/*
 * First word at or after @w, before @wend, that is not clean, or @wend:
 * 64 bytes at a time with one branch, the word itself found without one.
 */
static __always_inline u32 skip_clean(const u64 *bm, u32 w, u32 wend)
{
	u64 nz;

	if (w < wend && bm[w])
		return w;
	for (; w + 8 <= wend; w += 8) {
		if (!(bm[w] | bm[w + 1] | bm[w + 2] | bm[w + 3] |
		      bm[w + 4] | bm[w + 5] | bm[w + 6] | bm[w + 7]))
			continue;
		nz = (u64)!!bm[w] | (u64)!!bm[w + 1] << 1 |
		     (u64)!!bm[w + 2] << 2 | (u64)!!bm[w + 3] << 3 |
		     (u64)!!bm[w + 4] << 4 | (u64)!!bm[w + 5] << 5 |
		     (u64)!!bm[w + 6] << 6 | (u64)!!bm[w + 7] << 7;
		return w + __builtin_ctzll(nz);
	}
	while (w < wend && !bm[w])
		w++;
	return w;
}

/* First dirty page at or after @pos, or @npages. */
static __always_inline u32 next_set(const u64 *bm, size_t nw, u32 npages,
				    u32 pos)
{
	size_t w = pos >> 6;
	u64 x;

	if (pos >= npages)
		return npages;
	x = bm[w] & (~0ULL << (pos & 63));
	if (!x) {
		w = skip_clean(bm, (u32)w + 1, (u32)nw);
		if (w >= nw)
			return npages;
		x = bm[w];
	}
	pos = (u32)(w * 64) + __builtin_ctzll(x);
	return pos < npages ? pos : npages;
}

/* First clean page after the dirty page @pos, or @npages. */
static __always_inline u32 next_clear(const u64 *bm, size_t nw, u32 npages,
				      u32 pos)
{
	size_t w = pos >> 6;
	u64 x = ~bm[w] & (~0ULL << (pos & 63));

	while (!x) {
		if (++w >= nw)
			return npages;
		x = ~bm[w];
	}
	pos = (u32)(w * 64) + __builtin_ctzll(x);
	return pos < npages ? pos : npages;
}

static __always_inline u32 blk_end(const struct lt_enc *e, u32 blk)
{
	u64 end = ((u64)blk + 1) << BLK_SHIFT;

	return end < e->npages ? (u32)end : e->npages;
}

static __always_inline u64 blk_raw_bytes(const struct lt_enc *e, u32 blk)
{
	return (blk_end(e, blk) - ((u64)blk << BLK_SHIFT) + 7) / 8;
}

/* Most bits an RLE block may take and still beat its raw bytes. */
static __always_inline u64 blk_budget(const struct lt_enc *e, u32 blk)
{
	u64 raw = blk_raw_bytes(e, blk) * 8;

	if (blk == e->nblocks - 1 && raw < SHORT_SLACK)
		raw = SHORT_SLACK;
	return raw - CLOSE_RESERVE;
}

/*
 * Write the header of the segment whose data starts SEG_MAX bytes after
 * @at and ends at @end; the data moves down when the header is shorter.
 * Returns the new end.
 */
static size_t put_seg_hdr(struct lt_enc *e, size_t at, size_t end, u32 type,
			  u32 nblk)
{
	u32 v = ((nblk - 1) << 2) | type, n = varint_len(v);

	if (end > e->cap) {
		e->over = true;
		return at;
	}
	put_varint(e->out + at, v);
	if (n < SEG_MAX)
		memmove(e->out + at + n, e->out + at + SEG_MAX,
			end - at - SEG_MAX);
	return end - (SEG_MAX - n);
}

/* A gap code, in either mode; @marker: the run after it is coded. */
static __always_inline void put_gap(struct lt_bw *w, struct lt_rice *g,
				    const struct lt_rice *r, u32 v,
				    bool marker)
{
	if (singles(r->a, r->n)) {
		if (marker)
			put_val(w, g, 0);
		v++;
	}
	put_val(w, g, v);
}

/* How the RLE stream would be closed at the start of a block. */
enum { CLOSE_NONE, CLOSE_GAP, CLOSE_RUN };

/* Everything a rollback restores. */
struct rle_coder {
	struct lt_bw w;
	struct lt_rice g, r;
};

struct rle_state {
	struct rle_coder c;
	struct rle_coder snap;	/* as it was when block blk began */
	u32 snap_kind;
	u32 snap_from;		/* start of the gap or run cut there */
	bool snap_first;
	bool first;		/* the next gap is the segment's first */
	u32 blk;
	u32 bnd;		/* end of block blk */
	u64 budget;		/* bits block blk may take */
};

static __always_inline bool over_budget(const struct rle_state *st)
{
	return bw_bits(&st->c.w) - bw_bits(&st->snap.w) > st->budget;
}

/* Close block blk if its code fits its budget, and open the next one. */
static __always_inline bool next_block(const struct lt_enc *e,
				       struct rle_state *st, u32 kind,
				       u32 from)
{
	if (over_budget(st))
		return false;
	st->snap = st->c;
	st->snap_kind = kind;
	st->snap_from = from;
	st->snap_first = st->first;
	st->blk++;
	st->bnd = blk_end(e, st->blk);
	st->budget = blk_budget(e, st->blk);
	return true;
}

/* Go back to the start of block blk and end the segment there. */
static __always_inline void rle_cut(struct rle_state *st)
{
	u32 at = st->blk << BLK_SHIFT;

	st->c = st->snap;
	if (st->snap_kind == CLOSE_GAP)
		put_gap(&st->c.w, &st->c.g, &st->c.r,
			at - st->snap_from - (st->snap_first ? 0 : 1), false);
	else if (st->snap_kind == CLOSE_RUN)
		put_val(&st->c.w, &st->c.r, at - st->snap_from - 1);
}

/* Why rle_fast() stopped. */
enum { FAST_EDGE, FAST_CUT, FAST_DONE };

/* Run ends found ahead of the coder, as offsets in the block. */
#define FAST_BUF	16

/* Code one run of block blk; true when the block went over budget. */
static __always_inline bool fast_run(struct lt_bw *w, struct lt_rice *g,
				     struct lt_rice *r, u32 gap, u32 len,
				     u64 limit)
{
	if (singles(r->a, r->n)) {
		if (len > 1)
			put_val(w, g, 0);
		put_val(w, g, gap + 1);
		if (len > 1)
			put_val(w, r, len - 1);
		else
			rice_update(r, 0, 0);
	} else {
		put_val(w, g, gap);
		put_val(w, r, len - 1);
	}
	return bw_bits(w) > limit;
}

/*
 * The common case of enc_rle(): runs that start and end inside the whole
 * words of block blk. A scan ahead turns each word into its run edges
 * (bits of w ^ (w << 1)) without a branch per run, four at a time, so
 * that the loads of the bitmap do not wait on the coder. The buffer is
 * small for the kernel stack. Entered with the run starting at
 * *@s < bnd; on FAST_EDGE,
 * *@s is the next run to code (nothing of it coded yet), on FAST_CUT the
 * block went over budget, on FAST_DONE nothing dirty is left.
 */
static __always_inline int rle_fast(const struct lt_enc *e,
				    struct rle_state *st, u32 *s, u32 *pe)
{
	const u64 *bm = e->bm;
	u32 base = st->blk << BLK_SHIFT, wend = st->bnd >> 6;
	u64 limit = bw_bits(&st->snap.w) + st->budget;
	struct lt_bw *w = &st->c.w;
	struct lt_rice *g = &st->c.g, *r = &st->c.r;
	u32 cs = *s, cpe = *pe, skip = st->first ? 0 : 1;
	u32 sw = cs >> 6, nb = 0, i, j, off;
	u16 buf[FAST_BUF];
	u64 x, t, carry;
	bool more = true;
	int ret = FAST_EDGE;

	if (sw >= wend)
		return FAST_EDGE;
	x = bm[sw] & (~0ULL << (cs & 63));
	t = x ^ (x << 1);
	carry = x >> 63;
	while (more) {
		while (nb <= FAST_BUF - 4) {
			off = sw * 64 - base;
			/*
			 * Four slots whatever the word holds: a slot past
			 * its last edge is written and not counted.
			 */
#pragma GCC unroll 4
			for (j = 0; j < 4; j++) {
				buf[nb] = (u16)(off +
					__builtin_ctzll(t | (1ULL << 63)));
				nb += t != 0;
				t &= t - 1;
			}
			if (t)
				continue;
			sw++;
			if (!carry)
				sw = skip_clean(bm, sw, wend);
			if (sw >= wend) {
				more = false;
				break;
			}
			x = bm[sw];
			t = x ^ ((x << 1) | carry);
			carry = x >> 63;
		}
		for (i = 0; i + 2 <= nb; i += 2) {
			u32 rs = base + buf[i], re = base + buf[i + 1];

			if (fast_run(w, g, r, rs - cpe - skip, re - rs,
				     limit)) {
				ret = FAST_CUT;
				skip = 1;
				goto out;
			}
			skip = 1;
			cpe = re;
		}
		if (i < nb)
			buf[0] = buf[i];
		nb -= i;
	}
	if (nb) {
		cs = base + buf[0];
	} else {
		cs = next_set(bm, e->nwords, e->npages,
			      cpe > wend * 64 ? cpe : wend * 64);
		if (cs >= e->npages)
			ret = FAST_DONE;
	}
out:
	st->first = !skip;
	*s = cs;
	*pe = cpe;
	return ret;
}

/*
 * Code the runs from block @blk0 on (the first gap skips clean blocks) as
 * long as each block codes smaller than raw. Returns the first block not
 * covered: nblocks when nothing dirty is left, else a block that must go
 * raw.
 */
static u32 enc_rle(struct lt_enc *e, u32 blk0)
{
	const u64 *bm = e->bm;
	size_t nw = e->nwords;
	u32 npages = e->npages;
	struct rle_state st;
	u32 s, end, pe, next;
	bool sm;

	s = next_set(bm, nw, npages, blk0 << BLK_SHIFT);
	if (s >= npages)
		return e->nblocks;
	memset(&st, 0, sizeof(st));
	st.c.w.buf = e->out;
	st.c.w.cap = e->cap;
	st.c.w.off = e->len + SEG_MAX;
	rice_reset(&st.c.g);
	rice_reset(&st.c.r);
	st.snap = st.c;
	st.first = true;
	st.blk = blk0;
	st.bnd = blk_end(e, blk0);
	st.budget = blk_budget(e, blk0);
	pe = blk0 << BLK_SHIFT;

	for (;;) {
		if (s < st.bnd) {
			int ret = rle_fast(e, &st, &s, &pe);

			if (ret == FAST_CUT)
				goto cut;
			if (ret == FAST_DONE)
				break;
		}
		/* The gap [pe, s) may cross block ends. */
		while (s >= st.bnd)
			if (!next_block(e, &st, CLOSE_GAP, pe))
				goto cut;
		end = next_clear(bm, nw, npages, s);
		sm = singles(st.c.r.a, st.c.r.n);
		put_gap(&st.c.w, &st.c.g, &st.c.r, s - pe - (st.first ? 0 : 1),
			end - s > 1);
		while (end > st.bnd)
			if (!next_block(e, &st, CLOSE_RUN, s))
				goto cut;
		if (sm && end - s == 1)
			rice_update(&st.c.r, 0, 0);
		else
			put_val(&st.c.w, &st.c.r, end - s - 1);
		st.first = false;
		pe = end;
		if (over_budget(&st))
			goto cut;
		if (pe == st.bnd) {
			if (st.blk + 1 == e->nblocks) {
				st.blk++;
				next = e->nblocks;
				goto close;
			}
			if (!next_block(e, &st, CLOSE_NONE, pe))
				goto cut;
		}
		s = next_set(bm, nw, npages, pe);
		if (s >= npages)
			break;
	}
	/* Nothing dirty after pe: end with a gap to the end of the block. */
	if (pe != (st.blk << BLK_SHIFT)) {
		put_gap(&st.c.w, &st.c.g, &st.c.r, st.bnd - pe - 1, false);
		if (over_budget(&st))
			goto cut;
		st.blk++;
	}
	next = e->nblocks;
	goto close;
cut:
	if (st.blk == blk0)
		return blk0;
	rle_cut(&st);
	next = st.blk;
close:
	bw_flush(&st.c.w);
	e->over |= st.c.w.over;
	if (!e->over)
		e->len = put_seg_hdr(e, e->len, st.c.w.off,
				     LOOSETRACE_BITMAP_SEG_RLE, st.blk - blk0);
	return next;
}

/*
 * Whether block @blk is better sent raw, judged from its dirty pages and
 * runs: a run costs about log2(mean gap) + log2(mean run) + 3 bits.
 */
static bool raw_preferred(const struct lt_enc *e, u32 blk)
{
	size_t w = (size_t)blk << (BLK_SHIFT - 6);
	size_t wend = ((size_t)blk_end(e, blk) + 63) / 64;
	u64 dirty = 0, runs = 0, carry = 0, raw, est;

	for (; w < wend; w++) {
		u64 x = e->bm[w];

		dirty += lt_popcount64(x);
		runs += lt_popcount64(x & ~((x << 1) | carry));
		carry = x >> 63;
	}
	if (!runs)
		return false;
	raw = blk_raw_bytes(e, blk) * 8;
	est = runs * (fls64_nz((raw - dirty) / runs + 1) +
		      fls64_nz(dirty / runs) + 3);
	return est > raw - raw / 16;
}

/* A raw segment from @blk0 on, as long as raw stays the better choice. */
static u32 enc_raw(struct lt_enc *e, u32 blk0)
{
	size_t at = e->len, o = at + SEG_MAX;
	u32 blk = blk0, pend;
	u64 p;

	do {
		blk++;
	} while (blk < e->nblocks && raw_preferred(e, blk));

	pend = blk_end(e, blk - 1);
	if (o + ((u64)pend - ((u64)blk0 << BLK_SHIFT) + 7) / 8 > e->cap) {
		e->over = true;
		return e->nblocks;
	}
	for (p = blk0 << BLK_SHIFT; p < pend; p += 64) {
		u64 x = e->bm[p >> 6];
		u32 left = (u32)(pend - p);

		if (left >= 64) {
			lt_put_le64(e->out + o, x);
			o += 8;
		} else {
			x &= (1ULL << left) - 1;
			for (; left; left = left > 8 ? left - 8 : 0) {
				e->out[o++] = (u8)x;
				x >>= 8;
			}
		}
	}
	e->len = put_seg_hdr(e, at, o, LOOSETRACE_BITMAP_SEG_RAW, blk - blk0);
	return blk;
}

static inline u64 rol64_(u64 x, u32 r)
{
	return (x << r) | (x >> (64 - r));
}

static inline u64 csum_step(u64 h, u64 w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

u32 lt_bm_checksum(const void *data, size_t len, u32 npages)
{
	const u8 *p = data;
	u64 seed = LOOSETRACE_BITMAP_SEED ^ npages ^ ((u64)len << 32);
	u64 h0 = seed, h1 = seed ^ 1, h2 = seed ^ 2, h3 = seed ^ 3, x;
	u8 tail[8];

	for (; len >= 32; len -= 32, p += 32) {
		h0 = csum_step(h0, lt_get_le64(p));
		h1 = csum_step(h1, lt_get_le64(p + 8));
		h2 = csum_step(h2, lt_get_le64(p + 16));
		h3 = csum_step(h3, lt_get_le64(p + 24));
	}
	for (; len >= 8; len -= 8, p += 8)
		h0 = csum_step(h0, lt_get_le64(p));
	if (len) {
		memset(tail, 0, sizeof(tail));
		memcpy(tail, p, len);
		h0 = csum_step(h0, lt_get_le64(tail));
	}
	x = h0 ^ rol64_(h1, 17) ^ rol64_(h2, 31) ^ rol64_(h3, 47);
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (u32)x;
}

size_t lt_bm_encoded_max(u32 npages)
{
	size_t nblocks = ((size_t)npages + BLK_PAGES - 1) >> BLK_SHIFT;

	return HDR_MAX + nblocks * SEG_MAX + ((size_t)npages + 7) / 8 +
	       SHORT_SLACK / 8 + 32;
}

long lt_bm_encode(const u64 *bitmap, u32 npages, void *out, size_t out_size)
{
	struct lt_enc e = {
		.bm = bitmap,
		.out = out,
		.cap = out_size,
		.len = HDR_MAX,
		.npages = npages,
		.nwords = (u32)lt_bm_words(npages),
		.nblocks = (u32)(((u64)npages + BLK_PAGES - 1) >> BLK_SHIFT),
	};
	u8 *o = out;
	size_t plen, hlen;
	u32 blk = 0;

	if (out_size < HDR_MAX)
		return -EMSGSIZE;
	while (blk < e.nblocks && !e.over) {
		blk = enc_rle(&e, blk);
		if (blk < e.nblocks)
			blk = enc_raw(&e, blk);
	}
	plen = e.len - HDR_MAX;
	if (e.over || e.len > out_size || plen > 0xffffffffULL)
		return -EMSGSIZE;
	/* The payload was written after room for the longest header. */
	lt_put_le16(o, LOOSETRACE_BITMAP_MAGIC);
	o[2] = LOOSETRACE_BITMAP_VERSION;
	hlen = 3 + put_varint(o + 3, npages);
	hlen += put_varint(o + hlen, (u32)plen);
	if (plen) {
		lt_put_le32(o + hlen, lt_bm_checksum(o + HDR_MAX, plen,
						     npages));
		hlen += 4;
		memmove(o + hlen, o + HDR_MAX, plen);
	}
	return (long)(hlen + plen);
}

/* ---- decoder ---- */

/* Read a LEB128 value of at most 32 bits; 0 or a negative error. */
static int get_varint(const u8 **p, const u8 *end, u32 *val)
{
	u64 v = 0;
	u32 shift;

	for (shift = 0; shift < 35; shift += 7) {
		if (*p == end)
			return -EMSGSIZE;
		v |= (u64)(**p & 0x7f) << shift;
		if (!(*(*p)++ & 0x80)) {
			if (v > 0xffffffffULL)
				return -EBADMSG;
			*val = (u32)v;
			return 0;
		}
	}
	return -EBADMSG;
}

/* Check the header; on success, point @payload at the payload. */
static int check_hdr(const u8 *p, size_t len, u32 max_pages, u32 *npages,
		     const u8 **payload)
{
	const u8 *end = p + len;
	u32 n, plen;
	int ret;

	if (len < 3)
		return -EMSGSIZE;
	if (lt_get_le16(p) != LOOSETRACE_BITMAP_MAGIC ||
	    p[2] != LOOSETRACE_BITMAP_VERSION)
		return -EINVAL;
	p += 3;
	ret = get_varint(&p, end, &n);
	if (!ret)
		ret = get_varint(&p, end, &plen);
	if (ret)
		return ret;
	if (n > max_pages)
		return -EOVERFLOW;
	if (plen) {
		if (end - p < 4)
			return -EMSGSIZE;
		p += 4;
	}
	if ((size_t)(end - p) != plen)
		return -EMSGSIZE;
	if (plen && lt_get_le32(p - 4) != lt_bm_checksum(p, plen, n))
		return -EBADMSG;
	*npages = n;
	*payload = p;
	return 0;
}

int lt_bm_check(const void *in, size_t len, u32 max_pages, u32 *npages)
{
	const u8 *payload;

	return check_hdr(in, len, max_pages, npages, &payload);
}

int lt_bm_iter_init(struct lt_bm_iter *it, const void *in, size_t len,
		    u32 max_pages, u32 *npages)
{
	const u8 *payload;
	int ret = check_hdr(in, len, max_pages, npages, &payload);

	if (ret)
		return ret;
	memset(it, 0, sizeof(*it));
	it->seg = payload;
	it->end = (const u8 *)in + len;
	it->npages = *npages;
	return 0;
}

static inline void br_refill(struct lt_bm_iter *it)
{
	while (it->nbits <= 56 && it->bytes < it->end) {
		it->bits |= (u64)*it->bytes++ << it->nbits;
		it->nbits += 8;
	}
}

static inline u64 br_take(struct lt_bm_iter *it, u32 n)
{
	u64 v = it->bits & ((1ULL << n) - 1);

	it->bits >>= n;
	it->nbits -= n;
	return v;
}

static int get_val(struct lt_bm_iter *it, u64 *a, u32 *n, u64 *val)
{
	u32 k, q, len;
	u64 v;

	br_refill(it);
	k = rice_k(*a, *n);
	if (it->bits & QMAX_MASK) {
		q = __builtin_ctzll(it->bits);
		if (q + 1 + k > it->nbits)
			return -EBADMSG;
		br_take(it, q + 1);
		v = ((u64)q << k) | br_take(it, k);
	} else {
		if (it->nbits < QMAX + LEN_BITS)
			return -EBADMSG;
		br_take(it, QMAX);
		len = (u32)br_take(it, LEN_BITS) + 1;
		if (len - 1 > it->nbits)
			return -EBADMSG;
		v = (1ULL << (len - 1)) | br_take(it, len - 1);
	}
	/* Same arithmetic as rice_update(). */
	*a += rice_clamp(v, k);
	if (++*n == RICE_NMAX) {
		*a >>= 1;
		*n >>= 1;
	}
	*val = v;
	return 0;
}

/* Open the next segment: 1 if one was opened, 0 at the end, or an error. */
static int open_seg(struct lt_bm_iter *it)
{
	u32 word, nblk;
	u64 span;

	if (it->seg == it->end)
		return 0;
	if (it->pos >= it->npages)
		return -EBADMSG;
	it->bytes = it->seg;
	if (get_varint(&it->bytes, it->end, &word))
		return -EBADMSG;
	it->type = word & 3;
	nblk = (word >> 2) + 1;
	it->seg_start = it->pos;
	/* The last block must start before npages. */
	span = (u64)(nblk - 1) << BLK_SHIFT;
	if (span >= it->npages - it->pos)
		return -EBADMSG;
	span += BLK_PAGES;
	it->seg_end = span < it->npages - it->pos ? it->pos + (u32)span :
		      it->npages;
	if (it->type == LOOSETRACE_BITMAP_SEG_RAW) {
		u32 pages = it->seg_end - it->seg_start;
		size_t nbytes = ((size_t)pages + 7) / 8;

		if ((size_t)(it->end - it->bytes) < nbytes)
			return -EBADMSG;
		if ((pages & 7) && (it->bytes[nbytes - 1] >> (pages & 7)))
			return -EBADMSG;
		it->seg = it->bytes + nbytes;
		return 1;
	}
	if (it->type != LOOSETRACE_BITMAP_SEG_RLE)
		return -EBADMSG;
	it->bits = 0;
	it->nbits = 0;
	it->ga = LOOSETRACE_BITMAP_RICE_A0;
	it->gn = 1;
	it->ra = LOOSETRACE_BITMAP_RICE_A0;
	it->rn = 1;
	it->first = true;
	return 1;
}

/* End of an RLE segment: padding must be zero. */
static int close_rle(struct lt_bm_iter *it)
{
	if (it->bits & ((1ULL << (it->nbits & 7)) - 1))
		return -EBADMSG;
	it->seg = it->bytes - it->nbits / 8;
	it->type = 0;
	it->pos = it->seg_end;
	return 0;
}

/* Next run of an RLE segment: 1, or 0 when the segment is done. */
static int rle_next(struct lt_bm_iter *it, u32 *start, u32 *count)
{
	bool sm = singles(it->ra, it->rn), marker = false;
	u64 v;
	int ret;

	if (it->pos == it->seg_end)
		return close_rle(it);
	ret = get_val(it, &it->ga, &it->gn, &v);
	if (ret)
		return ret;
	if (sm) {
		if (!v) {
			marker = true;
			ret = get_val(it, &it->ga, &it->gn, &v);
			if (ret)
				return ret;
			if (!v)
				return -EBADMSG;
		}
		v--;
	}
	v += it->first ? 0 : 1;
	it->first = false;
	if (v > it->seg_end - it->pos)
		return -EBADMSG;
	it->pos += (u32)v;
	if (it->pos == it->seg_end)
		return marker ? -EBADMSG : close_rle(it);
	if (sm && !marker) {
		/* An unsaid single page: the state still counts it. */
		v = 0;
		if (++it->rn == RICE_NMAX) {
			it->ra >>= 1;
			it->rn >>= 1;
		}
	} else {
		ret = get_val(it, &it->ra, &it->rn, &v);
		if (ret)
			return ret;
		if (v >= it->seg_end - it->pos)
			return -EBADMSG;
	}
	*start = it->pos;
	*count = (u32)v + 1;
	it->pos += *count;
	return 1;
}

/* Word @wi (64 pages) of the current raw segment, zero past its end. */
static u64 raw_word(const struct lt_bm_iter *it, u32 wi)
{
	size_t nbytes = ((size_t)(it->seg_end - it->seg_start) + 7) / 8;
	size_t off = (size_t)wi * 8;
	u64 x = 0;
	u32 i;

	if (off + 8 <= nbytes)
		return lt_get_le64(it->bytes + off);
	for (i = 0; off + i < nbytes; i++)
		x |= (u64)it->bytes[off + i] << (8 * i);
	return x;
}

static int raw_next(struct lt_bm_iter *it, u32 *start, u32 *count)
{
	u32 n = it->seg_end - it->seg_start;
	u32 rel = it->pos - it->seg_start;
	u32 nw = (u32)(((u64)n + 63) / 64);
	u32 wi = rel >> 6, s, e;
	u64 x = raw_word(it, wi) & (~0ULL << (rel & 63));

	while (!x) {
		if (++wi >= nw) {
			it->type = 0;
			it->pos = it->seg_end;
			return 0;
		}
		x = raw_word(it, wi);
	}
	s = wi * 64 + __builtin_ctzll(x);
	x = ~raw_word(it, wi) & (~0ULL << (s & 63));
	while (!x) {
		if (++wi >= nw)
			break;
		x = ~raw_word(it, wi);
	}
	e = x && (u64)wi * 64 + __builtin_ctzll(x) < n ?
	    wi * 64 + __builtin_ctzll(x) : n;
	*start = it->seg_start + s;
	*count = e - s;
	it->pos = it->seg_start + e;
	return 1;
}

int lt_bm_iter_next(struct lt_bm_iter *it, u32 *start, u32 *count)
{
	int ret;

	for (;;) {
		if (!it->type) {
			ret = open_seg(it);
			if (ret <= 0)
				return ret;
		}
		if (it->type == LOOSETRACE_BITMAP_SEG_RAW)
			ret = raw_next(it, start, count);
		else
			ret = rle_next(it, start, count);
		if (ret)
			return ret;
	}
}

static void set_range(u64 *bm, u32 start, u32 count)
{
	size_t w = start >> 6, wl = (start + count - 1) >> 6;
	u64 first = ~0ULL << (start & 63);
	u64 last = ~0ULL >> (63 - ((start + count - 1) & 63));

	if (w == wl) {
		bm[w] |= first & last;
		return;
	}
	bm[w++] |= first;
	for (; w < wl; w++)
		bm[w] = ~0ULL;
	bm[wl] |= last;
}

/* A raw segment goes into the bitmap 64 pages at a time. */
static void copy_raw(u64 *bm, const struct lt_bm_iter *it)
{
	u64 nw = ((u64)it->seg_end - it->seg_start + 63) / 64;
	size_t base = it->seg_start >> 6;
	u32 wi;

	for (wi = 0; wi < nw; wi++)
		bm[base + wi] = raw_word(it, wi);
}

long lt_bm_decode(const void *in, size_t len, u64 *bitmap, u32 max_pages)
{
	struct lt_bm_iter it;
	u32 npages, s, c;
	int ret;

	ret = lt_bm_iter_init(&it, in, len, max_pages, &npages);
	if (ret)
		return ret;
	memset(bitmap, 0, lt_bm_words(max_pages) * sizeof(u64));
	for (;;) {
		if (!it.type) {
			ret = open_seg(&it);
			if (ret < 0)
				return ret;
			if (!ret)
				return npages;
		}
		if (it.type == LOOSETRACE_BITMAP_SEG_RAW) {
			copy_raw(bitmap, &it);
			it.type = 0;
			it.pos = it.seg_end;
			continue;
		}
		ret = rle_next(&it, &s, &c);
		if (ret < 0)
			return ret;
		if (ret)
			set_range(bitmap, s, c);
	}
}
