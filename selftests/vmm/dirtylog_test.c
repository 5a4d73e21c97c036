// SPDX-License-Identifier: GPL-2.0
/*
 * The missed-write check of Documentation/test-vmm.rst, run against
 * stock KVM dirty logging, which must pass it: after each harvest (whose
 * flush is synchronous, so its traces are installed when it returns),
 * read every data page's head and tail generations; read them again
 * before the next harvest; every page that changed must be in that next
 * harvest. This is the reference the loose engine is held to, and it
 * shows that the check finds changed pages at all. Skips without
 * /dev/kvm.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kselftest_harness.h"
#include "vmm_test.h"

#define ROUNDS	12

struct gens {
	uint64_t head;
	uint64_t tail;
};

FIXTURE(dirtylog)
{
	struct vmm *vm;
	char err[512];
};

FIXTURE_SETUP(dirtylog)
{
	struct ltg_vcpu_cfg wl;

	self->vm = NULL;
	if (!vt_have_kvm())
		SKIP(return, "no /dev/kvm");
	self->vm = vt_create(2, 16, NULL, LTG_MODE_SEQ, self->err,
			     sizeof(self->err));
	ASSERT_NE(NULL, self->vm) TH_LOG("%s", self->err);
	vmm_workload_default(&wl, LTG_MODE_RANDOM);
	ASSERT_EQ(0, vmm_set_workload(self->vm, 1, &wl));
}

FIXTURE_TEARDOWN(dirtylog)
{
	vmm_destroy(self->vm);
}

static void read_gens(struct vmm *vm, const struct vmm_layout *l,
		      struct gens *g)
{
	uint64_t i;

	for (i = 0; i < l->data_gfn_count; i++) {
		g[i].head = vmm_page_head_gen(vm, l->data_gfn_first + i);
		g[i].tail = vmm_page_tail_gen(vm, l->data_gfn_first + i);
	}
}

static bool test_bit(const uint64_t *bitmap, uint64_t bit)
{
	return bitmap[bit / 64] >> (bit % 64) & 1;
}

static void check_rounds(struct __test_metadata *_metadata, struct vmm *vm,
			 bool manual_protect)
{
	struct timespec nap = { 0, 30000000 };
	uint64_t changed = 0, missed = 0, first_missed = 0, *bitmap, i;
	struct gens *s, *t;
	struct vmm_layout l;
	int round;

	vmm_get_layout(vm, &l);
	bitmap = calloc(l.slot_pages / 64 + 1, sizeof(uint64_t));
	s = calloc(l.data_gfn_count, sizeof(*s));
	t = calloc(l.data_gfn_count, sizeof(*t));
	ASSERT_TRUE(bitmap && s && t);

	ASSERT_EQ(0, vmm_stock_dirty_log_start(vm, manual_protect))
		TH_LOG("%s", vmm_error(vm));
	ASSERT_EQ(0, vmm_start(vm));
	ASSERT_EQ(0, vmm_wait_writes(vm, 100, VT_TIMEOUT_MS));
	ASSERT_EQ(0, vmm_stock_dirty_log_harvest(vm, bitmap));
	read_gens(vm, &l, s);
	for (round = 0; round < ROUNDS; round++) {
		nanosleep(&nap, NULL);
		read_gens(vm, &l, t);
		ASSERT_EQ(0, vmm_stock_dirty_log_harvest(vm, bitmap))
			TH_LOG("%s", vmm_error(vm));
		for (i = 0; i < l.data_gfn_count; i++) {
			if (s[i].head == t[i].head && s[i].tail == t[i].tail)
				continue;
			changed++;
			if (test_bit(bitmap, l.data_gfn_first + i))
				continue;
			if (!missed++)
				first_missed = l.data_gfn_first + i;
		}
		read_gens(vm, &l, s);
	}
	EXPECT_EQ(0, missed) TH_LOG("%llu of %llu changed pages missed, first gfn %#llx",
				    (unsigned long long)missed,
				    (unsigned long long)changed,
				    (unsigned long long)first_missed);
	/* The guest wrote all along: the check had pages to judge. */
	EXPECT_LT(ROUNDS, changed);
	ASSERT_EQ(0, vmm_stock_dirty_log_stop(vm));
	free(bitmap);
	free(s);
	free(t);
}

TEST_F_TIMEOUT(dirtylog, stock_manual_protect_misses_nothing, 120)
{
	struct vmm_verdict v;

	if (!self->vm)
		SKIP(return, "no /dev/kvm");
	check_rounds(_metadata, self->vm, true);
	ASSERT_EQ(0, vmm_verify(self->vm, &v, VT_TIMEOUT_MS));
	EXPECT_TRUE(v.pass);
}

TEST_F_TIMEOUT(dirtylog, stock_get_dirty_log_misses_nothing, 120)
{
	if (!self->vm)
		SKIP(return, "no /dev/kvm");
	check_rounds(_metadata, self->vm, false);
}

TEST_HARNESS_MAIN
