// SPDX-License-Identifier: GPL-2.0
/*
 * TRACE_START makes KVM allocate two dirty bitmaps per memslot (for a
 * 64 GiB slot, 4 MiB). They are the VM's memory: the VMM's memory cgroup
 * pays for them, not the agent's, whose limit is sized for an agent.
 * The test puts a VMM and the caller in two cgroups and compares what
 * each was charged.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/kvm.h>
#include <linux/magic.h>

#include "kselftest_harness.h"
#include "engine_test.h"
#include "ltnl.h"
#include "tvm.h"

/* Big enough that its bitmaps dwarf the charge batching (64 pages). */
#define SLOT_BYTES	(64ULL << 30)
#define BITMAP_BYTES	(2 * (SLOT_BYTES / 4096 / 8))
#define CG_DIR		"/tmp/lt-cgroup"

static char cg_root[64];

static void cg_path(char *buf, size_t len, const char *cg, const char *file)
{
	snprintf(buf, len, "%s/%s%s%s", cg_root, cg, file ? "/" : "",
		 file ? file : "");
}

static int cg_write(const char *cg, const char *file, const char *val)
{
	char path[160];
	int fd, ok;

	cg_path(path, sizeof(path), cg, file);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -EIO;
}

static long long cg_current(const char *cg)
{
	char path[160], buf[64];
	ssize_t n;
	int fd;

	cg_path(path, sizeof(path), cg, "memory.current");
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	return atoll(buf);
}

/* A cgroup v2 hierarchy with the memory controller for children. */
static int cgroup_setup(void)
{
	struct statfs sf;

	snprintf(cg_root, sizeof(cg_root), "/sys/fs/cgroup");
	if (statfs(cg_root, &sf) || sf.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(cg_root, sizeof(cg_root), CG_DIR);
		mkdir(cg_root, 0755);
		if (mount("cgroup2", cg_root, "cgroup2", 0, NULL) &&
		    errno != EBUSY)
			return -errno;
	}
	return cg_write("", "cgroup.subtree_control", "+memory");
}

/* Creates (or with @remove, removes) child cgroup @cg: 0 or -errno. */
static int cg_dir(const char *cg, int remove)
{
	char path[160];

	cg_path(path, sizeof(path), cg, NULL);
	if (remove)
		return rmdir(path) ? -errno : 0;
	return mkdir(path, 0755) && errno != EEXIST ? -errno : 0;
}

/* Moves process @pid (0: this one) into cgroup @cg ("" is the root). */
static int cg_join(const char *cg, pid_t pid)
{
	char val[24];

	snprintf(val, sizeof(val), "%d", pid ? pid : getpid());
	return cg_write(cg, "cgroup.procs", val);
}

/* The VMM: joins lt-vmm, creates a VM with one big, untouched slot. */
static void vmm_child(int wfd)
{
	struct kvm_userspace_memory_region r = {
		.slot = 0,
		.memory_size = SLOT_BYTES,
	};
	struct tvm t;
	void *mem;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (cg_join("lt-vmm", 0) || tvm_create(&t, 0, 0))
		_exit(1);
	mem = mmap(NULL, SLOT_BYTES, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		_exit(2);
	r.userspace_addr = (uintptr_t)mem;
	if (ioctl(t.vm_fd, KVM_SET_USER_MEMORY_REGION, &r))
		_exit(3);
	if (write(wfd, &t.vm_fd, sizeof(t.vm_fd)) != sizeof(t.vm_fd))
		_exit(4);
	pause();
	_exit(0);
}

TEST(dirty_bitmaps_charged_to_the_vmm)
{
	long long vmm0, vmm1, agent0, agent1;
	int pipefd[2], vm_fd, fd, status;
	struct ltnl nl;
	uint32_t id;
	pid_t pid;

	if (engine_skip(_metadata, &nl))
		return;
	if (cgroup_setup())
		SKIP(return, "no cgroup v2 memory controller");
	ASSERT_EQ(0, cg_dir("lt-vmm", 0));
	ASSERT_EQ(0, cg_dir("lt-agent", 0));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		vmm_child(pipefd[1]);
	ASSERT_EQ(sizeof(vm_fd), read(pipefd[0], &vm_fd, sizeof(vm_fd)));
	fd = tvm_grab_fd(pid, vm_fd);
	ASSERT_LE(0, fd);

	/* This process plays the agent, in a cgroup of its own. */
	ASSERT_EQ(0, cg_join("lt-agent", 0));
	ASSERT_EQ(0, ltnl_attach(&nl, fd, &id));
	close(fd);
	vmm0 = cg_current("lt-vmm");
	agent0 = cg_current("lt-agent");
	ASSERT_EQ(0, ltnl_trace_start(&nl, id, LOOSETRACE_MODE_LOOSE, 0))
		TH_LOG("%s", nl.err);
	vmm1 = cg_current("lt-vmm");
	agent1 = cg_current("lt-agent");
	TH_LOG("64 GiB slot, bitmaps %llu KiB: VMM cgroup +%lld KiB, caller's +%lld KiB",
	       BITMAP_BYTES / 1024, (vmm1 - vmm0) / 1024,
	       (agent1 - agent0) / 1024);
	EXPECT_LE((long long)BITMAP_BYTES, vmm1 - vmm0);
	EXPECT_GT((long long)BITMAP_BYTES / 4, agent1 - agent0);

	EXPECT_EQ(0, ltnl_trace_stop(&nl, id));
	EXPECT_EQ(0, ltnl_detach(&nl, id));
	ltnl_close(&nl);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	EXPECT_EQ(0, cg_join("", 0));
	EXPECT_EQ(0, cg_dir("lt-vmm", 1));
	EXPECT_EQ(0, cg_dir("lt-agent", 1));
}

TEST_HARNESS_MAIN
