// SPDX-License-Identifier: GPL-2.0
/*
 * The VMM changes memslots while a trace runs: every change is either
 * traced from then on or reported, never silently untraced; the VMM's
 * own dirty logging is never taken over or switched off; the VM-wide
 * dirty-log mode the trace needs does not leak into slots the VMM sets
 * up. And the TRACE_START allow-list of the VMM's address ranges.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>

#include "kselftest_harness.h"
#include "engine_test.h"
#include "ltnl.h"
#include "tvm.h"

#define MEM		(2u << 20)
#define PAGES		(MEM / 4096)
/* Where a second slot goes: after the first, guest physical. */
#define GPA1		(16u << 20)

FIXTURE(traced) {
	struct ltnl nl;
	struct ltnl ev;
	struct tvm t;
	uint32_t id;
	int ready;
};

FIXTURE_SETUP(traced)
{
	self->ready = 0;
	if (engine_skip(_metadata, &self->nl))
		return;
	ASSERT_EQ(0, ltnl_open(&self->ev));
	ASSERT_EQ(0, ltnl_events_join(&self->ev));
	ASSERT_EQ(0, tvm_create(&self->t, MEM, 0));
	ASSERT_EQ(0, ltnl_attach(&self->nl, self->t.vm_fd, &self->id));
	self->ready = 1;
}

FIXTURE_TEARDOWN(traced)
{
	if (!self->ready)
		return;
	ltnl_detach(&self->nl, self->id);
	tvm_destroy(&self->t);
	ltnl_close(&self->ev);
	ltnl_close(&self->nl);
}

/* The slot with KVM id @slot in a VM_GET answer, or NULL. */
static const void *vm_slot(const struct ltnl_vm_info *vi, uint32_t slot,
			   uint32_t *flags, uint32_t *traced)
{
	unsigned int i;

	for (i = 0; i < vi->nr_slots; i++) {
		if (vi->slots[i].id != slot)
			continue;
		*flags = vi->slots[i].flags;
		*traced = vi->slots[i].traced;
		return &vi->slots[i];
	}
	return NULL;
}

static const struct ltnl_hslot *h_slot(const struct ltnl_harvest *h,
				       uint32_t slot)
{
	unsigned int i;

	for (i = 0; i < h->nr; i++)
		if (h->slots[i].slot == slot)
			return &h->slots[i];
	return NULL;
}

/* The VMM's view of slot @slot's dirty log: 0 or -errno. */
static int vmm_dirty_log(struct tvm *t, uint32_t slot, uint64_t *bits,
			 size_t words)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bits };

	memset(bits, 0, words * 8);
	return ioctl(t->vm_fd, KVM_GET_DIRTY_LOG, &log) ? -errno : 0;
}

static uint64_t count_bits(const uint64_t *bits, size_t words)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < words; i++)
		n += __builtin_popcountll(bits[i]);
	return n;
}

/*
 * A slot created during the trace is adopted: the next harvest reports
 * all its pages dirty, a LAYOUT_CHANGED event names it, the memslot
 * generation moves, and TRACE_STOP turns its logging off again.
 */
TEST_F(traced, new_slot_is_adopted)
{
	const struct ltnl_hslot *hs;
	struct ltnl_harvest h;
	struct ltnl_vm_info vi;
	uint32_t flags, traced;
	uint64_t gen, val;

	if (!self->ready)
		return;
	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id,
				      LOOSETRACE_MODE_LOOSE, 0));
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	EXPECT_EQ(1, h.nr);
	gen = h.memslot_gen;
	EXPECT_NE(0, gen);
	ltnl_harvest_free(&h);

	ASSERT_EQ(0, tvm_add_slot(&self->t, 1, GPA1, MEM, 0));
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	EXPECT_LT(gen, h.memslot_gen);
	hs = h_slot(&h, 1);
	ASSERT_NE(NULL, hs) TH_LOG("the new slot is not in the harvest");
	EXPECT_EQ(GPA1 / 4096, hs->base_gfn);
	EXPECT_EQ(PAGES, hs->dirty) TH_LOG("an adopted slot is all dirty");
	ltnl_harvest_free(&h);

	ASSERT_EQ(0, ltnl_event_wait(&self->ev, LOOSETRACE_CMD_LAYOUT_CHANGED,
				     self->id, &val, 10000));
	EXPECT_EQ(1u << 8 | LOOSETRACE_LAYOUT_SLOT_ADOPTED, val);

	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	ASSERT_NE(NULL, vm_slot(&vi, 1, &flags, &traced));
	EXPECT_EQ(1, traced);
	EXPECT_TRUE(flags & KVM_MEM_LOG_DIRTY_PAGES);

	/* The next harvest of an untouched adopted slot: nothing new. */
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	hs = h_slot(&h, 1);
	ASSERT_NE(NULL, hs);
	EXPECT_EQ(0, hs->dirty);
	ltnl_harvest_free(&h);

	ASSERT_EQ(0, ltnl_trace_stop(&self->nl, self->id));
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	ASSERT_NE(NULL, vm_slot(&vi, 1, &flags, &traced));
	EXPECT_EQ(0, traced);
	EXPECT_FALSE(flags & KVM_MEM_LOG_DIRTY_PAGES);
}

/* A traced slot that the VMM deletes is announced, and HARVEST fails. */
TEST_F(traced, deleted_slot_is_announced)
{
	struct kvm_userspace_memory_region del = { .slot = 0 };
	struct ltnl_harvest h;
	uint64_t val;

	if (!self->ready)
		return;
	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id,
				      LOOSETRACE_MODE_LOOSE, 0));
	ASSERT_EQ(0, ioctl(self->t.vm_fd, KVM_SET_USER_MEMORY_REGION, &del));
	EXPECT_EQ(-ESTALE, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	EXPECT_NE(0, self->nl.err[0]);
	ASSERT_EQ(0, ltnl_event_wait(&self->ev, LOOSETRACE_CMD_LAYOUT_CHANGED,
				     self->id, &val, 10000));
	EXPECT_EQ(LOOSETRACE_LAYOUT_SLOT_STALE, val & 0xff);
	/* Restarting the trace starts over on the layout as it is now. */
	EXPECT_EQ(-ESTALE, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	ASSERT_EQ(0, ltnl_trace_stop(&self->nl, self->id));
	ASSERT_EQ(0, tvm_add_slot(&self->t, 2, GPA1, MEM, 0));
	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id,
				      LOOSETRACE_MODE_LOOSE, 0));
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	EXPECT_EQ(1, h.nr);
	EXPECT_NE(NULL, h_slot(&h, 2));
	ltnl_harvest_free(&h);
}

/*
 * The VMM asks for dirty logging on a slot the trace logs (QEMU starting
 * its own migration, a dirty-rate probe): KVM treats that as a no-op, so
 * the module must notice. The trace stops with a reason, and the VMM's
 * logging stays on: its KVM_GET_DIRTY_LOG still works afterwards.
 */
TEST_F(traced, vmm_logging_stops_the_trace)
{
	struct kvm_userspace_memory_region r = {
		.slot = 0,
		.flags = KVM_MEM_LOG_DIRTY_PAGES,
		.guest_phys_addr = 0,
		.memory_size = MEM,
	};
	uint64_t bits[PAGES / 64], val;
	struct ltnl_harvest h;
	struct ltnl_vm_info vi;
	uint32_t flags, traced;

	if (!self->ready)
		return;
	r.userspace_addr = (uintptr_t)self->t.mem;
	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id,
				      LOOSETRACE_MODE_LOOSE, 0));
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	ltnl_harvest_free(&h);

	ASSERT_EQ(0, ioctl(self->t.vm_fd, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(-EBUSY, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	EXPECT_NE(NULL, strstr(self->nl.err, "VMM"))
		TH_LOG("reason: '%s'", self->nl.err);
	ASSERT_EQ(0, ltnl_event_wait(&self->ev, LOOSETRACE_CMD_LAYOUT_CHANGED,
				     self->id, &val, 10000));
	EXPECT_EQ(LOOSETRACE_LAYOUT_VMM_LOGGING, val & 0xff);

	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	EXPECT_EQ(LOOSETRACE_TRACE_OFF, vi.trace_state);
	ASSERT_NE(NULL, vm_slot(&vi, 0, &flags, &traced));
	EXPECT_TRUE(flags & KVM_MEM_LOG_DIRTY_PAGES)
		TH_LOG("the module turned the VMM's logging off");
	EXPECT_EQ(0, vmm_dirty_log(&self->t, 0, bits, PAGES / 64));
	/* A new trace is refused while the VMM logs the slot. */
	EXPECT_EQ(-EBUSY, ltnl_trace_start(&self->nl, self->id,
					   LOOSETRACE_MODE_LOOSE, 0));
}

/*
 * A VMM without manual-protect, initially-set dirty logging (this test,
 * like Firecracker) starts logging a slot the trace does not cover. KVM
 * must set it up in the VMM's mode, not the trace's: its bitmap starts
 * clean, not all ones (and its huge pages get write-protected).
 */
TEST_F(traced, vmm_slot_keeps_the_vmms_mode)
{
	struct ltnl_attr a[] = {
		{ LOOSETRACE_A_VM_ID, LTNL_U32, 0 },
		{ LOOSETRACE_A_HVA_RANGE, LTNL_HVA_RANGE, 0, MEM },
	};
	uint64_t bits[PAGES / 64];
	struct ltnl_harvest h;
	struct ltnl_vm_info vi;
	uint32_t flags, traced;

	if (!self->ready)
		return;
	a[0].val = self->id;
	a[1].val = (uintptr_t)self->t.mem;
	ASSERT_EQ(0, ltnl_raw(&self->nl, LOOSETRACE_CMD_TRACE_START, a, 2))
		TH_LOG("%s", self->nl.err);
	ASSERT_EQ(0, tvm_add_slot(&self->t, 1, GPA1, MEM,
				  KVM_MEM_LOG_DIRTY_PAGES));
	ASSERT_EQ(0, vmm_dirty_log(&self->t, 1, bits, PAGES / 64));
	EXPECT_EQ(0, count_bits(bits, PAGES / 64))
		TH_LOG("the VMM's new slot was set up in the trace's mode");

	/* Outside the allow-list: not traced, and not a conflict. */
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	EXPECT_EQ(1, h.nr);
	EXPECT_EQ(NULL, h_slot(&h, 1));
	ltnl_harvest_free(&h);
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	ASSERT_NE(NULL, vm_slot(&vi, 0, &flags, &traced));
	EXPECT_EQ(1, traced);
	ASSERT_NE(NULL, vm_slot(&vi, 1, &flags, &traced));
	EXPECT_EQ(0, traced);
	ASSERT_EQ(0, ltnl_trace_stop(&self->nl, self->id));
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	ASSERT_NE(NULL, vm_slot(&vi, 1, &flags, &traced));
	EXPECT_TRUE(flags & KVM_MEM_LOG_DIRTY_PAGES);
}

/* The allow-list: what it accepts, what it refuses, and why. */
TEST_F(traced, hva_allow_list)
{
	struct ltnl_attr a[3] = {
		{ LOOSETRACE_A_VM_ID, LTNL_U32, 0 },
		{ LOOSETRACE_A_HVA_RANGE, LTNL_HVA_RANGE, 0, 0 },
		{ LOOSETRACE_A_HVA_RANGE, LTNL_HVA_RANGE, 0, 0 },
	};
	const struct {
		const char *what;
		uint64_t off, len;
		int err;
	} cases[] = {
		{ "half of the slot", 0, MEM / 2, -EINVAL },
		{ "not page aligned", 100, MEM, -EINVAL },
		{ "empty", 0, 0, -EINVAL },
		{ "wrapping", 4096, ~0ULL - 4095, -EINVAL },
		{ "memory no slot uses", 64 * MEM, MEM, -ENOENT },
	};
	uintptr_t base = (uintptr_t)self->t.mem;
	struct ltnl_harvest h;
	size_t i;

	if (!self->ready)
		return;
	a[0].val = self->id;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		a[1].val = base + cases[i].off;
		a[1].val2 = cases[i].len;
		EXPECT_EQ(cases[i].err,
			  ltnl_raw(&self->nl, LOOSETRACE_CMD_TRACE_START, a, 2))
			TH_LOG("%s", cases[i].what);
		EXPECT_NE(0, self->nl.err[0]) TH_LOG("%s: no reason",
						     cases[i].what);
	}
	/* Two ranges, one of them the slot's memory: that one is traced. */
	ASSERT_EQ(0, tvm_add_slot(&self->t, 1, GPA1, MEM, 0));
	a[1].val = base;
	a[1].val2 = MEM;
	a[2].val = 64 * (uint64_t)MEM;
	a[2].val2 = MEM;
	ASSERT_EQ(0, ltnl_raw(&self->nl, LOOSETRACE_CMD_TRACE_START, a, 3))
		TH_LOG("%s", self->nl.err);
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	EXPECT_EQ(1, h.nr);
	EXPECT_NE(NULL, h_slot(&h, 0));
	ltnl_harvest_free(&h);
	/* A slot created later outside the ranges stays the VMM's. */
	ASSERT_EQ(0, tvm_add_slot(&self->t, 2, 2 * GPA1, MEM, 0));
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	EXPECT_EQ(1, h.nr);
	ltnl_harvest_free(&h);
	EXPECT_EQ(0, ltnl_trace_stop(&self->nl, self->id));
}

/*
 * QEMU's case: VGA memory the VMM dirty-logs itself, outside the RAM the
 * trace is asked for, on a VM in manual-protect, initially-set mode (as
 * QEMU runs every VM): the slot is left to the VMM, not refused.
 */
TEST_F(traced, vmm_logged_slot_outside_the_list)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
			  KVM_DIRTY_LOG_INITIALLY_SET },
	};
	struct ltnl_attr a[] = {
		{ LOOSETRACE_A_VM_ID, LTNL_U32, 0 },
		{ LOOSETRACE_A_HVA_RANGE, LTNL_HVA_RANGE, 0, MEM },
	};
	struct ltnl_harvest h;

	if (!self->ready)
		return;
	a[0].val = self->id;
	a[1].val = (uintptr_t)self->t.mem;
	ASSERT_EQ(0, tvm_add_slot(&self->t, 1, GPA1, MEM,
				  KVM_MEM_LOG_DIRTY_PAGES));
	/* Not in the VMM's mode: refused, with the reason. */
	EXPECT_EQ(-EBUSY, ltnl_raw(&self->nl, LOOSETRACE_CMD_TRACE_START,
				   a, 2));
	EXPECT_NE(NULL, strstr(self->nl.err, "mode"))
		TH_LOG("reason: '%s'", self->nl.err);
	/* Without the list, the VMM's slot would be traced: refused. */
	EXPECT_EQ(-EBUSY, ltnl_trace_start(&self->nl, self->id,
					   LOOSETRACE_MODE_LOOSE, 0));

	/* KVM takes the capability only before the first memslot. */
	tvm_destroy(&self->t);
	ltnl_detach(&self->nl, self->id);
	ASSERT_EQ(0, tvm_create(&self->t, 0, 0));
	ASSERT_EQ(0, ioctl(self->t.vm_fd, KVM_ENABLE_CAP, &cap));
	ASSERT_EQ(0, tvm_add_slot(&self->t, 0, 0, MEM, 0));
	ASSERT_EQ(0, tvm_add_slot(&self->t, 1, GPA1, MEM,
				  KVM_MEM_LOG_DIRTY_PAGES));
	ASSERT_EQ(0, ltnl_attach(&self->nl, self->t.vm_fd, &self->id));
	a[0].val = self->id;
	a[1].val = (uintptr_t)self->t.mem;
	ASSERT_EQ(0, ltnl_raw(&self->nl, LOOSETRACE_CMD_TRACE_START, a, 2))
		TH_LOG("%s", self->nl.err);
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	EXPECT_EQ(1, h.nr);
	EXPECT_NE(NULL, h_slot(&h, 0));
	ltnl_harvest_free(&h);
	EXPECT_EQ(0, ltnl_trace_stop(&self->nl, self->id));
}

TEST_HARNESS_MAIN
