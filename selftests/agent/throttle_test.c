// SPDX-License-Identifier: GPL-2.0
/*
 * The pre-copy throttle (agentctl migrate --throttle auto) on a guest
 * that dirties memory faster than the link carries it: vCPU 0 writes
 * random pages of its region, vCPU 1 rewrites a few pages only, and the
 * link (--bandwidth-mbps, which the source keeps to) carries a quarter
 * of the pages vCPU 0 writes a second, measured before each test.
 *
 * Without the throttle the migration fails: it cannot converge, and the
 * source guest runs on, its threads never moved. With it, vCPU 0 is
 * throttled and vCPU 1 much less or not at all, the final round fits the
 * downtime target, and the destination guest verifies every page. In
 * every outcome -- success, the destination lost mid-throttle, the
 * source agent killed with SIGKILL mid-throttle -- the throttle is gone
 * afterwards: each vCPU thread back in its own cgroup, no loosetrace.*
 * cgroup left, the cpu controller of the VMM's cgroup as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "migrate.h"

#define CG		"/sys/fs/cgroup"
/* vCPU 0 out-dirties the link, vCPU 1 rewrites 1% of its region */
#define WL_HEAVY	"random delay=100000"
#define WL_LIGHT	"mode 1 hot hot=1 hotprob=100 delay=100000"

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int has_word(const char *list, const char *w)
{
	size_t n = strlen(w);
	const char *p = list;

	while ((p = strstr(p, w))) {
		if ((p == list || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return 1;
		p += n;
	}
	return 0;
}

/* Whether cgroup v2 with its cpu controller is at /sys/fs/cgroup. */
static int have_cpu_cgroup(void)
{
	char buf[512];

	return !read_file(CG "/cgroup.controllers", buf, sizeof(buf)) &&
	       has_word(buf, "cpu");
}

static int cpu_enabled(void)
{
	char buf[512];

	return !read_file(CG "/cgroup.subtree_control", buf, sizeof(buf)) &&
	       has_word(buf, "cpu");
}

/* Each vCPU's thread id, from lt-vmm's status. The count. */
static int status_tids(const char *sock, int *tid, int max)
{
	char reply[4096], *p;
	int n = 0;

	if (vmm_cmd(sock, "status", reply, sizeof(reply)))
		return 0;
	p = strstr(reply, " vcpu_tids=");
	if (!p)
		return 0;
	p += strlen(" vcpu_tids=");
	while (n < max) {
		tid[n++] = strtol(p, &p, 10);
		if (*p != ',')
			break;
		p++;
	}
	return n;
}

/* The cgroup a thread of @pid is in ("/..."), "" if it is gone. */
static void thread_cgroup(pid_t pid, int tid, char *out, size_t len)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/cgroup", (int)pid, tid);
	out[0] = '\0';
	if (read_file(path, buf, sizeof(buf)))
		return;
	p = strstr(buf, "0::");
	if (p)
		snprintf(out, len, "%.*s", (int)strcspn(p + 3, "\n"), p + 3);
}

/* How many vCPU threads of the VMM are in a throttle cgroup now. */
static int threads_throttled(struct side *s)
{
	char cg[512];
	int tid[8], n, i, k = 0;

	n = status_tids(s->vmm_sock, tid, 8);
	for (i = 0; i < n; i++) {
		thread_cgroup(s->vmm, tid[i], cg, sizeof(cg));
		k += !!strstr(cg, "loosetrace.");
	}
	return k;
}

/* Throttle cgroups in the hierarchy's first levels; @say: name them. */
static int throttle_cgroups(const char *dir, int depth, int say)
{
	char sub[1024];
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (!strncmp(e->d_name, "loosetrace.", 11)) {
			if (say)
				printf("# left behind: %s/%s\n", dir, e->d_name);
			n++;
		}
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		if (depth > 0)
			n += throttle_cgroups(sub, depth - 1, say);
	}
	closedir(d);
	return n;
}

static int guards_running(void)
{
	char path[64], comm[64];
	struct dirent *e;
	DIR *d = opendir("/proc");
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		if (!read_file(path, comm, sizeof(comm)) &&
		    !strncmp(comm, "lt-thr-guard", 12))
			n++;
	}
	closedir(d);
	return n;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

FIXTURE(thr) {
	struct bed b;
	int cpu_before;		/* cpu in the root's subtree_control */
	char mbps[16];		/* the link */
};

/* vCPU 0's writes per second, over one second. */
static long long vcpu0_rate(const char *sock)
{
	char reply[4096], *p;
	long long a, b;
	long t0, t1;

	if (vmm_cmd(sock, "status", reply, sizeof(reply)))
		return -1;
	p = strstr(reply, " writes=");
	if (!p)
		return -1;
	a = strtoll(p + 8, NULL, 10);
	t0 = now_ms();
	usleep(1000000);
	if (vmm_cmd(sock, "status", reply, sizeof(reply)))
		return -1;
	p = strstr(reply, " writes=");
	if (!p)
		return -1;
	b = strtoll(p + 8, NULL, 10);
	t1 = now_ms();
	return (b - a) * 1000 / (t1 - t0 ?: 1);
}

FIXTURE_SETUP(thr)
{
	char reply[4096];
	long long w;
	unsigned long long mbps;

	if (!have_kvm())
		SKIP(return, "no /dev/kvm");
	if (!have_cpu_cgroup())
		SKIP(return, "no cgroup v2 cpu controller at " CG);
	self->cpu_before = cpu_enabled();
	ASSERT_EQ(0, bed_setup(&self->b));
	ASSERT_EQ(0, bed_start(&self->b, TEST_MIB, TEST_MIB, WL_HEAVY));
	ASSERT_EQ(0, vmm_cmd(self->b.src.vmm_sock, WL_LIGHT, reply,
			     sizeof(reply)));
	w = vcpu0_rate(self->b.src.vmm_sock);
	ASSERT_LT(0, w);
	/* the link carries a quarter of what vCPU 0 writes */
	mbps = (unsigned long long)w / 4 * 4096 * 8 / 1000000;
	if (!mbps)
		mbps = 1;
	snprintf(self->mbps, sizeof(self->mbps), "%llu", mbps);
	printf("# vCPU 0 writes %lld pages/s; the link: %s Mbit/s (%llu pages/s)\n",
	       w, self->mbps, mbps * 1000000 / 8 / 4096);
}

FIXTURE_TEARDOWN(thr)
{
	const char *const argv[] = { "loosetrace-agent", "--release-throttles",
				     NULL };

	bed_teardown(&self->b);
	/* nothing a failed test left may change the next one */
	run_in(-1, NULL, 0, NULL, 0, argv);
}

/* The throttle is gone: threads home, no cgroup left, cpu as it was. */
static void check_released(struct __test_metadata *_metadata,
			   struct side *src, int cpu_before)
{
	ASSERT_EQ(0, threads_throttled(src));
	ASSERT_EQ(0, throttle_cgroups(CG, 2, 1));
	ASSERT_EQ(cpu_before, cpu_enabled());
}

static void show_throttle(const struct mig_result *r)
{
	int v;

	for (v = 0; v < 2; v++) {
		printf("# vCPU %d: throttled %llu ms, at most %llu%%, mean %llu%%, %llu steps,",
		       v, vcpu_u64(r->out, v, "throttled_ms"),
		       vcpu_u64(r->out, v, "max_pct"),
		       vcpu_u64(r->out, v, "mean_pct"),
		       vcpu_u64(r->out, v, "steps"));
		printf(" CPU %llu ms, CFS held it back %llu ms in %llu periods\n",
		       vcpu_u64(r->out, v, "cpu_ms"),
		       vcpu_u64(r->out, v, "cfs_throttled_ms"),
		       vcpu_u64(r->out, v, "cfs_periods"));
	}
}

static int running_and_writing(const char *sock)
{
	char reply[4096];

	if (vmm_cmd(sock, "status", reply, sizeof(reply)) ||
	    !strstr(reply, "state=running"))
		return 0;
	return vmm_wait_more_writes(sock, 100, 20000) == 0;
}

TEST_F_TIMEOUT(thr, off_cannot_converge, 240)
{
	struct mig_result r;

	if (!have_kvm() || !have_cpu_cgroup())
		SKIP(return, "no /dev/kvm or no cgroup v2 cpu controller");
	migrate(&self->b, "loose", &r, "--bandwidth-mbps", self->mbps,
		"--max-rounds", "30", "--throttle", "off", NULL);
	report("throttle off", &r);
	ASSERT_EQ(1, r.rc);
	ASSERT_NE(NULL, strstr(r.err, "cannot converge"));
	ASSERT_NE(NULL, strstr(r.err, "throttle is off"));
	ASSERT_NE(NULL, strstr(r.out, "dirty set stopped shrinking"));
	ASSERT_TRUE(json_has(r.out, "mode", "\"off\""));
	/* the guest runs on untouched: never throttled, still writing */
	ASSERT_TRUE(running_and_writing(self->b.src.vmm_sock));
	check_released(_metadata, &self->b.src, self->cpu_before);
}

TEST_F_TIMEOUT(thr, auto_converges, 300)
{
	struct mig_result r;
	char reply[4096];

	if (!have_kvm() || !have_cpu_cgroup())
		SKIP(return, "no /dev/kvm or no cgroup v2 cpu controller");
	migrate(&self->b, "loose", &r, "--bandwidth-mbps", self->mbps,
		"--max-rounds", "30", "--throttle", "auto", "--throttle-max",
		"99", NULL);
	report("throttle auto", &r);
	show_throttle(&r);
	if (r.rc) {
		dump_log(self->b.src.log);
		dump_log(self->b.dst.log);
	}
	ASSERT_EQ(0, r.rc);
	ASSERT_TRUE(json_has(r.out, "memory_identical", "true"));
	/* converged: the final round fit the downtime target */
	ASSERT_NE(NULL, strstr(r.out, "\"precopy_stop\":\"fits the"));
	ASSERT_TRUE(json_has(r.out, "released", "true"));
	/*
	 * The vCPU that dirties most was throttled, and more than the
	 * other: over time (how long times how hard on average), not by
	 * the peak, which on a slow kernel (make check-debug's) both reach
	 * at the --throttle-max cap once the link is that far behind.
	 */
	ASSERT_LT(0, vcpu_u64(r.out, 0, "throttled_ms"));
	ASSERT_LT(0, vcpu_u64(r.out, 0, "max_pct"));
	ASSERT_GT(vcpu_u64(r.out, 0, "throttled_ms") *
		  vcpu_u64(r.out, 0, "mean_pct"),
		  vcpu_u64(r.out, 1, "throttled_ms") *
		  vcpu_u64(r.out, 1, "mean_pct"));
	ASSERT_LT(0, vcpu_u64(r.out, 0, "cfs_periods"));
	check_released(_metadata, &self->b.src, self->cpu_before);
	/* the destination guest finds every page as it left it */
	ASSERT_EQ(0, vmm_wait_more_writes(self->b.dst.vmm_sock, 100, 30000));
	ASSERT_EQ(0, vmm_cmd(self->b.dst.vmm_sock, "verify", reply,
			     sizeof(reply)));
	printf("# destination guest verification: %s\n", reply);
	ASSERT_NE(NULL, strstr(reply, "verdict=pass"));
}

/* A migration in a child; the result comes back through a pipe. */
struct bg {
	pid_t pid;
	int fd;
};

static void bg_migrate(struct bed *b, const char *mbps, struct bg *bg)
{
	struct mig_result r;
	int p[2];

	if (pipe(p))
		abort();
	bg->pid = fork();
	if (!bg->pid) {
		close(p[0]);
		migrate(b, "loose", &r, "--bandwidth-mbps", mbps,
			"--max-rounds", "30", "--throttle", "auto",
			"--throttle-max", "99", NULL);
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	bg->fd = p[0];
}

static int bg_wait(struct bg *bg, struct mig_result *r)
{
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(*r) &&
	       (n = read(bg->fd, (char *)r + got, sizeof(*r) - got)) > 0)
		got += n;
	close(bg->fd);
	waitpid(bg->pid, NULL, 0);
	return got == sizeof(*r) ? 0 : -EIO;
}

/* Until a vCPU thread sits in a throttle cgroup (60 s at most). */
static int wait_throttled(struct side *s)
{
	long t0 = now_ms();

	while (now_ms() - t0 < 60000) {
		if (threads_throttled(s))
			return 0;
		usleep(20000);
	}
	return -ETIMEDOUT;
}

TEST_F_TIMEOUT(thr, released_when_the_destination_is_lost, 240)
{
	struct mig_result r;
	struct bg bg;

	if (!have_kvm() || !have_cpu_cgroup())
		SKIP(return, "no /dev/kvm or no cgroup v2 cpu controller");
	bg_migrate(&self->b, self->mbps, &bg);
	ASSERT_EQ(0, wait_throttled(&self->b.src));
	printf("# throttled: %d vCPU thread(s)\n",
	       threads_throttled(&self->b.src));
	side_kill(&self->b.dst.agent, SIGKILL);
	ASSERT_EQ(0, bg_wait(&bg, &r));
	report("destination lost", &r);
	show_throttle(&r);
	ASSERT_EQ(1, r.rc);
	ASSERT_TRUE(json_has(r.out, "released", "true"));
	ASSERT_LT(0, vcpu_u64(r.out, 0, "throttled_ms"));
	/* released before the agent answered */
	check_released(_metadata, &self->b.src, self->cpu_before);
	ASSERT_TRUE(running_and_writing(self->b.src.vmm_sock));
}

TEST_F_TIMEOUT(thr, released_when_the_agent_is_killed, 240)
{
	struct bg bg;
	struct mig_result r;
	long t0;

	if (!have_kvm() || !have_cpu_cgroup())
		SKIP(return, "no /dev/kvm or no cgroup v2 cpu controller");
	bg_migrate(&self->b, self->mbps, &bg);
	ASSERT_EQ(0, wait_throttled(&self->b.src));
	ASSERT_EQ(1, guards_running());
	/* no chance to clean up: only its guard can */
	side_kill(&self->b.src.agent, SIGKILL);
	t0 = now_ms();
	while (now_ms() - t0 < 10000 &&
	       (threads_throttled(&self->b.src) || guards_running() ||
		throttle_cgroups(CG, 2, 0)))
		usleep(20000);
	printf("# released %ld ms after the SIGKILL\n", now_ms() - t0);
	bg_wait(&bg, &r);
	printf("# agentctl: rc=%d %s", r.rc, r.err);
	check_released(_metadata, &self->b.src, self->cpu_before);
	ASSERT_EQ(0, guards_running());
	ASSERT_TRUE(running_and_writing(self->b.src.vmm_sock));
}

TEST_HARNESS_MAIN
