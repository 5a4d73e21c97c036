/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest impact: what a VMM's vCPUs go through, seen from KVM's
 * tracepoints by a BPF program (bpf/guest_impact.bpf.c): exits by
 * reason, exits an interrupt caused, write faults and the distinct pages
 * they hit, time outside guest mode. Needs root and a kernel with BPF
 * and KVM's tracepoints; every caller carries on without the figures
 * when gi_open() fails, with its reason.
 */
#ifndef LT_AGENT_GUEST_IMPACT_H
#define LT_AGENT_GUEST_IMPACT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GI_VCPUS	64	/* vCPU threads a snapshot holds */
#define GI_REASONS	32	/* distinct exit reasons per vCPU */
#define GI_TOP		4	/* reasons a window keeps, most frequent first */

struct gi_vcpu {
	uint32_t tid;
	uint32_t vcpu_id;
	uint64_t exits;
	uint64_t irq_exits;
	uint64_t write_faults;
	uint64_t new_gfns;	/* distinct pages first written in a window */
	uint64_t last_gfn;
	uint64_t out_ns;	/* outside guest mode, up to the snapshot */
	uint32_t nreasons;
	uint32_t reason[GI_REASONS];
	uint64_t count[GI_REASONS];
};

struct gi_snap {
	uint64_t t_ns;		/* CLOCK_MONOTONIC */
	uint32_t isa;		/* GI_ISA_SVM or GI_ISA_VMX; 0 before an exit */
	uint32_t n;		/* vCPU threads, by vcpu_id */
	struct gi_vcpu v[GI_VCPUS];
};

/* What changed from one snapshot to a later one, for one vCPU. */
struct gi_delta {
	uint32_t tid;
	uint32_t vcpu_id;
	uint64_t exits;
	uint64_t irq_exits;
	uint64_t write_faults;
	uint64_t new_gfns;
	uint64_t out_ns;
	uint32_t ntop;
	uint32_t top_reason[GI_TOP];
	uint64_t top_count[GI_TOP];
};

struct guest_impact;

/*
 * Loads and attaches the program for the threads of process @pid.
 * 0, or -errno with the reason in @why (-EPERM: not root).
 */
int gi_open(struct guest_impact **gi, pid_t pid, char *why, size_t len);
void gi_close(struct guest_impact *gi);
/* Reads every vCPU thread's counters. 0 or -errno. */
int gi_snapshot(struct guest_impact *gi, struct gi_snap *s);
/* Starts a new window for new_gfns: every page counts once again. */
void gi_new_window(struct guest_impact *gi);
/* @b minus @a for each vCPU of @b, into @d[GI_VCPUS]; the count. */
uint32_t gi_diff(const struct gi_snap *a, const struct gi_snap *b,
		 struct gi_delta *d);

/* "npf", "hlt", "EXTERNAL_INTERRUPT"...; NULL for a code without a name */
const char *gi_reason_name(uint32_t isa, uint32_t reason);
const char *gi_isa_name(uint32_t isa);

#endif /* LT_AGENT_GUEST_IMPACT_H */
