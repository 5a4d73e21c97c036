/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest impact of a migration (guest_impact.h), window by window
 * (enum ctl_impact_window), into the summary. Three hooks in source.c;
 * where BPF is unavailable the summary says why and the migration goes on
 * without the figures.
 */
#ifndef LT_AGENT_MIG_IMPACT_H
#define LT_AGENT_MIG_IMPACT_H

#include <sys/types.h>

#include "ctl.h"

/* The shortest "before" window and the "after" one, in ms. */
#define IMPACT_BEFORE_MS	500
#define IMPACT_AFTER_MS		500

struct guest_impact;
struct gi_snap;

struct mig_impact {
	struct guest_impact *gi;
	struct gi_snap *last;		/* at the last mark */
	struct ctl_migrate *st;
	int next;			/* the window the next mark closes */
};

/* Starts measuring VMM @pid, the "before" window open. Zeroed @im first. */
void impact_start(struct mig_impact *im, pid_t pid, struct ctl_migrate *st);
/*
 * Closes window @w at now and opens the next one. The "before" window
 * lasts at least IMPACT_BEFORE_MS: the mark waits for the rest.
 */
void impact_mark(struct mig_impact *im, int w);
/*
 * After teardown: closes the open window; if the source VM @runs_on
 * (failed before the destination took the guest), measures an "after"
 * window of IMPACT_AFTER_MS. Frees everything.
 */
void impact_stop(struct mig_impact *im, int runs_on);
/*
 * The counters of every vCPU thread now (the throttle's per-vCPU dirty
 * rates); -ENODATA where there are no figures.
 */
int impact_sample(struct mig_impact *im, struct gi_snap *s);

#endif /* LT_AGENT_MIG_IMPACT_H */
