// SPDX-License-Identifier: GPL-2.0
/*
 * The engine's answers to bad input and to faults: each gets a clear
 * error (an errno and an extended-ack message) or a clean teardown, and
 * the VM keeps working. The VM init checks the kernel log after this
 * program (no warning, no oops).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/kvm.h>

#include "kselftest_harness.h"
#include "engine_test.h"
#include "ltnl.h"
#include "tvm.h"

#define MEM	(2u << 20)

/* The message of the last error must say something. */
static void expect_extack(struct __test_metadata *_metadata,
			  struct ltnl *nl)
{
	EXPECT_NE(0, nl->err[0]) TH_LOG("no extended-ack message");
}

#define ASSERT_EXTACK(_nl)	expect_extack(_metadata, _nl)

TEST(attach_non_kvm_fd)
{
	struct ltnl nl;
	uint32_t id;
	int fd;

	if (engine_skip(_metadata, &nl))
		return;
	fd = open("/dev/null", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, ltnl_attach(&nl, fd, &id));
	ASSERT_EXTACK(&nl);
	TH_LOG("/dev/null: %s", nl.err);
	close(fd);

	/* /dev/kvm itself is not a VM either. */
	fd = open("/dev/kvm", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, ltnl_attach(&nl, fd, &id));
	ASSERT_EXTACK(&nl);
	close(fd);
	ltnl_close(&nl);
}

TEST(attach_vcpu_fd)
{
	struct ltnl nl;
	struct tvm t;
	uint32_t id;

	if (engine_skip(_metadata, &nl))
		return;
	ASSERT_EQ(0, tvm_create(&t, MEM, 1));
	EXPECT_EQ(-EINVAL, ltnl_attach(&nl, t.vcpu_fd[0], &id));
	ASSERT_EXTACK(&nl);
	tvm_destroy(&t);
	ltnl_close(&nl);
}

TEST(attach_closed_fd)
{
	struct ltnl nl;
	struct tvm t;
	uint32_t id;
	int fd;

	if (engine_skip(_metadata, &nl))
		return;
	ASSERT_EQ(0, tvm_create(&t, MEM, 0));
	fd = t.vm_fd;
	tvm_destroy(&t);
	EXPECT_EQ(-EBADF, ltnl_attach(&nl, fd, &id));
	ASSERT_EXTACK(&nl);
	EXPECT_EQ(-EBADF, ltnl_attach(&nl, 100000, &id));
	EXPECT_EQ(0, ltnl_vm_count(&nl));
	ltnl_close(&nl);
}

/* A fresh VM of MEM bytes, attached through self->nl as self->id. */
FIXTURE(attached) {
	struct ltnl nl;
	struct tvm t;
	uint32_t id;
	bool ready;	/* false: skipped (no /dev/kvm) */
};

FIXTURE_SETUP(attached)
{
	if (engine_skip(_metadata, &self->nl))
		return;
	ASSERT_EQ(0, tvm_create(&self->t, MEM, 0));
	ASSERT_EQ(0, ltnl_attach(&self->nl, self->t.vm_fd, &self->id));
	self->ready = true;
}

FIXTURE_TEARDOWN(attached)
{
	if (!self->ready)
		return;
	tvm_destroy(&self->t);
	ltnl_close(&self->nl);
}

TEST_F(attached, double_attach)
{
	uint32_t id2;
	int dup_fd;

	if (!self->ready)
		return;
	EXPECT_NE(0, self->id);
	EXPECT_EQ(-EEXIST, ltnl_attach(&self->nl, self->t.vm_fd, &id2));
	ASSERT_EXTACK(&self->nl);
	/* Another fd of the same VM is the same VM. */
	dup_fd = dup(self->t.vm_fd);
	EXPECT_EQ(-EEXIST, ltnl_attach(&self->nl, dup_fd, &id2));
	close(dup_fd);
	EXPECT_EQ(1, ltnl_vm_count(&self->nl));
	EXPECT_EQ(0, ltnl_detach(&self->nl, self->id));
	EXPECT_EQ(-ENOENT, ltnl_detach(&self->nl, self->id));
	ASSERT_EXTACK(&self->nl);
	/* Detached, it can be attached again. */
	ASSERT_EQ(0, ltnl_attach(&self->nl, self->t.vm_fd, &id2));
	EXPECT_NE(self->id, id2);
	EXPECT_EQ(0, ltnl_detach(&self->nl, id2));
}

TEST_F(attached, unprivileged_caller)
{
	pid_t pid;
	int status;

	if (!self->ready)
		return;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct ltnl un;
		uint32_t id2;
		int bad = 0;

		/* Dropping to nobody drops CAP_NET_ADMIN. */
		if (setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(10);
		if (ltnl_open(&un))
			_exit(11);
		bad |= ltnl_attach(&un, self->t.vm_fd, &id2) != -EPERM;
		bad |= ltnl_trace_start(&un, self->id, 0, 0) != -EPERM;
		bad |= ltnl_trace_stop(&un, self->id) != -EPERM;
		bad |= ltnl_detach(&un, self->id) != -EPERM;
		bad |= ltnl_harvest(&un, self->id, 0, 0,
				    &(struct ltnl_harvest){ 0 }) != -EPERM;
		/* Reading too (perm_test checks each command's reason). */
		bad |= ltnl_epoch_get(&un, self->id, NULL, NULL, NULL) != -EPERM;
		_exit(bad ? 12 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* Still attached, untouched. */
	EXPECT_EQ(0, ltnl_detach(&self->nl, self->id));
}

TEST_F(attached, harvest_without_trace)
{
	struct ltnl_harvest h;

	if (!self->ready)
		return;
	EXPECT_EQ(-ENODATA, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	ASSERT_EXTACK(&self->nl);
	EXPECT_EQ(-ENODATA, ltnl_trace_stop(&self->nl, self->id));
	ASSERT_EXTACK(&self->nl);
	EXPECT_EQ(0, ltnl_trace_start(&self->nl, self->id,
				      LOOSETRACE_MODE_LOOSE, 0));
	EXPECT_EQ(-EALREADY, ltnl_trace_start(&self->nl, self->id,
					      LOOSETRACE_MODE_LOOSE, 0));
	ASSERT_EXTACK(&self->nl);
	EXPECT_EQ(0, ltnl_trace_stop(&self->nl, self->id));
	EXPECT_EQ(-ENODATA, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	/* A VM id nobody attached. */
	EXPECT_EQ(-ENOENT, ltnl_harvest(&self->nl, 0x7fffffff, 0, 0, &h));
	ASSERT_EXTACK(&self->nl);
	EXPECT_EQ(0, ltnl_detach(&self->nl, self->id));
	EXPECT_EQ(-ENOENT, ltnl_trace_start(&self->nl, self->id, 0, 0));
	ASSERT_EXTACK(&self->nl);
}

TEST_F(attached, malformed_attributes)
{
	if (!self->ready)
		return;

	/*
	 * One request each, with at most two attributes; VM_ID_HERE
	 * stands for the id of the VM attached above, FD_HERE for its fd.
	 */
#define VM_ID_HERE	(1ULL << 40)
#define FD_HERE		(1ULL << 41)
	static const struct {
		const char *what;
		uint8_t cmd;
		struct ltnl_attr a[2];
		int n, err;
	} cases[] = {
		{ "ATTACH without its fd", LOOSETRACE_CMD_ATTACH, {}, 0,
		  -EINVAL },
		{ "an fd of the wrong size", LOOSETRACE_CMD_ATTACH,
		  { { LOOSETRACE_A_VM_FD, LTNL_U8, FD_HERE } }, 1, -EINVAL },
		{ "a negative fd", LOOSETRACE_CMD_ATTACH,
		  { { LOOSETRACE_A_VM_FD, LTNL_S32, (uint32_t)-5 } }, 1,
		  -ERANGE },
		{ "VM id 0, never valid", LOOSETRACE_CMD_DETACH,
		  { { LOOSETRACE_A_VM_ID, LTNL_U32, 0 } }, 1, -ERANGE },
		{ "no VM id at all", LOOSETRACE_CMD_TRACE_START, {}, 0,
		  -EINVAL },
		{ "an unknown mode", LOOSETRACE_CMD_TRACE_START,
		  { { LOOSETRACE_A_VM_ID, LTNL_U32, VM_ID_HERE },
		    { LOOSETRACE_A_MODE, LTNL_U32, 7 } }, 2, -ERANGE },
		{ "a deadline above the maximum", LOOSETRACE_CMD_TRACE_START,
		  { { LOOSETRACE_A_VM_ID, LTNL_U32, VM_ID_HERE },
		    { LOOSETRACE_A_DEADLINE_US, LTNL_U32, 100000000 } }, 2,
		  -ERANGE },
		{ "a chunk smaller than one bitmap word",
		  LOOSETRACE_CMD_TRACE_START,
		  { { LOOSETRACE_A_VM_ID, LTNL_U32, VM_ID_HERE },
		    { LOOSETRACE_A_CHUNK_PAGES, LTNL_U32, 32 } }, 2, -ERANGE },
		{ "a chunk above the maximum", LOOSETRACE_CMD_TRACE_START,
		  { { LOOSETRACE_A_VM_ID, LTNL_U32, VM_ID_HERE },
		    { LOOSETRACE_A_CHUNK_PAGES, LTNL_U32,
		      LOOSETRACE_MAX_CHUNK_PAGES + 64 } }, 2, -ERANGE },
		{ "a chunk of partial words", LOOSETRACE_CMD_TRACE_START,
		  { { LOOSETRACE_A_VM_ID, LTNL_U32, VM_ID_HERE },
		    { LOOSETRACE_A_CHUNK_PAGES, LTNL_U32, 100 } }, 2, -EINVAL },
		{ "an attribute the command does not know",
		  LOOSETRACE_CMD_DETACH,
		  { { LOOSETRACE_A_VM_ID, LTNL_U32, VM_ID_HERE },
		    { LOOSETRACE_A_MAX + 5, LTNL_U32, 1 } }, 2, -EINVAL },
	};
	struct ltnl_attr a[2];
	int j, ret;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		for (j = 0; j < cases[i].n; j++) {
			a[j] = cases[i].a[j];
			if (a[j].val == VM_ID_HERE)
				a[j].val = self->id;
			else if (a[j].val == FD_HERE)
				a[j].val = self->t.vm_fd;
		}
		ret = ltnl_raw(&self->nl, cases[i].cmd, a, cases[i].n);
		EXPECT_EQ(cases[i].err, ret) TH_LOG("%s", cases[i].what);
		EXPECT_NE(0, self->nl.err[0])
			TH_LOG("%s: no extended-ack message", cases[i].what);
	}
	/* A wrapping gfn range. */
	EXPECT_EQ(0, ltnl_trace_start(&self->nl, self->id,
				      LOOSETRACE_MODE_LOOSE, 0));
	EXPECT_EQ(-EINVAL, ltnl_harvest(&self->nl, self->id, ~0ULL - 5, 100,
					&(struct ltnl_harvest){ 0 }));
	ASSERT_EXTACK(&self->nl);
	/* An unknown command. */
	EXPECT_EQ(-EOPNOTSUPP,
		  ltnl_raw(&self->nl, LOOSETRACE_CMD_MAX + 3, NULL, 0));

	/* Nothing above changed the attachment. */
	EXPECT_EQ(1, ltnl_vm_count(&self->nl));
	EXPECT_EQ(0, ltnl_detach(&self->nl, self->id));
}

/* A traced slot the VMM deleted: HARVEST fails, never reports it clean. */
TEST_F(attached, slot_deleted_mid_trace)
{
	struct kvm_userspace_memory_region del = { .slot = 0 };
	struct ltnl_harvest h;

	if (!self->ready)
		return;
	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id,
				      LOOSETRACE_MODE_LOOSE, 0));
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	ASSERT_EQ(0, ioctl(self->t.vm_fd, KVM_SET_USER_MEMORY_REGION, &del));
	EXPECT_EQ(-ESTALE, ltnl_harvest(&self->nl, self->id, 0, 0, &h));
	ASSERT_EXTACK(&self->nl);
	TH_LOG("%s", self->nl.err);
	EXPECT_EQ(0, ltnl_trace_stop(&self->nl, self->id));
	EXPECT_EQ(0, ltnl_detach(&self->nl, self->id));
}

TEST(slot_logged_by_vmm)
{
	struct ltnl nl;
	struct tvm t;
	uint32_t id;

	if (engine_skip(_metadata, &nl))
		return;
	ASSERT_EQ(0, tvm_create(&t, 0, 0));
	ASSERT_EQ(0, tvm_add_slot(&t, 0, 0, MEM, KVM_MEM_LOG_DIRTY_PAGES));
	ASSERT_EQ(0, ltnl_attach(&nl, t.vm_fd, &id));
	EXPECT_EQ(-EBUSY, ltnl_trace_start(&nl, id, 0, 0));
	ASSERT_EXTACK(&nl);
	EXPECT_EQ(0, ltnl_detach(&nl, id));
	tvm_destroy(&t);
	ltnl_close(&nl);
}

TEST(vmm_exits_mid_trace)
{
	struct ltnl nl, ev;
	int pipefd[2], fd, vm_fd;
	uint64_t reason;
	uint32_t id;
	pid_t pid;
	char c;

	if (engine_skip(_metadata, &nl))
		return;
	ASSERT_EQ(0, ltnl_open(&ev));
	ASSERT_EQ(0, ltnl_events_join(&ev));
	ASSERT_EQ(0, pipe(pipefd));

	/* The VMM: creates a VM with vCPUs, tells its fd, waits, exits. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct tvm t;

		if (tvm_create(&t, MEM, 2))
			_exit(1);
		if (write(pipefd[1], &t.vm_fd, sizeof(t.vm_fd)) != sizeof(t.vm_fd))
			_exit(2);
		pause();
		_exit(0);
	}
	ASSERT_EQ(sizeof(vm_fd), read(pipefd[0], &vm_fd, sizeof(vm_fd)));
	fd = tvm_grab_fd(pid, vm_fd);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ltnl_attach(&nl, fd, &id));
	/* The agent's copy of the fd is closed, as it should be. */
	close(fd);
	ASSERT_EQ(0, ltnl_trace_start(&nl, id, LOOSETRACE_MODE_LOOSE, 0));

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ASSERT_EQ(0, ltnl_event_wait(&ev, LOOSETRACE_CMD_VM_DETACHED, id,
				     &reason, 30000));
	EXPECT_EQ(LOOSETRACE_DETACH_VM_EXITED, reason);
	EXPECT_EQ(-ENOENT, ltnl_trace_stop(&nl, id));
	EXPECT_EQ(0, ltnl_vm_count(&nl));
	(void)c;
	ltnl_close(&ev);
	ltnl_close(&nl);
}

TEST(socket_closes_mid_trace)
{
	struct ltnl nl, agent, ev;
	struct ltnl_vm_info vi;
	uint64_t reason;
	struct tvm t;
	uint32_t id;

	if (engine_skip(_metadata, &nl))
		return;
	ASSERT_EQ(0, ltnl_open(&agent));
	ASSERT_EQ(0, ltnl_open(&ev));
	ASSERT_EQ(0, ltnl_events_join(&ev));
	ASSERT_EQ(0, tvm_create(&t, MEM, 2));

	ASSERT_EQ(0, ltnl_attach(&agent, t.vm_fd, &id));
	ASSERT_EQ(0, ltnl_trace_start(&agent, id, LOOSETRACE_MODE_LOOSE, 0));
	ASSERT_EQ(0, ltnl_vm_get(&nl, id, &vi));
	ASSERT_EQ(1, vi.nr_slots);
	EXPECT_TRUE(vi.slots[0].flags & KVM_MEM_LOG_DIRTY_PAGES);

	/* The agent dies: its socket closes. */
	ltnl_close(&agent);
	ASSERT_EQ(0, ltnl_event_wait(&ev, LOOSETRACE_CMD_VM_DETACHED, id,
				     &reason, 30000));
	EXPECT_EQ(LOOSETRACE_DETACH_SOCKET_CLOSED, reason);
	EXPECT_EQ(-ENOENT, ltnl_vm_get(&nl, id, &vi));

	/* The VM is unharmed and its memslot as the VMM left it. */
	ASSERT_EQ(0, ltnl_attach(&nl, t.vm_fd, &id));
	ASSERT_EQ(0, ltnl_vm_get(&nl, id, &vi));
	ASSERT_EQ(1, vi.nr_slots);
	EXPECT_EQ(0, vi.slots[0].flags);
	EXPECT_EQ(0, ltnl_detach(&nl, id));
	EXPECT_LE(0, ioctl(t.vm_fd, KVM_CREATE_VCPU, 3));
	tvm_destroy(&t);
	ltnl_close(&ev);
	ltnl_close(&nl);
}

TEST_HARNESS_MAIN
