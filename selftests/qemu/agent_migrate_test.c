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
#include "qemu_test.h"

#define OUT_LEN		65536
#define SRC_PORT	"7480"
#define DST_PORT	"7481"

struct agent {
	pid_t pid;
	char sock[64];
	char log[64];
};

FIXTURE(agents) {
	struct l2vm src, dst;
	struct agent a_src, a_dst;
	char ram_src[96], ram_dst[96];
	int skipped;
};

static void agent_stop(struct agent *a)
{
	if (a->pid > 0) {
		kill(a->pid, SIGTERM);
		waitpid(a->pid, NULL, 0);
	}
	a->pid = 0;
	unlink(a->sock);
}

/* Starts loosetrace-agent with @extra options; waits for its socket. */
static int agent_start(struct agent *a, const char *name, const char *port,
		       const char *incoming_qmp)
{
	struct stat st;
	int i, fd;

	snprintf(a->sock, sizeof(a->sock), "/tmp/ltq-agent-%s.sock", name);
	snprintf(a->log, sizeof(a->log), "/tmp/ltq-agent-%s.log", name);
	unlink(a->sock);
	a->pid = fork();
	if (a->pid < 0)
		return -1;
	if (!a->pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(a->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (incoming_qmp)
			execlp("loosetrace-agent", "loosetrace-agent", "-v",
			       "-s", a->sock, "-l", "127.0.0.1", "-p", port,
			       "--incoming-qmp", incoming_qmp, (char *)NULL);
		else
			execlp("loosetrace-agent", "loosetrace-agent", "-v",
			       "-s", a->sock, "-l", "127.0.0.1", "-p", port,
			       (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		if (!stat(a->sock, &st))
			return 0;
		usleep(100000);
	}
	return -1;
}

static void dump_file(const char *what, const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	printf("# %s:\n", what);
	while (fgets(line, sizeof(line), f))
		printf("#   %s", line);
	fclose(f);
}

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
		dump_file("source agent", self->a_src.log);
		dump_file("destination agent", self->a_dst.log);
		printf("# source:\n");
		l2vm_dump(&self->src);
		printf("# destination:\n");
		l2vm_dump(&self->dst);
	}
	agent_stop(&self->a_src);
	agent_stop(&self->a_dst);
	l2vm_stop(&self->dst);
	l2vm_stop(&self->src);
	unlink(self->ram_src);
	unlink(self->ram_dst);
}

/* agentctl -j -s SOCK migrate ...: its exit code, stdout in @out. */
static int agentctl_migrate(struct agent *a, pid_t vm, const char *qmp,
			    char *out, size_t len)
{
	char cmd[512];
	size_t n;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd),
		 "agentctl -j -s %s %s --vm %d --to 127.0.0.1:%s --qmp %s --max-rounds 8 2>&1",
		 a->sock, "migrate", (int)vm, DST_PORT, qmp);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST_F_TIMEOUT(agents, loosetrace_moves_the_ram, 900)
{
	struct l2vm_cfg cfg = {
		.machine = "pc",
		.vga = "none",
		.ram_mib = L2_RAM_MIB,
		.buf_mib = L2_BUF_MIB,
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
	ASSERT_EQ(0, agent_start(&self->a_dst, "dst", DST_PORT,
				 self->dst.qmp_path));
	ASSERT_EQ(0, agent_start(&self->a_src, "src", SRC_PORT, NULL));

	rc = agentctl_migrate(&self->a_src, self->src.pid, self->src.qmp_path, out,
		     OUT_LEN);
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
