// SPDX-License-Identifier: GPL-2.0
/*
 * Names of KVM exit reasons, as the kvm_exit tracepoint prints them:
 * SVM exit codes (asm/svm.h) and VMX basic exit reasons (asm/vmx.h).
 * Only the ones a running guest commonly takes; others print as codes.
 */
#include <stddef.h>
#include <stdint.h>

#include "bpf/gi_abi.h"
#include "guest_impact.h"

struct reason_name {
	uint32_t code;
	const char *name;
};

static const struct reason_name svm_names[] = {
	{ 0x000, "read_cr0" }, { 0x003, "read_cr3" }, { 0x004, "read_cr4" },
	{ 0x010, "write_cr0" }, { 0x013, "write_cr3" }, { 0x014, "write_cr4" },
	{ 0x018, "write_cr8" }, { 0x041, "DB excp" }, { 0x046, "UD excp" },
	{ 0x04d, "GP excp" }, { 0x04e, "PF excp" }, { 0x060, "interrupt" },
	{ 0x061, "nmi" }, { 0x062, "smi" }, { 0x063, "init" },
	{ 0x064, "vintr" }, { 0x06e, "rdtsc" }, { 0x072, "cpuid" },
	{ 0x074, "iret" }, { 0x077, "pause" }, { 0x078, "hlt" },
	{ 0x079, "invlpg" }, { 0x07b, "io" }, { 0x07c, "msr" },
	{ 0x07f, "shutdown" }, { 0x081, "hypercall" }, { 0x087, "rdtscp" },
	{ 0x089, "wbinvd" }, { 0x08d, "xsetbv" },
	{ 0x08f, "write_efer_trap" }, { 0x090, "write_cr0_trap" },
	{ 0x094, "write_cr4_trap" }, { 0x098, "write_cr8_trap" },
	{ 0x400, "npf" }, { 0x401, "avic_incomplete_ipi" },
	{ 0x402, "avic_unaccelerated_access" },
};

static const struct reason_name vmx_names[] = {
	{ 0, "EXCEPTION_NMI" }, { 1, "EXTERNAL_INTERRUPT" },
	{ 2, "TRIPLE_FAULT" }, { 7, "INTERRUPT_WINDOW" }, { 8, "NMI_WINDOW" },
	{ 10, "CPUID" }, { 12, "HLT" }, { 14, "INVLPG" }, { 16, "RDTSC" },
	{ 18, "VMCALL" }, { 28, "CR_ACCESS" }, { 30, "IO_INSTRUCTION" },
	{ 31, "MSR_READ" }, { 32, "MSR_WRITE" }, { 40, "PAUSE_INSTRUCTION" },
	{ 43, "TPR_BELOW_THRESHOLD" }, { 44, "APIC_ACCESS" },
	{ 45, "EOI_INDUCED" }, { 48, "EPT_VIOLATION" },
	{ 49, "EPT_MISCONFIG" }, { 52, "PREEMPTION_TIMER" },
	{ 55, "XSETBV" }, { 56, "APIC_WRITE" }, { 62, "PML_FULL" },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

const char *gi_reason_name(uint32_t isa, uint32_t reason)
{
	const struct reason_name *t = isa == GI_ISA_VMX ? vmx_names : svm_names;
	size_t i, n = isa == GI_ISA_VMX ? N(vmx_names) : N(svm_names);

	if (isa != GI_ISA_VMX && isa != GI_ISA_SVM)
		return NULL;
	for (i = 0; i < n; i++)
		if (t[i].code == reason)
			return t[i].name;
	return NULL;
}

const char *gi_isa_name(uint32_t isa)
{
	switch (isa) {
	case GI_ISA_SVM:	return "svm";
	case GI_ISA_VMX:	return "vmx";
	default:		return "unknown";
	}
}
