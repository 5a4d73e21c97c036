/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pre-copy throttle's decision: which vCPUs to slow down and how
 * much, from one round's figures. A pure function, so that it can be
 * tested on scripted rounds with no VM (selftests/agent-host).
 *
 * A round out-dirties the link when the guest dirtied, while the previous
 * round was being sent, more than THR_TRIGGER_PCT percent of the pages
 * that round sent (QEMU's auto-converge trigger is the same ratio): the
 * dirty set then shrinks too slowly to reach the downtime target, or not
 * at all. The guest's dirtying must then come down to THR_TARGET_PCT
 * percent of what the link carried, and that cut is taken from the vCPUs
 * that dirty most, as a water level: the level L at which the total
 * would be on target if every vCPU dirtying more than L dirtied only L.
 * Those vCPUs keep L / (their rate) of the CPU time they have now; the
 * others are not touched. A vCPU's dirty rate is taken to follow its
 * CPU time; each round measures it again under the new quotas, which
 * corrects the assumption (a vCPU rewriting a small set dirties fewer
 * distinct pages than its CPU time suggests). During a migration the
 * quotas only tighten, each to at most max_pct percent of the CPU taken.
 */
#ifndef LT_AGENT_THROTTLE_H
#define LT_AGENT_THROTTLE_H

#include <stdint.h>

#define THR_TRIGGER_PCT		50
#define THR_TARGET_PCT		25
#define THR_DEFAULT_MAX_PCT	99	/* QEMU's cpu-throttle-max default */
#define THR_MAX_VCPUS		64

struct thr_vcpu {
	uint32_t vcpu_id;
	uint32_t tid;
	uint64_t dirty;		/* pages it dirtied this round (a weight) */
	uint32_t pct;		/* CPU time taken away now, percent */
};

struct thr_round {
	uint64_t dirty_pages;	/* found dirty by this round's harvest */
	uint64_t prev_pages;	/* sent by the previous round */
	uint32_t max_pct;	/* the most CPU time taken from a vCPU */
};

/*
 * New quotas in v[].pct for the round @r. All weights 0: the dirtying is
 * split evenly. Returns how many vCPUs got a tighter quota (0: the round
 * did not out-dirty the link, or the vCPUs that dirty are at max_pct).
 */
uint32_t thr_plan(struct thr_vcpu *v, uint32_t n, const struct thr_round *r);

#endif /* LT_AGENT_THROTTLE_H */
