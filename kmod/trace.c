// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging on an attached VM's memslots: TRACE_START/TRACE_STOP and
 * the harvest (take the dirty bits and re-install write-protect traces).
 *
 * TRACE_START turns on KVM_MEM_LOG_DIRTY_PAGES on every user memslot of
 * every address space, with the VM switched to manual-protect,
 * initially-all-set dirty logging for as long as the trace runs. KVM then
 * allocates each slot's bitmap with every bit set and write-protects
 * nothing: no synchronous write-protect pass, no remote flush. The first
 * harvest takes all bits, so it write-protects all of guest memory: that
 * harvest and its epoch are the trace install.
 *
 * A harvest does what KVM_CLEAR_DIRTY_LOG does, without the flush: under
 * mmu_lock held for write, per 64-page word, atomically take the dirty
 * bits and call kvm_arch_mmu_enable_log_dirty_pt_masked() for them (it
 * write-protects the pages, huge pages at 2 MiB first). The flush is left
 * to the epoch (loose mode) or done synchronously per chunk (sync; 1 GiB
 * unless TRACE_START set LOOSETRACE_A_CHUNK_PAGES).
 *
 * The VMM may change memslots while a trace runs (memslot_hook.c notes
 * it). Each harvest first looks at the layout again when it changed: a
 * new slot the trace should cover is adopted (logging on, every bit set,
 * so the harvest reports all its pages), a traced slot that went away
 * fails the harvest with -ESTALE, and a traced slot the VMM asked to log
 * itself stops the trace, leaving the VMM's logging on.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kvm_host.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/sched.h>
#include <linux/ktime.h>
#include <linux/loosetrace.h>

#include "bitmap_codec.h"
#include "loosetrace.h"

static struct kvm_memory_slot *lt_memslot(struct kvm *kvm,
					  const struct lt_slot *s)
{
	struct kvm_memory_slot *ms;

	ms = id_to_memslot(__kvm_memslots(kvm, s->slot >> 16), (u16)s->slot);
	/* The VMM may have deleted or moved the slot since TRACE_START. */
	if (!ms || ms->base_gfn != s->base_gfn || ms->npages != s->npages)
		return NULL;
	return ms;
}

/* The mode the module runs a trace in: see the top of this file. */
#define LT_TRACE_MANUAL_PROTECT	(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | \
				 KVM_DIRTY_LOG_INITIALLY_SET)

/* The newest memslot generation of any address space (slots_lock held). */
u64 lt_memslot_gen(struct kvm *kvm)
{
	u64 gen = 0;
	int as;

	for (as = 0; as < lt_nr_address_spaces(kvm); as++)
		gen = max(gen, __kvm_memslots(kvm, as)->generation);
	return gen;
}

/*
 * Changes a memslot's flags for the module. The dirty bitmaps KVM
 * allocates are charged to the VMM's memory cgroup, not to the caller's
 * (the agent, or whoever unloads the module): they are the VM's memory.
 */
static int lt_set_slot_flags(struct lt_vm *vm, const struct lt_slot *s,
			     u32 flags)
{
	struct kvm *kvm = vm->kvm;
	struct lt_memregion mem = {
		.slot = s->slot,
		.flags = flags,
		.guest_phys_addr = s->base_gfn << PAGE_SHIFT,
		.memory_size = s->npages << PAGE_SHIFT,
		.userspace_addr = s->userspace_addr,
	};
	struct mem_cgroup *memcg, *old;
	int r;

	memcg = get_mem_cgroup_from_mm(kvm->mm);
	old = set_active_memcg(memcg);
	vm->self_update = true;
	r = __kvm_set_memory_region(kvm, &mem);
	vm->self_update = false;
	set_active_memcg(old);
	mem_cgroup_put(memcg);
	return r;
}

/*
 * Turns dirty logging back off on the slots that still exist, except
 * where the VMM asked for it during the trace: that flag is the VMM's.
 */
static void lt_restore_slots(struct lt_vm *vm, struct lt_slot *slots, u32 n)
{
	struct kvm_memory_slot *ms;
	u32 i;
	int r;

	for (i = 0; i < n; i++) {
		ms = lt_memslot(vm->kvm, &slots[i]);
		if (!ms || !(ms->flags & KVM_MEM_LOG_DIRTY_PAGES) ||
		    slots[i].vmm_logs)
			continue;
		r = lt_set_slot_flags(vm, &slots[i],
				      ms->flags & ~KVM_MEM_LOG_DIRTY_PAGES);
		if (r)
			pr_err("cannot turn dirty logging off on memslot %#x: %d\n",
			       slots[i].slot, r);
	}
}

/* The traced slot with this id, or NULL (slots_lock or vm->lock held). */
struct lt_slot *lt_trace_find_slot(struct lt_vm *vm, u32 slot)
{
	u32 i;

	for (i = 0; i < vm->nr_slots; i++)
		if (vm->slots[i].slot == slot)
			return &vm->slots[i];
	return NULL;
}

/* Whether the running trace covers memslot @slot (vm->lock held). */
bool lt_trace_covers(struct lt_vm *vm, u32 slot)
{
	return vm->trace_state == LOOSETRACE_TRACE_ON &&
	       lt_trace_find_slot(vm, slot);
}

enum lt_wanted { LT_SKIP, LT_TRACE, LT_STRADDLES };

/* Whether the allow-list asks for @ms: inside a range, outside, or both. */
static enum lt_wanted lt_slot_wanted(const struct lt_hva_range *ranges,
				     u32 nr, const struct kvm_memory_slot *ms)
{
	u64 start = ms->userspace_addr;
	u64 end = start + (ms->npages << PAGE_SHIFT);
	u32 i;

	if (!ranges)
		return LT_TRACE;
	for (i = 0; i < nr; i++) {
		if (start >= ranges[i].start && end <= ranges[i].end)
			return LT_TRACE;
		if (start < ranges[i].end && end > ranges[i].start)
			return LT_STRADDLES;
	}
	return LT_SKIP;
}

static bool lt_slot_traceable(const struct kvm_memory_slot *ms)
{
	return ms->id < KVM_USER_MEM_SLOTS &&
	       !(ms->flags & LT_UNTRACEABLE_SLOT_FLAGS);
}

static void lt_slot_init(struct lt_slot *s, int as,
			 const struct kvm_memory_slot *ms)
{
	memset(s, 0, sizeof(*s));
	s->slot = (as << 16) | ms->id;
	s->orig_flags = ms->flags;
	s->base_gfn = ms->base_gfn;
	s->npages = ms->npages;
	s->userspace_addr = ms->userspace_addr;
}

/*
 * Collects the user memslots to trace: every writable one, or, with an
 * allow-list, those inside it. A slot to trace that the VMM already
 * dirty-logs is refused: its bits belong to the VMM. A slot the VMM logs
 * outside the allow-list (QEMU's VGA memory) is left to it, but only if
 * the VMM runs the VM in the module's own dirty-log mode (QEMU does):
 * otherwise the VM-wide mode change would alter how KVM treats its log.
 */
static int lt_collect_slots(struct lt_vm *vm, struct lt_hva_range *ranges,
			    u32 nr_ranges, struct lt_slot **out, u32 *nr,
			    struct netlink_ext_ack *extack)
{
	struct kvm *kvm = vm->kvm;
	struct kvm_memory_slot *ms;
	struct lt_slot *slots;
	enum lt_wanted w;
	u32 n = 0, i = 0;
	int as, bkt;

	for (as = 0; as < lt_nr_address_spaces(kvm); as++) {
		kvm_for_each_memslot(ms, bkt, __kvm_memslots(kvm, as)) {
			if (!lt_slot_traceable(ms))
				continue;
			w = lt_slot_wanted(ranges, nr_ranges, ms);
			if (w == LT_STRADDLES) {
				NL_SET_ERR_MSG(extack,
					       "a memslot straddles the edge of a LOOSETRACE_A_HVA_RANGE: give whole RAM blocks");
				return -EINVAL;
			}
			if ((ms->flags & KVM_MEM_LOG_DIRTY_PAGES) &&
			    w == LT_TRACE) {
				NL_SET_ERR_MSG(extack,
					       "a memslot to trace is already dirty-logged by the VMM");
				return -EBUSY;
			}
			if ((ms->flags & KVM_MEM_LOG_DIRTY_PAGES) &&
			    kvm->manual_dirty_log_protect !=
			    LT_TRACE_MANUAL_PROTECT) {
				NL_SET_ERR_MSG(extack,
					       "the VMM dirty-logs a memslot without manual-protect, initially-set mode: tracing would change how KVM protects it");
				return -EBUSY;
			}
			if (w == LT_SKIP)
				continue;
			if (ms->npages > U32_MAX) {
				NL_SET_ERR_MSG(extack,
					       "a memslot has more than 2^32 pages");
				return -EFBIG;
			}
			n++;
		}
	}
	if (!n) {
		if (ranges)
			NL_SET_ERR_MSG(extack,
				       "no writable memslot lies inside the LOOSETRACE_A_HVA_RANGE allow-list");
		else
			NL_SET_ERR_MSG(extack,
				       "the VM has no writable memslot to trace");
		return -ENOENT;
	}

	slots = kcalloc(n, sizeof(*slots), GFP_KERNEL);
	if (!slots)
		return -ENOMEM;
	for (as = 0; as < lt_nr_address_spaces(kvm); as++) {
		kvm_for_each_memslot(ms, bkt, __kvm_memslots(kvm, as)) {
			if (!lt_slot_traceable(ms) ||
			    lt_slot_wanted(ranges, nr_ranges, ms) != LT_TRACE)
				continue;
			lt_slot_init(&slots[i++], as, ms);
		}
	}
	*out = slots;
	*nr = n;
	return 0;
}

/*
 * On success the trace owns @ranges (kfree'd at stop); on failure the
 * caller keeps it.
 */
int lt_trace_start(struct lt_vm *vm, u32 mode, u32 deadline_us,
		   u32 chunk_pages, struct lt_hva_range *ranges, u32 nr_ranges,
		   struct netlink_ext_ack *extack)
{
	struct kvm *kvm = vm->kvm;
	struct lt_slot *slots;
	u32 i, n;
	int r;

	if (vm->trace_state == LOOSETRACE_TRACE_ON) {
		NL_SET_ERR_MSG(extack, "a trace is already running on this VM");
		return -EALREADY;
	}
	if (kvm->dirty_ring_size) {
		NL_SET_ERR_MSG(extack,
			       "the VM uses the dirty ring, not the dirty bitmap");
		return -EOPNOTSUPP;
	}
	/* PML logs writes in hardware buffers that only a kick drains. */
	if (lt_sym.cpu_dirty_log_size()) {
		NL_SET_ERR_MSG(extack,
			       "hardware dirty logging (PML) is on: load kvm_intel with enable_pml=0");
		return -EOPNOTSUPP;
	}

	mutex_lock(&kvm->slots_lock);
	r = lt_collect_slots(vm, ranges, nr_ranges, &slots, &n, extack);
	if (r)
		goto out_unlock;

	vm->saved_manual_protect = kvm->manual_dirty_log_protect;
	WRITE_ONCE(kvm->manual_dirty_log_protect, LT_TRACE_MANUAL_PROTECT);
	for (i = 0; i < n; i++) {
		r = lt_set_slot_flags(vm, &slots[i],
				      slots[i].orig_flags |
				      KVM_MEM_LOG_DIRTY_PAGES);
		if (r) {
			NL_SET_ERR_MSG(extack,
				       "KVM refused to turn dirty logging on for a memslot");
			lt_restore_slots(vm, slots, i);
			WRITE_ONCE(kvm->manual_dirty_log_protect,
				   vm->saved_manual_protect);
			kfree(slots);
			goto out_unlock;
		}
	}
	vm->slots = slots;
	vm->nr_slots = n;
	vm->ranges = ranges;
	vm->nr_ranges = nr_ranges;
	vm->memslot_gen = lt_memslot_gen(kvm);
	lt_hook_add(vm);
	mutex_unlock(&kvm->slots_lock);

	vm->mode = mode;
	vm->deadline_us = deadline_us;
	vm->chunk_pages = chunk_pages;
	vm->trace_state = LOOSETRACE_TRACE_ON;
	spin_lock_bh(&vm->epoch.lock);
	vm->stats.first_harvest_start_ns = 0;
	vm->stats.trace_install_ns = 0;
	spin_unlock_bh(&vm->epoch.lock);
	return 0;

out_unlock:
	mutex_unlock(&kvm->slots_lock);
	return r;
}

/*
 * Stops tracing. @restore_slots is false when the VM is being destroyed
 * anyway (its last user was the module): its memslots are left alone.
 * An epoch still open keeps being tracked: its harvest's pages may still
 * be read once it completes.
 */
void lt_trace_stop(struct lt_vm *vm, bool restore_slots)
{
	struct kvm *kvm = vm->kvm;

	if (vm->trace_state != LOOSETRACE_TRACE_ON)
		return;
	mutex_lock(&kvm->slots_lock);
	lt_hook_del(vm);
	if (restore_slots)
		lt_restore_slots(vm, vm->slots, vm->nr_slots);
	/*
	 * A VMM that set its mode itself (KVM_ENABLE_CAP) during the trace
	 * keeps what it set.
	 */
	if (kvm->manual_dirty_log_protect == LT_TRACE_MANUAL_PROTECT)
		WRITE_ONCE(kvm->manual_dirty_log_protect,
			   vm->saved_manual_protect);
	mutex_unlock(&kvm->slots_lock);
	kfree(vm->slots);
	vm->slots = NULL;
	vm->nr_slots = 0;
	kfree(vm->ranges);
	vm->ranges = NULL;
	vm->nr_ranges = 0;
	vm->trace_state = LOOSETRACE_TRACE_OFF;
}

/*
 * Takes the dirty bits of pages [first, first + n) of @ms (offsets in the
 * slot) into @buf (bit 0 = page @first) and write-protects them, in
 * chunks of vm->chunk_pages with mmu_lock dropped between chunks. In
 * sync mode each chunk ends with KVM's synchronous remote flush, as one
 * KVM_CLEAR_DIRTY_LOG call of QEMU's would. Returns the pages taken.
 */
static u64 lt_take_bits(struct lt_vm *vm, struct kvm_memory_slot *ms,
			u64 first, u64 n, unsigned long *buf)
{
	struct kvm *kvm = vm->kvm;
	u64 end = first + n, off, chunk_end, dirty = 0;
	unsigned long mask, taken, j;
	atomic_long_t *p;
	bool took;

	for (off = round_down(first, BITS_PER_LONG); off < end;
	     off = chunk_end) {
		chunk_end = min(end, off + vm->chunk_pages);
		took = false;
		write_lock(&kvm->mmu_lock);
		for (; off < chunk_end; off += BITS_PER_LONG) {
			mask = ~0UL;
			if (off < first)
				mask &= ~0UL << (first - off);
			if (off + BITS_PER_LONG > end)
				mask &= ~0UL >> (off + BITS_PER_LONG - end);
			p = (atomic_long_t *)&ms->dirty_bitmap[off / BITS_PER_LONG];
			if (!(atomic_long_read(p) & mask))
				continue;
			taken = atomic_long_fetch_andnot(mask, p) & mask;
			if (!taken)
				continue;
			lt_sym.enable_log_dirty(kvm, ms, off, taken);
			took = true;
			dirty += hweight_long(taken);
			if (off >= first && !((off - first) % BITS_PER_LONG)) {
				buf[(off - first) / BITS_PER_LONG] = taken;
				continue;
			}
			for_each_set_bit(j, &taken, BITS_PER_LONG)
				__set_bit(off + j - first, buf);
		}
		write_unlock(&kvm->mmu_lock);
		chunk_end = off;

		if (took && vm->mode == LOOSETRACE_MODE_SYNC) {
			lt_sym.flush_memslot(kvm, ms);
			spin_lock_bh(&vm->epoch.lock);
			vm->stats.sync_flushes++;
			spin_unlock_bh(&vm->epoch.lock);
		}
		cond_resched();
	}
	return dirty;
}

/* Puts taken bits back, so that a harvest that fails loses no page. */
static void lt_give_back_bits(struct kvm_memory_slot *ms, u64 first, u64 n,
			      unsigned long *buf)
{
	unsigned long j;

	for_each_set_bit(j, buf, n)
		set_bit(first + j, ms->dirty_bitmap);
}

/* Phase 1: the ranges to take and every buffer, before any bit is taken. */
static int lt_harvest_prepare(struct lt_vm *vm, u64 gfn_start, u64 gfn_end,
			      struct lt_harvest *h, unsigned long **bufs)
{
	struct kvm *kvm = vm->kvm;
	struct kvm_memory_slot *ms;
	struct lt_harvest_slot *hs;
	u64 first, last;
	u32 i;

	for (i = 0; i < vm->nr_slots; i++) {
		first = max_t(u64, gfn_start, vm->slots[i].base_gfn);
		last = min_t(u64, gfn_end,
			     vm->slots[i].base_gfn + vm->slots[i].npages);
		if (first >= last)
			continue;
		/*
		 * A traced slot the VMM deleted, moved or stopped logging
		 * took its dirty bits with it: reporting it clean would
		 * lose writes, so the harvest fails instead.
		 */
		ms = lt_memslot(kvm, &vm->slots[i]);
		if (!ms || !ms->dirty_bitmap)
			return -ESTALE;

		hs = &h->slots[h->nr_slots];
		hs->slot = vm->slots[i].slot;
		hs->base_gfn = first;
		hs->npages = last - first;
		hs->userspace_addr = ms->userspace_addr +
				     ((first - ms->base_gfn) << PAGE_SHIFT);
		hs->size = lt_bm_encoded_max(hs->npages);
		bufs[h->nr_slots] = kvcalloc(BITS_TO_LONGS(hs->npages),
					     sizeof(long), GFP_KERNEL);
		hs->data = kvmalloc(hs->size, GFP_KERNEL);
		h->nr_slots++;
		if (!bufs[h->nr_slots - 1] || !hs->data)
			return -ENOMEM;
	}
	return 0;
}

/* Adopts a slot created during the trace: logging on, all bits set. */
static int lt_adopt_slot(struct lt_vm *vm, int as,
			 const struct kvm_memory_slot *ms)
{
	struct lt_slot *slots, *s;
	int r;

	if (ms->npages > U32_MAX)
		return -EFBIG;
	slots = krealloc_array(vm->slots, vm->nr_slots + 1, sizeof(*slots),
			       GFP_KERNEL);
	if (!slots)
		return -ENOMEM;
	vm->slots = slots;
	s = &slots[vm->nr_slots];
	lt_slot_init(s, as, ms);
	/* Initially-set mode: KVM fills the new bitmap with ones. */
	r = lt_set_slot_flags(vm, s, s->orig_flags | KVM_MEM_LOG_DIRTY_PAGES);
	if (r)
		return r;
	vm->nr_slots++;
	return 0;
}

/*
 * Looks at the memslots again when the VMM changed them since the last
 * harvest (slots_lock held). New slots the trace should cover are
 * adopted; traced slots that went stale are announced once (phase 1 then
 * fails the harvest). -EBUSY: the VMM asked to log a slot of the trace.
 */
static int lt_harvest_sync_layout(struct lt_vm *vm,
				  struct netlink_ext_ack *extack)
{
	struct kvm *kvm = vm->kvm;
	struct kvm_memory_slot *ms;
	struct lt_slot *s;
	enum lt_wanted w;
	int as, bkt, r;
	u32 i;

	if (!vm->layout_changed && lt_memslot_gen(kvm) == vm->memslot_gen)
		return 0;
	vm->layout_changed = false;

	for (i = 0; i < vm->nr_slots; i++) {
		s = &vm->slots[i];
		if (s->vmm_logs) {
			NL_SET_ERR_MSG(extack,
				       "the VMM turned on its own dirty logging of a traced memslot: the trace was stopped and the VMM keeps its logging");
			return -EBUSY;
		}
		ms = lt_memslot(kvm, s);
		if ((!ms || !ms->dirty_bitmap) && !s->stale_notified) {
			s->stale_notified = true;
			lt_notify_layout(vm, LOOSETRACE_LAYOUT_SLOT_STALE, s,
					 lt_memslot_gen(kvm));
		}
	}

	for (as = 0; as < lt_nr_address_spaces(kvm); as++) {
rescan:
		kvm_for_each_memslot(ms, bkt, __kvm_memslots(kvm, as)) {
			if (!lt_slot_traceable(ms) ||
			    lt_trace_find_slot(vm, (as << 16) | ms->id))
				continue;
			w = lt_slot_wanted(vm->ranges, vm->nr_ranges, ms);
			if (w == LT_SKIP)
				continue;
			if (w == LT_STRADDLES) {
				NL_SET_ERR_MSG(extack,
					       "a new memslot straddles the edge of a traced LOOSETRACE_A_HVA_RANGE: stop and start the trace");
				return -ESTALE;
			}
			if (ms->flags & KVM_MEM_LOG_DIRTY_PAGES) {
				NL_SET_ERR_MSG(extack,
					       "the VMM created a memslot inside the traced ranges with its own dirty logging: the trace was stopped");
				return -EBUSY;
			}
			r = lt_adopt_slot(vm, as, ms);
			if (r) {
				NL_SET_ERR_MSG(extack,
					       "cannot turn dirty logging on for a new memslot");
				return r;
			}
			lt_notify_layout(vm, LOOSETRACE_LAYOUT_SLOT_ADOPTED,
					 &vm->slots[vm->nr_slots - 1],
					 lt_memslot_gen(kvm));
			/*
			 * The flags change replaced @ms in both memslot sets
			 * and freed it: the walk cannot go on from it. Start
			 * over; the adopted slot is skipped now.
			 */
			goto rescan;
		}
	}
	vm->memslot_gen = lt_memslot_gen(kvm);
	return 0;
}

/*
 * The trace cannot go on: the VMM wants its own dirty log on a traced
 * slot. Stop it (the VMM's flag stays on) and say so.
 */
static void lt_trace_abort_vmm_logging(struct lt_vm *vm)
{
	struct lt_slot s = { 0 };
	u64 gen;
	u32 i;

	for (i = 0; i < vm->nr_slots; i++) {
		if (vm->slots[i].vmm_logs) {
			s = vm->slots[i];
			break;
		}
	}
	lt_trace_stop(vm, true);
	mutex_lock(&vm->kvm->slots_lock);
	gen = lt_memslot_gen(vm->kvm);
	mutex_unlock(&vm->kvm->slots_lock);
	lt_notify_layout(vm, LOOSETRACE_LAYOUT_VMM_LOGGING, &s, gen);
}

int lt_harvest_take(struct lt_vm *vm, u64 gfn_start, u64 gfn_count,
		    struct lt_harvest *h, struct netlink_ext_ack *extack)
{
	struct kvm *kvm = vm->kvm;
	struct kvm_memory_slot *ms;
	struct lt_harvest_slot *hs;
	u64 start_ns, gfn_end, dirty = 0, raw = 0, enc = 0;
	unsigned long **bufs = NULL;
	long len = 0;
	u32 i, nbufs = 0;
	int r;

	if (vm->trace_state != LOOSETRACE_TRACE_ON) {
		NL_SET_ERR_MSG(extack, "no trace is running: TRACE_START first");
		return -ENODATA;
	}
	gfn_end = gfn_count ? gfn_start + gfn_count : U64_MAX;
	if (gfn_end < gfn_start) {
		NL_SET_ERR_MSG(extack, "the gfn range wraps around");
		return -EINVAL;
	}

	start_ns = ktime_get_ns();
	mutex_lock(&kvm->slots_lock);
	r = lt_harvest_sync_layout(vm, extack);
	if (r == -EBUSY) {
		mutex_unlock(&kvm->slots_lock);
		lt_trace_abort_vmm_logging(vm);
		return r;
	}
	if (r)
		goto out_unlock;
	h->memslot_gen = vm->memslot_gen;

	r = -ENOMEM;
	nbufs = vm->nr_slots;
	h->slots = kcalloc(nbufs, sizeof(*h->slots), GFP_KERNEL);
	bufs = kcalloc(nbufs, sizeof(*bufs), GFP_KERNEL);
	if (!h->slots || !bufs) {
		NL_SET_ERR_MSG(extack, "out of memory");
		goto out_unlock;
	}
	r = lt_harvest_prepare(vm, gfn_start, gfn_end, h, bufs);
	if (r == -ESTALE) {
		NL_SET_ERR_MSG(extack,
			       "a traced memslot was deleted, moved or lost dirty logging since TRACE_START: its writes are unknown, stop and start the trace");
		goto out_unlock;
	}
	if (r) {
		NL_SET_ERR_MSG(extack, "out of memory for the harvest's bitmaps");
		goto out_unlock;
	}

	spin_lock_bh(&vm->epoch.lock);
	if (!vm->stats.trace_install_ns && !vm->stats.first_harvest_start_ns)
		vm->stats.first_harvest_start_ns = start_ns;
	spin_unlock_bh(&vm->epoch.lock);

	/* Phase 2: take the bits and write-protect. */
	for (i = 0; i < h->nr_slots; i++) {
		hs = &h->slots[i];
		ms = id_to_memslot(__kvm_memslots(kvm, hs->slot >> 16),
				   (u16)hs->slot);
		hs->dirty = lt_take_bits(vm, ms, hs->base_gfn - ms->base_gfn,
					 hs->npages, bufs[i]);
		dirty += hs->dirty;
	}

	/* Phase 3: encode; on failure every taken bit goes back. */
	for (i = 0; i < h->nr_slots; i++) {
		hs = &h->slots[i];
		len = lt_bm_encode((const u64 *)bufs[i], hs->npages, hs->data,
				   hs->size);
		if (len < 0)
			break;
		hs->size = len;
		raw += DIV_ROUND_UP(hs->npages, 8);
		enc += len;
	}
	if (len < 0) {
		for (i = 0; i < h->nr_slots; i++) {
			hs = &h->slots[i];
			ms = id_to_memslot(__kvm_memslots(kvm, hs->slot >> 16),
					   (u16)hs->slot);
			lt_give_back_bits(ms, hs->base_gfn - ms->base_gfn,
					  hs->npages, bufs[i]);
		}
		NL_SET_ERR_MSG(extack,
			       "cannot encode the harvest: its bits were put back");
		r = len;
	}
out_unlock:
	mutex_unlock(&kvm->slots_lock);
	for (i = 0; bufs && i < nbufs; i++)
		kvfree(bufs[i]);
	kfree(bufs);
	if (r)
		return r;

	/* The traces are in place; now their flush. */
	if (vm->mode == LOOSETRACE_MODE_SYNC)
		h->epoch = lt_epoch_complete_sync(vm, start_ns);
	else
		h->epoch = lt_epoch_begin_loose(vm);

	spin_lock_bh(&vm->epoch.lock);
	vm->stats.harvests++;
	vm->stats.harvest_ns += ktime_get_ns() - start_ns;
	vm->stats.pages_harvested += dirty;
	vm->stats.bytes_raw += raw;
	vm->stats.bytes_encoded += enc;
	spin_unlock_bh(&vm->epoch.lock);
	return 0;
}

void lt_harvest_free(struct lt_harvest *h)
{
	u32 i;

	if (h->slots) {
		for (i = 0; i < h->nr_slots; i++)
			kvfree(h->slots[i].data);
		kfree(h->slots);
	}
	if (h->vm)
		lt_vm_put(h->vm);
	kfree(h);
}
