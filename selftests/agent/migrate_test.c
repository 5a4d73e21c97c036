// SPDX-License-Identifier: GPL-2.0
/*
 * End to end: a 2-vCPU guest writing all the time is migrated from one
 * network namespace to another through two loosetrace-agents, in loose
 * and in sync mode. The destination guest must verify every page, and
 * its memory must be byte-identical to the source's at the pause (the
 * agents compare digests of both before the destination runs).
 */
#include <stdio.h>
#include <string.h>

#include "kselftest_harness.h"
#include "migrate.h"

FIXTURE(e2e) {
	struct bed b;
};

FIXTURE_SETUP(e2e)
{
	if (!have_kvm())
		SKIP(return, "no /dev/kvm");
	ASSERT_EQ(0, bed_setup(&self->b));
	ASSERT_EQ(0, bed_start(&self->b, TEST_MIB, TEST_MIB, WL_CONVERGING));
}

FIXTURE_TEARDOWN(e2e)
{
	bed_teardown(&self->b);
}

static void check_migrated(struct __test_metadata *_metadata,
			   struct bed *b, const char *mode)
{
	struct mig_result r;
	char reply[4096];

	migrate(b, mode, &r, NULL);
	report(mode, &r);
	if (r.rc) {
		dump_log(b->src.log);
		dump_log(b->dst.log);
	}
	ASSERT_EQ(0, r.rc);
	ASSERT_TRUE(json_has(r.out, "result", "\"migrated\""));
	ASSERT_TRUE(json_has(r.out, "memory_identical", "true"));
	/* pre-copy says why it stopped, and lists every round */
	ASSERT_FALSE(json_has(r.out, "precopy_stop", "\"\""));
	ASSERT_TRUE(json_has(r.out, "per_round", "[{"));
	ASSERT_TRUE(json_has(r.out, "mode", mode[0] == 'l' ?
			     "\"loose\"" : "\"sync\""));
	/* at least one pre-copy round and the final one */
	ASSERT_LE(2, json_u64(r.out, "rounds"));
	ASSERT_LE(TEST_MIB * 256ULL, json_u64(r.out, "pages_sent"));
	ASSERT_LT(json_u64(r.out, "bitmap_compacted_bytes"),
		  json_u64(r.out, "bitmap_raw_bytes"));
	ASSERT_LT(0, json_u64(r.out, "state_bytes"));

	/* the source stays paused: its guest lives on the destination */
	ASSERT_EQ(0, vmm_cmd(b->src.vmm_sock, "status", reply, sizeof(reply)));
	ASSERT_NE(NULL, strstr(reply, "state=paused"));
	/* the destination guest runs and writes on */
	ASSERT_EQ(0, vmm_wait_more_writes(b->dst.vmm_sock, 200, 30000));
	/* and finds every page of its memory as it left it */
	ASSERT_EQ(0, vmm_cmd(b->dst.vmm_sock, "verify", reply, sizeof(reply)));
	printf("# %s: destination guest verification: %s\n", mode, reply);
	ASSERT_NE(NULL, strstr(reply, "verdict=pass"));
}

TEST_F_TIMEOUT(e2e, loose, 120)
{
	check_migrated(_metadata, &self->b, "loose");
}

TEST_F_TIMEOUT(e2e, sync, 120)
{
	check_migrated(_metadata, &self->b, "sync");
}

TEST_HARNESS_MAIN
