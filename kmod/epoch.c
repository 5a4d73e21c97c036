// SPDX-License-Identifier: GPL-2.0
/*
 * Epochs: deferred, per-vCPU TLB flushes after a harvest (loose mode).
 *
 * A harvest write-protects pages, but a vCPU may still hold a writable
 * translation in its TLB and write through it without faulting: such a
 * write is not logged. Instead of KVM's synchronous remote flush (an IPI
 * and a forced exit on every running vCPU, the caller waiting), an epoch
 * sets KVM_REQ_TLB_FLUSH on every vCPU without a kick. KVM services the
 * request before the vCPU's next guest entry. The epoch's traces are
 * installed on a vCPU once, after the request was set:
 *   - the request bit is seen clear: the vCPU consumed it, and it flushes
 *     before it runs guest code again; or
 *   - after a full barrier, vcpu->mode is OUTSIDE_GUEST_MODE or
 *     READING_SHADOW_PAGE_TABLES: the vCPU is not in the guest, and the
 *     barrier it executes after setting IN_GUEST_MODE makes it see the
 *     request before it enters (vcpu_enter_guest()).
 * IN_GUEST_MODE and EXITING_GUEST_MODE never complete a vCPU. This is the
 * condition KVM_REQUEST_WAIT waits for in kvm_make_all_cpus_request().
 *
 * Pending vCPUs are polled from an hrtimer (softirq); those still pending
 * at the deadline are kicked (kvm_vcpu_kick: an IPI only if the vCPU is in
 * the guest), and again every deadline period (at least LT_REKICK_NS)
 * until they flush, so a vCPU spinning in the guest without exits cannot
 * hold an epoch open.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kvm_host.h>
#include <linux/bitmap.h>
#include <linux/netlink.h>
#include <linux/slab.h>
#include <linux/ktime.h>
#include <asm/hypervisor.h>
#include <asm/mshyperv.h>

#include "loosetrace.h"

/*
 * Whether a vCPU's own flush is enough here. kvm-amd running on Hyper-V
 * with the enlightened NPT TLB (ms_hyperv's HV_X64_NESTED_ENLIGHTENED_TLB,
 * which it uses whenever npt=1) flushes remote TLBs through a hypercall
 * and never sets KVM_REQ_TLB_FLUSH: an ASID flush does not reach the
 * nested page tables' translations there. A request set by an epoch makes
 * svm_flush_tlb_all() warn ("a KVM bug") and fall back to the hypercall,
 * so loose mode is refused there. Sync mode uses KVM's own remote flush
 * and stays available. Checked on the host's facts, not per VM: kvm-amd
 * does not export its npt setting, and with npt=0 the refusal is only
 * overcautious.
 */
int lt_epoch_loose_supported(struct netlink_ext_ack *extack)
{
	if (!boot_cpu_has(X86_FEATURE_SVM) ||
	    !hypervisor_is_type(X86_HYPER_MS_HYPERV) ||
	    !(ms_hyperv.nested_features & HV_X64_NESTED_ENLIGHTENED_TLB))
		return 0;
	NL_SET_ERR_MSG(extack,
		       "loose mode does not work on kvm-amd under Hyper-V with the enlightened NPT TLB (a vCPU's own flush would warn and fall back to a VM-wide hypercall): use sync mode");
	return -EOPNOTSUPP;
}

static bool lt_vcpu_flushed(struct kvm_vcpu *vcpu)
{
	int mode;

	if (!kvm_test_request(KVM_REQ_TLB_FLUSH, vcpu))
		return true;
	/* Pairs with smp_mb__after_srcu_read_unlock() in vcpu_enter_guest. */
	smp_mb();
	mode = READ_ONCE(vcpu->mode);
	return mode == OUTSIDE_GUEST_MODE || mode == READING_SHADOW_PAGE_TABLES;
}

/* Called with ep->lock held. */
static void lt_epoch_complete(struct lt_vm *vm, u64 now)
{
	struct lt_epoch *ep = &vm->epoch;
	struct lt_stats *st = &vm->stats;

	st->epochs_done += ep->started - ep->done;
	ep->done = ep->started;
	ep->last_install_ns = now - ep->start_ns;
	if (st->first_harvest_start_ns) {
		st->trace_install_ns = max(now - st->first_harvest_start_ns, 1ULL);
		st->first_harvest_start_ns = 0;
	}
	schedule_work(&ep->notify_work);
}

/* Called with ep->lock held. */
static void lt_epoch_poll(struct lt_vm *vm, u64 now)
{
	struct lt_epoch *ep = &vm->epoch;
	struct kvm_vcpu *vcpu;
	bool kick = now >= ep->deadline_ns;
	unsigned long i;

	for_each_set_bit(i, ep->pending, KVM_MAX_VCPUS) {
		vcpu = kvm_get_vcpu(vm->kvm, i);
		if (!vcpu || lt_vcpu_flushed(vcpu)) {
			lt_stats_flush_latency(&vm->stats, now - ep->req_ns[i]);
			__clear_bit(i, ep->pending);
			ep->nr_pending--;
			continue;
		}
		if (kick) {
			kvm_vcpu_kick(vcpu);
			vm->stats.deadline_kicks++;
		}
	}
	/* Kicked vCPUs get another period, never under LT_REKICK_NS. */
	if (kick)
		ep->deadline_ns = now + max_t(u64, LT_REKICK_NS,
					      (u64)vm->deadline_us *
					      NSEC_PER_USEC);
	if (!ep->nr_pending && ep->done != ep->started)
		lt_epoch_complete(vm, now);
}

static enum hrtimer_restart lt_epoch_timer(struct hrtimer *t)
{
	struct lt_epoch *ep = container_of(t, struct lt_epoch, timer);
	struct lt_vm *vm = container_of(ep, struct lt_vm, epoch);
	enum hrtimer_restart ret = HRTIMER_NORESTART;

	spin_lock(&ep->lock);
	lt_epoch_poll(vm, ktime_get_ns());
	/*
	 * Re-arming is decided under the lock that lt_epoch_begin_loose()
	 * takes to arm the timer, so the timer is never armed twice.
	 */
	if (ep->nr_pending) {
		hrtimer_forward_now(t, ns_to_ktime(LT_POLL_NS));
		ret = HRTIMER_RESTART;
	} else {
		ep->timer_armed = false;
	}
	spin_unlock(&ep->lock);
	return ret;
}

static void lt_epoch_notify_work(struct work_struct *w)
{
	struct lt_epoch *ep = container_of(w, struct lt_epoch, notify_work);
	struct lt_vm *vm = container_of(ep, struct lt_vm, epoch);
	u64 done, install;

	spin_lock_bh(&ep->lock);
	done = ep->done;
	install = ep->last_install_ns;
	if (done == ep->notified) {
		spin_unlock_bh(&ep->lock);
		return;
	}
	ep->notified = done;
	spin_unlock_bh(&ep->lock);
	lt_notify_epoch_done(vm, done, install);
}

int lt_epoch_init(struct lt_epoch *ep)
{
	spin_lock_init(&ep->lock);
	ep->pending = bitmap_zalloc(KVM_MAX_VCPUS, GFP_KERNEL);
	ep->req_ns = kvcalloc(KVM_MAX_VCPUS, sizeof(*ep->req_ns), GFP_KERNEL);
	if (!ep->pending || !ep->req_ns) {
		bitmap_free(ep->pending);
		kvfree(ep->req_ns);
		return -ENOMEM;
	}
	hrtimer_init(&ep->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	ep->timer.function = lt_epoch_timer;
	INIT_WORK(&ep->notify_work, lt_epoch_notify_work);
	return 0;
}

/*
 * Stops tracking (detach): afterwards nothing of the epoch code runs for
 * this VM. Requests already set stay set; KVM services them as usual.
 */
void lt_epoch_stop(struct lt_vm *vm)
{
	hrtimer_cancel(&vm->epoch.timer);
	cancel_work_sync(&vm->epoch.notify_work);
}

void lt_epoch_free(struct lt_epoch *ep)
{
	bitmap_free(ep->pending);
	kvfree(ep->req_ns);
}

/*
 * Opens an epoch after a harvest's write-protection (loose mode). The
 * requests are set after the SPTE changes, which mmu_lock's release made
 * visible. An epoch opened while another is pending absorbs it (see
 * struct lt_epoch); its deadline is the older one's.
 */
u64 lt_epoch_begin_loose(struct lt_vm *vm)
{
	struct lt_epoch *ep = &vm->epoch;
	struct kvm_vcpu *vcpu;
	unsigned long i;
	u64 now, epoch;

	spin_lock_bh(&ep->lock);
	now = ktime_get_ns();
	epoch = ++ep->started;
	vm->stats.epochs++;
	ep->start_ns = now;
	if (!ep->nr_pending)
		ep->deadline_ns = now + (u64)vm->deadline_us * NSEC_PER_USEC;
	kvm_for_each_vcpu(i, vcpu, vm->kvm) {
		if (i >= KVM_MAX_VCPUS)
			break;
		kvm_make_request(KVM_REQ_TLB_FLUSH, vcpu);
		if (!__test_and_set_bit(i, ep->pending)) {
			ep->req_ns[i] = now;
			ep->nr_pending++;
		}
	}
	/* The requests are visible before vcpu->mode is read. */
	smp_mb();
	lt_epoch_poll(vm, now);
	if (ep->nr_pending && !ep->timer_armed) {
		ep->timer_armed = true;
		hrtimer_start(&ep->timer, ns_to_ktime(LT_POLL_NS),
			      HRTIMER_MODE_REL_SOFT);
	}
	spin_unlock_bh(&ep->lock);
	return epoch;
}

/*
 * sync mode: the harvest already waited for KVM's synchronous flushes, so
 * its epoch is complete when it is opened.
 */
u64 lt_epoch_complete_sync(struct lt_vm *vm, u64 start_ns)
{
	struct lt_epoch *ep = &vm->epoch;
	u64 epoch;

	spin_lock_bh(&ep->lock);
	epoch = ++ep->started;
	vm->stats.epochs++;
	ep->start_ns = start_ns;
	if (!ep->nr_pending)
		lt_epoch_complete(vm, ktime_get_ns());
	spin_unlock_bh(&ep->lock);
	return epoch;
}

void lt_epoch_read(struct lt_vm *vm, u64 *started, u64 *done, u32 *pending)
{
	spin_lock_bh(&vm->epoch.lock);
	*started = vm->epoch.started;
	*done = vm->epoch.done;
	*pending = vm->epoch.nr_pending;
	spin_unlock_bh(&vm->epoch.lock);
}
