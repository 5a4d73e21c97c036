// SPDX-License-Identifier: GPL-2.0
/* The pre-copy throttle of a migration; see converge.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgthrottle.h"
#include "converge.h"
#include "guest_impact.h"
#include "qmp.h"
#include "throttle.h"
#include "vmmhook.h"

struct converge {
	struct ctl_migrate *st;
	struct mig_impact *imp;
	int on;			/* auto, and the mechanism works */
	int released;
	uint64_t t_end;		/* lifted at (0: not yet) */
	uint32_t max_pct;
	uint32_t n;
	struct thr_vcpu tv[THR_MAX_VCPUS];
	/* per vCPU: first throttle, sum of pct x ns, steps, the most */
	uint64_t first_ns[THR_MAX_VCPUS];
	uint64_t pct_ns[THR_MAX_VCPUS];
	uint32_t steps[THR_MAX_VCPUS];
	uint32_t most[THR_MAX_VCPUS];
	uint64_t t_acc;		/* integrals are up to here */
	uint64_t prev_pages;	/* sent by the previous round */
	struct gi_snap *last;	/* BPF counters at the previous round */
	struct cgt cg;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void say(struct converge *cv, const char *why)
{
	if (!cv->st->throttle_error[0])
		snprintf(cv->st->throttle_error,
			 sizeof(cv->st->throttle_error), "%s", why);
	fprintf(stderr, "loosetrace-agent: no throttle: %s\n", why);
	cv->on = 0;
}

/* QEMU's vCPU threads: query-cpus-fast, "thread-id" of each CPU. */
static int qemu_threads(struct converge *cv, const char *sock, char *why,
			size_t len)
{
	json_object *r, *cpu;
	long long tid, idx;
	struct qmp q;
	size_t i;

	if (qmp_open(&q, sock, 5000)) {
		snprintf(why, len, "QMP socket %s: %s", sock, q.err);
		return -EIO;
	}
	r = qmp_cmd(&q, 5000, "query-cpus-fast", NULL);
	if (!r || !json_object_is_type(r, json_type_array)) {
		snprintf(why, len, "query-cpus-fast: %s", q.err);
		qmp_close(&q);
		json_object_put(r);
		return -EIO;
	}
	for (i = 0; i < json_object_array_length(r) && cv->n < THR_MAX_VCPUS;
	     i++) {
		cpu = json_object_array_get_idx(r, i);
		if (qmp_get_int(cpu, "thread-id", &tid) ||
		    qmp_get_int(cpu, "cpu-index", &idx))
			continue;
		cv->tv[cv->n].tid = tid;
		cv->tv[cv->n++].vcpu_id = idx;
	}
	json_object_put(r);
	qmp_close(&q);
	return 0;
}

/* The vCPU threads as the VMM names them, else as KVM's events show. */
static int find_threads(struct converge *cv, const struct ctl_req *req,
			char *why, size_t len)
{
	struct vmmhook_status vs;
	uint32_t i;
	int err;

	if (req->flags & CTL_MIG_QMP) {
		err = qemu_threads(cv, req->vmm_sock, why, len);
		if (err)
			return err;
	} else if (!vmmhook_status(req->vmm_sock, &vs, why, len)) {
		for (i = 0; i < vs.ntids && i < THR_MAX_VCPUS; i++) {
			if (vs.tids[i] <= 0)
				continue;
			cv->tv[cv->n].tid = vs.tids[i];
			cv->tv[cv->n++].vcpu_id = i;
		}
	}
	if (!cv->n && cv->last) {
		/* threads that ran a vCPU since the figures started */
		for (i = 0; i < cv->last->n && i < THR_MAX_VCPUS; i++) {
			cv->tv[cv->n].tid = cv->last->v[i].tid;
			cv->tv[cv->n++].vcpu_id = cv->last->v[i].vcpu_id;
		}
	}
	if (!cv->n) {
		snprintf(why, len,
			 "the VMM does not say which threads run its vCPUs, and there are no BPF figures to tell");
		return -ESRCH;
	}
	return 0;
}

struct converge *converge_new(const struct ctl_req *req,
			      struct mig_impact *imp, struct ctl_migrate *st)
{
	struct converge *cv;
	char why[CTL_REASON_LEN];
	uint32_t i;

	st->throttle_mode = req->throttle;
	if (req->throttle != CTL_THROTTLE_AUTO)
		return NULL;
	st->throttle_max_pct = req->throttle_max_pct ?: THR_DEFAULT_MAX_PCT;
	if (st->throttle_max_pct > 99)
		st->throttle_max_pct = 99;
	cv = calloc(1, sizeof(*cv));
	if (!cv) {
		snprintf(st->throttle_error, sizeof(st->throttle_error),
			 "out of memory");
		return NULL;
	}
	cv->st = st;
	cv->imp = imp;
	cv->max_pct = st->throttle_max_pct;
	cv->on = 1;
	cv->cg.guard_fd = -1;
	cv->last = malloc(sizeof(*cv->last));
	if (cv->last && impact_sample(imp, cv->last)) {
		free(cv->last);
		cv->last = NULL;
	}
	st->throttle_rates = cv->last ? CTL_THR_RATES_BPF : CTL_THR_RATES_EVEN;
	if (cgt_init(&cv->cg, req->vm_pid, why, sizeof(why)) ||
	    find_threads(cv, req, why, sizeof(why))) {
		say(cv, why);
		return cv;
	}
	for (i = 0; i < cv->n; i++) {
		if (cgt_add(&cv->cg, cv->tv[i].tid, cv->tv[i].vcpu_id, why,
			    sizeof(why))) {
			say(cv, why);
			return cv;
		}
	}
	st->throttle_nvcpus = cv->n < CTL_IMPACT_VCPUS ? cv->n :
							 CTL_IMPACT_VCPUS;
	for (i = 0; i < st->throttle_nvcpus; i++) {
		st->throttle[i].vcpu_id = cv->tv[i].vcpu_id;
		st->throttle[i].tid = cv->tv[i].tid;
	}
	return cv;
}

/* The pct x time integrals, up to now. */
static void account(struct converge *cv, uint64_t now)
{
	uint32_t i;

	for (i = 0; cv->t_acc && i < cv->n; i++)
		cv->pct_ns[i] += (uint64_t)cv->tv[i].pct * (now - cv->t_acc);
	cv->t_acc = now;
}

/* Each vCPU's write faults since the previous round, as its weight. */
static void weigh(struct converge *cv)
{
	struct gi_delta d[GI_VCPUS];
	struct gi_snap *now;
	uint32_t i, j, nd;

	for (i = 0; i < cv->n; i++)
		cv->tv[i].dirty = 0;
	if (!cv->last)
		return;	/* split evenly */
	now = malloc(sizeof(*now));
	if (!now || impact_sample(cv->imp, now)) {
		free(now);
		return;
	}
	nd = gi_diff(cv->last, now, d);
	for (j = 0; j < nd; j++)
		for (i = 0; i < cv->n; i++)
			if (cv->tv[i].tid == d[j].tid)
				cv->tv[i].dirty = d[j].write_faults;
	free(cv->last);
	cv->last = now;
}

static uint32_t most_now(const struct converge *cv)
{
	uint32_t i, m = 0;

	for (i = 0; i < cv->n; i++)
		if (cv->tv[i].pct > m)
			m = cv->tv[i].pct;
	return m;
}

enum precopy_verdict converge_round(struct converge *cv,
				    struct precopy_state *ps,
				    const struct precopy_round *r,
				    enum precopy_verdict v)
{
	struct thr_round tr;
	struct ctl_migrate *st;
	uint32_t old[THR_MAX_VCPUS], i, changed;
	char why[CTL_REASON_LEN];
	uint64_t now;

	if (!cv)
		return v;
	st = cv->st;
	/* the throttle this round ran under */
	if (st->nlog)
		st->log[st->nlog - 1].throttle_pct = most_now(cv);
	weigh(cv);
	tr.dirty_pages = r->dirty_pages;
	tr.prev_pages = cv->prev_pages;
	tr.max_pct = cv->max_pct;
	cv->prev_pages = r->dirty_pages;
	if (!cv->on || cv->released || cv->t_end || v == PRECOPY_FITS ||
	    v == PRECOPY_ROUND_LIMIT)
		return v;
	now = now_ns();
	account(cv, now);
	for (i = 0; i < cv->n; i++)
		old[i] = cv->tv[i].pct;
	changed = thr_plan(cv->tv, cv->n, &tr);
	for (i = 0; changed && i < cv->n; i++) {
		if (cv->tv[i].pct == old[i])
			continue;
		if (cgt_set(&cv->cg, i, cv->tv[i].pct, why, sizeof(why))) {
			say(cv, why);
			converge_release(cv);
			return v;
		}
		if (!old[i])
			cv->first_ns[i] = now;
		cv->steps[i]++;
		if (cv->tv[i].pct > cv->most[i])
			cv->most[i] = cv->tv[i].pct;
	}
	if (!changed)
		return v;
	/* the new quotas get their rounds before a stall counts again */
	ps->flat = 0;
	return v == PRECOPY_STALLED ? PRECOPY_CONTINUE : v;
}

void converge_unthrottle(struct converge *cv)
{
	char why[CTL_REASON_LEN];
	uint32_t i;

	if (!cv || cv->released || cv->t_end)
		return;
	cv->t_end = now_ns();
	account(cv, cv->t_end);
	for (i = 0; i < cv->n; i++) {
		if (cv->tv[i].pct && cgt_set(&cv->cg, i, 0, why, sizeof(why)))
			fprintf(stderr, "loosetrace-agent: lifting the throttle: %s\n",
				why);
		cv->tv[i].pct = 0;
	}
}

void converge_release(struct converge *cv)
{
	struct cgt_usage u[CGT_MAX_VCPUS];
	struct ctl_throttle_vcpu *t;
	uint64_t now;
	uint32_t i;

	if (!cv || cv->released)
		return;
	converge_unthrottle(cv);
	now = cv->t_end;
	cgt_release(&cv->cg, u);
	cv->released = 1;
	cv->st->throttle_released = 1;
	for (i = 0; i < cv->st->throttle_nvcpus; i++) {
		t = &cv->st->throttle[i];
		t->max_pct = cv->most[i];
		t->steps = cv->steps[i];
		if (!cv->first_ns[i])
			continue;
		t->throttled_ms = (now - cv->first_ns[i]) / 1000000;
		t->mean_pct = cv->pct_ns[i] / ((now - cv->first_ns[i]) ?: 1);
		if (i < cv->cg.n) {
			t->cpu_ms = u[i].usage_us / 1000;
			t->cfs_throttled_ms = u[i].throttled_us / 1000;
			t->cfs_periods = u[i].nr_throttled;
		}
	}
	for (i = 0; i < cv->n; i++)
		cv->tv[i].pct = 0;
}

void converge_why(const struct converge *cv, const struct ctl_req *req,
		  char *buf, size_t len)
{
	if (req->throttle != CTL_THROTTLE_AUTO)
		snprintf(buf, len,
			 "the throttle is off (--throttle auto slows the vCPUs that dirty most)");
	else if (!cv || !cv->on)
		snprintf(buf, len, "the throttle could not act: %s",
			 cv ? cv->st->throttle_error : "out of memory");
	else
		snprintf(buf, len, "even with the vCPUs that dirty most throttled by up to %u%%",
			 cv->max_pct);
}

void converge_free(struct converge *cv)
{
	if (!cv)
		return;
	converge_release(cv);
	free(cv->last);
	free(cv);
}
