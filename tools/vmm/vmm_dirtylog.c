// SPDX-License-Identifier: GPL-2.0
/*
 * KVM's own dirty logging on the guest's memslot (KVM_GET_DIRTY_LOG and,
 * with manual protection, KVM_CLEAR_DIRTY_LOG): the stock baseline that
 * loosetrace is compared with. KVM takes these ioctls only from the
 * process that created the VM, so they live here, in the VMM. Also the
 * re-registration of that memslot a VMM does when its memory map
 * changes (QEMU on a PCI BAR or PAM update), for the tests of a trace
 * that must survive it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm_internal.h"

/* Memslot 0 with @flags, or deleted when @bytes is 0. */
static int set_slot(struct vmm *vm, uint32_t flags, uint64_t bytes)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.flags = flags,
		.guest_phys_addr = 0,
		.memory_size = bytes,
		.userspace_addr = (uintptr_t)vm->mem,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		vmm_set_error(vm, "KVM_SET_USER_MEMORY_REGION flags %#x size %llu: %s",
			      flags, (unsigned long long)bytes,
			      strerror(errno));
		return -errno;
	}
	return 0;
}

static int set_slot_flags(struct vmm *vm, uint32_t flags)
{
	return set_slot(vm, flags, vm->mem_bytes);
}

int vmm_memslot_remap(struct vmm *vm, unsigned int timeout_ms)
{
	bool was_paused = vmm_paused(vm);
	int ret;

	/* No vCPU may run on a guest without memory. */
	if (!was_paused) {
		ret = vmm_pause(vm, timeout_ms);
		if (ret)
			return ret;
	}
	ret = set_slot(vm, 0, 0);
	if (!ret)
		ret = set_slot(vm, 0, vm->mem_bytes);
	if (!was_paused && !ret)
		ret = vmm_resume(vm);
	return ret;
}

int vmm_stock_dirty_log_start(struct vmm *vm, bool manual_protect)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
	};

	if (manual_protect &&
	    ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		vmm_set_error(vm, "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: %s",
			      strerror(errno));
		return -errno;
	}
	vm->manual_protect = manual_protect;
	return set_slot_flags(vm, KVM_MEM_LOG_DIRTY_PAGES);
}

int vmm_stock_dirty_log_stop(struct vmm *vm)
{
	return set_slot_flags(vm, 0);
}

int vmm_stock_dirty_log_harvest(struct vmm *vm, uint64_t *bitmap)
{
	uint64_t pages = vm->mem_bytes / LTG_PAGE_SIZE;
	struct kvm_clear_dirty_log clear = {
		.slot = 0,
		.first_page = 0,
		.num_pages = pages,
		.dirty_bitmap = bitmap,
	};
	struct kvm_dirty_log log = {
		.slot = 0,
		.dirty_bitmap = bitmap,
	};

	if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
		vmm_set_error(vm, "KVM_GET_DIRTY_LOG: %s", strerror(errno));
		return -errno;
	}
	if (vm->manual_protect &&
	    ioctl(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &clear) < 0) {
		vmm_set_error(vm, "KVM_CLEAR_DIRTY_LOG: %s", strerror(errno));
		return -errno;
	}
	return 0;
}
