// SPDX-License-Identifier: GPL-2.0
/*
 * Workload generators. Published work gives dirty rates, not bitmap
 * shapes, so these shapes are reasoned (see Documentation/bitmap-format.rst);
 * captured bitmaps can be fed to the benchmark to calibrate them.
 */
#include <math.h>
#include <string.h>

#include "workloads.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

const struct workload workloads[] = {
	{ "W0", 0, 0, false, "empty" },
	{ "W1", 1, 0, true, "sparse single pages (uniform)" },
	{ "W2", 2, 0, true, "OLTP: 2/4-page blocks in a 60% pool, log runs" },
	{ "W3", 3, 0, true, "JVM: allocation runs, survivors, old-gen pages" },
	{ "W4", 4, 0, true, "KV store: single pages inside slab regions" },
	{ "W5", 5, 0, true, "hot 2 MiB regions, 50% dirty in runs of ~4" },
	{ "W6/4", 6, 4, true, "clustered: geometric runs, mean 4" },
	{ "W6/16", 6, 16, true, "clustered: geometric runs, mean 16" },
	{ "W6/64", 6, 64, true, "clustered: geometric runs, mean 64" },
	{ "W7", 7, 0, true, "heavy-tailed: Pareto(1.3) runs" },
	{ "W8/10", 8, 10, false, "adversarial: uniform random 10%" },
	{ "W8/50", 8, 50, false, "adversarial: uniform random 50%" },
	{ "W8/alt", 8, 1, false, "adversarial: alternating bits" },
};

const int nr_workloads = ARRAY_SIZE(workloads);

/* splitmix64 */
uint64_t wl_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct gen {
	uint64_t *bm;
	uint64_t npages;
	uint64_t rng;
	uint64_t dirty;		/* pages set so far */
	uint64_t target;
};

static double uniform(struct gen *g)
{
	return ((wl_rand(&g->rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static uint64_t below(struct gen *g, uint64_t n)
{
	return n ? wl_rand(&g->rng) % n : 0;
}

static uint64_t between(struct gen *g, uint64_t lo, uint64_t hi)
{
	return lo + below(g, hi - lo + 1);
}

/* Geometric on 1, 2, ... with the given mean (>= 1). */
static uint64_t geometric(struct gen *g, double mean)
{
	double v;

	if (mean <= 1.0)
		return 1;
	v = floor(log(uniform(g)) / log(1.0 - 1.0 / mean));
	return v > 1e12 ? (uint64_t)1e12 : 1 + (uint64_t)v;
}

static void set_page(struct gen *g, uint64_t p)
{
	uint64_t bit = 1ULL << (p & 63);

	if (p < g->npages && !(g->bm[p >> 6] & bit)) {
		g->bm[p >> 6] |= bit;
		g->dirty++;
	}
}

static void set_run(struct gen *g, uint64_t start, uint64_t len)
{
	uint64_t p;

	for (p = start; p < start + len && p < g->npages; p++)
		set_page(g, p);
}

static bool full(const struct gen *g)
{
	return g->dirty >= g->target;
}

/* Independent pages at density d in [lo, hi), up to the target. */
static void bernoulli(struct gen *g, uint64_t lo, uint64_t hi, double d)
{
	uint64_t p = lo - 1 + geometric(g, 1.0 / d);

	for (; p < hi && !full(g); p += geometric(g, 1.0 / d))
		set_page(g, p);
}

/* Alternate gaps and runs from @lo to @hi; run lengths from @run. */
static void runs(struct gen *g, uint64_t lo, uint64_t hi, double gap_mean,
		 uint64_t (*run)(struct gen *, double), double arg)
{
	uint64_t p = lo + geometric(g, gap_mean) - 1, len;

	while (p < hi && !full(g)) {
		len = run(g, arg);
		if (p + len > hi)
			len = hi - p;
		set_run(g, p, len);
		p += len + geometric(g, gap_mean);
	}
}

static uint64_t pareto(struct gen *g, double alpha)
{
	double v = floor(pow(uniform(g), -1.0 / alpha));

	return v > 65536 ? 65536 : (uint64_t)v;
}

static void w2_oltp(struct gen *g)
{
	uint64_t n = g->npages, pool = n * 6 / 10, base = below(g, n - pool);
	uint64_t budget = g->target, nlog = 1 + below(g, 2), i, len, bs;
	uint64_t iter;

	/* Log writer: one or two sequential runs of 256-4096 pages. */
	for (i = 0; i < nlog; i++) {
		len = between(g, 256, 4096);
		if (len > budget / 10 / nlog)
			len = budget / 10 / nlog + 1;
		set_run(g, below(g, n - len), len);
	}
	/* Background noise: 5% of the pages, anywhere. */
	g->target = g->dirty + budget / 20;
	bernoulli(g, 0, n, (budget / 20 + 1.0) / n);
	/* Buffer pool: random 8 or 16 KiB pages (2 or 4 pages, aligned). */
	g->target = budget;
	for (iter = 0; !full(g) && iter < 8 * budget; iter++) {
		bs = 2 << below(g, 2);
		set_run(g, base + below(g, pool / bs) * bs, bs);
	}
}

static void w3_jvm(struct gen *g)
{
	uint64_t n = g->npages, budget = g->target;
	uint64_t eden = n / 5, eden_at = below(g, n - eden);
	uint64_t surv = n / 50, surv_at = below(g, n - surv), p, len;

	/* Allocation: TLAB-sized runs laid one after another in eden. */
	g->target = budget * 6 / 10;
	for (p = eden_at; p < eden_at + eden && !full(g); ) {
		len = between(g, 64, 2048);
		set_run(g, p, len);
		p += len + below(g, 32);
	}
	/* Survivor copies: medium runs in a survivor space. */
	g->target = g->dirty + budget / 5;
	for (p = surv_at; p < surv_at + surv && !full(g); ) {
		len = between(g, 16, 256);
		set_run(g, p, len);
		p += len + between(g, 1, 16);
	}
	/* Old generation: scattered single pages and small objects. */
	g->target = budget;
	while (!full(g)) {
		len = below(g, 4) ? 1 : between(g, 2, 8);
		set_run(g, below(g, n), len);
	}
}

static void w4_kv(struct gen *g)
{
	uint64_t r, nreg = (g->npages + 255) / 256;
	double d = (double)g->target / g->npages / 0.3;

	if (d > 0.5)
		d = 0.5;
	/* Slabs of 1 MiB cover ~30% of memory; writes are uniform in them. */
	for (r = 0; r < nreg && !full(g); r++)
		if (uniform(g) < 0.3)
			bernoulli(g, r * 256, r * 256 + 256, d);
}

static void w5_hot(struct gen *g)
{
	uint64_t r, nreg = (g->npages + 511) / 512;
	double hot = (double)g->target / 256 / nreg;

	/* Each hot 2 MiB region: 50% dirty in runs of mean 4. */
	for (r = 0; r < nreg && !full(g); r++)
		if (uniform(g) < hot)
			runs(g, r * 512, r * 512 + 512, 4, geometric, 4);
}

void workload_fill(const struct workload *wl, uint64_t *bm, uint32_t npages,
		   double density, uint64_t seed)
{
	struct gen g = { .bm = bm, .npages = npages, .rng = seed };
	uint64_t i, nw = ((uint64_t)npages + 63) / 64;
	double mean;

	memset(bm, 0, nw * 8);
	g.target = (uint64_t)(density * npages + 0.5);
	if (!g.target && wl->uses_density && density > 0)
		g.target = 1;
	switch (wl->family) {
	case 0:
		break;
	case 1:
		bernoulli(&g, 0, npages, density);
		break;
	case 2:
		w2_oltp(&g);
		break;
	case 3:
		w3_jvm(&g);
		break;
	case 4:
		w4_kv(&g);
		break;
	case 5:
		w5_hot(&g);
		break;
	case 6:
		mean = wl->variant;
		runs(&g, 0, npages, mean * (1 - density) / density + 1,
		     geometric, mean);
		break;
	case 7:
		/* Mean of the floored, capped Pareto(1.3): about 3.0. */
		runs(&g, 0, npages, 3.0 * (1 - density) / density + 1,
		     pareto, 1.3);
		break;
	case 8:
		g.target = npages;
		if (wl->variant == 10)
			bernoulli(&g, 0, npages, 0.1);
		for (i = 0; i < nw && wl->variant != 10; i++)
			bm[i] = wl->variant == 1 ? 0x5555555555555555ULL :
				wl_rand(&g.rng);
		if (npages & 63)
			bm[nw - 1] &= (1ULL << (npages & 63)) - 1;
		break;
	}
}
