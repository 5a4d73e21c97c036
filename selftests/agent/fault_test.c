// SPDX-License-Identifier: GPL-2.0
/*
 * Faults around a migration, each a test: the peer connection drops
 * mid-migration, garbage and corrupted frames reach the destination, the
 * destination's memory size differs, the VMM dies mid-migration, and
 * agentctl runs without privileges.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>

#include "kselftest_harness.h"
#include "migrate.h"
#include "wire.h"

/*
 * Larger than the e2e guest, and busy (WL_BUSY): the migration must
 * still run when the fault hits.
 */
#define FAULT_MIB	16

FIXTURE(fault) {
	struct bed b;
};

FIXTURE_SETUP(fault)
{
	if (!have_kvm())
		SKIP(return, "no /dev/kvm");
	ASSERT_EQ(0, bed_setup(&self->b));
}

FIXTURE_TEARDOWN(fault)
{
	bed_teardown(&self->b);
}

/* A migration in a child process; the result comes back through a pipe. */
struct bg {
	pid_t pid;
	int fd;
};

/* @extra: one more agentctl migrate option, or NULL. */
static void bg_migrate(struct bed *b, struct bg *bg, const char *extra)
{
	struct mig_result r;
	int p[2];

	if (pipe(p))
		abort();
	bg->pid = fork();
	if (!bg->pid) {
		close(p[0]);
		migrate(b, "loose", &r, extra, NULL);
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

static int log_has(const char *path, const char *what)
{
	char line[512];
	int found = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = !!strstr(line, what);
	fclose(f);
	return found;
}

/* Whether the file holds nothing but zero bytes (an unwritten guest). */
static int file_all_zero(const char *path)
{
	static const char zero[65536];
	static char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (memcmp(buf, zero, n)) {
			close(fd);
			return 0;
		}
	close(fd);
	return n == 0;
}

/*
 * Waits until pages flow: the source agent reports the VM as being
 * migrated and the destination has written guest memory, so the
 * handshake, the layout check and the trace start are behind. A fault
 * from then on hits the pre-copy, which lasts seconds with WL_BUSY.
 */
static int wait_migrating(struct bed *b)
{
	const char *const argv[] = { "agentctl", "-j", "-s", b->src.agent_sock,
				     "status", NULL };
	char out[OUT_LEN];
	int i;

	for (i = 0; i < 1200; i++) {
		run_in(-1, out, sizeof(out), NULL, 0, argv);
		if (strstr(out, "\"state\":\"migrating\"") &&
		    !file_all_zero(b->dst.mem))
			return 0;
		usleep(50000);
	}
	return -ETIMEDOUT;
}

/*
 * The busy guest (its pre-copy lasts seconds) migrating in the
 * background, pages flowing: where each fault below strikes.
 */
static void busy_migration_with(struct __test_metadata *_metadata,
				struct bed *b, struct bg *bg, const char *extra)
{
	ASSERT_EQ(0, bed_start(b, FAULT_MIB, FAULT_MIB, WL_BUSY));
	bg_migrate(b, bg, extra);
	ASSERT_EQ(0, wait_migrating(b));
}

static void busy_migration(struct __test_metadata *_metadata, struct bed *b,
			   struct bg *bg)
{
	busy_migration_with(_metadata, b, bg, NULL);
}

static int running_and_writing(const char *sock)
{
	char reply[4096];

	if (vmm_cmd(sock, "status", reply, sizeof(reply)) ||
	    !strstr(reply, "state=running"))
		return 0;
	return vmm_wait_more_writes(sock, 100, 20000) == 0;
}

static int nothing_attached(struct bed *b)
{
	const char *const argv[] = { "agentctl", "-j", "-s", b->src.agent_sock,
				     "status", NULL };
	char out[OUT_LEN];

	if (run_in(-1, out, sizeof(out), NULL, 0, argv))
		return 0;
	printf("# status after the abort: %s", out);
	return !strstr(out, "migrating") && strstr(out, "\"attached_vms\":0");
}

static int agent_alive(pid_t pid)
{
	return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

TEST_F_TIMEOUT(fault, peer_drop_then_retry, 180)
{
	struct bed *b = &self->b;
	struct mig_result r;
	struct bg bg;
	char reply[4096];

	busy_migration(_metadata, b, &bg);
	/* the destination host goes away mid-stream */
	side_kill(&b->dst.agent, SIGKILL);
	ASSERT_EQ(0, bg_wait(&bg, &r));
	report("dropped", &r);
	ASSERT_EQ(1, r.rc);
	ASSERT_NE(NULL, strstr(r.err, "destination"));
	/* the source VM runs on, untouched, and is no longer traced */
	ASSERT_TRUE(running_and_writing(b->src.vmm_sock));
	/* the module holds no attachment of the aborted migration */
	ASSERT_TRUE(nothing_attached(b));
	/* a retry to a restarted destination agent succeeds */
	ASSERT_EQ(0, vmm_cmd(b->src.vmm_sock, "mode all " WL_CONVERGING, reply,
			     sizeof(reply)));
	ASSERT_EQ(0, side_agent(&b->dst, 1, NULL));
	migrate(b, "loose", &r, NULL);
	report("retry", &r);
	ASSERT_EQ(0, r.rc);
	ASSERT_TRUE(json_has(r.out, "memory_identical", "true"));
	ASSERT_EQ(0, vmm_cmd(b->dst.vmm_sock, "verify", reply, sizeof(reply)));
	printf("# retry: destination verification: %s\n", reply);
	ASSERT_NE(NULL, strstr(reply, "verdict=pass"));
}

/* A TCP connection to the destination agent from the source namespace. */
static int dial(struct bed *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(atoi(PEER_PORT)) };
	int fd;

	inet_pton(AF_INET, DST_IP, &sa.sin_addr);
	setns(b->src.netns, CLONE_NEWNET);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setns(b->init_ns, CLONE_NEWNET);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Sends @len raw bytes; the agent must answer ERROR or close. */
static int rejected(struct bed *b, const void *bytes, size_t len,
		    char *reason, size_t rlen)
{
	struct wire_conn c;
	struct wire_error e;
	struct wire_hdr h;
	int fd, err;

	fd = dial(b);
	if (fd < 0)
		return 0;
	if (write(fd, bytes, len) != (ssize_t)len) {
		close(fd);
		return 0;
	}
	wire_conn_init(&c, fd, 10000);
	err = wire_recv(&c, &h);
	snprintf(reason, rlen, "closed");
	if (!err && h.type == WIRE_ERROR && !wire_get_error(c.buf, h.len, &e))
		snprintf(reason, rlen, "%s", e.reason);
	wire_conn_free(&c);
	close(fd);
	return !err ? h.type == WIRE_ERROR : err == -ECONNRESET;
}

TEST_F_TIMEOUT(fault, garbage_and_corrupted_frames, 120)
{
	struct wire_hello hello = { 1, 1, WIRE_CAP_ZERO_PAGES, "fuzzer" };
	uint8_t junk[4096], frame[256];
	struct bed *b = &self->b;
	struct mig_result r;
	char why[300];
	uint32_t n;
	size_t i;

	ASSERT_EQ(0, bed_start(b, TEST_MIB, TEST_MIB, WL_CONVERGING));
	srand(7);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = rand();
	ASSERT_TRUE(rejected(b, junk, sizeof(junk), why, sizeof(why)));
	printf("# garbage: %s\n", why);
	ASSERT_TRUE(agent_alive(b->dst.agent));

	/* a well-formed HELLO with one bit flipped: checksum mismatch */
	n = wire_put_hello(frame + WIRE_HDR_LEN, &hello);
	wire_build_header(frame, WIRE_HELLO, 0, 0, frame + WIRE_HDR_LEN, n);
	frame[WIRE_HDR_LEN + 20] ^= 4;
	ASSERT_TRUE(rejected(b, frame, WIRE_HDR_LEN + n, why, sizeof(why)));
	printf("# corrupted: %s\n", why);
	ASSERT_NE(NULL, strstr(why, "bad frame"));
	ASSERT_TRUE(agent_alive(b->dst.agent));

	/* a valid frame of the wrong kind first */
	wire_build_header(frame, WIRE_RESUME, 0, 0, frame + WIRE_HDR_LEN, 4);
	memset(frame + WIRE_HDR_LEN, 0, 4);
	wire_build_header(frame, WIRE_RESUME, 0, 0, frame + WIRE_HDR_LEN, 4);
	ASSERT_TRUE(rejected(b, frame, WIRE_HDR_LEN + 4, why, sizeof(why)));
	printf("# out of order: %s\n", why);
	ASSERT_NE(NULL, strstr(why, "unexpected"));
	ASSERT_TRUE(agent_alive(b->dst.agent));

	/* and the destination is still good for a real migration */
	migrate(b, "loose", &r, NULL);
	report("after garbage", &r);
	ASSERT_EQ(0, r.rc);
	ASSERT_TRUE(json_has(r.out, "memory_identical", "true"));
}

TEST_F_TIMEOUT(fault, dest_memory_size_differs, 120)
{
	struct bed *b = &self->b;
	struct mig_result r;

	ASSERT_EQ(0, bed_start(b, TEST_MIB, TEST_MIB / 2, WL_CONVERGING));
	ASSERT_TRUE(file_all_zero(b->dst.mem));
	migrate(b, "loose", &r, NULL);
	report("size differs", &r);
	ASSERT_EQ(1, r.rc);
	ASSERT_NE(NULL, strstr(r.err, "memory size differs"));
	/* refused before any write: the destination memory is untouched */
	ASSERT_TRUE(file_all_zero(b->dst.mem));
	ASSERT_TRUE(running_and_writing(b->src.vmm_sock));
	ASSERT_TRUE(agent_alive(b->dst.agent));
}

/* Whether @path holds @text, waiting up to @timeout_ms for it. */
static int wait_log(const char *path, const char *text, int timeout_ms)
{
	int i;

	for (i = 0; i < timeout_ms / 50; i++) {
		if (log_has(path, text))
			return 0;
		usleep(50000);
	}
	return -ETIMEDOUT;
}

/*
 * The destination is lost after RESUME, before DONE: it may be running
 * the guest, so the source must not run its own copy too.
 */
TEST_F_TIMEOUT(fault, destination_lost_after_resume, 120)
{
	struct bed *b = &self->b;
	struct mig_result r;
	char reply[4096];
	struct bg bg;

	/* pages arrive: the destination checked the layout with its VMM */
	busy_migration(_metadata, b, &bg);
	/* its VMM answers nothing more: the restore at RESUME hangs */
	ASSERT_EQ(0, kill(b->dst.vmm, SIGSTOP));
	/* a guest that converges, so that pre-copy reaches the switchover */
	ASSERT_EQ(0, vmm_cmd(b->src.vmm_sock, "mode all " WL_CONVERGING, reply,
			     sizeof(reply)));
	ASSERT_EQ(0, wait_log(b->dst.log, "RESUME: restoring", 60000));
	side_kill(&b->dst.agent, SIGKILL);
	ASSERT_EQ(0, bg_wait(&bg, &r));
	kill(b->dst.vmm, SIGCONT);
	report("lost after RESUME", &r);
	ASSERT_EQ(1, r.rc);
	ASSERT_NE(NULL, strstr(r.err, "left paused"));
	ASSERT_TRUE(json_has(r.out, "source_left_paused", "true"));
	ASSERT_EQ(0, vmm_cmd(b->src.vmm_sock, "status", reply, sizeof(reply)));
	ASSERT_NE(NULL, strstr(reply, "state=paused")) TH_LOG("%s", reply);
	/* paused, but no longer traced nor attached */
	ASSERT_TRUE(nothing_attached(b));
}

/* The operator stops the source agent (systemctl stop) mid-migration. */
TEST_F_TIMEOUT(fault, source_agent_stopped_mid_migration, 180)
{
	struct bed *b = &self->b;
	struct mig_result r;
	char reply[4096];
	struct bg bg;
	int status, i;

	busy_migration(_metadata, b, &bg);
	ASSERT_EQ(0, kill(b->src.agent, SIGTERM));
	/* agentctl still gets the migration's end and its reason */
	ASSERT_EQ(0, bg_wait(&bg, &r));
	report("agent stopped", &r);
	ASSERT_EQ(1, r.rc);
	ASSERT_NE(NULL, strstr(r.err, "the agent is stopping"));
	ASSERT_EQ(b->src.agent, waitpid(b->src.agent, &status, 0));
	b->src.agent = 0;
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* the VM runs on, untraced: a new agent finds nothing attached */
	ASSERT_TRUE(running_and_writing(b->src.vmm_sock));
	ASSERT_EQ(0, side_agent(&b->src, 0, NULL));
	ASSERT_TRUE(nothing_attached(b));
	/*
	 * And the destination took nothing for good: a retry works, once it
	 * has drained what the aborted stream had in flight ("busy" until),
	 * of a guest that converges (the busy one cannot).
	 */
	ASSERT_EQ(0, vmm_cmd(b->src.vmm_sock, "mode all " WL_CONVERGING, reply,
			     sizeof(reply)));
	for (i = 0; i < 2 * PEER_TIMEOUT_MS / 1000; i++) {
		migrate(b, "loose", &r, NULL);
		if (!r.rc || !strstr(r.err, "busy"))
			break;
		sleep(1);
	}
	report("retry", &r);
	ASSERT_EQ(0, r.rc);
	ASSERT_TRUE(json_has(r.out, "memory_identical", "true"));
}

TEST_F_TIMEOUT(fault, vmm_dies_mid_migration, 120)
{
	struct bed *b = &self->b;
	struct mig_result r;
	char reply[4096];
	struct bg bg;

	busy_migration(_metadata, b, &bg);
	side_kill(&b->src.vmm, SIGKILL);
	ASSERT_EQ(0, bg_wait(&bg, &r));
	report("VMM killed", &r);
	ASSERT_EQ(1, r.rc);
	ASSERT_TRUE(strstr(r.err, "exited") || strstr(r.err, "detached"));
	/* both agents live on; the destination guest was never started */
	ASSERT_TRUE(agent_alive(b->src.agent));
	ASSERT_TRUE(agent_alive(b->dst.agent));
	ASSERT_EQ(0, vmm_cmd(b->dst.vmm_sock, "status", reply, sizeof(reply)));
	ASSERT_EQ(NULL, strstr(reply, "state=running"));
	sleep(1);
	dump_log(b->dst.log);
}

/* agentctl status as user and group 65534 (nobody); its exit code. */
static int agentctl_as_nobody(const char *sock, char *err, size_t len)
{
	int pe[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(pe))
		return -1;
	pid = fork();
	if (!pid) {
		dup2(pe[1], 2);
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(126);
		execlp("agentctl", "agentctl", "-s", sock, "status", NULL);
		_exit(127);
	}
	close(pe[1]);
	n = read(pe[0], err, len - 1);
	err[n > 0 ? n : 0] = '\0';
	close(pe[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(agentctl_unprivileged)
{
	struct side s = { .netns = -1 };
	char err[ERR_LEN];
	int rc;

	/*
	 * The test VM's initramfs root comes from mktemp -d (mode 0700):
	 * open it up so that another user can reach /bin/agentctl at all.
	 */
	chmod("/", 0755);
	s.netns = open("/proc/self/ns/net", O_RDONLY);
	strcpy(s.agent_sock, "/tmp/lt-priv.sock");
	strcpy(s.log, "/tmp/lt-priv.log");
	ASSERT_EQ(0, side_agent(&s, 0, "-p", "7451", NULL));
	/* the socket is root's only */
	rc = agentctl_as_nobody(s.agent_sock, err, sizeof(err));
	printf("# socket mode: rc=%d %s", rc, err);
	ASSERT_EQ(4, rc);
	ASSERT_NE(NULL, strstr(err, "permission denied"));
	/* even through an open socket, the agent refuses a non-root peer */
	ASSERT_EQ(0, chmod(s.agent_sock, 0666));
	rc = agentctl_as_nobody(s.agent_sock, err, sizeof(err));
	printf("# peer check: rc=%d %s", rc, err);
	ASSERT_EQ(4, rc);
	ASSERT_NE(NULL, strstr(err, "only root"));
	side_kill(&s.agent, SIGTERM);
	close(s.netns);
}

/*
 * The VMM re-registers guest memory mid-migration (as QEMU does on a PCI
 * BAR or PAM change): the slot loses its dirty log, the module fails the
 * next harvest with ESTALE, and the agent restarts the trace with every
 * page dirty, so the destination still gets every page.
 */
TEST_F_TIMEOUT(fault, memslot_remapped_mid_migration, 180)
{
	struct bed *b = &self->b;
	struct mig_result r;
	struct bg bg;
	char reply[4096];

	busy_migration(_metadata, b, &bg);
	ASSERT_EQ(0, vmm_cmd(b->src.vmm_sock, "remap", reply, sizeof(reply)));
	ASSERT_NE(NULL, strstr(reply, "ok remapped")) TH_LOG("%s", reply);
	ASSERT_EQ(0, vmm_cmd(b->src.vmm_sock, "mode all " WL_CONVERGING, reply,
			     sizeof(reply)));
	ASSERT_EQ(0, bg_wait(&bg, &r));
	report("remapped", &r);
	if (r.rc)
		dump_log(b->src.log);
	ASSERT_EQ(0, r.rc);
	ASSERT_LE(1, json_u64(r.out, "retraces"));
	ASSERT_TRUE(json_has(r.out, "memory_identical", "true"));
	ASSERT_EQ(0, wait_log(b->src.log, "trace restarted", 1000));
	ASSERT_EQ(0, vmm_cmd(b->dst.vmm_sock, "verify", reply, sizeof(reply)));
	printf("# remapped: destination verification: %s\n", reply);
	ASSERT_NE(NULL, strstr(reply, "verdict=pass"));
}

/*
 * The VMM writes guest memory itself (device DMA, vhost, the balloon do):
 * KVM's dirty log never sees it. Page 0 was sent in round 1 already; the
 * reconcile pass at the pause finds its hash changed and sends it again.
 */
TEST_F_TIMEOUT(fault, host_write_caught_by_reconcile, 180)
{
	struct bed *b = &self->b;
	struct mig_result r;
	struct bg bg;
	char reply[4096];

	busy_migration_with(_metadata, b, &bg, NULL);
	ASSERT_EQ(0, vmm_cmd(b->src.vmm_sock, "poke 0", reply, sizeof(reply)));
	ASSERT_NE(NULL, strstr(reply, "ok poked")) TH_LOG("%s", reply);
	ASSERT_EQ(0, vmm_cmd(b->src.vmm_sock, "mode all " WL_CONVERGING, reply,
			     sizeof(reply)));
	ASSERT_EQ(0, bg_wait(&bg, &r));
	report("host write", &r);
	if (r.rc)
		dump_log(b->src.log);
	ASSERT_EQ(0, r.rc);
	ASSERT_TRUE(json_has(r.out, "memory_identical", "true"));
	ASSERT_TRUE(json_has(r.out, "enabled", "true"));
	ASSERT_LE(1, json_u64(r.out, "pages_resent"));
	ASSERT_EQ(0, vmm_cmd(b->dst.vmm_sock, "verify", reply, sizeof(reply)));
	ASSERT_NE(NULL, strstr(reply, "verdict=pass"));
}

/*
 * The same write with the pass off (a test knob): the destination's
 * memory differs, it refuses to run the guest, and the source runs on.
 * This is the gap the pass closes.
 */
TEST_F_TIMEOUT(fault, host_write_without_reconcile_is_refused, 180)
{
	struct bed *b = &self->b;
	struct mig_result r;
	struct bg bg;
	char reply[4096];

	busy_migration_with(_metadata, b, &bg, "--no-reconcile");
	ASSERT_EQ(0, vmm_cmd(b->src.vmm_sock, "poke 0", reply, sizeof(reply)));
	ASSERT_EQ(0, vmm_cmd(b->src.vmm_sock, "mode all " WL_CONVERGING, reply,
			     sizeof(reply)));
	ASSERT_EQ(0, bg_wait(&bg, &r));
	report("host write, no reconcile", &r);
	ASSERT_EQ(1, r.rc);
	ASSERT_NE(NULL, strstr(r.err, "memory differs")) TH_LOG("%s", r.err);
	ASSERT_TRUE(json_has(r.out, "enabled", "false"));
	ASSERT_TRUE(running_and_writing(b->src.vmm_sock));
}

TEST_HARNESS_MAIN
