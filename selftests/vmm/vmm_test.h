/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the test VMM's selftests. */
#ifndef LTVMM_SELFTEST_H
#define LTVMM_SELFTEST_H

#include <stdbool.h>
#include <unistd.h>

#include "vmm.h"

/* Generous: the test VM emulates the CPU that runs these guests. */
#define VT_TIMEOUT_MS	60000

static inline bool vt_have_kvm(void)
{
	return access("/dev/kvm", R_OK | W_OK) == 0;
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
