/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The throttle's mechanism: CFS bandwidth control of cgroup v2
 * (cpu.max) on single vCPU threads, as libvirt's per-vCPU cgroups do.
 *
 * Each throttled vCPU thread moves into a cgroup of its own,
 * "loosetrace.<VMM pid>.vcpu<N>", made a threaded child of the cgroup the
 * thread is in (its "home": the VMM's cgroup, or a vCPU cgroup libvirt
 * made), whose cpu.max then limits that thread alone. Nothing the
 * operator or the VMM set up is written, except that the cpu controller
 * is enabled in the home's cgroup.subtree_control where it was not (and
 * disabled again at release). Nested below the home, the limit can only
 * add to the home's own. Release: cpu.max back to "max", the thread back
 * home, the cgroup removed.
 *
 * The throttle must not outlive the agent: before it changes anything,
 * the first throttle starts a guard process (this program again, with
 * --throttle-guard, in a session of its own) and tells it, through a
 * pipe, every cgroup it is about to create. When the pipe closes (the
 * agent released everything, or died in any way, SIGKILL included) the
 * guard releases whatever is still there and exits. cgt_sweep() is the
 * last net, for the unit's start and stop: it releases every
 * "loosetrace.*" cgroup it finds.
 */
#ifndef LT_AGENT_CGTHROTTLE_H
#define LT_AGENT_CGTHROTTLE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define CGT_PERIOD_US		100000	/* the kernel's default period */
#define CGT_MIN_QUOTA_US	1000	/* the least quota cpu.max takes */
#define CGT_MAX_VCPUS		64
#define CGT_PATH		512
#define CGT_PREFIX		"loosetrace."
#define CGT_GUARD_ARG		"--throttle-guard"
#define CGT_GUARD_FD		3

struct cgt_vcpu {
	pid_t tid;
	uint32_t vcpu_id;
	uint32_t pct;		/* CPU time taken away now */
	int active;		/* the thread is in dir */
	int cpu_enabled;	/* we enabled cpu in home's subtree_control */
	char home[CGT_PATH];	/* the thread's cgroup before */
	char dir[CGT_PATH];	/* its throttle cgroup, a child of home */
};

/* A throttle cgroup's cpu.stat at release. */
struct cgt_usage {
	uint64_t usage_us;	/* CPU time the thread used in it */
	uint64_t throttled_us;	/* time CFS held it back */
	uint64_t nr_throttled;	/* periods it was held back in */
};

struct cgt {
	char root[CGT_PATH];	/* where cgroup2 is mounted */
	pid_t vm_pid;
	int guard_fd;		/* the guard's pipe; -1: none yet */
	pid_t guard_pid;
	uint32_t n;
	struct cgt_vcpu v[CGT_MAX_VCPUS];
};

/*
 * Finds the cgroup2 hierarchy and checks it has the cpu controller.
 * 0, or -errno with the reason in @why.
 */
int cgt_init(struct cgt *c, pid_t vm_pid, char *why, size_t len);
/*
 * Adds vCPU thread @tid of the VMM: reads its home and checks that the
 * cpu controller can be had there. Nothing changes yet. 0 or -errno.
 */
int cgt_add(struct cgt *c, pid_t tid, uint32_t vcpu_id, char *why,
	    size_t len);
/* Takes @pct percent of vCPU @i's CPU time away (0: none). 0 or -errno. */
int cgt_set(struct cgt *c, uint32_t i, uint32_t pct, char *why, size_t len);
/*
 * Releases every throttle at once (idempotent), the figures of each
 * vCPU's cgroup into @u[c->n] if not NULL; ends the guard.
 */
void cgt_release(struct cgt *c, struct cgt_usage *u);

/* The guard process: reads the pipe on CGT_GUARD_FD, then releases. */
int cgt_guard_main(void);
/*
 * Releases every "loosetrace.*" cgroup of the hierarchy (the agent and
 * its guard both gone). Says what it did on @log. Their count, or -errno.
 */
int cgt_sweep(FILE *log);

#endif /* LT_AGENT_CGTHROTTLE_H */
