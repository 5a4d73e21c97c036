// SPDX-License-Identifier: GPL-2.0
/*
 * The trace cycle on a VM with no running guest: the first harvest
 * reports every page, a second one none, the memslot flags and the
 * manual-protect mode are restored at stop, ranges and several memslots
 * are covered, epochs complete when no vCPU runs, statistics count.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "kselftest_harness.h"
#include "engine_test.h"
#include "ltnl.h"
#include "tvm.h"

#define MEM	(4u << 20)
#define PAGES	(MEM / 4096)

FIXTURE(vm) {
	struct ltnl nl;
	struct tvm t;
	uint32_t id;
};

FIXTURE_VARIANT(vm) {
	uint32_t mode;
};

FIXTURE_VARIANT_ADD(vm, loose) {
	.mode = LOOSETRACE_MODE_LOOSE,
};

FIXTURE_VARIANT_ADD(vm, sync) {
	.mode = LOOSETRACE_MODE_SYNC,
};

FIXTURE_SETUP(vm)
{
	if (engine_skip(_metadata, &self->nl))
		return;
	ASSERT_EQ(0, tvm_create(&self->t, MEM, 2));
	ASSERT_EQ(0, ltnl_attach(&self->nl, self->t.vm_fd, &self->id));
}

FIXTURE_TEARDOWN(vm)
{
	if (self->id)
		ltnl_detach(&self->nl, self->id);
	tvm_destroy(&self->t);
	ltnl_close(&self->nl);
}

TEST_F(vm, first_harvest_reports_all)
{
	uint64_t st[LOOSETRACE_STAT_MAX + 1];
	struct ltnl_vm_info vi;
	struct ltnl_harvest h;

	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id, variant->mode, 0));
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	EXPECT_EQ(LOOSETRACE_TRACE_ON, vi.trace_state);
	EXPECT_EQ(variant->mode, vi.mode);
	EXPECT_EQ(2, vi.vcpus);
	ASSERT_EQ(1, vi.nr_slots);
	EXPECT_EQ(PAGES, vi.slots[0].npages);
	EXPECT_TRUE(vi.slots[0].flags & KVM_MEM_LOG_DIRTY_PAGES);
	EXPECT_EQ((uintptr_t)self->t.mem, vi.slots[0].userspace_addr);

	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	ASSERT_EQ(1, h.nr);
	EXPECT_EQ(1, h.epoch);
	EXPECT_EQ(0, h.slots[0].base_gfn);
	EXPECT_EQ(PAGES, h.slots[0].npages);
	EXPECT_EQ(PAGES, h.slots[0].dirty);
	EXPECT_EQ((uintptr_t)self->t.mem, h.slots[0].userspace_addr);
	ltnl_harvest_free(&h);
	/* No vCPU runs: the epoch completes at once. */
	EXPECT_EQ(0, ltnl_epoch_wait(&self->nl, self->id, 1, 10000));

	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	EXPECT_EQ(2, h.epoch);
	EXPECT_EQ(0, h.slots[0].dirty);
	ltnl_harvest_free(&h);
	EXPECT_EQ(0, ltnl_epoch_wait(&self->nl, self->id, 2, 10000));

	ASSERT_EQ(0, ltnl_stats(&self->nl, self->id, st));
	EXPECT_EQ(2, st[LOOSETRACE_STAT_HARVESTS]);
	EXPECT_EQ(2, st[LOOSETRACE_STAT_EPOCHS]);
	EXPECT_EQ(2, st[LOOSETRACE_STAT_EPOCHS_DONE]);
	EXPECT_EQ(PAGES, st[LOOSETRACE_STAT_PAGES_HARVESTED]);
	EXPECT_LT(0, st[LOOSETRACE_STAT_TRACE_INSTALL_NS]);
	EXPECT_EQ(2 * PAGES / 8, st[LOOSETRACE_STAT_BYTES_RAW]);
	EXPECT_LT(0, st[LOOSETRACE_STAT_BYTES_ENCODED]);
	EXPECT_EQ(0, st[LOOSETRACE_STAT_DEADLINE_KICKS]);

	ASSERT_EQ(0, ltnl_trace_stop(&self->nl, self->id));
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	EXPECT_EQ(LOOSETRACE_TRACE_OFF, vi.trace_state);
	EXPECT_EQ(0, vi.slots[0].flags);
}

TEST_F(vm, ranges_and_slots)
{
	struct ltnl_harvest h;

	/* A second memslot above the first, not 64-page aligned in size. */
	ASSERT_EQ(0, tvm_add_slot(&self->t, 5, 1ULL << 30, 100 * 4096, 0));
	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id, variant->mode, 0));

	/* A range across neither slot's start, unaligned. */
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 3, 70, &h));
	ASSERT_EQ(1, h.nr);
	EXPECT_EQ(3, h.slots[0].base_gfn);
	EXPECT_EQ(70, h.slots[0].npages);
	EXPECT_EQ(70, h.slots[0].dirty);
	EXPECT_EQ((uintptr_t)self->t.mem + 3 * 4096, h.slots[0].userspace_addr);
	ltnl_harvest_free(&h);

	/* The whole VM: the range above is clean now, the rest dirty. */
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	ASSERT_EQ(2, h.nr);
	EXPECT_EQ(PAGES - 70 + 100, h.slots[0].dirty + h.slots[1].dirty);
	EXPECT_EQ(1, ltnl_harvest_test(&h, 2));
	EXPECT_EQ(0, ltnl_harvest_test(&h, 3));
	EXPECT_EQ(0, ltnl_harvest_test(&h, 72));
	EXPECT_EQ(1, ltnl_harvest_test(&h, 73));
	EXPECT_EQ(1, ltnl_harvest_test(&h, (1ULL << 18) + 99));
	ltnl_harvest_free(&h);

	/* A range outside every memslot: an empty harvest. */
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 1ULL << 40, 10, &h));
	EXPECT_EQ(0, h.nr);
	ltnl_harvest_free(&h);
	EXPECT_EQ(0, ltnl_epoch_wait(&self->nl, self->id, 3, 10000));
}

TEST_F(vm, small_chunks)
{
	uint64_t st[LOOSETRACE_STAT_MAX + 1];
	struct ltnl_vm_info vi;
	struct ltnl_harvest h;

	/* The default chunk is reported as 1 GiB of pages. */
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	EXPECT_EQ(1u << 18, vi.chunk_pages);
	ASSERT_EQ(0, ltnl_trace_start_chunk(&self->nl, self->id, variant->mode,
					    0, 64));
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	EXPECT_EQ(64, vi.chunk_pages);

	/* An unaligned range across chunk boundaries. */
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 30, 200, &h));
	ASSERT_EQ(1, h.nr);
	EXPECT_EQ(200, h.slots[0].dirty);
	ltnl_harvest_free(&h);
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	ASSERT_EQ(1, h.nr);
	EXPECT_EQ(PAGES - 200, h.slots[0].dirty);
	EXPECT_EQ(1, ltnl_harvest_test(&h, 29));
	EXPECT_EQ(0, ltnl_harvest_test(&h, 30));
	EXPECT_EQ(0, ltnl_harvest_test(&h, 229));
	EXPECT_EQ(1, ltnl_harvest_test(&h, 230));
	EXPECT_EQ(1, ltnl_harvest_test(&h, PAGES - 1));
	ltnl_harvest_free(&h);
	EXPECT_EQ(0, ltnl_epoch_wait(&self->nl, self->id, 2, 10000));

	/*
	 * Sync mode flushes once per chunk that took bits: words 0-3 for
	 * the range, then every chunk of the whole slot but none of the
	 * range's fully taken words (1 and 2).
	 */
	ASSERT_EQ(0, ltnl_stats(&self->nl, self->id, st));
	EXPECT_EQ(variant->mode == LOOSETRACE_MODE_SYNC ?
		  4 + PAGES / 64 - 2 : 0, st[LOOSETRACE_STAT_SYNC_FLUSHES]);
}

TEST_F(vm, detach_while_tracing)
{
	struct ltnl_vm_info vi;
	struct ltnl_harvest h;

	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id, variant->mode, 0));
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	ltnl_harvest_free(&h);
	ASSERT_EQ(0, ltnl_detach(&self->nl, self->id));
	self->id = 0;
	/* Attached again: the memslot is back as the VMM made it. */
	ASSERT_EQ(0, ltnl_attach(&self->nl, self->t.vm_fd, &self->id));
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	EXPECT_EQ(0, vi.slots[0].flags);
	EXPECT_EQ(LOOSETRACE_TRACE_OFF, vi.trace_state);
	/* And tracing it again starts from all-dirty. */
	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id, variant->mode, 0));
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	EXPECT_EQ(PAGES, h.slots[0].dirty);
	ltnl_harvest_free(&h);
}

TEST_HARNESS_MAIN
