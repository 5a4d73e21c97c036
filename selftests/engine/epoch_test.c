// SPDX-License-Identifier: GPL-2.0
/*
 * Loose epochs complete for every kind of vCPU: halted in the guest (HLT,
 * no timer), outside guest mode (the VMM paused its vCPU threads), and
 * spinning in the guest without exits, which only the deadline kick can
 * bring out in bounded time.
 */
#include <errno.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "engine_test.h"
#include "ltnl.h"
#include "vmm.h"

#define MEM_BYTES	(8ULL << 20)

FIXTURE(guest) {
	struct ltnl nl;
	struct vmm *vm;
	uint32_t id;
};

FIXTURE_SETUP(guest)
{
	struct vmm_config cfg = { .nr_vcpus = 2, .mem_bytes = MEM_BYTES };
	char err[256];

	if (engine_skip(_metadata, &self->nl))
		return;
	self->vm = vmm_create(&cfg, err, sizeof(err));
	ASSERT_NE(NULL, self->vm) TH_LOG("vmm_create: %s", err);
	ASSERT_EQ(0, ltnl_attach(&self->nl, vmm_vm_fd(self->vm), &self->id));
}

FIXTURE_TEARDOWN(guest)
{
	if (self->id)
		ltnl_detach(&self->nl, self->id);
	if (self->vm)
		vmm_destroy(self->vm);
	ltnl_close(&self->nl);
}

static void set_all(struct __test_metadata *_metadata, struct vmm *vm,
		    enum ltg_mode mode)
{
	struct ltg_vcpu_cfg wl;

	vmm_workload_default(&wl, mode);
	ASSERT_EQ(0, vmm_set_workload(vm, -1, &wl));
}

/*
 * Starts the guest and waits, at the emulator's pace, until every vCPU
 * booted and runs @mode, then a little more for it to settle in (halt).
 */
static void start_settled(struct __test_metadata *_metadata, struct vmm *vm,
			  enum ltg_mode mode)
{
	struct vmm_vcpu_info in;
	unsigned int v, ready = 0;
	int i;

	ASSERT_EQ(0, vmm_start(vm));
	for (i = 0; i < 600 && ready < vmm_nr_vcpus(vm); i++) {
		usleep(100000);
		for (v = 0, ready = 0; v < vmm_nr_vcpus(vm); v++) {
			ASSERT_EQ(0, vmm_vcpu_info(vm, v, &in));
			ready += in.booted && in.guest.mode == mode;
		}
	}
	ASSERT_EQ(vmm_nr_vcpus(vm), ready) TH_LOG("vCPUs never took the mode");
	usleep(100000);
	ASSERT_FALSE(vmm_failed(vm)) TH_LOG("%s", vmm_error(vm));
}

/* One harvest; returns its epoch. */
static uint64_t harvest(struct __test_metadata *_metadata, struct ltnl *nl,
			uint32_t id)
{
	struct ltnl_harvest h;
	uint64_t epoch;

	EXPECT_EQ(0, ltnl_harvest(nl, id, 0, 0, &h)) TH_LOG("%s", nl->err);
	epoch = h.epoch;
	ltnl_harvest_free(&h);
	return epoch;
}

TEST_F_TIMEOUT(guest, halted_vcpus, 120)
{
	uint64_t st[LOOSETRACE_STAT_MAX + 1], epoch;
	int i;

	set_all(_metadata, self->vm, LTG_MODE_IDLE);
	/* Both vCPUs booted and blocked in HLT. */
	start_settled(_metadata, self->vm, LTG_MODE_IDLE);
	/*
	 * The longest deadline: a halted vCPU completes the epoch at once,
	 * no kick may be needed (the stats below count them).
	 */
	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id,
				      LOOSETRACE_MODE_LOOSE, 1000000));
	for (i = 0; i < 5; i++) {
		epoch = harvest(_metadata, &self->nl, self->id);
		ASSERT_EQ(0, ltnl_epoch_wait(&self->nl, self->id, epoch, 10000));
	}
	ASSERT_EQ(0, ltnl_stats(&self->nl, self->id, st));
	EXPECT_EQ(0, st[LOOSETRACE_STAT_DEADLINE_KICKS]);
	EXPECT_EQ(5, st[LOOSETRACE_STAT_EPOCHS_DONE]);
}

TEST_F_TIMEOUT(guest, vcpus_outside_guest_mode, 120)
{
	uint64_t st[LOOSETRACE_STAT_MAX + 1], epoch, done;
	uint32_t pending;

	set_all(_metadata, self->vm, LTG_MODE_SEQ);
	ASSERT_EQ(0, vmm_start(self->vm));
	ASSERT_EQ(0, vmm_wait_writes(self->vm, 10, 30000));
	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id,
				      LOOSETRACE_MODE_LOOSE, 1000000));
	/* The vCPU threads leave KVM_RUN: OUTSIDE_GUEST_MODE. */
	ASSERT_EQ(0, vmm_pause(self->vm, 10000));
	epoch = harvest(_metadata, &self->nl, self->id);
	/* Complete when HARVEST returns: nothing had to be waited for. */
	ASSERT_EQ(0, ltnl_epoch_get(&self->nl, self->id, NULL, &done,
				    &pending));
	EXPECT_EQ(epoch, done);
	EXPECT_EQ(0, pending);
	ASSERT_EQ(0, ltnl_stats(&self->nl, self->id, st));
	EXPECT_EQ(0, st[LOOSETRACE_STAT_DEADLINE_KICKS]);
	ASSERT_EQ(0, vmm_resume(self->vm));
	ASSERT_EQ(0, vmm_wait_writes(self->vm, 20, 30000));
}

TEST_F_TIMEOUT(guest, spinning_vcpus_are_kicked, 120)
{
	uint64_t st[LOOSETRACE_STAT_MAX + 1], epoch;
	int i;

	set_all(_metadata, self->vm, LTG_MODE_SPIN);
	start_settled(_metadata, self->vm, LTG_MODE_SPIN);
	/* 1 us: any vCPU still in the guest at the first poll is kicked. */
	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id,
				      LOOSETRACE_MODE_LOOSE, 1));
	for (i = 0; i < 10; i++) {
		epoch = harvest(_metadata, &self->nl, self->id);
		ASSERT_EQ(0, ltnl_epoch_wait(&self->nl, self->id, epoch, 10000));
	}
	ASSERT_EQ(0, ltnl_stats(&self->nl, self->id, st));
	TH_LOG("kicks %lu, flush latency min/median/max %lu/%lu/%lu ns",
	       (unsigned long)st[LOOSETRACE_STAT_DEADLINE_KICKS],
	       (unsigned long)st[LOOSETRACE_STAT_FLUSH_NS_MIN],
	       (unsigned long)st[LOOSETRACE_STAT_FLUSH_NS_MEDIAN],
	       (unsigned long)st[LOOSETRACE_STAT_FLUSH_NS_MAX]);
	EXPECT_EQ(10, st[LOOSETRACE_STAT_EPOCHS_DONE]);
	EXPECT_LE(st[LOOSETRACE_STAT_FLUSH_NS_MIN],
		  st[LOOSETRACE_STAT_FLUSH_NS_MEDIAN]);
	EXPECT_LE(st[LOOSETRACE_STAT_FLUSH_NS_MEDIAN],
		  st[LOOSETRACE_STAT_FLUSH_NS_MAX]);
	/*
	 * An emulator that runs one vCPU at a time (QEMU TCG thread=single)
	 * lets no CPU poll while a vCPU stays in guest mode: every vCPU
	 * then exits by itself before a kick could be due.
	 */
	if (!st[LOOSETRACE_STAT_DEADLINE_KICKS] && _metadata->passed)
		SKIP(return,
		     "no vCPU stayed in guest mode while another CPU polled: CPUs do not run concurrently here");
	EXPECT_LT(0, st[LOOSETRACE_STAT_DEADLINE_KICKS]);
}

TEST_HARNESS_MAIN
