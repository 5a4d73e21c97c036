/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Convergence for guests that dirty memory faster than the link carries
 * it (agentctl migrate --throttle auto): after each pre-copy round the
 * vCPUs that dirty most are slowed down, in proportion to the excess
 * (throttle.h decides, cgthrottle.h acts), until the final round fits
 * the downtime target. Each vCPU's share of the dirtying comes from its
 * write faults after a harvest (mig_impact.h, BPF); without BPF the
 * harvest's count is split evenly and the summary says so. Released at
 * the pause, on any failure, and by the guard process if the agent dies.
 */
#ifndef LT_AGENT_CONVERGE_H
#define LT_AGENT_CONVERGE_H

#include <stddef.h>

#include "ctl.h"
#include "mig_impact.h"
#include "precopy.h"

struct converge;

/*
 * For the migration @req (st->throttle_* filled in). NULL when the
 * throttle is off or memory is short; every call takes NULL. Where the
 * throttle cannot work (no cgroup v2 cpu controller, no vCPU threads
 * known) it says why in st->throttle_error and the migration runs on
 * without it.
 */
struct converge *converge_new(const struct ctl_req *req,
			      struct mig_impact *imp, struct ctl_migrate *st);
/*
 * After pre-copy round @r and its verdict @v: throttles if the round
 * out-dirtied the link, and returns the verdict to act on (a stall the
 * throttle just answered is not the end: CONTINUE, @ps's count of flat
 * rounds reset).
 */
enum precopy_verdict converge_round(struct converge *cv,
				    struct precopy_state *ps,
				    const struct precopy_round *r,
				    enum precopy_verdict v);
/*
 * Lifts every throttle (cpu.max "max") just before the pause; the
 * figures end there. The cgroups go at converge_release().
 */
void converge_unthrottle(struct converge *cv);
/* Releases every throttle now and fills the summary; idempotent. */
void converge_release(struct converge *cv);
/* Why the throttle could not make the guest converge, in words. */
void converge_why(const struct converge *cv, const struct ctl_req *req,
		  char *buf, size_t len);
void converge_free(struct converge *cv);

#endif /* LT_AGENT_CONVERGE_H */
