/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared by the files of loosetrace.ko.
 *
 * Object lifetimes (see Documentation/engine.rst):
 * - struct lt_vm is created by ATTACH and lives while the registry or an
 *   operation holds a reference (ref). While attached (!detached) it holds
 *   one reference on the struct kvm; detaching drops it exactly once.
 * - lt_vm.lock serialises every operation on one VM (trace start/stop,
 *   harvest, detach). The epoch state has its own spinlock because the
 *   poll timer (softirq) reads and completes it.
 */
#ifndef _LOOSETRACE_H
#define _LOOSETRACE_H

#include <linux/bits.h>
#include <linux/hrtimer.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>

#include "compat.h"

#define LOOSETRACE_VERSION "0.2.0"

/* A vCPU gets this long to flush on its own before it is kicked. */
#define LT_DEFAULT_DEADLINE_US	2000
#define LT_MAX_DEADLINE_US	1000000
/* How often pending vCPUs are looked at while an epoch is open. */
#define LT_POLL_NS		(200 * NSEC_PER_USEC)
/* A vCPU kicked and still pending is kicked again after this long. */
#define LT_REKICK_NS		(1000 * NSEC_PER_USEC)
/* Per-vCPU flush latencies kept for the median. */
#define LT_LAT_SAMPLES		1024
/*
 * Default harvest chunk (1 GiB, QEMU's KVM_CLEAR_DIRTY_LOG size): mmu_lock
 * is dropped between chunks; sync mode flushes after each one.
 */
#define LT_DEFAULT_CHUNK_PAGES	BIT(18)
/* The smallest chunk: one dirty-bitmap word. */
#define LT_MIN_CHUNK_PAGES	BITS_PER_LONG

/* Unexported KVM functions, resolved at load (symbols.c). */
struct lt_symbols {
	lt_enable_log_dirty_fn enable_log_dirty;
	lt_flush_memslot_fn flush_memslot;
	lt_cpu_dirty_log_size_fn cpu_dirty_log_size;
};

extern struct lt_symbols lt_sym;

/* A memslot whose dirty logging the module turned on. */
struct lt_slot {
	u32 slot;		/* as_id << 16 | id */
	u32 orig_flags;
	u64 base_gfn;
	u64 npages;
	u64 userspace_addr;
	bool vmm_logs;		/* the VMM asked to log it too: keep LOG on */
	bool stale_notified;
};

/* A range of the VMM's addresses TRACE_START was asked to trace. */
struct lt_hva_range {
	u64 start;
	u64 end;		/* exclusive */
};

struct lt_stats {
	u64 trace_install_ns;
	u64 first_harvest_start_ns;	/* 0 once the install is measured */
	u64 epochs;
	u64 epochs_done;
	u64 flush_ns_min;
	u64 flush_ns_max;
	u32 lat[LT_LAT_SAMPLES];	/* ring of recent latencies, ns */
	u32 lat_next;
	u32 lat_count;
	u64 deadline_kicks;
	u64 sync_flushes;
	u64 pages_harvested;
	u64 bytes_encoded;
	u64 bytes_raw;
	u64 harvests;
	u64 harvest_ns;
};

/*
 * One VM's epochs. started/done only grow; done == started means no vCPU
 * is pending. A new epoch that starts while one is pending absorbs it:
 * the vCPUs still pending get the flush request again and the older
 * deadline is kept, so completing the newer epoch completes both.
 */
struct lt_epoch {
	spinlock_t lock;	/* everything below, and lt_vm.stats */
	u64 started;
	u64 done;
	u64 start_ns;		/* of the newest epoch */
	u64 deadline_ns;	/* of the oldest pending epoch */
	u64 last_install_ns;
	u32 nr_pending;
	unsigned long *pending;	/* vCPU indexes, KVM_MAX_VCPUS bits */
	u64 *req_ns;		/* when each pending vCPU got its request */
	struct hrtimer timer;
	bool timer_armed;
	struct work_struct notify_work;
	u64 notified;		/* newest epoch announced on "events" */
};

struct lt_vm {
	struct kref ref;
	struct mutex lock;	/* serialises operations on this VM */
	u32 id;
	bool detached;
	struct kvm *kvm;
	pid_t pid;
	possible_net_t net;	/* of the attaching socket (referenced) */
	u32 portid;		/* the attaching socket */
	u32 trace_state;	/* enum loosetrace_trace_state */
	u32 mode;		/* enum loosetrace_mode */
	u32 deadline_us;
	u32 chunk_pages;	/* harvest chunk, a multiple of 64 */
	u64 saved_manual_protect;
	struct lt_slot *slots;
	u32 nr_slots;
	struct lt_hva_range *ranges;	/* NULL: trace every user memslot */
	u32 nr_ranges;
	u64 memslot_gen;	/* KVM's, when the layout was last looked at */
	/* Under kvm->slots_lock; see memslot_hook.c. */
	struct list_head hook_node;
	bool self_update;	/* the module is changing a memslot */
	bool layout_changed;	/* the VMM changed a user memslot */
	bool vmm_logging;	/* ... and asked to log a traced one */
	struct lt_epoch epoch;
	struct lt_stats stats;	/* under epoch.lock */
};

/* symbols.c */
int lt_symbols_init(void);

/* vm.c: registry, attach/detach, lifetime */
int lt_vm_init(void);
void lt_vm_exit(void);
int lt_vm_attach(int fd, u32 portid, struct net *net, u32 *id,
		 struct netlink_ext_ack *extack);
struct lt_vm *lt_vm_get(u32 id);
struct lt_vm *lt_vm_get_next(u32 *id);
void lt_vm_put(struct lt_vm *vm);
int lt_vm_detach(struct lt_vm *vm, u32 reason);

/* trace.c: dirty logging on the VM's memslots, taking the dirty bits */
int lt_trace_start(struct lt_vm *vm, u32 mode, u32 deadline_us,
		   u32 chunk_pages, struct lt_hva_range *ranges, u32 nr_ranges,
		   struct netlink_ext_ack *extack);
void lt_trace_stop(struct lt_vm *vm, bool restore_slots);
struct lt_slot *lt_trace_find_slot(struct lt_vm *vm, u32 slot);
bool lt_trace_covers(struct lt_vm *vm, u32 slot);
u64 lt_memslot_gen(struct kvm *kvm);

/* memslot_hook.c: the VMM's memslot changes on traced VMs */
int lt_hook_init(void);
void lt_hook_exit(void);
void lt_hook_add(struct lt_vm *vm);
void lt_hook_del(struct lt_vm *vm);

struct lt_harvest_slot {
	u32 slot;
	u64 base_gfn;		/* first gfn covered */
	u64 npages;		/* pages covered */
	u64 userspace_addr;	/* of base_gfn */
	u64 dirty;		/* pages set in the bitmap */
	void *data;		/* compacted bitmap */
	size_t size;
};

struct lt_harvest {
	struct lt_vm *vm;	/* referenced */
	u64 epoch;
	u64 memslot_gen;
	u32 nr_slots;
	struct lt_harvest_slot *slots;
	/* dump cursor */
	u32 cur_slot;
	size_t cur_off;
};

int lt_harvest_take(struct lt_vm *vm, u64 gfn_start, u64 gfn_count,
		    struct lt_harvest *h, struct netlink_ext_ack *extack);
void lt_harvest_free(struct lt_harvest *h);

/* epoch.c: deferred flush tracking */
int lt_epoch_loose_supported(struct netlink_ext_ack *extack);
int lt_epoch_init(struct lt_epoch *ep);
void lt_epoch_stop(struct lt_vm *vm);
void lt_epoch_free(struct lt_epoch *ep);
u64 lt_epoch_begin_loose(struct lt_vm *vm);
u64 lt_epoch_complete_sync(struct lt_vm *vm, u64 start_ns);
void lt_epoch_read(struct lt_vm *vm, u64 *started, u64 *done,
		   u32 *pending);

/* stats.c */
void lt_stats_flush_latency(struct lt_stats *st, u64 ns);
int lt_stats_fill(struct sk_buff *skb, struct lt_vm *vm);

/* netlink.c */
int loosetrace_genl_init(void);
void loosetrace_genl_exit(void);
void lt_notify_epoch_done(struct lt_vm *vm, u64 epoch, u64 install_ns);
void lt_notify_detached(struct lt_vm *vm, u32 reason);
void lt_notify_layout(struct lt_vm *vm, u32 event, const struct lt_slot *s,
		      u64 gen);

#endif /* _LOOSETRACE_H */
