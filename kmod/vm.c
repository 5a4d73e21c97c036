// SPDX-License-Identifier: GPL-2.0
/*
 * Attached VMs: attach, detach, and the three ways an attachment ends on
 * its own.
 *
 * ATTACH runs in the caller's process context, so the VM fd it passes is
 * looked up in the caller's file table (fget). The module then holds one
 * reference on the struct kvm (kvm_get_kvm_safe) until the VM is
 * detached, which happens on DETACH, when the attaching netlink socket is
 * released (NETLINK_URELEASE), when the module is the VM's last user (the
 * VMM exited: a periodic check of users_count), and on module unload.
 * Detaching stops the trace (restoring the memslots), stops the epoch
 * machinery and drops the kvm reference, exactly once.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/netlink.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <net/genetlink.h>
#include <linux/loosetrace.h>

#include "loosetrace.h"

/* How often attached VMs are checked for a VMM that went away. */
#define LT_REAP_INTERVAL	(HZ / 10)

/* Registry membership and the unloading flag. */
static DEFINE_MUTEX(lt_vms_lock);
static DEFINE_XARRAY_ALLOC1(lt_vms);
static bool lt_unloading;
/* Ids are not reused soon: a stale id must not name another VM. */
static u32 lt_next_id;

static void lt_reap(struct work_struct *w);
static DECLARE_DELAYED_WORK(lt_reaper, lt_reap);

static void lt_vm_release(struct kref *ref)
{
	struct lt_vm *vm = container_of(ref, struct lt_vm, ref);

	lt_epoch_free(&vm->epoch);
	kfree(vm);
}

void lt_vm_put(struct lt_vm *vm)
{
	kref_put(&vm->ref, lt_vm_release);
}

struct lt_vm *lt_vm_get(u32 id)
{
	struct lt_vm *vm;

	mutex_lock(&lt_vms_lock);
	vm = xa_load(&lt_vms, id);
	if (vm)
		kref_get(&vm->ref);
	mutex_unlock(&lt_vms_lock);
	return vm;
}

/* The attached VM with the smallest id >= *id, referenced; *id is set. */
struct lt_vm *lt_vm_get_next(u32 *id)
{
	unsigned long idx = *id;
	struct lt_vm *vm;

	mutex_lock(&lt_vms_lock);
	vm = xa_find(&lt_vms, &idx, U32_MAX, XA_PRESENT);
	if (vm) {
		kref_get(&vm->ref);
		*id = idx;
	}
	mutex_unlock(&lt_vms_lock);
	return vm;
}

static struct lt_vm *lt_vm_alloc(struct kvm *kvm, u32 portid,
				 struct net *net)
{
	struct lt_vm *vm;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	if (!vm)
		return NULL;
	if (lt_epoch_init(&vm->epoch)) {
		kfree(vm);
		return NULL;
	}
	kref_init(&vm->ref);
	mutex_init(&vm->lock);
	vm->kvm = kvm;
	vm->pid = kvm->userspace_pid;
	vm->portid = portid;
	write_pnet(&vm->net, get_net(net));
	vm->deadline_us = LT_DEFAULT_DEADLINE_US;
	vm->chunk_pages = LT_DEFAULT_CHUNK_PAGES;
	INIT_LIST_HEAD(&vm->hook_node);
	return vm;
}

int lt_vm_attach(int fd, u32 portid, struct net *net, u32 *id,
		 struct netlink_ext_ack *extack)
{
	struct lt_vm *vm, *other;
	unsigned long idx;
	struct file *file;
	struct kvm *kvm;
	int ret;

	file = fget(fd);
	if (!file) {
		NL_SET_ERR_MSG(extack,
			       "LOOSETRACE_A_VM_FD is not an open file descriptor of the caller");
		return -EBADF;
	}
	if (!file_is_kvm(file)) {
		NL_SET_ERR_MSG(extack, "LOOSETRACE_A_VM_FD is not a KVM VM");
		ret = -EINVAL;
		goto out_fput;
	}
	kvm = file->private_data;
	if (!kvm_get_kvm_safe(kvm)) {
		NL_SET_ERR_MSG(extack, "the VM is being destroyed");
		ret = -ESRCH;
		goto out_fput;
	}

	vm = lt_vm_alloc(kvm, portid, net);
	if (!vm) {
		NL_SET_ERR_MSG(extack, "out of memory");
		ret = -ENOMEM;
		goto out_put_kvm;
	}

	mutex_lock(&lt_vms_lock);
	if (lt_unloading) {
		NL_SET_ERR_MSG(extack, "the module is being unloaded");
		ret = -ESHUTDOWN;
		goto out_unlock;
	}
	xa_for_each(&lt_vms, idx, other) {
		if (other->kvm == kvm) {
			NL_SET_ERR_MSG(extack, "this VM is already attached");
			ret = -EEXIST;
			goto out_unlock;
		}
	}
	ret = xa_alloc_cyclic(&lt_vms, &vm->id, vm, xa_limit_31b,
			      &lt_next_id, GFP_KERNEL);
	if (ret < 0) {
		NL_SET_ERR_MSG(extack, "no free VM id");
		goto out_unlock;
	}
	/*
	 * Still under the lock: once it is dropped, an unload (which does
	 * not wait for this request) may detach and free the VM, and must
	 * find the reaper armed or not, never armed after its cancel.
	 */
	*id = vm->id;
	schedule_delayed_work(&lt_reaper, LT_REAP_INTERVAL);
	mutex_unlock(&lt_vms_lock);
	fput(file);
	return 0;

out_unlock:
	mutex_unlock(&lt_vms_lock);
	put_net(read_pnet(&vm->net));
	lt_vm_put(vm);
out_put_kvm:
	kvm_put_kvm(kvm);
out_fput:
	fput(file);
	return ret;
}

/*
 * Ends an attachment. Returns -ENOENT if it had already ended. The VM's
 * memslots are restored unless the VM is going away (VM_EXITED), and the
 * kvm reference is dropped last: it may destroy the VM.
 */
int lt_vm_detach(struct lt_vm *vm, u32 reason)
{
	mutex_lock(&vm->lock);
	if (vm->detached) {
		mutex_unlock(&vm->lock);
		return -ENOENT;
	}
	lt_trace_stop(vm, reason != LOOSETRACE_DETACH_VM_EXITED);
	lt_epoch_stop(vm);
	vm->detached = true;
	mutex_unlock(&vm->lock);

	mutex_lock(&lt_vms_lock);
	xa_erase(&lt_vms, vm->id);
	mutex_unlock(&lt_vms_lock);

	lt_notify_detached(vm, reason);
	put_net(read_pnet(&vm->net));
	kvm_put_kvm(vm->kvm);
	/* The registry's reference. */
	lt_vm_put(vm);
	return 0;
}

/* True if the module holds the only reference left on the VM. */
static bool lt_vm_orphaned(struct lt_vm *vm)
{
	bool orphan;

	mutex_lock(&vm->lock);
	orphan = !vm->detached &&
		 refcount_read(&vm->kvm->users_count) == 1;
	mutex_unlock(&vm->lock);
	return orphan;
}

/*
 * Once the VMM closed every fd of the VM, only the module's reference
 * keeps it: no one can take a new one (that needs an fd), so the VM is
 * detached and destroyed by the final kvm_put_kvm().
 */
static void lt_reap(struct work_struct *w)
{
	struct lt_vm *vm;
	u32 id = 0;

	while ((vm = lt_vm_get_next(&id))) {
		if (lt_vm_orphaned(vm))
			lt_vm_detach(vm, LOOSETRACE_DETACH_VM_EXITED);
		lt_vm_put(vm);
		id++;
	}
	mutex_lock(&lt_vms_lock);
	if (!lt_unloading && !xa_empty(&lt_vms))
		schedule_delayed_work(&lt_reaper, LT_REAP_INTERVAL);
	mutex_unlock(&lt_vms_lock);
}

/* The socket that attached a VM was closed: the attachment ends with it. */
static int lt_netlink_notify(struct notifier_block *nb, unsigned long state,
			     void *ptr)
{
	struct netlink_notify *n = ptr;
	struct lt_vm *vm;
	u32 id = 0;

	if (state != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC)
		return NOTIFY_DONE;

	while ((vm = lt_vm_get_next(&id))) {
		if (vm->portid == n->portid &&
		    net_eq(read_pnet(&vm->net), n->net))
			lt_vm_detach(vm, LOOSETRACE_DETACH_SOCKET_CLOSED);
		lt_vm_put(vm);
		id++;
	}
	return NOTIFY_DONE;
}

static struct notifier_block lt_netlink_nb = {
	.notifier_call = lt_netlink_notify,
};

int lt_vm_init(void)
{
	return netlink_register_notifier(&lt_netlink_nb);
}

/* Module unload: no new attachment, every VM detached, nothing left. */
void lt_vm_exit(void)
{
	struct lt_vm *vm;
	u32 id = 0;

	mutex_lock(&lt_vms_lock);
	lt_unloading = true;
	mutex_unlock(&lt_vms_lock);
	cancel_delayed_work_sync(&lt_reaper);
	netlink_unregister_notifier(&lt_netlink_nb);

	while ((vm = lt_vm_get_next(&id))) {
		lt_vm_detach(vm, LOOSETRACE_DETACH_UNLOAD);
		lt_vm_put(vm);
		id++;
	}
	xa_destroy(&lt_vms);
}
