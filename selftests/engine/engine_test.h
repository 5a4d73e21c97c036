/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the engine selftests.
 */
#ifndef _LOOSETRACE_ENGINE_TEST_H
#define _LOOSETRACE_ENGINE_TEST_H

#include <unistd.h>

#include "ltnl.h"

/*
 * The environment every engine test needs: /dev/kvm (the VM suite) and
 * the module (loaded by the VM's init). Without /dev/kvm a test SKIPs
 * (returns 1); without the module it fails.
 */
static inline int engine_skip(struct __test_metadata *_metadata,
			      struct ltnl *nl)
{
	if (access("/dev/kvm", R_OK | W_OK))
		SKIP(return 1, "no /dev/kvm");
	ASSERT_EQ(0, ltnl_open(nl)) TH_LOG("loosetrace family missing");
	return 0;
}

#endif /* _LOOSETRACE_ENGINE_TEST_H */
