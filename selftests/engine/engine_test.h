/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the engine selftests.
 */
#ifndef _LOOSETRACE_ENGINE_TEST_H
#define _LOOSETRACE_ENGINE_TEST_H

#include <unistd.h>

/*
 * The environment every engine test needs: /dev/kvm (the VM suite) and
 * the module (loaded by the VM's init). Without /dev/kvm a test SKIPs;
 * without the module it fails.
 */
#define ENGINE_REQUIRE(_nl) do {					\
	if (access("/dev/kvm", R_OK | W_OK))				\
		SKIP(return, "no /dev/kvm");				\
	ASSERT_EQ(0, ltnl_open(_nl)) TH_LOG("loosetrace family missing"); \
} while (0)

#endif /* _LOOSETRACE_ENGINE_TEST_H */
