// SPDX-License-Identifier: GPL-2.0
/*
 * loosetrace.ko unloads and loads again cleanly: the family disappears
 * with the module and comes back working. Needs the module file
 * (LOOSETRACE_KO) and CAP_SYS_MODULE; skips without them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/loosetrace.h>

#include "kselftest_harness.h"
#include "genl_status.h"

#define RELOAD_CYCLES 5

static int module_loaded(void)
{
	struct stat st;

	return stat("/sys/module/loosetrace", &st) == 0;
}

static int load_module(const char *path)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

static int unload_module(void)
{
	return syscall(SYS_delete_module, "loosetrace", O_NONBLOCK) ?
	       -errno : 0;
}

FIXTURE(module)
{
	const char *ko;
};

/*
 * The kselftest harness of Linux 6.1 runs a test's body even when its
 * setup skipped: each body checks self->ko first, so that nothing is
 * unloaded then.
 */
FIXTURE_SETUP(module)
{
	const char *ko = getenv("LOOSETRACE_KO");

	if (!ko || access(ko, R_OK))
		SKIP(return, "LOOSETRACE_KO does not name a readable module");
	if (geteuid())
		SKIP(return, "loading modules needs root");
	self->ko = ko;
	if (!module_loaded())
		ASSERT_EQ(0, load_module(self->ko));
}

/* Leave the module loaded for the suites that follow. */
FIXTURE_TEARDOWN(module)
{
	if (self->ko && !module_loaded())
		load_module(self->ko);
}

TEST_F_TIMEOUT(module, unload_removes_family, 120)
{
	if (!self->ko)
		SKIP(return, "no module to reload");

	ASSERT_LT(0, lt_family_id());
	ASSERT_EQ(0, unload_module());
	EXPECT_FALSE(module_loaded());
	EXPECT_EQ(-ENOENT, lt_family_id());
}

TEST_F_TIMEOUT(module, reload_restores_status, 120)
{
	struct lt_status st;
	int i;

	if (!self->ko)
		SKIP(return, "no module to reload");

	for (i = 0; i < RELOAD_CYCLES; i++) {
		ASSERT_EQ(0, unload_module()) TH_LOG("cycle %d", i);
		ASSERT_EQ(0, load_module(self->ko)) TH_LOG("cycle %d", i);
		ASSERT_EQ(0, lt_status_get(&st)) TH_LOG("cycle %d", i);
		EXPECT_EQ(LOOSETRACE_GENL_VERSION, st.proto_version);
	}
}

TEST_F_TIMEOUT(module, double_load_refused, 120)
{
	if (!self->ko)
		SKIP(return, "no module to reload");

	EXPECT_EQ(-EEXIST, load_module(self->ko));
	EXPECT_LT(0, lt_family_id());
}

/* A netlink socket kept open across the unload must not pin or break it. */
TEST_F_TIMEOUT(module, unload_with_status_in_between, 120)
{
	struct lt_status st;

	if (!self->ko)
		SKIP(return, "no module to reload");

	ASSERT_EQ(0, lt_status_get(&st));
	ASSERT_EQ(0, unload_module());
	EXPECT_EQ(-ENOENT, lt_status_get(&st));
	ASSERT_EQ(0, load_module(self->ko));
	EXPECT_EQ(0, lt_status_get(&st));
}

/*
 * Switching KVM between its TDP and shadow MMU (kvm_amd npt=0/1, as the
 * engine tests do) reloads kvm_amd under the loaded module: loosetrace
 * must neither pin kvm_amd nor stop answering.
 */
TEST_F_TIMEOUT(module, kvm_amd_reload_keeps_module, 120)
{
	struct lt_status st;

	if (!self->ko)
		SKIP(return, "no module to reload");
	if (!getenv("KVM_MODULE_DIR") || access("/sys/module/kvm_amd", F_OK))
		SKIP(return, "kvm_amd is not loaded from KVM_MODULE_DIR");

	ASSERT_EQ(0, system("kvm-amd-reload npt=0"));
	EXPECT_EQ(0, lt_status_get(&st));
	ASSERT_EQ(0, system("kvm-amd-reload npt=1"));
	EXPECT_EQ(0, lt_status_get(&st));
	EXPECT_TRUE(module_loaded());
}

TEST_HARNESS_MAIN
