/* SPDX-License-Identifier: GPL-2.0 */
/* libltvmm internals shared by its source files; not for users. */
#ifndef LTVMM_VMM_INTERNAL_H
#define LTVMM_VMM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <sys/types.h>

#include "vmm.h"

/* The guest image, linked in from guest_blob.S. */
extern const unsigned char ltvmm_guest_image[];
extern const unsigned char ltvmm_guest_image_end[];

struct vmm_vcpu {
	struct vmm *vm;
	unsigned int id;
	int fd;
	int stats_fd;		/* opened before the vCPU first runs */
	struct kvm_run *run;
	pthread_t thread;
	pid_t tid;		/* the thread's id, once it runs (0 before) */
	bool thread_started;
	bool parked;		/* in the pause wait, out of KVM_RUN */
	bool exited;		/* thread ended */
	bool booted;
	uint64_t io_exits;
	uint64_t progress_exits;
};

struct vmm {
	int kvm_fd;
	int vm_fd;
	int vm_stats_fd;
	int mem_fd;
	void *mem;
	uint64_t mem_bytes;
	char mem_path[256];
	unsigned int nr_vcpus;
	bool incoming;		/* waiting for vmm_restore_state() */
	bool manual_protect;	/* stock dirty log: KVM_CLEAR_DIRTY_LOG */
	bool started;
	size_t run_size;
	struct vmm_vcpu *vcpus;

	pthread_mutex_t lock;
	pthread_cond_t cond;	/* parked/exited/verdict changes */
	bool pause_req;
	bool stop_req;
	bool failed;
	char err[256];
};

static inline struct ltg_ctl *vmm_ctl(struct vmm *vm)
{
	return (struct ltg_ctl *)((char *)vm->mem + LTG_CTL_GPA);
}

/* Records the first error (later ones are usually consequences). */
void vmm_set_error(struct vmm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Same, and marks the VM failed: a vCPU thread cannot go on. */
void vmm_fail(struct vmm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

int vmm_boot_setup(struct vmm *vm);		/* vmm_boot.c */
int vmm_vcpu_set_cpuid(struct vmm *vm, struct vmm_vcpu *v);
void *vmm_vcpu_thread(void *arg);		/* vmm_run.c */
void vmm_ring_doorbells(struct vmm *vm);
int vmm_open_stats(struct vmm *vm);			/* vmm_stats.c */

#endif /* LTVMM_VMM_INTERNAL_H */
