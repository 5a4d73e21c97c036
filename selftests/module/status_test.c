// SPDX-License-Identifier: GPL-2.0
/*
 * The "loosetrace" generic netlink family answers STATUS_GET with the
 * module's version, the protocol version and the running kernel's release.
 * Needs the module loaded: in the test VM (LOOSETRACE_KO set) its absence
 * is a failure, elsewhere the tests skip.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <linux/loosetrace.h>

#include "kselftest_harness.h"
#include "genl_status.h"

/*
 * Linux 6.1's harness runs a test's body even when its setup skipped:
 * each body checks self->family first.
 *
 * The family's id, or 0 when the module is not loaded outside the test
 * VM (the caller skips), or a negative errno (the caller fails).
 */
static int family_or_skip(void)
{
	int id = lt_family_id();

	if (id == -ENOENT && !getenv("LOOSETRACE_KO"))
		return 0;
	return id;
}

FIXTURE(status)
{
	int family;
};

FIXTURE_SETUP(status)
{
	self->family = family_or_skip();
	if (!self->family)
		SKIP(return, "loosetrace.ko is not loaded");
	ASSERT_LT(0, self->family)
		TH_LOG("family lookup: %s", strerror(-self->family));
}

FIXTURE_TEARDOWN(status)
{
}

/* The fixture resolves the family through the generic netlink controller. */
TEST_F(status, family_resolves)
{
	if (self->family <= 0)
		SKIP(return, "loosetrace.ko is not loaded");

	EXPECT_LT(0, self->family);
}

/* Events (epoch done, VM detached) are announced on this group. */
TEST_F(status, events_group_exists)
{
	if (self->family <= 0)
		SKIP(return, "loosetrace.ko is not loaded");

	EXPECT_LT(0, lt_events_group_id());
}

TEST_F(status, status_reports_versions)
{
	struct lt_status st;
	struct utsname uts;

	if (self->family <= 0)
		SKIP(return, "loosetrace.ko is not loaded");

	ASSERT_EQ(0, lt_status_get(&st));
	ASSERT_EQ(0, uname(&uts));

	EXPECT_NE('\0', st.module_version[0]);
	EXPECT_TRUE(st.has_proto_version);
	EXPECT_EQ(LOOSETRACE_GENL_VERSION, st.proto_version);
	EXPECT_STREQ(uts.release, st.kernel_release);
	EXPECT_TRUE(st.has_vm_count);
	TH_LOG("module %s, protocol %u, kernel %s, %u VMs attached",
	       st.module_version, st.proto_version, st.kernel_release,
	       st.vm_count);
}

/* MODULE_VERSION and the netlink answer must tell the same version. */
TEST_F(status, status_version_matches_sysfs)
{
	char sysfs[64] = "";
	struct lt_status st;
	FILE *f;

	if (self->family <= 0)
		SKIP(return, "loosetrace.ko is not loaded");

	f = fopen("/sys/module/loosetrace/version", "r");
	ASSERT_NE(NULL, f)
		TH_LOG("/sys/module/loosetrace/version: %s", strerror(errno));
	ASSERT_NE(NULL, fgets(sysfs, sizeof(sysfs), f));
	fclose(f);
	sysfs[strcspn(sysfs, "\n")] = '\0';

	ASSERT_EQ(0, lt_status_get(&st));
	EXPECT_STREQ(sysfs, st.module_version);
}

/* A command number the family does not have is refused, not ignored. */
TEST_F(status, unknown_command_refused)
{
	if (self->family <= 0)
		SKIP(return, "loosetrace.ko is not loaded");

	EXPECT_EQ(-EOPNOTSUPP, lt_send_cmd(LOOSETRACE_CMD_MAX + 1));
	EXPECT_EQ(-EOPNOTSUPP, lt_send_cmd(LOOSETRACE_CMD_UNSPEC));
}

TEST_HARNESS_MAIN
