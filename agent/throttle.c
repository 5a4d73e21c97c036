// SPDX-License-Identifier: GPL-2.0
/* The pre-copy throttle's decision; see throttle.h. */
#include "throttle.h"

uint32_t thr_plan(struct thr_vcpu *v, uint32_t n, const struct thr_round *r)
{
	uint32_t order[THR_MAX_VCPUS], i, j, k, t, changed = 0, pct;
	double d[THR_MAX_VCPUS], goal, rest, level = 0, keep, want;
	uint64_t total = 0;

	if (n > THR_MAX_VCPUS)
		n = THR_MAX_VCPUS;
	if (!n || !r->prev_pages ||
	    r->dirty_pages * 100 <= r->prev_pages * THR_TRIGGER_PCT)
		return 0;
	for (i = 0; i < n; i++)
		total += v[i].dirty;
	/* each vCPU's share of the dirtying, largest first */
	for (i = 0; i < n; i++) {
		d[i] = total ? (double)v[i].dirty / total : 1.0 / n;
		order[i] = i;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && d[order[j]] > d[order[j - 1]]; j--) {
			t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	/* the fraction of today's dirtying that would be on target */
	goal = (double)THR_TARGET_PCT * r->prev_pages /
	       (100.0 * r->dirty_pages);
	/*
	 * The water level: the k largest capped at it, the rest as they
	 * are, add up to the goal. It lies between the k-th largest share
	 * and the next one.
	 */
	rest = 1;
	for (k = 0; k < n; k++) {
		rest -= d[order[k]];
		if (rest < 0)
			rest = 0;
		level = (goal - rest) / (k + 1);
		if (level > 0 && (k + 1 == n || level >= d[order[k + 1]]))
			break;
	}
	for (i = 0; i < n; i++) {
		if (d[i] <= level || d[i] <= 0)
			continue;
		keep = (100.0 - v[i].pct) / 100 * level / d[i];
		want = 100 - 100 * keep;
		pct = (uint32_t)want;
		if (pct < want)
			pct++;	/* rounded up: at least the cut asked for */
		if (pct > r->max_pct)
			pct = r->max_pct;
		if (pct > v[i].pct) {
			v[i].pct = pct;
			changed++;
		}
	}
	return changed;
}
