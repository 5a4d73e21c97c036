// SPDX-License-Identifier: GPL-2.0
/* A migration's guest impact, window by window: see mig_impact.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest_impact.h"
#include "mig_impact.h"

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void impact_start(struct mig_impact *im, pid_t pid, struct ctl_migrate *st)
{
	char why[CTL_REASON_LEN];
	int err;

	memset(im, 0, sizeof(*im));
	im->st = st;
	im->next = CTL_IMPACT_WINDOWS;	/* nothing to mark */
	im->last = malloc(sizeof(*im->last));
	if (!im->last) {
		snprintf(st->impact_error, sizeof(st->impact_error),
			 "out of memory");
		return;
	}
	err = gi_open(&im->gi, pid, why, sizeof(why));
	if (!err)
		err = gi_snapshot(im->gi, im->last);
	if (err) {
		/* the migration does not depend on it: say why, go on */
		snprintf(st->impact_error, sizeof(st->impact_error), "%s", why);
		fprintf(stderr, "loosetrace-agent: no guest impact figures: %s\n",
			why);
		gi_close(im->gi);
		im->gi = NULL;
		return;
	}
	im->next = CTL_IMPACT_BEFORE;
}

static struct ctl_impact_vcpu *vcpu_slot(struct ctl_migrate *st,
					 const struct gi_delta *d)
{
	uint32_t i;

	for (i = 0; i < st->impact_nvcpus; i++)
		if (st->impact[i].tid == d->tid)
			return &st->impact[i];
	if (st->impact_nvcpus == CTL_IMPACT_VCPUS)
		return NULL;
	st->impact[i].tid = d->tid;
	st->impact[i].vcpu_id = d->vcpu_id;
	st->impact_nvcpus++;
	return &st->impact[i];
}

void impact_mark(struct mig_impact *im, int w)
{
	struct gi_delta d[GI_VCPUS];
	struct ctl_impact_vcpu *v;
	struct ctl_impact_win *cw;
	struct gi_snap *now;
	uint64_t ms;
	uint32_t i, j, n;

	if (!im->gi || w < im->next || w >= CTL_IMPACT_WINDOWS)
		return;
	if (w == CTL_IMPACT_BEFORE) {
		ms = (mono_ns() - im->last->t_ns) / 1000000;
		if (ms < IMPACT_BEFORE_MS)
			sleep_ms(IMPACT_BEFORE_MS - ms);
	}
	now = malloc(sizeof(*now));
	if (!now || gi_snapshot(im->gi, now)) {
		free(now);
		return;
	}
	gi_new_window(im->gi);
	n = gi_diff(im->last, now, d);
	for (i = 0; i < n; i++) {
		v = vcpu_slot(im->st, &d[i]);
		if (!v)
			continue;
		cw = &v->w[w];
		cw->exits = d[i].exits;
		cw->irq_exits = d[i].irq_exits;
		cw->write_faults = d[i].write_faults;
		cw->new_gfns = d[i].new_gfns;
		cw->out_ns = d[i].out_ns;
		cw->ntop = d[i].ntop < CTL_IMPACT_TOP ? d[i].ntop : CTL_IMPACT_TOP;
		for (j = 0; j < cw->ntop; j++) {
			cw->top_reason[j] = d[i].top_reason[j];
			cw->top_count[j] = d[i].top_count[j];
		}
	}
	if (now->isa)
		im->st->impact_isa = now->isa;
	im->st->impact_ns[w] = now->t_ns - im->last->t_ns;
	im->st->impact_windows |= 1U << w;
	free(im->last);
	im->last = now;
	im->next = w + 1;
}

void impact_stop(struct mig_impact *im, int runs_on)
{
	int measured_precopy;

	if (im->gi && im->next < CTL_IMPACT_AFTER)
		impact_mark(im, im->next);
	measured_precopy = im->st &&
			   (im->st->impact_windows & (1U << CTL_IMPACT_PRECOPY));
	if (im->gi && runs_on && measured_precopy) {
		/* the previous window ended at teardown; after starts there */
		sleep_ms(IMPACT_AFTER_MS);
		impact_mark(im, CTL_IMPACT_AFTER);
	}
	gi_close(im->gi);
	im->gi = NULL;
	free(im->last);
	im->last = NULL;
}

int impact_sample(struct mig_impact *im, struct gi_snap *s)
{
	if (!im || !im->gi)
		return -ENODATA;
	return gi_snapshot(im->gi, s);
}
