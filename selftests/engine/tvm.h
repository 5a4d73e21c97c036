/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A bare KVM VM for the engine's fault tests: KVM_CREATE_VM, one memslot
 * of anonymous memory, optionally vCPUs that never run. No guest code:
 * tests that need a running guest use the test VMM (tools/vmm).
 */
#ifndef _LOOSETRACE_TVM_H
#define _LOOSETRACE_TVM_H

#include <stdint.h>
#include <stddef.h>

struct tvm {
	int kvm_fd;
	int vm_fd;
	int vcpu_fd[4];
	unsigned int nr_vcpus;
	void *mem;
	size_t mem_bytes;
};

/* 0, -ENODEV when /dev/kvm is missing, or another negative errno. */
int tvm_create(struct tvm *t, size_t mem_bytes, unsigned int nr_vcpus);
/* Adds memslot @slot at @gpa with @flags (KVM_MEM_*), fresh memory. */
int tvm_add_slot(struct tvm *t, uint32_t slot, uint64_t gpa, size_t bytes,
		 uint32_t flags);
void tvm_destroy(struct tvm *t);
/* Fd @fd of process @pid, copied into this process's table, or -errno. */
int tvm_grab_fd(int pid, int fd);

#endif /* _LOOSETRACE_TVM_H */
