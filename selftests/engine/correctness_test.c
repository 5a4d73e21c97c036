// SPDX-License-Identifier: GPL-2.0
/*
 * Zero missed pages: a guest with two vCPUs writes pages concurrently
 * (sequential sweep on one, uniform random on the other) while the test
 * harvests round after round, in loose and sync mode, on the TDP MMU
 * (kvm_amd npt=1) and the shadow MMU (npt=0). Every page changed after an
 * epoch completed must be in the next harvest, and a final harvest with
 * the guest paused must make the copied memory identical to the guest's.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "engine_test.h"
#include "guest_round.h"
#include "kvm_amd_reload.h"
#include "ltnl.h"
#include "vmm.h"

#define MEM_BYTES	(16ULL << 20)
#define ROUNDS		25

FIXTURE(guest) {
	struct ltnl nl;
	struct vmm *vm;
	uint32_t id;
	int reloaded;
};

FIXTURE_VARIANT(guest) {
	uint32_t mode;
	int npt;
	uint32_t chunk_pages;	/* 0: the module's default */
};

FIXTURE_VARIANT_ADD(guest, loose_tdp) {
	.mode = LOOSETRACE_MODE_LOOSE, .npt = 1,
};

FIXTURE_VARIANT_ADD(guest, sync_tdp) {
	.mode = LOOSETRACE_MODE_SYNC, .npt = 1,
};

/* One bitmap word per chunk: a flush and an mmu_lock drop per word. */
FIXTURE_VARIANT_ADD(guest, sync_tdp_chunk64) {
	.mode = LOOSETRACE_MODE_SYNC, .npt = 1, .chunk_pages = 64,
};

FIXTURE_VARIANT_ADD(guest, loose_shadow) {
	.mode = LOOSETRACE_MODE_LOOSE, .npt = 0,
};

FIXTURE_VARIANT_ADD(guest, sync_shadow) {
	.mode = LOOSETRACE_MODE_SYNC, .npt = 0,
};

FIXTURE_SETUP(guest)
{
	struct vmm_config cfg = { .nr_vcpus = 2, .mem_bytes = MEM_BYTES };
	struct ltg_vcpu_cfg wl;
	char err[256];

	if (engine_skip(_metadata, &self->nl))
		return;
	if (kvm_amd_npt() != variant->npt) {
		if (!getenv("KVM_MODULE_DIR"))
			SKIP(return, "KVM_MODULE_DIR unset: cannot reload kvm_amd");
		ASSERT_EQ(0, kvm_amd_set_npt(variant->npt));
		self->reloaded = 1;
	}
	self->vm = vmm_create(&cfg, err, sizeof(err));
	ASSERT_NE(NULL, self->vm) TH_LOG("vmm_create: %s", err);
	vmm_workload_default(&wl, LTG_MODE_SEQ);
	ASSERT_EQ(0, vmm_set_workload(self->vm, 0, &wl));
	vmm_workload_default(&wl, LTG_MODE_RANDOM);
	ASSERT_EQ(0, vmm_set_workload(self->vm, 1, &wl));
	ASSERT_EQ(0, vmm_start(self->vm)) TH_LOG("%s", vmm_error(self->vm));
	ASSERT_EQ(0, vmm_wait_writes(self->vm, 100, 30000))
		TH_LOG("%s", vmm_error(self->vm));
	ASSERT_EQ(0, ltnl_attach(&self->nl, vmm_vm_fd(self->vm), &self->id))
		TH_LOG("%s", self->nl.err);
}

FIXTURE_TEARDOWN(guest)
{
	if (self->id)
		ltnl_detach(&self->nl, self->id);
	if (self->vm)
		vmm_destroy(self->vm);
	if (self->reloaded)
		kvm_amd_set_npt(1);
	ltnl_close(&self->nl);
}

TEST_F_TIMEOUT(guest, zero_missed, 400)
{
	uint64_t st[LOOSETRACE_STAT_MAX + 1];
	uint64_t mismatch, writes0;
	struct vmm_verdict v;
	struct round_ctx c;
	int i;

	ASSERT_EQ(0, round_init(&c, self->vm, &self->nl, self->id));
	ASSERT_EQ(0, ltnl_trace_start_chunk(&self->nl, self->id, variant->mode,
					    0, variant->chunk_pages))
		TH_LOG("%s", self->nl.err);
	writes0 = vmm_total_writes(self->vm);
	for (i = 0; i < ROUNDS; i++) {
		ASSERT_EQ(0, round_once(&c)) TH_LOG("round %d: %s", i,
						    self->nl.err);
		ASSERT_FALSE(vmm_failed(self->vm))
			TH_LOG("%s", vmm_error(self->vm));
		usleep(20000);
	}
	ASSERT_EQ(0, vmm_pause(self->vm, 10000))
		TH_LOG("%s", vmm_error(self->vm));
	ASSERT_EQ(0, round_final(&c, &mismatch));
	TH_LOG("rounds %lu writes %lu changed %lu harvested %lu missed %lu differ %lu",
	       (unsigned long)c.rounds,
	       (unsigned long)(vmm_total_writes(self->vm) - writes0),
	       (unsigned long)c.changed, (unsigned long)c.harvested,
	       (unsigned long)c.missed, (unsigned long)mismatch);
	/* The test saw the guest write: otherwise it proves nothing. */
	EXPECT_LT(0, c.changed);
	EXPECT_LT(1000, vmm_total_writes(self->vm) - writes0);
	EXPECT_EQ(0, c.missed) TH_LOG("first missed gfn %#lx",
				      (unsigned long)c.first_missed_gfn);
	EXPECT_EQ(0, mismatch) TH_LOG("first differing gfn %#lx",
				      (unsigned long)c.first_missed_gfn);

	ASSERT_EQ(0, ltnl_stats(&self->nl, self->id, st));
	EXPECT_EQ(ROUNDS + 1, st[LOOSETRACE_STAT_EPOCHS_DONE]);
	/* Only sync mode flushes synchronously. */
	EXPECT_EQ(variant->mode == LOOSETRACE_MODE_SYNC,
		  st[LOOSETRACE_STAT_SYNC_FLUSHES] > 0);
	ASSERT_EQ(0, ltnl_trace_stop(&self->nl, self->id));
	round_free(&c);

	/* The guest still runs and its memory verifies. */
	ASSERT_EQ(0, vmm_resume(self->vm));
	ASSERT_EQ(0, vmm_verify(self->vm, &v, 60000))
		TH_LOG("%s", vmm_error(self->vm));
	EXPECT_TRUE(v.pass);
}

TEST_HARNESS_MAIN
