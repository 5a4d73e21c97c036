// SPDX-License-Identifier: GPL-2.0
/* vCPU threads throttled with cgroup v2 cpu.max; see cgthrottle.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cgthrottle.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Writes @s to @dir/@file in one write(2). 0 or -errno. */
static int put(const char *dir, const char *file, const char *s)
{
	char path[CGT_PATH + 64];
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

/* @dir/@file into @buf, NUL-terminated. Its length, or -errno. */
static ssize_t get(const char *dir, const char *file, char *buf, size_t len)
{
	char path[CGT_PATH + 64];
	ssize_t n, used = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((size_t)used < len - 1 &&
	       (n = read(fd, buf + used, len - 1 - used)) > 0)
		used += n;
	close(fd);
	buf[used] = '\0';
	return used;
}

/* Whether the space-separated list @list holds the word @w. */
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

/* The mount point's octal escapes (\040 for a space) undone, in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (s[1] - '0') * 64 + (s[2] - '0') * 8 + s[3] - '0';
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* The cgroup2 mount whose root is the hierarchy's root (as we see it). */
static int find_root(char *out, size_t len)
{
	char line[2048], root[CGT_PATH], mnt[CGT_PATH], *sep;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = 0;

	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		sep = strstr(line, " - cgroup2 ");
		if (!sep)
			continue;
		if (sscanf(line, "%*s %*s %*s %511s %511s", root, mnt) != 2 ||
		    strcmp(root, "/"))
			continue;
		unescape(mnt);
		snprintf(out, len, "%s", mnt);
		found = 1;
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

int cgt_init(struct cgt *c, pid_t vm_pid, char *why, size_t len)
{
	char buf[512];

	memset(c, 0, sizeof(*c));
	c->guard_fd = -1;
	c->vm_pid = vm_pid;
	if (find_root(c->root, sizeof(c->root))) {
		snprintf(why, len,
			 "no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)");
		return -ENOENT;
	}
	if (get(c->root, "cgroup.controllers", buf, sizeof(buf)) < 0 ||
	    !has_word(buf, "cpu")) {
		snprintf(why, len,
			 "the cgroup v2 hierarchy at %s has no cpu controller (a kernel without CONFIG_CFS_BANDWIDTH, or cpu bound to cgroup v1)",
			 c->root);
		return -EOPNOTSUPP;
	}
	return 0;
}

int cgt_add(struct cgt *c, pid_t tid, uint32_t vcpu_id, char *why,
	    size_t len)
{
	char file[64], line[CGT_PATH], buf[512], home[CGT_PATH], dir[CGT_PATH];
	struct cgt_vcpu *v;
	FILE *f;
	int found = 0;
	size_t n;

	if (c->n == CGT_MAX_VCPUS) {
		snprintf(why, len, "more than %d vCPU threads", CGT_MAX_VCPUS);
		return -E2BIG;
	}
	v = &c->v[c->n];
	memset(v, 0, sizeof(*v));
	v->tid = tid;
	v->vcpu_id = vcpu_id;
	snprintf(file, sizeof(file), "/proc/%d/task/%d/cgroup", (int)c->vm_pid,
		 (int)tid);
	f = fopen(file, "re");
	if (!f) {
		snprintf(why, len, "vCPU %u: thread %d of pid %d: %s", vcpu_id,
			 (int)tid, (int)c->vm_pid, strerror(errno));
		return -ESRCH;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(home, sizeof(home), "%s%s", c->root,
			 strcmp(line + 3, "/") ? line + 3 : "");
		found = 1;
	}
	fclose(f);
	if (!found) {
		snprintf(why, len, "thread %d is in no cgroup v2 cgroup", (int)tid);
		return -ENOENT;
	}
	if (get(home, "cgroup.controllers", buf, sizeof(buf)) < 0 ||
	    !has_word(buf, "cpu")) {
		snprintf(why, len,
			 "the cpu controller is not available in %s, the cgroup of vCPU %u's thread (enable it in its parent's cgroup.subtree_control)",
			 home, vcpu_id);
		return -EOPNOTSUPP;
	}
	n = snprintf(dir, sizeof(dir), "%s/" CGT_PREFIX "%d.vcpu%u", home,
		     (int)c->vm_pid, vcpu_id);
	if (n >= sizeof(dir)) {
		snprintf(why, len, "cgroup path too long: %s", home);
		return -ENAMETOOLONG;
	}
	memcpy(v->home, home, sizeof(v->home));
	memcpy(v->dir, dir, sizeof(v->dir));
	c->n++;
	return 0;
}

/*
 * The guard: this program again, in a session of its own so that a
 * signal to the agent's process group does not reach it, with nothing
 * of the agent's open but the pipe and the log.
 */
static int guard_start(struct cgt *c, char *why, size_t len)
{
	char *const argv[] = { "loosetrace-agent", CGT_GUARD_ARG, NULL };
	int p[2], err;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC)) {
		err = -errno;
		snprintf(why, len, "pipe: %s", strerror(errno));
		return err;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		snprintf(why, len, "starting the throttle guard: %s",
			 strerror(-err));
		return err;
	}
	if (!pid) {
		/* only async-signal-safe calls until the exec */
		if (p[0] == CGT_GUARD_FD)
			fcntl(p[0], F_SETFD, 0);
		else if (dup2(p[0], CGT_GUARD_FD) < 0)
			_exit(127);
		/* the netlink socket above all must close with the agent */
		syscall(SYS_close_range, CGT_GUARD_FD + 1, ~0U, 0);
		setsid();
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(p[0]);
	c->guard_fd = p[1];
	c->guard_pid = pid;
	return 0;
}

/* One record to the guard: a type letter and a path, NUL-terminated. */
static int guard_tell(struct cgt *c, char type, const char *path)
{
	char rec[CGT_PATH + 2];
	size_t n = snprintf(rec, sizeof(rec), "%c%s", type, path) + 1;

	/* records are far below PIPE_BUF: each write is whole */
	return write(c->guard_fd, rec, n) == (ssize_t)n ? 0 : -EPIPE;
}

static int has_subdirs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d)))
		found = e->d_type == DT_DIR && strcmp(e->d_name, ".") &&
			strcmp(e->d_name, "..");
	closedir(d);
	return found;
}

static uint64_t stat_field(const char *stat, const char *key)
{
	size_t n = strlen(key);
	const char *p = stat;

	while ((p = strstr(p, key))) {
		if ((p == stat || p[-1] == '\n') && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
		p += n;
	}
	return 0;
}

/*
 * Undoes one throttle cgroup: no limit, its threads back to the parent,
 * the cgroup removed. 0 if it is gone (or was never made).
 */
static int release_dir(const char *dir, struct cgt_usage *u)
{
	char home[CGT_PATH], buf[4096], *p, *end;
	struct stat sb;
	int i, err = 0;

	if (stat(dir, &sb))
		return 0;
	snprintf(home, sizeof(home), "%s", dir);
	p = strrchr(home, '/');
	if (!p)
		return -EINVAL;
	*p = '\0';
	/* the limit goes first: the thread runs free even if a move fails */
	put(dir, "cpu.max", "max");
	if (u && get(dir, "cpu.stat", buf, sizeof(buf)) > 0) {
		u->usage_us = stat_field(buf, "usage_usec");
		u->throttled_us = stat_field(buf, "throttled_usec");
		u->nr_throttled = stat_field(buf, "nr_throttled");
	}
	for (i = 0; i < 50; i++) {
		if (get(dir, "cgroup.threads", buf, sizeof(buf)) >= 0)
			for (p = buf; *p; p = end) {
				char tid[16];
				long t = strtol(p, &end, 10);

				if (end == p)
					break;
				snprintf(tid, sizeof(tid), "%ld", t);
				put(home, "cgroup.threads", tid);
				while (*end == '\n')
					end++;
			}
		if (!rmdir(dir) || errno == ENOENT)
			return 0;
		err = -errno;
		/* a thread on its way out still counts for a moment */
		sleep_ms(10);
	}
	return err;
}

/* The cpu controller off again in @home, if no other child needs it. */
static void cpu_disable(const char *home)
{
	if (!has_subdirs(home))
		put(home, "cgroup.subtree_control", "-cpu");
}

static void vcpu_undo(struct cgt *c, struct cgt_vcpu *v)
{
	uint32_t i;

	release_dir(v->dir, NULL);
	v->active = 0;
	v->pct = 0;
	if (!v->cpu_enabled)
		return;
	v->cpu_enabled = 0;
	for (i = 0; i < c->n; i++)
		if (c->v[i].active && !strcmp(c->v[i].home, v->home)) {
			/* a sibling still throttled: it takes the duty over */
			c->v[i].cpu_enabled = 1;
			return;
		}
	cpu_disable(v->home);
}

static int quota(struct cgt_vcpu *v, uint32_t pct)
{
	uint64_t q = (uint64_t)CGT_PERIOD_US * (100 - pct) / 100;
	char buf[64];

	if (!pct)
		return put(v->dir, "cpu.max", "max");
	if (q < CGT_MIN_QUOTA_US)
		q = CGT_MIN_QUOTA_US;
	snprintf(buf, sizeof(buf), "%llu %d", (unsigned long long)q,
		 CGT_PERIOD_US);
	return put(v->dir, "cpu.max", buf);
}

static int activate(struct cgt *c, struct cgt_vcpu *v, uint32_t pct,
		    char *why, size_t len)
{
	char buf[512], tid[16];
	int err;

	if (c->guard_fd < 0) {
		err = guard_start(c, why, len);
		if (err)
			return err;
	}
	if (get(v->home, "cgroup.subtree_control", buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	if (!has_word(buf, "cpu")) {
		/* the guard hears of each change before it is made */
		err = guard_tell(c, 'C', v->home);
		if (!err)
			err = put(v->home, "cgroup.subtree_control", "+cpu");
		if (err) {
			snprintf(why, len, "enabling the cpu controller in %s: %s",
				 v->home, strerror(-err));
			return err;
		}
		v->cpu_enabled = 1;
	}
	err = guard_tell(c, 'D', v->dir);
	if (err) {
		snprintf(why, len, "the throttle guard (pid %d) is gone",
			 (int)c->guard_pid);
		goto undo;
	}
	if (mkdir(v->dir, 0755) && errno != EEXIST) {
		err = -errno;
		snprintf(why, len, "mkdir %s: %s", v->dir, strerror(errno));
		goto undo;
	}
	err = put(v->dir, "cgroup.type", "threaded");
	if (err) {
		snprintf(why, len,
			 "%s cannot be made threaded (%s): its parent holds domain controllers or domain children",
			 v->dir, strerror(-err));
		goto undo;
	}
	err = quota(v, pct);
	if (err) {
		snprintf(why, len, "%s/cpu.max: %s", v->dir, strerror(-err));
		goto undo;
	}
	snprintf(tid, sizeof(tid), "%d", (int)v->tid);
	err = put(v->dir, "cgroup.threads", tid);
	if (err) {
		snprintf(why, len, "moving thread %d into %s: %s", (int)v->tid,
			 v->dir, strerror(-err));
		goto undo;
	}
	v->active = 1;
	v->pct = pct;
	return 0;
undo:
	vcpu_undo(c, v);
	return err;
}

int cgt_set(struct cgt *c, uint32_t i, uint32_t pct, char *why, size_t len)
{
	struct cgt_vcpu *v = &c->v[i];
	int err;

	if (i >= c->n)
		return -EINVAL;
	if (pct > 99)
		pct = 99;
	if (!v->active)
		return pct ? activate(c, v, pct, why, len) : 0;
	err = quota(v, pct);
	if (err) {
		snprintf(why, len, "%s/cpu.max: %s", v->dir, strerror(-err));
		return err;
	}
	v->pct = pct;
	return 0;
}

void cgt_release(struct cgt *c, struct cgt_usage *u)
{
	uint32_t i;
	int st;

	for (i = 0; i < c->n; i++) {
		if (u)
			memset(&u[i], 0, sizeof(u[i]));
		if (c->v[i].active)
			release_dir(c->v[i].dir, u ? &u[i] : NULL);
		c->v[i].active = 0;
		c->v[i].pct = 0;
	}
	for (i = 0; i < c->n; i++) {
		if (c->v[i].cpu_enabled)
			cpu_disable(c->v[i].home);
		c->v[i].cpu_enabled = 0;
	}
	if (c->guard_fd < 0)
		return;
	/* the guard finds nothing left, and exits */
	close(c->guard_fd);
	c->guard_fd = -1;
	for (i = 0; i < 200; i++) {
		if (waitpid(c->guard_pid, &st, WNOHANG) != 0)
			break;
		sleep_ms(10);
	}
	c->guard_pid = 0;
}

#define GUARD_RECORDS	(2 * CGT_MAX_VCPUS)

int cgt_guard_main(void)
{
	static char buf[GUARD_RECORDS * (CGT_PATH + 2)];
	static const int ignored[] = { SIGTERM, SIGINT, SIGHUP, SIGPIPE };
	size_t used = 0, i;
	char *p;
	ssize_t n;

	/*
	 * Stopping the service signals every process of its cgroup: the
	 * agent then releases and closes the pipe, and so this one ends.
	 */
	for (i = 0; i < ARRAY_SIZE(ignored); i++)
		signal(ignored[i], SIG_IGN);
	prctl(PR_SET_NAME, "lt-thr-guard", 0, 0, 0);
	for (;;) {
		n = read(CGT_GUARD_FD, buf + used, sizeof(buf) - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += n;
		if (used == sizeof(buf) - 1)
			break;	/* more than the agent ever sends */
	}
	buf[used] = '\0';
	/* the cgroups first, then the controllers their parents lost */
	for (p = buf; p < buf + used; p += strlen(p) + 1)
		if (*p == 'D' && !release_dir(p + 1, NULL) && p[1])
			fprintf(stderr, "lt-thr-guard: released %s\n", p + 1);
	for (p = buf; p < buf + used; p += strlen(p) + 1)
		if (*p == 'C')
			cpu_disable(p + 1);
	return 0;
}

static char (*sweep_list)[CGT_PATH];
static size_t sweep_n, sweep_cap;

static int sweep_visit(const char *path, const struct stat *sb, int type,
		       struct FTW *ftw)
{
	void *grown;

	if (type != FTW_D || strncmp(path + ftw->base, CGT_PREFIX,
				     strlen(CGT_PREFIX)))
		return 0;
	if (sweep_n == sweep_cap) {
		sweep_cap = sweep_cap ? 2 * sweep_cap : 64;
		grown = realloc(sweep_list, sweep_cap * sizeof(*sweep_list));
		if (!grown)
			return -1;
		sweep_list = grown;
	}
	snprintf(sweep_list[sweep_n++], CGT_PATH, "%s", path);
	return 0;
}

int cgt_sweep(FILE *log)
{
	char root[CGT_PATH];
	size_t i;
	int err, done = 0;

	err = find_root(root, sizeof(root));
	if (err)
		return err;
	sweep_n = 0;
	if (nftw(root, sweep_visit, 16, FTW_PHYS)) {
		free(sweep_list);
		sweep_list = NULL;
		sweep_cap = 0;
		return -ENOMEM;
	}
	for (i = 0; i < sweep_n; i++) {
		err = release_dir(sweep_list[i], NULL);
		if (log)
			fprintf(log, "loosetrace-agent: %s %s%s%s\n",
				err ? "could not release" : "released",
				sweep_list[i], err ? ": " : "",
				err ? strerror(-err) : "");
		done += !err;
	}
	free(sweep_list);
	sweep_list = NULL;
	sweep_cap = 0;
	return done;
}
