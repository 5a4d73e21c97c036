// SPDX-License-Identifier: GPL-2.0
/*
 * Guest impact (agent/guest_impact.h): agentctl top on a running 2-vCPU
 * guest counts its exits per vCPU and, while loosetrace traces the VM and
 * a harvest re-arms the traces, its write faults; the time outside guest
 * mode is a share of the interval. As an unprivileged user top fails
 * with exit code 4 and says why. A migration's summary carries the
 * guest impact of each window.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>

#include "kselftest_harness.h"
#include "migrate.h"

#define TOP_LEN		65536

static char top_out[TOP_LEN];

/* The number after "key": at or after @from; -1 if absent. */
static double json_num(const char *from, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(from, pat);
	return p ? strtod(p + strlen(pat), NULL) : -1;
}

/*
 * Checks every vCPU of the last JSON line of agentctl top: @vcpus of
 * them, each with exits, its time outside guest mode within 0..100%.
 * Returns the total write faults of that interval, or -1.
 */
static long long check_vcpus(struct __test_metadata *_metadata,
			     const char *out, int vcpus)
{
	const char *last = out, *p, *v;
	double pct;
	int n = 0;

	for (p = out; (p = strchr(p, '\n')) && p[1]; p++)
		last = p + 1;
	v = strstr(last, "\"vcpus\":[");
	if (!v)
		return -1;
	for (p = v; (p = strstr(p, "{\"vcpu\":")); p++, n++) {
		pct = json_num(p, "outside_guest_pct");
		printf("# vcpu %.0f: exits %.0f, irq exits %.0f, ",
		       json_num(p, "vcpu"), json_num(p, "exits"),
		       json_num(p, "irq_exits"));
		printf("write faults %.0f, pages written %.0f, outside guest %.1f%%\n",
		       json_num(p, "write_faults"), json_num(p, "pages_written"),
		       pct);
		EXPECT_LT(0, json_num(p, "exits"));
		EXPECT_LE(0, pct);
		EXPECT_GE(100, pct);
	}
	EXPECT_EQ(vcpus, n);
	return (long long)json_num(strstr(last, "\"total\":") ?: "", "write_faults");
}

static int ctl(struct side *s, const char *const *args, char *out, size_t len)
{
	const char *argv[16] = { "agentctl", "-s", s->agent_sock };
	char err[ERR_LEN];
	int i, rc;

	for (i = 0; args[i] && i < 12; i++)
		argv[3 + i] = args[i];
	argv[3 + i] = NULL;
	rc = run_in(s->netns, out, len, err, sizeof(err), argv);
	if (rc)
		printf("# agentctl %s: rc=%d %s", args[0], rc, err);
	return rc;
}

FIXTURE(top) {
	struct bed b;
	char pid[16];
};

FIXTURE_SETUP(top)
{
	if (!have_kvm())
		SKIP(return, "no /dev/kvm");
	ASSERT_EQ(0, bed_setup(&self->b));
	ASSERT_EQ(0, bed_start(&self->b, TEST_MIB, TEST_MIB, WL_BUSY));
	snprintf(self->pid, sizeof(self->pid), "%d", (int)self->b.src.vmm);
}

FIXTURE_TEARDOWN(top)
{
	bed_teardown(&self->b);
}

/* Harvests the VM every 100 ms until killed, so that writes fault. */
static pid_t harvester(struct side *s, const char *pid)
{
	const char *args[4] = { "harvest", "--vm", pid, NULL };
	static char out[OUT_LEN];
	pid_t p = fork();

	if (p)
		return p;
	for (;;) {
		ctl(s, args, out, sizeof(out));
		usleep(100000);
	}
}

TEST_F_TIMEOUT(top, exits_and_write_faults, 120)
{
	const char *attach[4] = { "attach", "--vm", self->pid, NULL };
	const char *start[5] = { "trace", "start", "--vm", self->pid, NULL };
	const char *stop[5] = { "trace", "stop", "--vm", self->pid, NULL };
	const char *top[7] = { "-j", "top", "--vm", self->pid, "--count", "2",
			      NULL };
	struct side *s = &self->b.src;
	static char out[OUT_LEN];
	long long faults;
	pid_t h;

	if (!have_kvm())
		return;
	/* not traced: the guest runs, its vCPUs exit */
	ASSERT_EQ(0, ctl(s, top, top_out, sizeof(top_out)));
	printf("# untraced: %s", top_out);
	faults = check_vcpus(_metadata, top_out, 2);
	ASSERT_LE(0, faults);

	/* traced, harvested: every first write to a page after it faults */
	ASSERT_EQ(0, ctl(s, attach, out, sizeof(out)));
	ASSERT_EQ(0, ctl(s, start, out, sizeof(out)));
	h = harvester(s, self->pid);
	ASSERT_LT(0, h);
	ASSERT_EQ(0, ctl(s, top, top_out, sizeof(top_out)));
	kill(h, SIGKILL);
	waitpid(h, NULL, 0);
	printf("# traced: %s", top_out);
	faults = check_vcpus(_metadata, top_out, 2);
	EXPECT_LT(0, faults);
	ASSERT_EQ(0, ctl(s, stop, out, sizeof(out)));
}

/* agentctl top as nobody: its exit code; its stderr in @err. */
static int top_as_nobody(const char *pid, char *err, size_t len)
{
	int pe[2], status;
	ssize_t n;
	pid_t p;

	if (pipe(pe))
		return -1;
	p = fork();
	if (!p) {
		dup2(pe[1], 2);
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(126);
		execlp("agentctl", "agentctl", "top", "--vm", pid, "--count",
		       "1", NULL);
		_exit(127);
	}
	close(pe[1]);
	n = read(pe[0], err, len - 1);
	err[n > 0 ? n : 0] = '\0';
	close(pe[0]);
	waitpid(p, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F_TIMEOUT(top, unprivileged_and_no_process, 60)
{
	const char *none[6] = { "top", "--vm", "999999", "--count", "1", NULL };
	char err[ERR_LEN];
	int rc;

	if (!have_kvm())
		return;
	/* the initramfs root is mode 0700: let nobody reach /bin */
	chmod("/", 0755);
	rc = top_as_nobody(self->pid, err, sizeof(err));
	printf("# as nobody: rc=%d %s", rc, err);
	ASSERT_EQ(4, rc);
	ASSERT_NE(NULL, strstr(err, "needs root"));
	rc = ctl(&self->b.src, none, top_out, sizeof(top_out));
	ASSERT_EQ(1, rc);
}

FIXTURE(mig) {
	struct bed b;
};

FIXTURE_SETUP(mig)
{
	if (!have_kvm())
		SKIP(return, "no /dev/kvm");
	ASSERT_EQ(0, bed_setup(&self->b));
	ASSERT_EQ(0, bed_start(&self->b, TEST_MIB, TEST_MIB, WL_CONVERGING));
}

FIXTURE_TEARDOWN(mig)
{
	bed_teardown(&self->b);
}

TEST_F_TIMEOUT(mig, summary_has_guest_impact, 120)
{
	static struct mig_result r;
	const char *gi, *w;

	if (!have_kvm())
		return;
	migrate(&self->b, "loose", &r, NULL);
	report("loose", &r);
	ASSERT_EQ(0, r.rc);
	gi = strstr(r.out, "\"guest_impact\":{");
	ASSERT_NE(NULL, gi);
	printf("# %s\n", gi);
	ASSERT_TRUE(json_has(gi, "available", "true"));
	ASSERT_TRUE(json_has(gi, "isa", "\"svm\""));
	ASSERT_NE(NULL, strstr(gi, "\"window\":\"before\""));
	ASSERT_NE(NULL, strstr(gi, "\"window\":\"switchover\""));
	/* the source VM stays paused after a migration: no "after" */
	ASSERT_EQ(NULL, strstr(gi, "\"window\":\"after\""));
	w = strstr(gi, "\"window\":\"precopy\"");
	ASSERT_NE(NULL, w);
	/* pre-copy write-protects the guest: its writes fault */
	EXPECT_LT(0, json_num(strstr(w, "\"total\":"), "write_faults"));
	EXPECT_LT(0, json_num(strstr(w, "\"total\":"), "exits"));
	EXPECT_EQ(2, json_num(strstr(w, "\"total\":"), "vcpus"));
}

TEST_HARNESS_MAIN
