// SPDX-License-Identifier: GPL-2.0
/*
 * agentctl check against a real, unmodified QEMU (Debian's, under its
 * emulator, paused before the first instruction): a guest whose RAM is a
 * shared backend is movable and its region is found where QEMU maps it;
 * every guest loosetrace cannot move is refused before anything is
 * attached, with a reason that says what to change.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "qmp.h"

#define MAX_ARGS	32
#define OUT_LEN		8192

struct qemu {
	pid_t pid;
	char qmp[128];
	char ram[128];		/* the shared RAM file, if any */
};

static const char *tmpdir(void)
{
	return getenv("TMPDIR") ?: "/tmp";
}

/* Starts a paused QEMU with @extra arguments (NULL-terminated). */
static int qemu_start(struct qemu *q, const char *tag,
		      const char *const *extra)
{
	const char *argv[MAX_ARGS] = {
		"qemu-system-x86_64", "-accel", "tcg", "-M", "pc", "-S",
		"-nodefaults", "-no-user-config", "-display", "none",
		"-m", "64M", "-qmp", NULL,
	};
	char qmparg[160];
	int n = 13;

	snprintf(q->qmp, sizeof(q->qmp), "%s/lt-%s.qmp", tmpdir(), tag);
	snprintf(q->ram, sizeof(q->ram), "/dev/shm/lt-check-%s.ram", tag);
	snprintf(qmparg, sizeof(qmparg), "unix:%s,server=on,wait=off",
		 q->qmp);
	unlink(q->qmp);
	argv[n++] = qmparg;
	while (*extra && n < MAX_ARGS - 1)
		argv[n++] = *extra++;
	argv[n] = NULL;
	q->pid = fork();
	if (q->pid < 0)
		return -errno;
	if (!q->pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
	return 0;
}

static void qemu_stop(struct qemu *q)
{
	if (q->pid > 0) {
		kill(q->pid, SIGKILL);
		waitpid(q->pid, NULL, 0);
	}
	unlink(q->qmp);
	unlink(q->ram);
}

/* agentctl -j check --vm PID --qmp SOCK: exit code, stdout in @out. */
static int run_check(pid_t pid, const char *sock, char *out, size_t len)
{
	char vm[16], cmd[512];
	size_t n;
	FILE *p;
	int st;

	snprintf(vm, sizeof(vm), "%d", (int)pid);
	snprintf(cmd, sizeof(cmd), "%s -j %s --vm %s --qmp %s 2>/dev/null",
		 getenv("AGENTCTL") ?: "agentctl", "check", vm, sock);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	st = pclose(p);
	fprintf(stderr, "# agentctl: %s\n", out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Waits until QEMU's QMP socket answers. */
static int qmp_wait(struct qemu *q, struct qmp *m)
{
	return qmp_open(m, q->qmp, 20000);
}

static int ready(struct qemu *q)
{
	struct qmp m;

	if (qmp_wait(q, &m))
		return 0;
	qmp_close(&m);
	return 1;
}

TEST(shared_file_backend_is_movable)
{
	char out[OUT_LEN], mem[64], obj[256], marker[16] = "lt-check-mark";
	unsigned long long hva;
	struct iovec local = { .iov_base = mem, .iov_len = sizeof(marker) };
	struct iovec remote = { .iov_len = sizeof(marker) };
	const char *const extra[] = { "-object", obj, "-machine",
				"memory-backend=ram0", NULL };
	struct qemu q;
	const char *p;
	int fd;

	snprintf(obj, sizeof(obj),
		 "memory-backend-file,id=ram0,size=64M,mem-path=/dev/shm/lt-check-file.ram,share=on");
	ASSERT_EQ(0, qemu_start(&q, "file", extra));
	ASSERT_TRUE(ready(&q));
	EXPECT_EQ(0, run_check(q.pid, q.qmp, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"verdict\":\"movable\""));
	EXPECT_NE(NULL, strstr(out, "\"id\":\"ram0\""));
	EXPECT_NE(NULL, strstr(out, "\"bytes\":67108864"));
	/* the region is where QEMU really has the file: read through it */
	p = strstr(out, "\"hva\":\"");
	ASSERT_NE(NULL, p);
	hva = strtoull(p + 7, NULL, 16);
	fd = open(q.ram, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)sizeof(marker), pwrite(fd, marker, sizeof(marker),
						  4096));
	close(fd);
	remote.iov_base = (void *)(uintptr_t)(hva + 4096);
	EXPECT_EQ((ssize_t)sizeof(marker),
		  process_vm_readv(q.pid, &local, 1, &remote, 1, 0));
	EXPECT_EQ(0, memcmp(mem, marker, sizeof(marker)));
	qemu_stop(&q);
}

TEST(one_memfd_backend_is_movable)
{
	static const char *const extra[] = {
		"-object", "memory-backend-memfd,id=ram0,size=64M",
		"-machine", "memory-backend=ram0", NULL,
	};
	char out[OUT_LEN];
	struct qemu q;

	ASSERT_EQ(0, qemu_start(&q, "memfd", extra));
	ASSERT_TRUE(ready(&q));
	EXPECT_EQ(0, run_check(q.pid, q.qmp, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"type\":\"memory-backend-memfd\""));
	qemu_stop(&q);
}

/* The refusals, each before anything is attached, with what to change. */
TEST(private_ram_is_refused)
{
	static const char *const extra[] = { NULL };
	char out[OUT_LEN];
	struct qemu q;

	ASSERT_EQ(0, qemu_start(&q, "private", extra));
	ASSERT_TRUE(ready(&q));
	EXPECT_EQ(1, run_check(q.pid, q.qmp, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"verdict\":\"refused\""));
	EXPECT_NE(NULL, strstr(out, "pc.ram is private"));
	EXPECT_NE(NULL, strstr(out, "share=on"));
	qemu_stop(&q);
}

TEST(another_process_socket_is_refused)
{
	static const char *const extra[] = { NULL };
	char out[OUT_LEN];
	struct qemu q;

	ASSERT_EQ(0, qemu_start(&q, "otherpid", extra));
	ASSERT_TRUE(ready(&q));
	EXPECT_EQ(1, run_check(getpid(), q.qmp, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "belongs to process"));
	qemu_stop(&q);
}

TEST(migration_blocker_is_refused)
{
	static const char *const extra[] = {
		"-object", "memory-backend-memfd,id=ram0,size=64M",
		"-machine", "memory-backend=ram0",
		"-object", "memory-backend-memfd,id=shm,size=1M",
		"-device", "ivshmem-plain,memdev=shm", NULL,
	};
	char out[OUT_LEN];
	struct qemu q;

	ASSERT_EQ(0, qemu_start(&q, "blocked", extra));
	ASSERT_TRUE(ready(&q));
	EXPECT_EQ(1, run_check(q.pid, q.qmp, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "blocked-reasons"));
	EXPECT_NE(NULL, strstr(out, "ivshmem"));
	qemu_stop(&q);
}

TEST(running_qemu_migration_is_refused)
{
	static const char *const extra[] = { NULL };
	char out[OUT_LEN];
	json_object *r;
	struct qemu q;
	struct qmp m;

	ASSERT_EQ(0, qemu_start(&q, "migrating", extra));
	ASSERT_EQ(0, qmp_wait(&q, &m));
	/* 1 KiB/s to nowhere: it runs for as long as the test needs */
	r = qmp_cmd(&m, 5000, "migrate-set-parameters",
		    "{\"max-bandwidth\":1024}");
	ASSERT_NE(NULL, r) TH_LOG("%s", m.err);
	json_object_put(r);
	r = qmp_cmd(&m, 5000, "migrate", "{\"uri\":\"exec:cat > /dev/null\"}");
	ASSERT_NE(NULL, r) TH_LOG("%s", m.err);
	json_object_put(r);
	/* QMP serves one client at a time: agentctl's turn */
	qmp_close(&m);
	EXPECT_EQ(1, run_check(q.pid, q.qmp, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "own migration is running"));
	EXPECT_NE(NULL, strstr(out, "migrate_cancel"));
	qemu_stop(&q);
}

/* Two shared backends of one size and no file name: which is which? */
TEST(ambiguous_backends_are_refused)
{
	static const char *const extra[] = {
		"-object", "memory-backend-memfd,id=ram0,size=64M",
		"-machine", "memory-backend=ram0",
		"-object", "memory-backend-memfd,id=spare,size=64M", NULL,
	};
	char out[OUT_LEN];
	struct qemu q;

	ASSERT_EQ(0, qemu_start(&q, "ambiguous", extra));
	ASSERT_TRUE(ready(&q));
	EXPECT_EQ(1, run_check(q.pid, q.qmp, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "cannot tell which"));
	qemu_stop(&q);
}

TEST(no_qemu_at_the_socket)
{
	char out[OUT_LEN], sock[160];

	snprintf(sock, sizeof(sock), "%s/lt-nobody.qmp", tmpdir());
	unlink(sock);
	EXPECT_EQ(1, run_check(getpid(), sock, out, sizeof(out)));
}

TEST_HARNESS_MAIN
