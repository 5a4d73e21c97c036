// SPDX-License-Identifier: GPL-2.0
/*
 * Watching the VMM's memslot changes on a traced VM.
 *
 * KVM gives a module no notification when the VMM changes a memslot, and
 * three things go wrong if the module does not know:
 * - a memslot created during the trace would be silently untraced;
 * - the VMM asking for dirty logging on a slot the module already logs is
 *   a no-op for KVM (the flags are equal), so the two would share, and
 *   steal, one bitmap, and TRACE_STOP would later turn the VMM's logging
 *   off under it;
 * - the module's VM-wide manual-protect, initially-set mode would apply
 *   to a slot the VMM starts logging, which then gets a bitmap of ones
 *   and no write-protection, and after the trace keeps writable huge
 *   mappings that the VMM's own mode never write-protects again.
 *
 * So a kretprobe sits on __kvm_set_memory_region(), which every memslot
 * change goes through (the ioctl calls it out of line on both kernel
 * lines; internal slots come through it too) with kvm->slots_lock held.
 * For a traced VM, a change that is not the module's own is noted (the
 * next harvest looks at the layout again, and a traced slot the VMM wants
 * logged stops the trace), and for the duration of the change the VM's
 * dirty-log mode is the VMM's own, so KVM sets up the slot exactly as the
 * VMM asked. Everything here runs under that kvm's slots_lock, which is
 * also what the module holds when it adds or removes a VM here or
 * changes a traced VM's slots: that is what makes the lookup safe.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/kvm_host.h>
#include <linux/list.h>
#include <linux/spinlock.h>

#include "loosetrace.h"

/* Traced VMs; each entry is added and removed under its slots_lock. */
static DEFINE_SPINLOCK(lt_hook_lock);
static LIST_HEAD(lt_hooked);

/* What the return handler needs to put back. */
struct lt_hook_call {
	struct kvm *kvm;
	u64 manual_protect;
};

static struct lt_vm *lt_hook_find(struct kvm *kvm)
{
	struct lt_vm *vm, *found = NULL;

	spin_lock(&lt_hook_lock);
	list_for_each_entry(vm, &lt_hooked, hook_node) {
		if (vm->kvm == kvm) {
			found = vm;
			break;
		}
	}
	spin_unlock(&lt_hook_lock);
	return found;
}

static int lt_memslot_entry(struct kretprobe_instance *ri,
			    struct pt_regs *regs)
{
	struct lt_hook_call *c = (struct lt_hook_call *)ri->data;
	struct kvm *kvm = (struct kvm *)regs_get_kernel_argument(regs, 0);
	const struct lt_memregion *mem;
	struct lt_vm *vm;
	struct lt_slot *s;

	mem = (const struct lt_memregion *)regs_get_kernel_argument(regs, 1);
	vm = lt_hook_find(kvm);
	/* Not traced, the module's own change, or one of KVM's slots. */
	if (!vm || vm->self_update || (u16)mem->slot >= KVM_USER_MEM_SLOTS)
		return 1;

	vm->layout_changed = true;
	s = lt_trace_find_slot(vm, mem->slot);
	if (s && mem->memory_size && (mem->flags & KVM_MEM_LOG_DIRTY_PAGES) &&
	    !s->vmm_logs) {
		s->vmm_logs = true;
		vm->vmm_logging = true;
	}

	c->kvm = kvm;
	c->manual_protect = kvm->manual_dirty_log_protect;
	WRITE_ONCE(kvm->manual_dirty_log_protect, vm->saved_manual_protect);
	return 0;
}

static int lt_memslot_return(struct kretprobe_instance *ri,
			     struct pt_regs *regs)
{
	struct lt_hook_call *c = (struct lt_hook_call *)ri->data;

	WRITE_ONCE(c->kvm->manual_dirty_log_protect, c->manual_protect);
	return 0;
}

static struct kretprobe lt_memslot_krp = {
	.kp.symbol_name	= "__kvm_set_memory_region",
	.entry_handler	= lt_memslot_entry,
	.handler	= lt_memslot_return,
	.data_size	= sizeof(struct lt_hook_call),
	/* 0: KVM-sized default, twice the CPUs, for calls in flight */
	.maxactive	= 0,
};

/* Called with vm->kvm->slots_lock held. */
void lt_hook_add(struct lt_vm *vm)
{
	lockdep_assert_held(&vm->kvm->slots_lock);
	vm->self_update = false;
	vm->layout_changed = false;
	vm->vmm_logging = false;
	spin_lock(&lt_hook_lock);
	list_add(&vm->hook_node, &lt_hooked);
	spin_unlock(&lt_hook_lock);
}

/* Called with vm->kvm->slots_lock held. */
void lt_hook_del(struct lt_vm *vm)
{
	lockdep_assert_held(&vm->kvm->slots_lock);
	spin_lock(&lt_hook_lock);
	list_del_init(&vm->hook_node);
	spin_unlock(&lt_hook_lock);
}

int lt_hook_init(void)
{
	int ret;

	ret = register_kretprobe(&lt_memslot_krp);
	if (ret)
		pr_err("cannot watch memslot changes (kretprobe on __kvm_set_memory_region: %d): refusing to load\n",
		       ret);
	return ret;
}

void lt_hook_exit(void)
{
	unregister_kretprobe(&lt_memslot_krp);
	if (lt_memslot_krp.nmissed)
		pr_warn("%d memslot changes were not watched (too many at once); harvests still compared the memslot generation\n",
			lt_memslot_krp.nmissed);
}
