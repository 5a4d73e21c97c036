/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Synthetic dirty bitmaps W0-W8 (issue "compacted bitmap" workloads),
 * seeded and deterministic, shared by the codec tests and benchmark.
 */
#ifndef LOOSETRACE_WORKLOADS_H
#define LOOSETRACE_WORKLOADS_H

#include <stdbool.h>
#include <stdint.h>

struct workload {
	const char *name;	/* "W2", "W6/16", ... */
	int family;		/* 0..8: the W number */
	int variant;
	bool uses_density;	/* false: the shape fixes the density */
	const char *what;
};

extern const struct workload workloads[];
extern const int nr_workloads;

/* Fill @bm (npages bits, whole words) with workload @wl at @density. */
void workload_fill(const struct workload *wl, uint64_t *bm, uint32_t npages,
		   double density, uint64_t seed);

/* Deterministic generator, also used by the tests for random edits. */
uint64_t wl_rand(uint64_t *state);

#endif
