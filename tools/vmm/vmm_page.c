// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side helpers around the guest's workload and page format: the
 * workload settings, and reading or predicting a page's content.
 */
#include <errno.h>
#include <string.h>

#include "vmm_internal.h"

static const char *const mode_names[LTG_MODE_COUNT] = {
	[LTG_MODE_SEQ] = "seq",
	[LTG_MODE_RANDOM] = "random",
	[LTG_MODE_HOT] = "hot",
	[LTG_MODE_SPIN] = "spin",
	[LTG_MODE_HALT] = "halt",
	[LTG_MODE_IDLE] = "idle",
};

int vmm_mode_parse(const char *name)
{
	int i;

	for (i = 0; i < LTG_MODE_COUNT; i++)
		if (!strcmp(name, mode_names[i]))
			return i;
	return -EINVAL;
}

const char *vmm_mode_name(unsigned int mode)
{
	return mode < LTG_MODE_COUNT ? mode_names[mode] : "unknown";
}

void vmm_workload_default(struct ltg_vcpu_cfg *wl, enum ltg_mode mode)
{
	memset(wl, 0, sizeof(*wl));
	wl->mode = mode;
	wl->hot_pct = 10;
	wl->hot_prob = 90;
	wl->halt_us = 1000;
	wl->burst = 16;
}

int vmm_set_workload(struct vmm *vm, int vcpu, const struct ltg_vcpu_cfg *wl)
{
	struct ltg_ctl *ctl = vmm_ctl(vm);
	unsigned int i;

	if (wl->mode >= LTG_MODE_COUNT || wl->hot_pct > 100 ||
	    wl->hot_prob > 100)
		return -EINVAL;
	if (vcpu >= (int)vm->nr_vcpus)
		return -EINVAL;
	for (i = 0; i < vm->nr_vcpus; i++) {
		if (vcpu >= 0 && (int)i != vcpu)
			continue;
		/* Mode last: the guest switches on it. */
		ctl->cfg[i].delay = wl->delay;
		ctl->cfg[i].report_every = wl->report_every;
		ctl->cfg[i].hot_pct = wl->hot_pct;
		ctl->cfg[i].hot_prob = wl->hot_prob;
		ctl->cfg[i].halt_us = wl->halt_us;
		ctl->cfg[i].burst = wl->burst;
		ctl->cfg[i].seed = wl->seed;
		__atomic_store_n(&ctl->cfg[i].mode, wl->mode, __ATOMIC_SEQ_CST);
	}
	if (vm->started)
		vmm_ring_doorbells(vm);
	return 0;
}

int vmm_get_workload(struct vmm *vm, unsigned int vcpu,
		     struct ltg_vcpu_cfg *wl)
{
	if (vcpu >= vm->nr_vcpus)
		return -EINVAL;
	memcpy(wl, &vmm_ctl(vm)->cfg[vcpu], sizeof(*wl));
	return 0;
}

static const uint64_t *page(struct vmm *vm, uint64_t gfn)
{
	return (const uint64_t *)((char *)vm->mem + gfn * LTG_PAGE_SIZE);
}

uint32_t vmm_table_gen(struct vmm *vm, uint64_t gfn)
{
	const uint32_t *t = (const uint32_t *)((char *)vm->mem +
					       LTG_GEN_TABLE_GPA);

	if (gfn >= vm->mem_bytes / LTG_PAGE_SIZE)
		return 0;
	return __atomic_load_n(&t[gfn], __ATOMIC_SEQ_CST);
}

uint64_t vmm_page_head_gen(struct vmm *vm, uint64_t gfn)
{
	if (gfn >= vm->mem_bytes / LTG_PAGE_SIZE)
		return 0;
	return __atomic_load_n(&page(vm, gfn)[LTG_WORD_GEN], __ATOMIC_SEQ_CST);
}

int vmm_host_write(struct vmm *vm, uint64_t gfn)
{
	uint64_t *p, i;

	/* the zero page: every other system page is the guest's */
	if (gfn != 0)
		return -EINVAL;
	p = (uint64_t *)((char *)vm->mem + gfn * LTG_PAGE_SIZE);
	for (i = 0; i < LTG_PAGE_WORDS; i++)
		__atomic_store_n(&p[i], 0x686f737477726974ULL ^ i,
				 __ATOMIC_RELAXED);
	return 0;
}

uint64_t vmm_page_tail_gen(struct vmm *vm, uint64_t gfn)
{
	if (gfn >= vm->mem_bytes / LTG_PAGE_SIZE)
		return 0;
	return __atomic_load_n(&page(vm, gfn)[LTG_WORD_TAIL],
			       __ATOMIC_SEQ_CST);
}

void vmm_page_expected(uint64_t gfn, uint64_t gen, void *buf)
{
	if (!gen)
		memset(buf, 0, LTG_PAGE_SIZE);
	else
		ltg_page_fill(buf, gfn, gen);
}

uint64_t vmm_page_check(struct vmm *vm, uint64_t gfn, uint64_t gen)
{
	if (gfn >= vm->mem_bytes / LTG_PAGE_SIZE)
		return 1;
	return ltg_page_check(page(vm, gfn), gfn, gen);
}
