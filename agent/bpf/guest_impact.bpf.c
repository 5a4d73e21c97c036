// SPDX-License-Identifier: GPL-2.0
/*
 * Guest impact: per vCPU thread of one VMM, KVM's exits by reason, the
 * exits an interrupt caused, write faults and the time outside guest
 * mode, counted on KVM's classic tracepoints.
 *
 * Classic tracepoints, not tp_btf: their records are laid out by the
 * event's format file, which the agent reads from tracefs before load
 * and hands over as the field offsets in cfg. So the program needs no
 * BTF of the kernel or of kvm.ko, no CO-RE and no vmlinux.h, and a kernel
 * that moves a field still gets it right (one that drops a field fails
 * at load with the field's name).
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "gi_abi.h"

/* zero (no thread matches) until the agent fills it in, before attach */
struct gi_config cfg;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GI_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct gi_thread);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GI_MAX_REASONS);
	__type(key, struct gi_reason_key);
	__type(value, __u64);
} reasons SEC(".maps");

/* gfn -> the window it was last written in */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GI_MAX_GFNS);
	__type(key, __u64);
	__type(value, __u32);
} gfns SEC(".maps");

#define PFERR_WRITE	(1ULL << 1)

/* SVM exit codes (asm/svm.h), VMX basic exit reasons (asm/vmx.h) */
#define SVM_EXIT_INTR	0x060
#define SVM_EXIT_NMI	0x061
#define SVM_EXIT_VINTR	0x064
#define VMX_EXIT_EXTINT	1
#define VMX_EXIT_IRQWIN	7
#define VMX_EXIT_NMIWIN	8

static struct gi_thread *thread(void)
{
	static const struct gi_thread zero;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct gi_thread *t;

	if (!cfg.target_tgid || (id >> 32) != cfg.target_tgid)
		return NULL;
	t = bpf_map_lookup_elem(&threads, &tid);
	if (t)
		return t;
	bpf_map_update_elem(&threads, &tid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&threads, &tid);
}

static int irq_exit(__u32 isa, __u32 reason)
{
	if (isa == GI_ISA_SVM)
		return reason == SVM_EXIT_INTR || reason == SVM_EXIT_NMI ||
		       reason == SVM_EXIT_VINTR;
	reason &= 0xffff;
	return reason == VMX_EXIT_EXTINT || reason == VMX_EXIT_IRQWIN ||
	       reason == VMX_EXIT_NMIWIN;
}

SEC("tracepoint/kvm/kvm_exit")
int gi_kvm_exit(void *ctx)
{
	struct gi_thread *t = thread();
	struct gi_reason_key k;
	__u32 reason = 0, isa = 0, vcpu = 0;
	__u64 one = 1, *n;

	if (!t)
		return 0;
	bpf_probe_read_kernel(&reason, sizeof(reason), ctx + cfg.off_exit_reason);
	bpf_probe_read_kernel(&isa, sizeof(isa), ctx + cfg.off_exit_isa);
	bpf_probe_read_kernel(&vcpu, sizeof(vcpu), ctx + cfg.off_exit_vcpu);
	t->exits++;
	if (irq_exit(isa, reason))
		t->irq_exits++;
	t->vcpu_id = vcpu;
	t->isa = isa;
	t->exit_ts = bpf_ktime_get_ns();
	t->outside = 1;
	k.tid = (__u32)bpf_get_current_pid_tgid();
	k.reason = isa == GI_ISA_VMX ? reason & 0xffff : reason;
	n = bpf_map_lookup_elem(&reasons, &k);
	if (n)
		(*n)++;
	else
		bpf_map_update_elem(&reasons, &k, &one, BPF_NOEXIST);
	return 0;
}

SEC("tracepoint/kvm/kvm_entry")
int gi_kvm_entry(void *ctx)
{
	struct gi_thread *t = thread();

	if (t && t->outside) {
		t->out_ns += bpf_ktime_get_ns() - t->exit_ts;
		t->outside = 0;
	}
	return 0;
}

SEC("tracepoint/kvm/kvm_page_fault")
int gi_kvm_page_fault(void *ctx)
{
	struct gi_thread *t = thread();
	__u64 addr = 0, err = 0, gfn;
	__u32 win = cfg.gfn_window, *seen;

	if (!t)
		return 0;
	bpf_probe_read_kernel(&err, sizeof(err), ctx + cfg.off_pf_error);
	if (!(err & PFERR_WRITE))
		return 0;
	bpf_probe_read_kernel(&addr, sizeof(addr), ctx + cfg.off_pf_addr);
	gfn = addr >> 12;
	t->write_faults++;
	t->last_gfn = gfn;
	seen = bpf_map_lookup_elem(&gfns, &gfn);
	if (seen && *seen == win)
		return 0;
	t->new_gfns++;
	bpf_map_update_elem(&gfns, &gfn, &win, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
