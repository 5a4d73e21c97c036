// SPDX-License-Identifier: GPL-2.0
/*
 * A bare KVM VM for the engine's fault tests (see tvm.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/kvm.h>

#include "tvm.h"

int tvm_add_slot(struct tvm *t, uint32_t slot, uint64_t gpa, size_t bytes,
		 uint32_t flags)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = bytes,
	};
	void *mem;

	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	r.userspace_addr = (uintptr_t)mem;
	if (ioctl(t->vm_fd, KVM_SET_USER_MEMORY_REGION, &r)) {
		int e = -errno;

		munmap(mem, bytes);
		return e;
	}
	if (!t->mem) {
		t->mem = mem;
		t->mem_bytes = bytes;
	}
	return 0;
}

int tvm_create(struct tvm *t, size_t mem_bytes, unsigned int nr_vcpus)
{
	unsigned int i;
	int ret;

	memset(t, 0, sizeof(*t));
	t->vm_fd = -1;
	t->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (t->kvm_fd < 0)
		return -ENODEV;
	t->vm_fd = ioctl(t->kvm_fd, KVM_CREATE_VM, 0);
	if (t->vm_fd < 0) {
		ret = -errno;
		goto err;
	}
	if (mem_bytes) {
		ret = tvm_add_slot(t, 0, 0, mem_bytes, 0);
		if (ret)
			goto err;
	}
	for (i = 0; i < nr_vcpus && i < 4; i++) {
		t->vcpu_fd[i] = ioctl(t->vm_fd, KVM_CREATE_VCPU, i);
		if (t->vcpu_fd[i] < 0) {
			ret = -errno;
			goto err;
		}
		t->nr_vcpus++;
	}
	return 0;
err:
	tvm_destroy(t);
	return ret;
}

void tvm_destroy(struct tvm *t)
{
	unsigned int i;

	for (i = 0; i < t->nr_vcpus; i++)
		close(t->vcpu_fd[i]);
	t->nr_vcpus = 0;
	if (t->vm_fd >= 0)
		close(t->vm_fd);
	if (t->kvm_fd >= 0)
		close(t->kvm_fd);
	t->vm_fd = -1;
	t->kvm_fd = -1;
}

int tvm_grab_fd(int pid, int fd)
{
	int pidfd, nfd;

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	nfd = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	return nfd < 0 ? -errno : nfd;
}
