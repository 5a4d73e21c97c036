/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the test VMM's selftests. */
#ifndef LTVMM_SELFTEST_H
#define LTVMM_SELFTEST_H

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm.h"

/* Generous: the test VM emulates the CPU that runs these guests. */
#define VT_TIMEOUT_MS	60000

static inline bool vt_have_kvm(void)
{
	return access("/dev/kvm", R_OK | W_OK) == 0;
}

/*
 * KVM flips a static key in the scheduler (preempt notifiers) when the
 * first VM of the system is created and when the last one goes away.
 * Under the emulator that runs the test VM, that code patching raced
 * with another CPU once on 6.12 (an "int3" oops in __schedule, nothing
 * to do with what these tests check). One VM held open by the test
 * process for its whole life keeps the key from flipping with every
 * test's VMs.
 */
static void __attribute__((constructor)) vt_hold_one_vm(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (kvm >= 0 && ioctl(kvm, KVM_CREATE_VM, 0) < 0)
		close(kvm);
}

/* A fresh guest, every vCPU on one workload mode, not started. */
static inline struct vmm *vt_create(unsigned int vcpus, unsigned int mib,
				    const char *path, enum ltg_mode mode,
				    char *err, size_t errlen)
{
	struct vmm_config cfg = {
		.nr_vcpus = vcpus,
		.mem_bytes = (uint64_t)mib << 20,
		.mem_path = path,
	};
	struct ltg_vcpu_cfg wl;
	struct vmm *vm;

	vm = vmm_create(&cfg, err, errlen);
	if (!vm)
		return NULL;
	vmm_workload_default(&wl, mode);
	vmm_set_workload(vm, -1, &wl);
	return vm;
}

#endif /* LTVMM_SELFTEST_H */
