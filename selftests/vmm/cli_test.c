// SPDX-License-Identifier: GPL-2.0
/*
 * lt-vmm, the program the demo and the migration agent drive: its
 * control socket (status, pause, state, verify, restore, quit), the VM
 * fd it reports and that another process takes with pidfd_getfd(), and
 * the exit codes of a restore with --verify on good and on damaged
 * memory. lt-vmm is found on PATH. Skips without /dev/kvm.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "vmm_test.h"

FIXTURE(cli)
{
	pid_t pid;
	char dir[64];
	char sock[96];
	char mem[96];
	char state[96];
	char copy[96];
};

/* lt-vmm with the arguments given, up to a NULL. */
static pid_t spawn(bool quiet, ...)
{
	char *argv[32];
	va_list ap;
	pid_t pid;
	int n = 0;

	argv[n++] = "lt-vmm";
	va_start(ap, quiet);
	while (n < 31 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		if (quiet) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 1);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Exit status of a process, or -1 if it did not exit normally. */
static int wait_exit(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One command on the control socket; the reply line, or "" on error. */
static void ctl(const char *sock, const char *cmd, char *reply, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t off = 0;
	ssize_t n;
	int fd;

	reply[0] = 0;
	strncpy(sa.sun_path, sock, sizeof(sa.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    dprintf(fd, "%s\n", cmd) < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (off < len - 1 && (n = read(fd, reply + off, len - 1 - off)) > 0) {
		off += n;
		if (memchr(reply, '\n', off))
			break;
	}
	reply[off] = 0;
	reply[strcspn(reply, "\n")] = 0;
	close(fd);
}

static bool wait_socket(const char *path)
{
	struct timespec nap = { 0, 20000000 };
	struct stat st;
	int i;

	for (i = 0; i < 1500; i++) {
		if (!stat(path, &st))
			return true;
		nanosleep(&nap, NULL);
	}
	return false;
}

static long long field(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p ? strtoll(p + strlen(key), NULL, 0) : -1;
}

/* True if every count of "writes=W0,W1,..." in a status line is >= n. */
static bool all_wrote(const char *status, long long n)
{
	const char *p = strstr(status, "writes=");
	bool any = false;
	char *end;

	if (!p)
		return false;
	p += strlen("writes=");
	for (;;) {
		long long w = strtoll(p, &end, 10);

		if (end == p || w < n)
			return false;
		any = true;
		if (*end != ',')
			return any;
		p = end + 1;
	}
}

/* Polls "status" until every vCPU has done at least n writes. */
static bool wait_writes(const char *sock, long long n)
{
	struct timespec nap = { 0, 20000000 };
	char reply[2048];
	int i;

	for (i = 0; i < 3000; i++) {
		ctl(sock, "status", reply, sizeof(reply));
		if (all_wrote(reply, n))
			return true;
		nanosleep(&nap, NULL);
	}
	return false;
}

FIXTURE_SETUP(cli)
{
	self->pid = -1;
	snprintf(self->dir, sizeof(self->dir), "/tmp/ltvmm-cli-%d", getpid());
	snprintf(self->sock, sizeof(self->sock), "%s/ctl.sock", self->dir);
	snprintf(self->mem, sizeof(self->mem), "%s/mem", self->dir);
	snprintf(self->state, sizeof(self->state), "%s/state", self->dir);
	snprintf(self->copy, sizeof(self->copy), "%s/copy", self->dir);
	if (!vt_have_kvm())
		SKIP(return, "no /dev/kvm");
	ASSERT_EQ(0, mkdir(self->dir, 0700));
}

FIXTURE_TEARDOWN(cli)
{
	char cmd[128];

	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (vt_have_kvm() && system(cmd))
		fprintf(stderr, "# could not remove %s\n", self->dir);
}

/* The gfn vCPU vcpu wrote last, from the guest's status in the file. */
static long long last_written(const char *mem, unsigned int vcpu)
{
	off_t off = LTG_CTL_GPA + offsetof(struct ltg_ctl, st) +
		    vcpu * sizeof(struct ltg_vcpu_status) +
		    offsetof(struct ltg_vcpu_status, last_gfn);
	uint64_t gfn = 0;
	int fd = open(mem, O_RDONLY);

	if (fd < 0)
		return -1;
	if (pread(fd, &gfn, sizeof(gfn), off) != sizeof(gfn))
		gfn = 0;
	close(fd);
	return gfn ? (long long)gfn : -1;
}

static int copy_file(const char *from, const char *to, long long bad_page)
{
	int in = open(from, O_RDONLY), out;
	char buf[LTG_PAGE_SIZE];
	long long page = 0;
	ssize_t n;

	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (page++ == bad_page)
			buf[100] ^= 1;
		if (write(out, buf, n) != n)
			return -1;
	}
	close(in);
	close(out);
	return n;
}

TEST_F_TIMEOUT(cli, control_socket_and_restore, 120)
{
	char reply[2048], path[160], link[64];
	long long vm_fd, data_first, w0, w1, last;
	int pidfd, fd;
	ssize_t n;

	if (!vt_have_kvm())
		SKIP(return, "no /dev/kvm");
	self->pid = spawn(true, "-c", "2", "-m", "16", "-f", self->mem,
			  "-s", self->sock, "-w", "seq,hot", NULL);
	ASSERT_LT(0, self->pid);
	ASSERT_TRUE(wait_socket(self->sock));

	ctl(self->sock, "status", reply, sizeof(reply));
	ASSERT_EQ(0, strncmp(reply, "ok state=running", 16)) TH_LOG("%s", reply);
	EXPECT_NE(NULL, strstr(reply, "vcpus=2 "));
	EXPECT_NE(NULL, strstr(reply, "mem_bytes=16777216 "));
	EXPECT_NE(NULL, strstr(reply, "slot0=id:0,gpa:0,pages:4096 "));
	vm_fd = field(reply, "vm_fd=");
	data_first = field(reply, "data_gfn_first=");
	ASSERT_LE(0, vm_fd);
	ASSERT_LT(0, data_first);

	/* What the migration agent does to reach the VM. */
	pidfd = syscall(SYS_pidfd_open, self->pid, 0);
	ASSERT_LE(0, pidfd) TH_LOG("pidfd_open: %s", strerror(errno));
	fd = syscall(SYS_pidfd_getfd, pidfd, (int)vm_fd, 0);
	ASSERT_LE(0, fd) TH_LOG("pidfd_getfd: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_LT(0, n);
	link[n] = 0;
	EXPECT_STREQ("anon_inode:kvm-vm", link);
	close(fd);
	close(pidfd);

	ctl(self->sock, "verify", reply, sizeof(reply));
	EXPECT_EQ(0, strncmp(reply, "ok verdict=pass", 15)) TH_LOG("%s", reply);
	ctl(self->sock, "run", reply, sizeof(reply));
	EXPECT_STREQ("ok run", reply);
	ctl(self->sock, "no-such-command", reply, sizeof(reply));
	EXPECT_EQ(0, strncmp(reply, "err ", 4));
	ctl(self->sock, "mode 1 random delay=10", reply, sizeof(reply));
	EXPECT_STREQ("ok mode random", reply);
	ASSERT_TRUE(wait_writes(self->sock, 100));

	ctl(self->sock, "pause", reply, sizeof(reply));
	ASSERT_STREQ("ok paused", reply);
	ctl(self->sock, "status", reply, sizeof(reply));
	EXPECT_EQ(0, strncmp(reply, "ok state=paused", 15));
	w0 = field(reply, "writes=");
	ctl(self->sock, "status", reply, sizeof(reply));
	w1 = field(reply, "writes=");
	EXPECT_EQ(w0, w1);
	ctl(self->sock, "state", reply, sizeof(reply));
	EXPECT_EQ(0, strncmp(reply, "err ", 4));
	snprintf(path, sizeof(path), "state %s", self->state);
	ctl(self->sock, path, reply, sizeof(reply));
	ASSERT_EQ(0, strncmp(reply, "ok state", 8)) TH_LOG("%s", reply);
	ctl(self->sock, "quit", reply, sizeof(reply));
	EXPECT_STREQ("ok bye", reply);
	EXPECT_EQ(0, wait_exit(self->pid));
	self->pid = -1;

	/*
	 * One flipped bit in the page vCPU 0 (seq) wrote last. The restored
	 * guest idles (-w idle) once it finished the write it was in, so it
	 * cannot mend that page before it verifies.
	 */
	last = last_written(self->mem, 0);
	ASSERT_LE(data_first, last);
	ASSERT_EQ(0, copy_file(self->mem, self->copy, last));
	EXPECT_EQ(1, wait_exit(spawn(false, "--restore", self->state,
				     "-f", self->copy, "-w", "idle",
				     "--verify", NULL)));
	/* The memory as the source left it: the restored guest agrees. */
	EXPECT_EQ(0, wait_exit(spawn(false, "--restore", self->state,
				     "-f", self->mem, "--run-ms", "300",
				     "--verify", NULL)));
}

TEST_F_TIMEOUT(cli, incoming_then_restore, 120)
{
	char reply[2048], cmd[160];

	if (!vt_have_kvm())
		SKIP(return, "no /dev/kvm");
	self->pid = spawn(true, "-c", "2", "-m", "8", "-f", self->mem,
			  "-s", self->sock, NULL);
	ASSERT_TRUE(wait_socket(self->sock));
	ASSERT_TRUE(wait_writes(self->sock, 100));
	ctl(self->sock, "pause", reply, sizeof(reply));
	ASSERT_STREQ("ok paused", reply);
	snprintf(cmd, sizeof(cmd), "state %s", self->state);
	ctl(self->sock, cmd, reply, sizeof(reply));
	ASSERT_EQ(0, strncmp(reply, "ok", 2)) TH_LOG("%s", reply);
	ctl(self->sock, "quit", reply, sizeof(reply));
	ASSERT_EQ(0, wait_exit(self->pid));
	self->pid = -1;

	/* The destination waits with its memory mapped; then it is filled. */
	self->pid = spawn(true, "--incoming", "-c", "2", "-m", "8",
			  "-f", self->copy, "-s", self->sock, NULL);
	ASSERT_TRUE(wait_socket(self->sock));
	ctl(self->sock, "status", reply, sizeof(reply));
	EXPECT_EQ(0, strncmp(reply, "ok state=paused", 15)) TH_LOG("%s", reply);
	ctl(self->sock, "resume", reply, sizeof(reply));
	EXPECT_EQ(0, strncmp(reply, "err ", 4)) TH_LOG("%s", reply);
	ASSERT_EQ(0, copy_file(self->mem, self->copy, -1));
	snprintf(cmd, sizeof(cmd), "restore %s", self->state);
	ctl(self->sock, cmd, reply, sizeof(reply));
	ASSERT_EQ(0, strncmp(reply, "ok restored", 11)) TH_LOG("%s", reply);
	ctl(self->sock, "resume", reply, sizeof(reply));
	ASSERT_STREQ("ok running", reply);
	ctl(self->sock, "verify", reply, sizeof(reply));
	EXPECT_EQ(0, strncmp(reply, "ok verdict=pass", 15)) TH_LOG("%s", reply);
	ctl(self->sock, "quit", reply, sizeof(reply));
	EXPECT_EQ(0, wait_exit(self->pid));
	self->pid = -1;
}

TEST_HARNESS_MAIN
