/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Switches kvm_amd between nested paging (TDP MMU) and shadow paging by
 * reloading it from $KVM_MODULE_DIR with npt=0 or npt=1. Possible only
 * while no VM exists.
 */
#ifndef _LOOSETRACE_KVM_AMD_RELOAD_H
#define _LOOSETRACE_KVM_AMD_RELOAD_H

#include <stdio.h>
#include <stdlib.h>

/* 1 or 0 for kvm_amd's npt parameter, -1 if kvm_amd is not loaded. */
static inline int kvm_amd_npt(void)
{
	FILE *f = fopen("/sys/module/kvm_amd/parameters/npt", "r");
	int c;

	if (!f)
		return -1;
	c = fgetc(f);
	fclose(f);
	return c == 'Y' || c == '1';
}

/* 0 once kvm_amd runs with npt=@npt, else -1. */
static inline int kvm_amd_set_npt(int npt)
{
	const char *dir = getenv("KVM_MODULE_DIR");
	char cmd[512];

	if (kvm_amd_npt() == npt)
		return 0;
	if (!dir)
		return -1;
	/* The test VM's helper also stops the VM it keeps alive. */
	snprintf(cmd, sizeof(cmd), "kvm-amd-reload npt=%d", npt);
	if (system(cmd))
		return -1;
	return kvm_amd_npt() == npt ? 0 : -1;
}

#endif /* _LOOSETRACE_KVM_AMD_RELOAD_H */
