// SPDX-License-Identifier: GPL-2.0
/*
 * Who sees what: every command but STATUS_GET, and the events group, needs
 * CAP_NET_ADMIN, and a VM is seen only from the network namespace it was
 * attached from. The checks run in forked children: one drops to nobody,
 * one (still root) moves to a network namespace of its own. Each reports
 * every failed check on stdout as a TAP comment and exits non-zero.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/netlink.h>
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>

#include "kselftest_harness.h"
#include "engine_test.h"
#include "ltnl.h"
#include "tvm.h"

#define MEM	(2u << 20)

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* In a child: count a failed check and say which. */
#define CHILD_CHECK(_bad, _cond, _what) do {				\
	if (!(_cond)) {							\
		printf("# %s: failed: %s\n", __func__, _what);		\
		fflush(stdout);						\
		(_bad)++;						\
	}								\
} while (0)

/* -EPERM, and the module said why. */
static int refused(struct ltnl *nl, int ret)
{
	return ret == -EPERM && nl->err[0];
}

struct status_reply {
	int has_vm_count;
	uint32_t vm_count;
	int has_version;
	int err;
	int done;
};

static int status_valid(struct nl_msg *msg, void *arg)
{
	struct status_reply *st = arg;
	struct nlattr *tb[LOOSETRACE_A_MAX + 1];

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, LOOSETRACE_A_MAX, NULL))
		return NL_SKIP;
	st->has_version = !!tb[LOOSETRACE_A_MODULE_VERSION];
	st->has_vm_count = !!tb[LOOSETRACE_A_VM_COUNT];
	if (st->has_vm_count)
		st->vm_count = nla_get_u32(tb[LOOSETRACE_A_VM_COUNT]);
	return NL_OK;
}

static int status_err(struct sockaddr_nl *sa, struct nlmsgerr *e, void *arg)
{
	struct status_reply *st = arg;

	st->err = e->error;
	st->done = 1;
	return NL_STOP;
}

static int status_ack(struct nl_msg *msg, void *arg)
{
	((struct status_reply *)arg)->done = 1;
	return NL_STOP;
}

/* STATUS_GET on @nl's socket: 0 and *st, or a negative errno. */
static int status_get(struct ltnl *nl, struct status_reply *st)
{
	struct nl_msg *msg;
	struct nl_cb *cb;
	int ret;

	memset(st, 0, sizeof(*st));
	msg = nlmsg_alloc();
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!msg || !cb ||
	    !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, 0,
			 LOOSETRACE_CMD_STATUS_GET, LOOSETRACE_GENL_VERSION)) {
		ret = -ENOMEM;
		goto out;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, status_valid, st);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, status_ack, st);
	nl_cb_err(cb, NL_CB_CUSTOM, status_err, st);
	ret = nl_send_auto(nl->sk, msg) < 0 ? -EIO : 0;
	while (!ret && !st->done)
		if (nl_recvmsgs(nl->sk, cb) < 0 && !st->done)
			ret = -EIO;
	if (!ret)
		ret = st->err;
out:
	nlmsg_free(msg);
	if (cb)
		nl_cb_put(cb);
	return ret;
}

/* Joins "events" by hand, to see the kernel's errno. */
static int join_events(struct ltnl *nl)
{
	int grp = nl->events_grp;

	if (grp < 0)
		return -ENOENT;
	nl_socket_disable_seq_check(nl->sk);
	if (setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK,
		       NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)))
		return -errno;
	return 0;
}

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* A fresh VM attached through self->nl as self->id, traced loosely. */
FIXTURE(perm) {
	struct ltnl nl;
	struct tvm t;
	uint32_t id;
	bool ready;	/* false: skipped (no /dev/kvm) */
};

FIXTURE_SETUP(perm)
{
	if (engine_skip(_metadata, &self->nl))
		return;
	ASSERT_EQ(0, tvm_create(&self->t, MEM, 0));
	ASSERT_EQ(0, ltnl_attach(&self->nl, self->t.vm_fd, &self->id));
	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id,
				      LOOSETRACE_MODE_LOOSE, 0));
	self->ready = true;
}

FIXTURE_TEARDOWN(perm)
{
	if (!self->ready)
		return;
	ltnl_detach(&self->nl, self->id);
	tvm_destroy(&self->t);
	ltnl_close(&self->nl);
}

/* Nobody: each command but STATUS_GET is refused with a reason. */
static int unprivileged_child(uint32_t vm_id, int vm_fd)
{
	uint64_t stats[LOOSETRACE_STAT_MAX + 1];
	struct ltnl_vm_info vi;
	struct status_reply st;
	struct ltnl_harvest h;
	struct ltnl un;
	uint32_t id2;
	int bad = 0;

	/* Dropping to nobody drops CAP_NET_ADMIN. */
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return 100;
	if (ltnl_open(&un))
		return 101;

	CHILD_CHECK(bad, refused(&un, ltnl_vm_get(&un, vm_id, &vi)),
		    "VM_GET refused with a reason");
	CHILD_CHECK(bad, vi.pid == 0 && vi.nr_slots == 0,
		    "VM_GET told nothing");
	CHILD_CHECK(bad, refused(&un, ltnl_vm_count(&un)),
		    "VM_GET dump refused with a reason");
	CHILD_CHECK(bad, refused(&un, ltnl_epoch_get(&un, vm_id, NULL,
						     NULL, NULL)),
		    "EPOCH_GET refused with a reason");
	CHILD_CHECK(bad, refused(&un, ltnl_stats(&un, vm_id, stats)),
		    "STATS_GET refused with a reason");
	CHILD_CHECK(bad, refused(&un, ltnl_attach(&un, vm_fd, &id2)),
		    "ATTACH refused with a reason");
	CHILD_CHECK(bad, refused(&un, ltnl_trace_stop(&un, vm_id)),
		    "TRACE_STOP refused with a reason");
	CHILD_CHECK(bad, refused(&un, ltnl_trace_start(&un, vm_id, 0, 0)),
		    "TRACE_START refused with a reason");
	CHILD_CHECK(bad, refused(&un, ltnl_detach(&un, vm_id)),
		    "DETACH refused with a reason");
	/* genetlink refuses HARVEST itself, before the module's code runs. */
	CHILD_CHECK(bad, ltnl_harvest(&un, vm_id, 0, 0, &h) == -EPERM,
		    "HARVEST refused");
	CHILD_CHECK(bad, join_events(&un) == -EPERM,
		    "joining the events group refused");

	/* STATUS_GET stays open, without the count of VMs. */
	CHILD_CHECK(bad, status_get(&un, &st) == 0 && st.has_version,
		    "STATUS_GET answered");
	CHILD_CHECK(bad, !st.has_vm_count, "STATUS_GET told no VM count");
	ltnl_close(&un);
	return bad ? 1 : 0;
}

TEST_F(perm, unprivileged_caller_refused)
{
	struct ltnl_vm_info vi;
	pid_t pid;

	if (!self->ready)
		return;
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(unprivileged_child(self->id, self->t.vm_fd));
	EXPECT_EQ(0, wait_child(pid));
	/* Still attached and traced, untouched. */
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	EXPECT_EQ(LOOSETRACE_TRACE_ON, vi.trace_state);
}

/*
 * Root in a network namespace of its own: the VM is not there, and its
 * events do not arrive. @go: read once the parent's events were sent.
 */
static int other_netns_child(uint32_t vm_id, int ready_fd, int go_fd)
{
	uint64_t stats[LOOSETRACE_STAT_MAX + 1], started, done;
	struct pollfd pfd = { .events = POLLIN };
	struct ltnl_vm_info vi;
	struct status_reply st;
	struct ltnl_harvest h;
	struct ltnl o;
	uint32_t pending;
	int bad = 0;
	char c = 0;

	if (unshare(CLONE_NEWNET))
		return 100;
	if (ltnl_open(&o))
		return 101;

	CHILD_CHECK(bad, ltnl_vm_count(&o) == 0, "VM_GET dump is empty");
	CHILD_CHECK(bad, ltnl_vm_get(&o, vm_id, &vi) == -ENOENT,
		    "VM_GET: no such VM");
	CHILD_CHECK(bad, ltnl_epoch_get(&o, vm_id, &started, &done,
					&pending) == -ENOENT,
		    "EPOCH_GET: no such VM");
	CHILD_CHECK(bad, ltnl_stats(&o, vm_id, stats) == -ENOENT,
		    "STATS_GET: no such VM");
	CHILD_CHECK(bad, ltnl_harvest(&o, vm_id, 0, 0, &h) == -ENOENT,
		    "HARVEST: no such VM");
	CHILD_CHECK(bad, ltnl_trace_stop(&o, vm_id) == -ENOENT,
		    "TRACE_STOP: no such VM");
	CHILD_CHECK(bad, ltnl_detach(&o, vm_id) == -ENOENT,
		    "DETACH: no such VM");
	CHILD_CHECK(bad, status_get(&o, &st) == 0, "STATUS_GET answered");
	CHILD_CHECK(bad, st.has_vm_count && st.vm_count == 0,
		    "STATUS_GET counts no VM here");

	/* Root here may listen, but hears nothing of the parent's VM. */
	CHILD_CHECK(bad, join_events(&o) == 0, "joined the events group");
	if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1)
		return 102;
	/*
	 * The parent heard its events before writing: each was sent by
	 * then. Half a second more covers a delivery still under way.
	 */
	pfd.fd = nl_socket_get_fd(o.sk);
	CHILD_CHECK(bad, poll(&pfd, 1, 500) == 0,
		    "no event from another namespace's VM");
	ltnl_close(&o);
	return bad ? 1 : 0;
}

TEST_F(perm, other_netns_sees_nothing)
{
	int ready[2], go[2];
	struct status_reply st;
	struct ltnl_harvest h;
	struct ltnl ev;
	uint64_t val;
	pid_t pid;
	char c = 0;

	if (!self->ready)
		return;
	ASSERT_EQ(0, ltnl_open(&ev));
	ASSERT_EQ(0, join_events(&ev));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(other_netns_child(self->id, ready[1], go[0]));
	ASSERT_EQ(1, read(ready[0], &c, 1));

	/* Here the VM is counted, and its events arrive. */
	ASSERT_EQ(0, status_get(&self->nl, &st));
	EXPECT_TRUE(st.has_vm_count);
	EXPECT_LE(1, st.vm_count);
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	EXPECT_EQ(0, ltnl_event_wait(&ev, LOOSETRACE_CMD_EPOCH_DONE, self->id,
				     &val, 30000));
	ltnl_harvest_free(&h);
	ASSERT_EQ(0, ltnl_detach(&self->nl, self->id));
	EXPECT_EQ(0, ltnl_event_wait(&ev, LOOSETRACE_CMD_VM_DETACHED,
				     self->id, &val, 30000));
	EXPECT_EQ(LOOSETRACE_DETACH_REQUESTED, val);
	ASSERT_EQ(1, write(go[1], &c, 1));
	EXPECT_EQ(0, wait_child(pid));
	ltnl_close(&ev);
}

TEST_HARNESS_MAIN
