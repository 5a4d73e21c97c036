// SPDX-License-Identifier: GPL-2.0
/*
 * The module unloaded while it traces a running guest: every VM is
 * detached (VM_DETACHED with reason UNLOAD reaches listeners first), its
 * memslots get dirty logging back off, the guest keeps running and its
 * memory verifies, and the module loads again afterwards.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "kselftest_harness.h"
#include "engine_test.h"
#include "ltnl.h"
#include "vmm.h"

/* A fixture only for the longer timeout: boot, verify and reload take time. */
FIXTURE(unload) {
	int unused;
};

FIXTURE_SETUP(unload)
{
}

FIXTURE_TEARDOWN(unload)
{
}

TEST_F_TIMEOUT(unload, while_tracing, 180)
{
	struct vmm_config cfg = { .nr_vcpus = 2, .mem_bytes = 8ULL << 20 };
	struct kvm_dirty_log log = { .slot = 0 };
	const char *ko = getenv("LOOSETRACE_KO");
	struct ltnl_harvest h;
	struct vmm_verdict v;
	struct ltnl nl, ev;
	uint64_t reason;
	struct vmm *vm;
	char cmd[512];
	char err[256];
	uint32_t id;

	if (engine_skip(_metadata, &nl))
		return;
	if (!ko)
		SKIP(return, "LOOSETRACE_KO unset: cannot load the module again");
	ASSERT_EQ(0, ltnl_open(&ev));
	ASSERT_EQ(0, ltnl_events_join(&ev));
	vm = vmm_create(&cfg, err, sizeof(err));
	ASSERT_NE(NULL, vm) TH_LOG("%s", err);
	ASSERT_EQ(0, vmm_start(vm));
	ASSERT_EQ(0, vmm_wait_writes(vm, 10, 30000));

	ASSERT_EQ(0, ltnl_attach(&nl, vmm_vm_fd(vm), &id));
	ASSERT_EQ(0, ltnl_trace_start(&nl, id, LOOSETRACE_MODE_LOOSE, 0));
	ASSERT_EQ(0, ltnl_harvest(&nl, id, 0, 0, &h));
	ltnl_harvest_free(&h);

	ASSERT_EQ(0, system("rmmod loosetrace"));
	ASSERT_EQ(0, ltnl_event_wait(&ev, LOOSETRACE_CMD_VM_DETACHED, id,
				     &reason, 10000));
	EXPECT_EQ(LOOSETRACE_DETACH_UNLOAD, reason);
	ltnl_close(&ev);
	ltnl_close(&nl);

	/* Dirty logging is off again: KVM has no bitmap for the slot. */
	log.dirty_bitmap = calloc(1, 8 << 20 >> 15);
	EXPECT_EQ(-1, ioctl(vmm_vm_fd(vm), KVM_GET_DIRTY_LOG, &log));
	EXPECT_EQ(ENOENT, errno);
	free(log.dirty_bitmap);

	/* The guest ran on and its memory is intact. */
	ASSERT_EQ(0, vmm_wait_writes(vm, vmm_writes(vm, 0) + 10, 30000));
	ASSERT_EQ(0, vmm_verify(vm, &v, 60000)) TH_LOG("%s", vmm_error(vm));
	EXPECT_TRUE(v.pass);

	snprintf(cmd, sizeof(cmd), "insmod %s", ko);
	ASSERT_EQ(0, system(cmd));
	ASSERT_EQ(0, ltnl_open(&nl));
	ASSERT_EQ(0, ltnl_attach(&nl, vmm_vm_fd(vm), &id));
	EXPECT_EQ(0, ltnl_detach(&nl, id));
	ltnl_close(&nl);
	vmm_destroy(vm);
}

TEST_HARNESS_MAIN
