/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What guest_impact.bpf.c counts and agent/guest_impact.c reads: the
 * values of its maps. Shared by the BPF object and the agent, so only
 * fixed-size types.
 */
#ifndef LT_AGENT_GI_ABI_H
#define LT_AGENT_GI_ABI_H

#include <linux/types.h>

#define GI_MAX_THREADS	256	/* vCPU threads of the VMM */
#define GI_MAX_REASONS	4096	/* (thread, exit reason) pairs */
#define GI_MAX_GFNS	65536	/* pages remembered per window */

/* KVM's kvm_exit "isa" field (arch/x86/kvm/trace.h: KVM_ISA_*) */
#define GI_ISA_VMX	1
#define GI_ISA_SVM	2

/* One vCPU thread; written by that thread only, in its tracepoints. */
struct gi_thread {
	__u64 exits;
	__u64 irq_exits;	/* external interrupt, NMI, interrupt window */
	__u64 write_faults;	/* kvm_page_fault with the write bit */
	__u64 new_gfns;		/* of them, first write to a gfn this window */
	__u64 last_gfn;
	__u64 out_ns;		/* outside guest mode: kvm_exit to kvm_entry */
	__u64 exit_ts;		/* CLOCK_MONOTONIC of the last kvm_exit */
	__u32 outside;		/* after a kvm_exit, before its kvm_entry */
	__u32 vcpu_id;
	__u32 isa;
	__u32 pad;
};

/*
 * Set by the agent after load, before attach: the VMM and where the
 * tracepoints' fields are in their records (from tracefs).
 */
struct gi_config {
	__u32 target_tgid;
	__u32 off_exit_reason;
	__u32 off_exit_isa;
	__u32 off_exit_vcpu;
	__u32 off_pf_addr;
	__u32 off_pf_error;
	__u32 gfn_window;	/* bumped: a new window of distinct gfns */
	__u32 pad;
};

struct gi_reason_key {
	__u32 tid;
	__u32 reason;
};

#endif /* LT_AGENT_GI_ABI_H */
