// SPDX-License-Identifier: GPL-2.0
/*
 * loosetrace migrates a guest of an unmodified QEMU (case Q2 of
 * Documentation/qemu.rst): the guest's RAM is a shared file on each side
 * (two files), two loosetrace-agents move it while the guest writes,
 * tracing it with the module, and QEMU's own migration, with
 * x-ignore-shared, carries the devices and private blocks as the
 * migration's state, which the destination agent feeds its QEMU
 * (-incoming defer -S) only after both sides' digests of the RAM
 * matched. The guest then runs on the destination and verifies all of
 * its memory; the source stays paused (postmigrate).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "agents.h"
#include "qemu_test.h"

#define OUT_LEN		65536
#define SRC_PORT	"7480"
#define DST_PORT	"7481"

FIXTURE(agents) {
	struct l2vm src, dst;
	struct lt_agent a_src, a_dst;
	char ram_src[96], ram_dst[96];
	int skipped;
};

FIXTURE_SETUP(agents)
{
	const char *missing = l2vm_missing();

	if (missing) {
		self->skipped = 1;
		SKIP(return, "%s", missing);
	}
}

FIXTURE_TEARDOWN(agents)
{
	if (self->skipped)
		return;
	if (!_metadata->passed) {
		lt_agent_dump(&self->a_src, "source agent");
		lt_agent_dump(&self->a_dst, "destination agent");
		printf("# source:\n");
		l2vm_dump(&self->src);
		printf("# destination:\n");
		l2vm_dump(&self->dst);
	}
	lt_agent_stop(&self->a_src);
	lt_agent_stop(&self->a_dst);
	l2vm_stop(&self->dst);
	l2vm_stop(&self->src);
	unlink(self->ram_src);
	unlink(self->ram_dst);
}

TEST_F_TIMEOUT(agents, loosetrace_moves_the_ram, 900)
{
	struct l2vm_cfg cfg = L2_CFG("pc", "none");
	static const char *const extra[] = {
		"--max-rounds", "8", "--downtime-ms", L2_DOWNTIME_MS, NULL
	};
	uint64_t writes_src = 0, writes_dst = 0;
	char reply[512];
	char *out;
	int rc;

	if (self->skipped)
		return;
	out = malloc(OUT_LEN);
	ASSERT_NE(NULL, out);
	l2_ram_path(self->ram_src, sizeof(self->ram_src), "q2src");
	l2_ram_path(self->ram_dst, sizeof(self->ram_dst), "q2dst");
	cfg.ram_path = self->ram_src;
	cfg.name = "src";
	ASSERT_EQ(0, l2_boot(&self->src, &cfg))
		TH_LOG("source boot: %s", self->src.err);
	cfg.ram_path = self->ram_dst;
	cfg.name = "dst";
	cfg.incoming = 1;
	ASSERT_EQ(0, l2vm_start(&self->dst, &cfg))
		TH_LOG("destination start: %s", self->dst.err);
	ASSERT_EQ(0, l2vm_wait_status(&self->dst, "inmigrate", L2_CTL_MS))
		TH_LOG("%s", self->dst.err);
	ASSERT_EQ(0, l2vm_ctl(&self->src, "stats", reply, sizeof(reply),
			      L2_CTL_MS)) TH_LOG("%s", self->src.err);
	ASSERT_EQ(0, l2vm_value(reply, "writes", &writes_src));

	/* a QMP socket serves one client: the agents' turn */
	qmp_close(&self->src.qmp);
	qmp_close(&self->dst.qmp);
	ASSERT_EQ(0, lt_agent_start(&self->a_dst, "dst", DST_PORT,
				    self->dst.qmp_path));
	ASSERT_EQ(0, lt_agent_start(&self->a_src, "src", SRC_PORT, NULL));

	rc = lt_agent_migrate(&self->a_src, &self->a_dst, self->src.pid,
			      self->src.qmp_path, 1, 0, out, OUT_LEN, extra);
	printf("# agentctl migrate: rc=%d %s\n", rc, out);
	ASSERT_EQ(0, rc);
	EXPECT_NE(NULL, strstr(out, "\"result\":\"migrated\""));
	EXPECT_NE(NULL, strstr(out, "\"memory_identical\":true"));

	ASSERT_EQ(0, qmp_open(&self->src.qmp, self->src.qmp_path, L2_CTL_MS))
		TH_LOG("%s", self->src.qmp.err);
	ASSERT_EQ(0, qmp_open(&self->dst.qmp, self->dst.qmp_path, L2_CTL_MS))
		TH_LOG("%s", self->dst.qmp.err);
	/* one copy runs: the destination; the source waits, paused */
	EXPECT_EQ(0, l2vm_wait_status(&self->src, "postmigrate", L2_CTL_MS))
		TH_LOG("%s", self->src.err);
	ASSERT_EQ(0, l2vm_wait_status(&self->dst, "running", L2_CTL_MS))
		TH_LOG("%s", self->dst.err);
	ASSERT_EQ(0, l2vm_ctl(&self->dst, "stats", reply, sizeof(reply),
			      L2_CTL_MS)) TH_LOG("%s", self->dst.err);
	ASSERT_EQ(0, l2vm_value(reply, "writes", &writes_dst));
	printf("# writes: %llu before the migration, %llu on the destination\n",
	       (unsigned long long)writes_src, (unsigned long long)writes_dst);
	EXPECT_LT(writes_src, writes_dst);
	ASSERT_EQ(0, l2_verify(&self->dst, reply, sizeof(reply)))
		TH_LOG("destination guest: %s", reply);
	printf("# destination guest: %s\n", reply);
	free(out);
}

TEST_HARNESS_MAIN
