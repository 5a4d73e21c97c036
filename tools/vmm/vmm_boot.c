// SPDX-License-Identifier: GPL-2.0
/*
 * First boot of a fresh guest: CPUID, page tables, GDT and TSS, the
 * control block, the guest image, and every vCPU's registers so that it
 * starts directly in 64-bit mode at the image's entry point. A migrated
 * guest skips all of this: its memory and registers come from the source.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm_internal.h"

#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_PS		(1ULL << 7)

#define CR0_PE		(1ULL << 0)
#define CR0_MP		(1ULL << 1)
#define CR0_ET		(1ULL << 4)
#define CR0_NE		(1ULL << 5)
#define CR0_WP		(1ULL << 16)
#define CR0_PG		(1ULL << 31)
#define CR4_PAE		(1ULL << 5)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)

static struct kvm_cpuid2 *supported_cpuid(struct vmm *vm)
{
	struct kvm_cpuid2 *c;
	int n = 64;

	for (;;) {
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return NULL;
		c->nent = n;
		if (!ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c))
			return c;
		free(c);
		if (errno != E2BIG || n > 4096)
			return NULL;
		n *= 2;
	}
}

/* What KVM supports, as is: enough for long mode and the x2APIC. */
int vmm_vcpu_set_cpuid(struct vmm *vm, struct vmm_vcpu *v)
{
	struct kvm_cpuid2 *c = supported_cpuid(vm);
	int ret;

	if (!c) {
		vmm_set_error(vm, "KVM_GET_SUPPORTED_CPUID: %s",
			      strerror(errno));
		return -1;
	}
	ret = ioctl(v->fd, KVM_SET_CPUID2, c);
	if (ret)
		vmm_set_error(vm, "KVM_SET_CPUID2: %s", strerror(errno));
	free(c);
	return ret;
}

static void *gpa(struct vmm *vm, uint64_t addr)
{
	return (char *)vm->mem + addr;
}

/* Identity map of the first 1 GiB with 2 MiB pages. */
static void build_page_tables(struct vmm *vm)
{
	uint64_t *pml4 = gpa(vm, LTG_PML4_GPA);
	uint64_t *pdpt = gpa(vm, LTG_PDPT_GPA);
	uint64_t *pd = gpa(vm, LTG_PD_GPA);
	unsigned int i;

	pml4[0] = LTG_PDPT_GPA | PTE_P | PTE_RW;
	pdpt[0] = LTG_PD_GPA | PTE_P | PTE_RW;
	for (i = 0; i < 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS;
}

static void build_gdt(struct vmm *vm)
{
	uint64_t *gdt = gpa(vm, LTG_GDT_GPA);
	uint64_t base = LTG_TSS_GPA, limit = 0x67;

	gdt[0] = 0;
	gdt[LTG_SEL_CODE / 8] = 0x00af9b000000ffffULL;	/* 64-bit code */
	gdt[LTG_SEL_DATA / 8] = 0x00cf93000000ffffULL;	/* flat data */
	/* 64-bit TSS, busy (type 0xb), 16 bytes. */
	gdt[LTG_SEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
			       (0x8bULL << 40) | (((limit >> 16) & 0xf) << 48) |
			       (((base >> 24) & 0xff) << 56);
	gdt[LTG_SEL_TSS / 8 + 1] = base >> 32;
}

static void init_ctl(struct vmm *vm)
{
	struct ltg_ctl *ctl = vmm_ctl(vm);
	struct vmm_layout l;
	unsigned int i;

	vmm_get_layout(vm, &l);
	memset(ctl, 0, sizeof(*ctl));
	ctl->magic = LTG_CTL_MAGIC;
	ctl->abi_version = LTG_ABI_VERSION;
	ctl->nr_vcpus = vm->nr_vcpus;
	ctl->mem_bytes = vm->mem_bytes;
	ctl->data_gfn_first = l.data_gfn_first;
	ctl->data_gfn_count = l.data_gfn_count;
	ctl->gen_table_gpa = LTG_GEN_TABLE_GPA;
	ctl->cmd = LTG_CMD_RUN;
	ctl->verify_first_bad = ~0ULL;
	for (i = 0; i < vm->nr_vcpus; i++)
		vmm_workload_default(&ctl->cfg[i], LTG_MODE_SEQ);
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type,
		    bool code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code;
	s->db = !code;
}

static int setup_vcpu_regs(struct vmm *vm, struct vmm_vcpu *v)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		goto err;
	set_seg(&sregs.cs, LTG_SEL_CODE, 0xb, true);
	set_seg(&sregs.ds, LTG_SEL_DATA, 0x3, false);
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.base = LTG_TSS_GPA;
	sregs.tr.limit = 0x67;
	sregs.tr.selector = LTG_SEL_TSS;
	sregs.tr.type = 0xb;
	sregs.tr.present = 1;
	sregs.gdt.base = LTG_GDT_GPA;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;	/* the guest loads its own IDT */
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr3 = LTG_PML4_GPA;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		goto err;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = LTG_IMAGE_GPA;
	regs.rsp = LTG_STACK_GPA + (v->id + 1) * LTG_STACK_SIZE;
	regs.rdi = v->id;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		goto err;
	/* With an in-kernel LAPIC, APs would wait for INIT/SIPI. */
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
		goto err;
	return 0;
err:
	vmm_set_error(vm, "vCPU %u boot registers: %s", v->id,
		      strerror(errno));
	return -1;
}

int vmm_boot_setup(struct vmm *vm)
{
	size_t image = ltvmm_guest_image_end - ltvmm_guest_image;
	unsigned int i;

	if (image > LTG_IMAGE_MAX) {
		vmm_set_error(vm, "guest image of %zu bytes exceeds %llu",
			      image, LTG_IMAGE_MAX);
		return -1;
	}
	build_page_tables(vm);
	build_gdt(vm);
	init_ctl(vm);
	memcpy(gpa(vm, LTG_IMAGE_GPA), ltvmm_guest_image, image);
	for (i = 0; i < vm->nr_vcpus; i++)
		if (setup_vcpu_regs(vm, &vm->vcpus[i]))
			return -1;
	return 0;
}
