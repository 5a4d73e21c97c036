// SPDX-License-Identifier: GPL-2.0
/*
 * Compacted bitmap benchmark: sizes and speeds of the loosetrace codec
 * beside memcpy, a plain read, zstd -1, lz4 and CRoaring (run-optimized,
 * portable serialization), on workloads W0-W8 or on raw bitmap files.
 * Prints a table; it is a measurement, not a pass/fail test, except that
 * any bitmap that does not decode back to itself aborts the run.
 *
 *   bench_codec [-q] [-d DIR]
 *     -q      quick: 2^20 and 2^28 bits at 0.1% and 1% only
 *     -d DIR  also measure every regular file of DIR as a raw bitmap
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <lz4.h>
#include <zstd.h>
#include <roaring/roaring.h>

#include "bitmap_codec.h"
#include "workloads.h"

struct bufs {
	uint64_t *bm, *dec;
	uint8_t *enc, *zbuf;
	size_t enc_cap, z_cap;
};

struct row {
	const char *wl;
	int family;		/* -1 for files */
	int shift;		/* log2 of the bitmap size, 0 for files */
	double density;
	size_t raw, ours, roaring, zstd, lz4, vrle;
	double h0;		/* order-0 entropy bound, bytes */
	double bern;		/* entropy of independent pages, bytes */
	double enc_gbs, dec_gbs, zstd_gbs, read_gbs;
};

static double read_gbs, memcpy_gbs;
/* Where the plain read's result goes, so that the loads stay. */
uint64_t bench_sink;

/* Geometric means per family, over every row of W0-W7 and all sizes. */
static double fam_log[9], fam_max[9];
static int fam_n[9];
static double spd_log[4];
static double spd_min[4];
static int spd_n[4];
static int w8_fail, w8_rows;
static double vrle_log, h0_fam_log[8], w1_bern_log;

static double now(void)
{
	struct timespec ts;

	/* CPU time of this thread: a busy machine does not inflate it. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_codec: %s\n", what);
	exit(1);
}

static int reps_for(uint32_t npages)
{
	return npages <= (1U << 20) ? 40 : npages <= (1U << 28) ? 5 : 2;
}

/* A plain read of every word: the bandwidth an encoder is held to. */
static double time_read(const uint64_t *bm, size_t nw)
{
	uint64_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
	double t = now();
	size_t i;

	for (i = 0; i + 4 <= nw; i += 4) {
		acc0 |= bm[i];
		acc1 |= bm[i + 1];
		acc2 |= bm[i + 2];
		acc3 |= bm[i + 3];
	}
	bench_sink = acc0 | acc1 | acc2 | acc3;
	return now() - t;
}

static void measure_bandwidth(struct bufs *b, uint32_t npages)
{
	size_t nw = lt_bm_words(npages), i;
	double t, best_r = 1e9, best_c = 1e9;
	int r;

	for (i = 0; i < nw; i++)
		b->bm[i] = i;
	for (r = 0; r < 5; r++) {
		t = time_read(b->bm, nw);
		best_r = t < best_r ? t : best_r;
		t = now();
		memcpy(b->dec, b->bm, nw * 8);
		t = now() - t;
		best_c = t < best_c ? t : best_c;
	}
	read_gbs = nw * 8 / best_r / 1e9;
	memcpy_gbs = nw * 8 / best_c / 1e9;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	for (; v >= 0x80; v >>= 7)
		n++;
	return n;
}

/*
 * Order-0 entropy of a sequence of lengths: what the best code that gives
 * each length a fixed code word (a Huffman code fitted to this very
 * bitmap, sent for free) would take. Lengths below 2^16 are counted in a
 * table, the rare longer ones sorted.
 */
struct hist {
	uint32_t *small;	/* 65536 counters */
	uint32_t *big;		/* lengths >= 65536 */
	size_t nbig, capbig, n;
};

static void hist_add(struct hist *h, uint32_t v)
{
	h->n++;
	if (v < 65536) {
		h->small[v]++;
		return;
	}
	if (h->nbig == h->capbig) {
		h->capbig = h->capbig ? 2 * h->capbig : 4096;
		h->big = realloc(h->big, h->capbig * sizeof(*h->big));
		if (!h->big) {
			fprintf(stderr, "bench_codec: out of memory\n");
			exit(1);
		}
	}
	h->big[h->nbig++] = v;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double entropy_term(double c, double n)
{
	return c ? -c * log2(c / n) : 0;
}

/* Bits of the order-0 code of the lengths in @h; empties @h. */
static double hist_bits(struct hist *h)
{
	double bits = 0, n = (double)h->n;
	size_t i, j;

	for (i = 0; i < 65536; i++)
		bits += entropy_term(h->small[i], n);
	qsort(h->big, h->nbig, sizeof(*h->big), cmp_u32);
	for (i = 0; i < h->nbig; i = j) {
		for (j = i; j < h->nbig && h->big[j] == h->big[i]; j++)
			;
		bits += entropy_term((double)(j - i), n);
	}
	memset(h->small, 0, 65536 * sizeof(*h->small));
	h->nbig = 0;
	h->n = 0;
	return bits;
}

static struct hist gap_hist, run_hist;

/*
 * Entropy of @npages independent pages at the bitmap's density: what no
 * code beats on average for bitmaps drawn that way (W1, W8/10).
 */
static double bern_bytes(const uint64_t *bm, uint32_t npages)
{
	size_t nw = lt_bm_words(npages), i;
	double d, dirty = 0;

	for (i = 0; i < nw; i++)
		dirty += __builtin_popcountll(bm[i]);
	d = dirty / npages;
	if (d <= 0 || d >= 1)
		return 0;
	return npages * -(d * log2(d) + (1 - d) * log2(1 - d)) / 8;
}

/*
 * CRoaring's run-optimized portable size; also, in @vrle, the size of a
 * plain varint run-length code (gap, run) for reference.
 */
static size_t roaring_size(const uint64_t *bm, uint32_t npages, size_t *vrle)
{
	uint32_t pe = 0;
	roaring_bitmap_t *r = roaring_bitmap_create();
	uint32_t batch[4096], nb = 0, p = 0, e;
	size_t nw = lt_bm_words(npages), w = 0, sz;
	uint64_t x;

	/* Runs go in as ranges, single pages in batches. */
	while (w < nw) {
		x = bm[w] & (~0ULL << (p & 63));
		if (!x) {
			p = (uint32_t)(++w * 64);
			continue;
		}
		p = (uint32_t)(w * 64) + __builtin_ctzll(x);
		e = p;
		while (e < npages && (bm[e >> 6] >> (e & 63) & 1))
			e++;
		*vrle += varint_len(p - pe) + varint_len(e - p - 1);
		hist_add(&gap_hist, p - pe);
		hist_add(&run_hist, e - p);
		pe = e;
		if (e == p + 1) {
			batch[nb++] = p;
			if (nb == 4096) {
				roaring_bitmap_add_many(r, nb, batch);
				nb = 0;
			}
		} else {
			roaring_bitmap_add_range_closed(r, p, e - 1);
		}
		if (e >= npages)
			break;
		p = e;
		w = p >> 6;
	}
	roaring_bitmap_add_many(r, nb, batch);
	roaring_bitmap_run_optimize(r);
	sz = roaring_bitmap_portable_size_in_bytes(r);
	roaring_bitmap_free(r);
	return sz;
}

static void measure(struct bufs *b, uint32_t npages, struct row *row)
{
	size_t nw = lt_bm_words(npages), raw = (npages + 7) / 8;
	double t, best = 1e9, best_d = 1e9, best_z = 1e9, best_rd = 1e9;
	int r, reps = reps_for(npages);
	long len = 0, dlen;

	/* Encode next to a plain read of the same bitmap, best of each. */
	for (r = 0; r < reps; r++) {
		t = time_read(b->bm, nw);
		best_rd = t < best_rd ? t : best_rd;
		t = now();
		len = lt_bm_encode(b->bm, npages, b->enc, b->enc_cap);
		t = now() - t;
		if (len < 0)
			die("encode failed");
		best = t < best ? t : best;
	}
	for (r = 0; r < reps; r++) {
		memset(b->dec, 0xa5, nw * 8);
		t = now();
		dlen = lt_bm_decode(b->enc, len, b->dec, npages);
		t = now() - t;
		if (dlen != (long)npages || memcmp(b->dec, b->bm, nw * 8)) {
			fprintf(stderr, "%s: decode mismatch (%ld)\n", row->wl,
				dlen);
			exit(1);
		}
		best_d = t < best_d ? t : best_d;
	}
	for (r = 0; r < (reps > 3 ? 3 : reps); r++) {
		t = now();
		row->zstd = ZSTD_compress(b->zbuf, b->z_cap, b->bm, raw, 1);
		t = now() - t;
		/* zstd's error codes are sizes larger than any output. */
		if (row->zstd > b->z_cap)
			die("zstd failed");
		best_z = t < best_z ? t : best_z;
	}
	row->lz4 = LZ4_compress_default((const char *)b->bm, (char *)b->zbuf,
					(int)raw, (int)b->z_cap);
	row->raw = raw;
	row->ours = len;
	row->vrle = 0;
	row->roaring = roaring_size(b->bm, npages, &row->vrle);
	/*
	 * The lengths' order-0 entropy plus the final gap's 4 bytes and the
	 * smallest header: what any code of independent gap and run lengths
	 * needs at least; for bitmaps drawn from independent lengths (W1,
	 * W6, W8/10) what any code needs.
	 */
	row->h0 = (hist_bits(&gap_hist) + hist_bits(&run_hist)) / 8 +
		  3 + varint_len(npages) + 1;
	if (row->roaring > 8)
		row->h0 += 4;	/* the final gap */
	row->bern = bern_bytes(b->bm, npages) + 3 + varint_len(npages) + 1;
	/* Give the varint code the same header as ours. */
	row->vrle += 3 + varint_len(npages) + varint_len(row->vrle) +
		     (row->vrle ? 4 : 0);
	row->read_gbs = raw / best_rd / 1e9;
	row->enc_gbs = raw / best / 1e9;
	row->dec_gbs = raw / best_d / 1e9;
	row->zstd_gbs = raw / best_z / 1e9;
}

static int density_class(double d)
{
	return d <= 0.00011 ? 0 : d <= 0.0011 ? 1 : d <= 0.011 ? 2 : 3;
}

static void print_row(const char *size, const struct row *row)
{
	char dens[16];

	if (row->density < 0)
		snprintf(dens, sizeof(dens), "-");
	else
		snprintf(dens, sizeof(dens), "%g%%", row->density * 100);
	printf("%-6s %-8s %6s %10zu %10zu %10zu %10zu ", size, row->wl, dens,
	       row->ours, row->roaring, row->zstd, row->lz4);
	printf("%6.3f %6.3f %6.3f %6.3f %7.2f %5.0f%% %7.2f %5.0f%%\n",
	       (double)row->ours / row->roaring,
	       (double)row->ours / row->zstd,
	       (double)row->vrle / row->roaring, row->h0 / row->roaring,
	       row->enc_gbs,
	       100 * row->enc_gbs / row->read_gbs, row->dec_gbs,
	       100 * row->zstd_gbs / row->read_gbs);
}

static void account(const struct row *row)
{
	double ratio = (double)row->ours / row->roaring;
	double speed = row->enc_gbs / row->read_gbs;
	int f = row->family, c;

	if (f >= 0 && f <= 7) {
		fam_log[f] += log(ratio);
		fam_n[f]++;
		if (ratio > fam_max[f])
			fam_max[f] = ratio;
		fam_log[8] += log((double)row->ours / row->zstd);
		vrle_log += log((double)row->vrle / row->roaring);
		h0_fam_log[f] += log(row->h0 / row->roaring);
		if (f == 1)
			w1_bern_log += log(row->bern / row->roaring);
		/* Speed goals are for a 32 MiB (2^28-bit) bitmap. */
		if (row->density > 0 && row->shift == 28) {
			c = density_class(row->density);
			spd_log[c] += log(speed);
			if (!spd_n[c]++ || speed < spd_min[c])
				spd_min[c] = speed;
		}
	}
	if (f == 8) {
		w8_rows++;
		if (row->ours > row->raw + row->raw / 1000 + 64)
			w8_fail++;
	}
}

static void header(void)
{
	printf("# sizes in bytes; /roar, /zstd: ours divided by CRoaring, zstd -1;\n"
	       "# vrle: a plain varint run-length code, divided by CRoaring;\n"
	       "# H0: order-0 entropy of the gap and run lengths (the least any\n"
	       "#     code of independent lengths needs), divided by CRoaring;\n"
	       "# enc, dec: GB/s of raw bitmap (thread CPU time, one core);\n"
	       "# %%read: encode speed over a plain read of the same bitmap;\n"
	       "# zstd%%: zstd -1 speed over the same read\n");
	printf("%-6s %-8s %6s %10s %10s %10s %10s %6s %6s %6s %6s %7s %6s %7s %6s\n",
	       "bits", "workload", "dens", "ours", "roaring", "zstd-1",
	       "lz4", "/roar", "/zstd", "vrle", "H0", "enc", "%read", "dec",
	       "zstd%");
}

static void alloc_bufs(struct bufs *b, uint32_t maxpages)
{
	size_t bytes = lt_bm_words(maxpages) * 8;

	b->bm = malloc(bytes);
	b->dec = malloc(bytes);
	b->enc_cap = lt_bm_encoded_max(maxpages);
	b->enc = malloc(b->enc_cap);
	b->z_cap = ZSTD_COMPRESSBOUND(bytes) + LZ4_COMPRESSBOUND(bytes);
	b->zbuf = malloc(b->z_cap);
	if (!b->bm || !b->dec || !b->enc || !b->zbuf)
		die("out of memory");
}

static void run_size(struct bufs *b, int shift, const double *dens, int nd,
		     const char *only, bool no_w8)
{
	uint32_t npages = shift >= 32 ? 0xffffffffU : 1U << shift;
	char size[8];
	int w, d;

	snprintf(size, sizeof(size), "2^%d", shift);
	measure_bandwidth(b, npages);
	printf("# %s bits (%zu KiB): read %.2f GB/s, memcpy %.2f GB/s\n",
	       size, lt_bm_words(npages) * 8 / 1024, read_gbs, memcpy_gbs);
	for (w = 0; w < nr_workloads; w++) {
		const struct workload *wl = &workloads[w];

		if (only && !strstr(only, wl->name))
			continue;
		if (no_w8 && wl->family == 8)
			continue;
		for (d = 0; d < (wl->uses_density ? nd : 1); d++) {
			struct row row = { .wl = wl->name,
					   .family = wl->family,
					   .shift = shift };

			row.density = wl->uses_density ? dens[d] : -1;
			workload_fill(wl, b->bm, npages, wl->uses_density ?
				      dens[d] : 0, 0x10057ace + w * 977 + d);
			measure(b, npages, &row);
			print_row(size, &row);
			account(&row);
			fflush(stdout);
		}
	}
}

static void run_dir(const char *dir)
{
	struct dirent *de;
	DIR *dp = opendir(dir);
	char path[4096];

	if (!dp)
		die("cannot open the bitmap folder");
	printf("# raw bitmap files from %s\n", dir);
	while ((de = readdir(dp))) {
		struct row row = { .wl = de->d_name, .family = -1,
				   .density = -1 };
		struct bufs b;
		struct stat st;
		uint32_t npages;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode) || !st.st_size)
			continue;
		if (st.st_size > (1LL << 29)) {
			printf("# %s: larger than 2^32 bits, skipped\n",
			       de->d_name);
			continue;
		}
		npages = (uint32_t)(st.st_size * 8);
		alloc_bufs(&b, npages);
		memset(b.bm, 0, lt_bm_words(npages) * 8);
		f = fopen(path, "rb");
		if (!f || fread(b.bm, 1, st.st_size, f) != (size_t)st.st_size)
			die("cannot read a bitmap file");
		fclose(f);
		measure_bandwidth(&b, npages);
		f = fopen(path, "rb");
		if (!f || fread(b.bm, 1, st.st_size, f) != (size_t)st.st_size)
			die("cannot read a bitmap file");
		fclose(f);
		if (npages & 63)
			b.bm[npages / 64] &= (1ULL << (npages & 63)) - 1;
		measure(&b, npages, &row);
		print_row("file", &row);
		free(b.bm);
		free(b.dec);
		free(b.enc);
		free(b.zbuf);
	}
	closedir(dp);
}

static void summary(void)
{
	static const char *const cls[] = { "0.01%", "0.1%", "1%", "10%" };
	static const double goal[] = { 0.8, 0.8, 0.5, 0.25 };
	double all = 0;
	int f, n = 0, rows = 0;

	printf("\n# size vs CRoaring, geometric mean per workload (max row):\n");
	for (f = 0; f <= 7; f++) {
		if (!fam_n[f])
			continue;
		printf("#   W%d %.3f (max %.3f); H0 %.3f\n", f,
		       exp(fam_log[f] / fam_n[f]), fam_max[f],
		       exp(h0_fam_log[f] / fam_n[f]));
		all += fam_log[f] / fam_n[f];
		n++;
		rows += fam_n[f];
	}
	if (n) {
		printf("# W0-W7 geomean of workload means: %.3f x CRoaring (goal <= 0.40)\n",
		       exp(all / n));
		printf("# W0-W7 geometric mean over all rows vs zstd -1: %.3f (goal <= 0.70)\n",
		       exp(fam_log[8] / rows));
		printf("# plain varint RLE on the same rows: %.3f x CRoaring\n",
		       exp(vrle_log / rows));
		for (f = 0, all = 0; f <= 7; f++)
			if (fam_n[f])
				all += h0_fam_log[f] / fam_n[f];
		printf("# H0, geomean of workload means: %.3f x CRoaring (H0 is low on\n"
		       "#   small bitmaps: there its fitted table is worth more than it costs)\n",
		       exp(all / n));
		if (fam_n[1] && n == 8) {
			double w1 = w1_bern_log / fam_n[1];

			printf("# W1 (independent pages) at its source entropy: %.3f x CRoaring;\n"
			       "#   with W0 at 1.0 that leaves W2-W7 needing %.3f on geomean for 0.40\n",
			       exp(w1), exp((8 * log(0.40) - w1) / 6));
		}
	}
	printf("# W8 rows within raw + 0.1%% + 64 bytes: %d of %d\n",
	       w8_rows - w8_fail, w8_rows);
	printf("# encode speed over read speed, W1-W7 at 2^28 bits (geomean, min; goal):\n");
	for (f = 0; f < 4; f++)
		if (spd_n[f])
			printf("#   %-6s %.2f, min %.2f; goal >= %.2f\n", cls[f],
			       exp(spd_log[f] / spd_n[f]), spd_min[f],
			       goal[f]);
	printf("# every bitmap above decoded back to itself\n");
}

int main(int argc, char **argv)
{
	static const double all[] = { 0.0001, 0.001, 0.01, 0.1 };
	static const double big[] = { 0.001, 0.01 };
	const char *dir = NULL, *only = getenv("BENCH_ONLY");
	struct bufs b;
	int opt, quick = 0;

	while ((opt = getopt(argc, argv, "qd:")) != -1) {
		if (opt == 'q')
			quick = 1;
		else if (opt == 'd')
			dir = optarg;
		else
			die("usage: bench_codec [-q] [-d DIR]");
	}
	gap_hist.small = calloc(65536, sizeof(uint32_t));
	run_hist.small = calloc(65536, sizeof(uint32_t));
	if (!gap_hist.small || !run_hist.small)
		die("out of memory");
	header();
	if (dir) {
		run_dir(dir);
		if (!getenv("BENCH_ALSO_SYNTHETIC"))
			return 0;
	}
	alloc_bufs(&b, quick ? 1U << 28 : 1U << 30);
	run_size(&b, 20, quick ? big : all, quick ? 2 : 4, only, false);
	run_size(&b, 28, quick ? big : all, quick ? 2 : 4, only, false);
	if (!quick) {
		printf("# 2^30 bits: W0-W7 at 0.1%% and 1%% only, to keep the run short\n");
		run_size(&b, 30, big, 2, only, true);
	}
	summary();
	return 0;
}
