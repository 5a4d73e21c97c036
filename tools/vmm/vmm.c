// SPDX-License-Identifier: GPL-2.0
/*
 * VM lifecycle: the KVM VM, its shared guest memory, the vCPUs, and the
 * accessors other processes and tests use to find their way in it.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm_internal.h"

static_assert(sizeof(struct ltg_ctl) <= 2 * LTG_PAGE_SIZE,
	      "control block must fit its two pages");
static_assert(LTG_STACK_GPA + LTG_MAX_VCPUS * LTG_STACK_SIZE <=
	      LTG_GEN_TABLE_GPA, "stacks overlap the generation table");
static_assert(LTG_GEN_TABLE_GPA + LTG_MAX_MEM / LTG_PAGE_SIZE * 4 <=
	      LTG_DATA_GPA, "generation table overlaps the data pages");

/* The last error, unless a fatal one is already recorded: that one stays. */
static void vmm_verror(struct vmm *vm, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&vm->lock);
	if (!vm->failed)
		vsnprintf(vm->err, sizeof(vm->err), fmt, ap);
	pthread_mutex_unlock(&vm->lock);
}

void vmm_set_error(struct vmm *vm, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmm_verror(vm, fmt, ap);
	va_end(ap);
}

void vmm_fail(struct vmm *vm, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmm_verror(vm, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&vm->lock);
	vm->failed = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

const char *vmm_error(struct vmm *vm)
{
	return vm->err[0] ? vm->err : NULL;
}

bool vmm_failed(struct vmm *vm)
{
	bool f;

	pthread_mutex_lock(&vm->lock);
	f = vm->failed;
	pthread_mutex_unlock(&vm->lock);
	return f;
}

/* SIGUSR1 only interrupts KVM_RUN; no SA_RESTART so ioctl sees EINTR. */
static void kick_handler(int sig)
{
	(void)sig;
}

static int install_kick_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGUSR1, &sa, NULL);
}

/*
 * Opens (or creates) the backing memory. A fresh guest gets zeroed
 * memory (truncate, then size); an incoming one keeps what is there and
 * must already have the right size, or be empty and get sized.
 */
static int open_memory(struct vmm *vm, const struct vmm_config *cfg,
		       char *err, size_t errlen)
{
	struct stat st;

	if (cfg->mem_path) {
		vm->mem_fd = open(cfg->mem_path, O_RDWR | O_CREAT | O_CLOEXEC,
				  0600);
		snprintf(vm->mem_path, sizeof(vm->mem_path), "%s",
			 cfg->mem_path);
	} else {
		vm->mem_fd = memfd_create("lt-vmm-guest-memory", 0);
		snprintf(vm->mem_path, sizeof(vm->mem_path),
			 "/proc/%d/fd/%d", getpid(), vm->mem_fd);
	}
	if (vm->mem_fd < 0) {
		snprintf(err, errlen, "guest memory %s: %s",
			 cfg->mem_path ? cfg->mem_path : "memfd",
			 strerror(errno));
		return -1;
	}
	if (fstat(vm->mem_fd, &st) < 0)
		goto sys_err;
	if (cfg->incoming && st.st_size && (uint64_t)st.st_size !=
	    cfg->mem_bytes) {
		snprintf(err, errlen,
			 "guest memory %s holds %lld bytes, the VM needs %llu",
			 vm->mem_path, (long long)st.st_size,
			 (unsigned long long)cfg->mem_bytes);
		return -1;
	}
	if (!cfg->incoming && ftruncate(vm->mem_fd, 0) < 0)
		goto sys_err;
	if ((!cfg->incoming || !st.st_size) &&
	    ftruncate(vm->mem_fd, cfg->mem_bytes) < 0)
		goto sys_err;
	vm->mem = mmap(NULL, cfg->mem_bytes, PROT_READ | PROT_WRITE,
		       MAP_SHARED, vm->mem_fd, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		goto sys_err;
	}
	vm->mem_bytes = cfg->mem_bytes;
	return 0;
sys_err:
	snprintf(err, errlen, "guest memory %s: %s", vm->mem_path,
		 strerror(errno));
	return -1;
}

static int create_vcpus(struct vmm *vm, char *err, size_t errlen)
{
	unsigned int i;
	int size;

	size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size <= 0) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s",
			 strerror(errno));
		return -1;
	}
	vm->run_size = size;
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < vm->nr_vcpus; i++) {
		vm->vcpus[i].fd = -1;
		vm->vcpus[i].stats_fd = -1;
	}
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vmm_vcpu *v = &vm->vcpus[i];

		v->vm = vm;
		v->id = i;
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, i);
		if (v->fd < 0) {
			snprintf(err, errlen, "KVM_CREATE_VCPU %u: %s", i,
				 strerror(errno));
			return -1;
		}
		v->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			      v->fd, 0);
		if (v->run == MAP_FAILED) {
			v->run = NULL;
			snprintf(err, errlen, "mmap vCPU %u: %s", i,
				 strerror(errno));
			return -1;
		}
		if (vmm_vcpu_set_cpuid(vm, v)) {
			snprintf(err, errlen, "vCPU %u: %s", i, vm->err);
			return -1;
		}
	}
	return 0;
}

static int check_config(const struct vmm_config *cfg, char *err,
			size_t errlen)
{
	if (cfg->nr_vcpus < 1 || cfg->nr_vcpus > LTG_MAX_VCPUS) {
		snprintf(err, errlen, "vCPU count %u not in 1..%u",
			 cfg->nr_vcpus, LTG_MAX_VCPUS);
		return -1;
	}
	if (cfg->mem_bytes < LTG_MIN_MEM || cfg->mem_bytes > LTG_MAX_MEM ||
	    cfg->mem_bytes % (2ULL << 20)) {
		snprintf(err, errlen,
			 "memory size %llu: need a multiple of 2 MiB in %llu..%llu MiB",
			 (unsigned long long)cfg->mem_bytes,
			 LTG_MIN_MEM >> 20, LTG_MAX_MEM >> 20);
		return -1;
	}
	return 0;
}

struct vmm *vmm_create(const struct vmm_config *cfg, char *err, size_t errlen)
{
	struct kvm_userspace_memory_region region;
	struct vmm *vm;

	if (check_config(cfg, err, errlen))
		return NULL;
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	vm->kvm_fd = -1;
	vm->vm_fd = -1;
	vm->vm_stats_fd = -1;
	vm->mem_fd = -1;
	vm->nr_vcpus = cfg->nr_vcpus;
	vm->incoming = cfg->incoming;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);

	if (install_kick_handler()) {
		snprintf(err, errlen, "sigaction: %s", strerror(errno));
		goto fail;
	}
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		snprintf(err, errlen, "/dev/kvm: %s", strerror(errno));
		goto fail;
	}
	if (open_memory(vm, cfg, err, errlen))
		goto fail;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		goto fail;
	}
	/* In-kernel LAPIC: HLT blocks in the kernel, timers and MSIs work. */
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		snprintf(err, errlen, "KVM_CREATE_IRQCHIP: %s",
			 strerror(errno));
		goto fail;
	}
	memset(&region, 0, sizeof(region));
	region.slot = 0;
	region.guest_phys_addr = 0;
	region.memory_size = vm->mem_bytes;
	region.userspace_addr = (uintptr_t)vm->mem;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s",
			 strerror(errno));
		goto fail;
	}
	if (create_vcpus(vm, err, errlen))
		goto fail;
	vmm_open_stats(vm);
	if (!vm->incoming && vmm_boot_setup(vm)) {
		snprintf(err, errlen, "%s", vm->err);
		goto fail;
	}
	return vm;
fail:
	vmm_destroy(vm);
	return NULL;
}

void vmm_destroy(struct vmm *vm)
{
	unsigned int i;

	if (!vm)
		return;
	if (vm->started) {
		pthread_mutex_lock(&vm->lock);
		vm->stop_req = true;
		vm->pause_req = false;
		pthread_cond_broadcast(&vm->cond);
		pthread_mutex_unlock(&vm->lock);
		for (i = 0; i < vm->nr_vcpus; i++) {
			struct vmm_vcpu *v = &vm->vcpus[i];

			if (!v->thread_started)
				continue;
			__atomic_store_n(&v->run->immediate_exit, 1,
					 __ATOMIC_SEQ_CST);
			pthread_kill(v->thread, SIGUSR1);
		}
		for (i = 0; i < vm->nr_vcpus; i++)
			if (vm->vcpus[i].thread_started)
				pthread_join(vm->vcpus[i].thread, NULL);
	}
	for (i = 0; vm->vcpus && i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run, vm->run_size);
		if (vm->vcpus[i].stats_fd >= 0)
			close(vm->vcpus[i].stats_fd);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
	}
	free(vm->vcpus);
	if (vm->vm_stats_fd >= 0)
		close(vm->vm_stats_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->mem)
		munmap(vm->mem, vm->mem_bytes);
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

void vmm_get_layout(struct vmm *vm, struct vmm_layout *l)
{
	memset(l, 0, sizeof(*l));
	l->vm_fd = vm->vm_fd;
	l->nr_vcpus = vm->nr_vcpus;
	l->mem_bytes = vm->mem_bytes;
	l->mem_path = vm->mem_path;
	l->nr_slots = 1;
	l->slot_id = 0;
	l->slot_gpa = 0;
	l->slot_pages = vm->mem_bytes / LTG_PAGE_SIZE;
	l->data_gfn_first = LTG_DATA_GPA / LTG_PAGE_SIZE;
	l->data_gfn_count = l->slot_pages - l->data_gfn_first;
	l->gen_table_gpa = LTG_GEN_TABLE_GPA;
	l->ctl_gpa = LTG_CTL_GPA;
}

int vmm_vm_fd(struct vmm *vm)
{
	return vm->vm_fd;
}

int vmm_mem_fd(struct vmm *vm)
{
	return vm->mem_fd;
}

void *vmm_mem(struct vmm *vm)
{
	return vm->mem;
}

uint64_t vmm_mem_bytes(struct vmm *vm)
{
	return vm->mem_bytes;
}

unsigned int vmm_nr_vcpus(struct vmm *vm)
{
	return vm->nr_vcpus;
}

void vmm_vcpu_region(struct vmm *vm, unsigned int vcpu, uint64_t *first,
		     uint64_t *count)
{
	struct vmm_layout l;

	vmm_get_layout(vm, &l);
	ltg_vcpu_region(l.data_gfn_first, l.data_gfn_count, vm->nr_vcpus,
			vcpu, first, count);
}
