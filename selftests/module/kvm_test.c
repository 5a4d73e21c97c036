// SPDX-License-Identifier: GPL-2.0
/*
 * The module runs next to KVM: /dev/kvm answers with the stable API
 * version and creates a VM, and kvm-amd runs with nested paging as the
 * test VM loads it (npt=1). Skips where there is no /dev/kvm.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "kselftest_harness.h"

FIXTURE(kvm)
{
	int fd;
};

/* Linux 6.1's harness runs the body after a skipped setup: check fd. */
FIXTURE_SETUP(kvm)
{
	self->fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && (errno == ENOENT || errno == ENXIO ||
			     errno == ENODEV))
		SKIP(return, "no /dev/kvm");
	ASSERT_LE(0, self->fd) TH_LOG("/dev/kvm: %s", strerror(errno));
}

FIXTURE_TEARDOWN(kvm)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(kvm, api_version)
{
	if (self->fd < 0)
		SKIP(return, "no /dev/kvm");

	EXPECT_EQ(KVM_API_VERSION, ioctl(self->fd, KVM_GET_API_VERSION, 0));
}

TEST_F(kvm, create_vm_with_dirty_log)
{
	int vm;

	if (self->fd < 0)
		SKIP(return, "no /dev/kvm");

	vm = ioctl(self->fd, KVM_CREATE_VM, 0);
	ASSERT_LE(0, vm) TH_LOG("KVM_CREATE_VM: %s", strerror(errno));
	/* Dirty logging is what loosetrace builds on. */
	EXPECT_LT(0, ioctl(vm, KVM_CHECK_EXTENSION,
			   KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2));
	close(vm);
}

TEST_F(kvm, amd_nested_paging)
{
	char npt[8] = "";
	FILE *f;

	if (self->fd < 0)
		SKIP(return, "no /dev/kvm");

	f = fopen("/sys/module/kvm_amd/parameters/npt", "r");
	if (!f)
		SKIP(return, "kvm_amd is not loaded");
	ASSERT_NE(NULL, fgets(npt, sizeof(npt), f));
	fclose(f);
	EXPECT_EQ('Y', npt[0]) TH_LOG("kvm_amd npt=%s", npt);
}

TEST_HARNESS_MAIN
