/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * loosetrace: generic netlink protocol between loosetrace.ko and userspace.
 *
 * Family name LOOSETRACE_GENL_NAME, version LOOSETRACE_GENL_VERSION.
 * Every message carries attributes from enum loosetrace_attr at the top
 * level; nested attributes use the enums that follow it.
 *
 * Model
 * -----
 * A caller ATTACHes a KVM VM by passing a file descriptor of that VM from
 * its own file table (a VMM's VM fd, obtained with pidfd_getfd(2)). The
 * module answers with a VM id, used by every other command. The
 * attachment belongs to the netlink socket that created it: when that
 * socket closes, or when the VM is destroyed, the module detaches by
 * itself and emits LOOSETRACE_CMD_VM_DETACHED on the "events" group.
 *
 * TRACE_START begins dirty tracking in one of two modes:
 *   LOOSETRACE_MODE_LOOSE  remote TLB flushes after write-protecting are
 *                          deferred: each vCPU flushes on its own next exit.
 *   LOOSETRACE_MODE_SYNC   the same engine, with KVM's synchronous remote
 *                          TLB flush (an IPI to every running vCPU) after
 *                          each chunk: today's behaviour, kept as baseline.
 *
 * HARVEST (a dump) atomically takes the dirty bits of every memslot (or of
 * one gfn range), re-installs write-protect traces on the harvested pages
 * and returns, per memslot, the bitmap in the compacted format of
 * <linux/loosetrace_bitmap.h>, split across as many messages as needed.
 * All messages of one harvest carry the same LOOSETRACE_A_EPOCH.
 * The first harvest after TRACE_START reports every page dirty.
 * TRACE_START may name the VMM's address ranges to trace (an allow-list
 * of LOOSETRACE_A_HVA_RANGE); memslots outside them stay the VMM's.
 *
 * Memslot changes
 * ---------------
 * The VMM may change memslots during a trace. Each HARVEST reports KVM's
 * memslot generation (LOOSETRACE_A_MEMSLOT_GEN) and, when the layout
 * changed, first adopts new writable slots (inside the allow-list), which
 * it then reports all dirty; fails with ESTALE while a traced slot is
 * gone, moved or unlogged (restart the trace: its first harvest reports
 * every page again); and stops the trace with EBUSY when the VMM asked to
 * dirty-log a traced slot itself (the VMM keeps its logging). Each of
 * these is multicast as LOOSETRACE_CMD_LAYOUT_CHANGED.
 *
 * The epoch contract
 * ------------------
 * A harvest's traces are installed only when its epoch is complete: every
 * vCPU has flushed its TLB (or provably cannot run guest code without
 * flushing first). Until then a vCPU may still write, through a stale TLB
 * entry, to a page the harvest reported clean, and that write is not
 * logged. A caller MUST NOT read the pages of a harvested round, nor treat
 * the round's bitmap as complete, before LOOSETRACE_CMD_EPOCH_GET reports
 * the epoch complete or LOOSETRACE_CMD_EPOCH_DONE for it arrives on the
 * "events" group. In sync mode an epoch is complete when HARVEST returns.
 * Epochs complete in order: EPOCH_DONE and LOOSETRACE_A_EPOCH_DONE name
 * the newest complete epoch, and every earlier one is complete too. A
 * HARVEST while an epoch is pending does not wait: it opens the next one.
 *
 * Permissions: every command but STATUS_GET, and joining the "events"
 * group, needs CAP_NET_ADMIN (in the initial user namespace; for the
 * group, over the listener's network namespace); EPERM otherwise, with an
 * extended-ack message except for HARVEST and the group. A caller sees
 * only the VMs attached from its own network namespace: others answer
 * ENOENT, are left out of VM_GET's dump and of STATUS_GET's VM count
 * (sent to CAP_NET_ADMIN callers only), and their events go to that
 * namespace alone.
 * Errors carry an extended-ack message; on 6.1 kernels HARVEST's errors
 * found before its first message come in the dump's NLMSG_DONE (errno,
 * then the message with NLM_F_ACK_TLVS): a dump's start has no extended
 * ack there.
 * Errors: ENOENT no such VM id; ENODATA no trace running (HARVEST,
 * TRACE_STOP); EALREADY trace already running; EEXIST VM already attached;
 * EBADF / EINVAL the fd is not open / not a KVM VM; EBUSY the VMM
 * dirty-logs a memslot to trace itself (TRACE_START) or asked to during
 * the trace (HARVEST); EOPNOTSUPP dirty ring or Intel PML in use,
 * or loose mode on kvm-amd under Hyper-V's enlightened NPT TLB;
 * ESTALE (HARVEST) a traced memslot was deleted, moved or lost dirty
 * logging since TRACE_START, or a new one straddles an allow-list range.
 * Documentation/netlink.rst has a table per message.
 */
#ifndef _UAPI_LINUX_LOOSETRACE_H
#define _UAPI_LINUX_LOOSETRACE_H

#include <linux/types.h>

#define LOOSETRACE_GENL_NAME		"loosetrace"
#define LOOSETRACE_GENL_VERSION		1
#define LOOSETRACE_MCGRP_EVENTS		"events"

/**
 * enum loosetrace_cmd - generic netlink commands
 * @LOOSETRACE_CMD_UNSPEC: unused
 * @LOOSETRACE_CMD_STATUS_GET: module version, protocol version, kernel
 *	release, number of attached VMs. No request attributes.
 * @LOOSETRACE_CMD_ATTACH: request %LOOSETRACE_A_VM_FD; reply
 *	%LOOSETRACE_A_VM_ID. Admin.
 * @LOOSETRACE_CMD_DETACH: request %LOOSETRACE_A_VM_ID. Admin.
 * @LOOSETRACE_CMD_VM_GET: doit with %LOOSETRACE_A_VM_ID, or dump of all
 *	attached VMs: id, owner pid, vCPUs, trace state, mode, epochs and one
 *	%LOOSETRACE_A_MEMSLOT nest per memslot.
 * @LOOSETRACE_CMD_TRACE_START: request %LOOSETRACE_A_VM_ID and optional
 *	%LOOSETRACE_A_MODE (default loose),
 *	%LOOSETRACE_A_DEADLINE_US (per-vCPU flush deadline before a kick),
 *	%LOOSETRACE_A_CHUNK_PAGES (harvest chunk). Admin.
 * @LOOSETRACE_CMD_TRACE_STOP: request %LOOSETRACE_A_VM_ID. Admin.
 * @LOOSETRACE_CMD_HARVEST: dump. Request %LOOSETRACE_A_VM_ID, optional
 *	%LOOSETRACE_A_GFN_START and %LOOSETRACE_A_GFN_COUNT. Each reply
 *	message: %LOOSETRACE_A_VM_ID, %LOOSETRACE_A_EPOCH, a
 *	%LOOSETRACE_A_MEMSLOT nest naming the slot (and, for a range, the
 *	first gfn and page count covered), %LOOSETRACE_A_BITMAP_SIZE (total
 *	bytes of this slot's compacted bitmap), %LOOSETRACE_A_BITMAP_OFFSET
 *	and %LOOSETRACE_A_BITMAP_DATA (this message's part of it). Admin.
 * @LOOSETRACE_CMD_EPOCH_GET: request %LOOSETRACE_A_VM_ID and optional
 *	%LOOSETRACE_A_EPOCH; reply %LOOSETRACE_A_EPOCH (the newest started),
 *	%LOOSETRACE_A_EPOCH_DONE (the newest complete) and
 *	%LOOSETRACE_A_VCPUS_PENDING.
 * @LOOSETRACE_CMD_EPOCH_DONE: event on the "events" group:
 *	%LOOSETRACE_A_VM_ID, %LOOSETRACE_A_EPOCH (the newest epoch complete),
 *	%LOOSETRACE_A_INSTALL_NS.
 * @LOOSETRACE_CMD_STATS_GET: request %LOOSETRACE_A_VM_ID; reply a
 *	%LOOSETRACE_A_STATS nest (enum loosetrace_stat).
 * @LOOSETRACE_CMD_VM_DETACHED: event on the "events" group:
 *	%LOOSETRACE_A_VM_ID, %LOOSETRACE_A_DETACH_REASON.
 * @LOOSETRACE_CMD_LAYOUT_CHANGED: event on the "events" group: the VMM
 *	changed the memslots of a traced VM. %LOOSETRACE_A_VM_ID,
 *	%LOOSETRACE_A_LAYOUT_EVENT (enum loosetrace_layout_event),
 *	%LOOSETRACE_A_MEMSLOT_GEN and a %LOOSETRACE_A_MEMSLOT nest naming
 *	the slot.
 */
enum loosetrace_cmd {
	LOOSETRACE_CMD_UNSPEC,
	LOOSETRACE_CMD_STATUS_GET,
	LOOSETRACE_CMD_ATTACH,
	LOOSETRACE_CMD_DETACH,
	LOOSETRACE_CMD_VM_GET,
	LOOSETRACE_CMD_TRACE_START,
	LOOSETRACE_CMD_TRACE_STOP,
	LOOSETRACE_CMD_HARVEST,
	LOOSETRACE_CMD_EPOCH_GET,
	LOOSETRACE_CMD_EPOCH_DONE,
	LOOSETRACE_CMD_STATS_GET,
	LOOSETRACE_CMD_VM_DETACHED,
	LOOSETRACE_CMD_LAYOUT_CHANGED,

	__LOOSETRACE_CMD_MAX,
	LOOSETRACE_CMD_MAX = __LOOSETRACE_CMD_MAX - 1
};

/**
 * enum loosetrace_attr - top-level attributes
 * @LOOSETRACE_A_UNSPEC: unused
 * @LOOSETRACE_A_PAD: padding for 64-bit attributes
 * @LOOSETRACE_A_MODULE_VERSION: string, module version
 * @LOOSETRACE_A_PROTO_VERSION: u32, LOOSETRACE_GENL_VERSION
 * @LOOSETRACE_A_KERNEL_RELEASE: string, the running kernel's release
 * @LOOSETRACE_A_BITMAP_VERSION: u32, compacted format version produced
 * @LOOSETRACE_A_VM_COUNT: u32, number of attached VMs
 * @LOOSETRACE_A_VM_FD: s32, a KVM VM fd in the caller's file table
 * @LOOSETRACE_A_VM_ID: u32, id of an attached VM (never 0)
 * @LOOSETRACE_A_VM_PID: u32, pid of the process that last ran one of the
 *	VM's vCPUs (KVM's userspace_pid), 0 before any vCPU ran
 * @LOOSETRACE_A_VCPU_COUNT: u32, number of vCPUs
 * @LOOSETRACE_A_TRACE_STATE: u32, enum loosetrace_trace_state
 * @LOOSETRACE_A_MODE: u32, enum loosetrace_mode
 * @LOOSETRACE_A_DEADLINE_US: u32, microseconds a vCPU may take to flush
 *	on its own before it is kicked (loose mode); 0 means the default
 *	(2000); at most 1000000. Late vCPUs are kicked again every such
 *	period, at least every millisecond, until they flush
 * @LOOSETRACE_A_MEMSLOT: nest, enum loosetrace_memslot_attr
 * @LOOSETRACE_A_EPOCH: u64, an epoch number (1 is the first)
 * @LOOSETRACE_A_EPOCH_DONE: u64, newest epoch whose traces are installed
 * @LOOSETRACE_A_VCPUS_PENDING: u32, vCPUs that have not yet flushed for
 *	the newest epoch
 * @LOOSETRACE_A_INSTALL_NS: u64, nanoseconds from the start of an epoch
 *	to its completion
 * @LOOSETRACE_A_GFN_START: u64, first guest frame of a harvest range
 * @LOOSETRACE_A_GFN_COUNT: u64, number of guest frames in the range
 * @LOOSETRACE_A_BITMAP_SIZE: u64, bytes of one slot's compacted bitmap
 * @LOOSETRACE_A_BITMAP_OFFSET: u64, offset of this message's data in it
 * @LOOSETRACE_A_BITMAP_DATA: binary, part of a compacted bitmap
 * @LOOSETRACE_A_STATS: nest, enum loosetrace_stat
 * @LOOSETRACE_A_DETACH_REASON: u32, enum loosetrace_detach_reason
 * @LOOSETRACE_A_CHUNK_PAGES: u32, pages a harvest write-protects per
 *	chunk (mmu_lock is dropped between chunks; sync mode flushes after
 *	each); a multiple of 64, at least 64; absent: 262144 (1 GiB, the
 *	chunk QEMU clears per KVM_CLEAR_DIRTY_LOG); at most
 *	LOOSETRACE_MAX_CHUNK_PAGES, so that one chunk never holds mmu_lock
 *	for long
 * @LOOSETRACE_A_MEMSLOT_GEN: u64, KVM's memslot generation: changes
 *	whenever the VMM (or the module) changes any memslot of the VM. In
 *	every HARVEST message (after the harvest's own adoptions) and VM_GET
 * @LOOSETRACE_A_HVA_RANGE: nest, enum loosetrace_hva_range_attr; may be
 *	given many times in TRACE_START: the allow-list of the VMM's
 *	address ranges to trace. A memslot whose memory lies inside one of
 *	them is traced; one wholly outside all of them is left to the VMM
 *	(even if the VMM dirty-logs it itself, as QEMU does for VGA memory);
 *	one that straddles a range's edge is refused. Without this
 *	attribute every writable user memslot is traced
 * @LOOSETRACE_A_LAYOUT_EVENT: u32, enum loosetrace_layout_event
 */
enum loosetrace_attr {
	LOOSETRACE_A_UNSPEC,
	LOOSETRACE_A_PAD,
	LOOSETRACE_A_MODULE_VERSION,
	LOOSETRACE_A_PROTO_VERSION,
	LOOSETRACE_A_KERNEL_RELEASE,
	LOOSETRACE_A_BITMAP_VERSION,
	LOOSETRACE_A_VM_COUNT,
	LOOSETRACE_A_VM_FD,
	LOOSETRACE_A_VM_ID,
	LOOSETRACE_A_VM_PID,
	LOOSETRACE_A_VCPU_COUNT,
	LOOSETRACE_A_TRACE_STATE,
	LOOSETRACE_A_MODE,
	LOOSETRACE_A_DEADLINE_US,
	LOOSETRACE_A_MEMSLOT,
	LOOSETRACE_A_EPOCH,
	LOOSETRACE_A_EPOCH_DONE,
	LOOSETRACE_A_VCPUS_PENDING,
	LOOSETRACE_A_INSTALL_NS,
	LOOSETRACE_A_GFN_START,
	LOOSETRACE_A_GFN_COUNT,
	LOOSETRACE_A_BITMAP_SIZE,
	LOOSETRACE_A_BITMAP_OFFSET,
	LOOSETRACE_A_BITMAP_DATA,
	LOOSETRACE_A_STATS,
	LOOSETRACE_A_DETACH_REASON,
	LOOSETRACE_A_CHUNK_PAGES,
	LOOSETRACE_A_MEMSLOT_GEN,
	LOOSETRACE_A_HVA_RANGE,
	LOOSETRACE_A_LAYOUT_EVENT,

	__LOOSETRACE_A_MAX,
	LOOSETRACE_A_MAX = __LOOSETRACE_A_MAX - 1
};

/**
 * enum loosetrace_memslot_attr - attributes nested in %LOOSETRACE_A_MEMSLOT
 * @LOOSETRACE_MEMSLOT_A_UNSPEC: unused
 * @LOOSETRACE_MEMSLOT_A_PAD: padding for 64-bit attributes
 * @LOOSETRACE_MEMSLOT_A_ID: u32, KVM slot id (address space in bits 16+)
 * @LOOSETRACE_MEMSLOT_A_BASE_GFN: u64, first guest frame of the slot (or
 *	of the harvested range inside it)
 * @LOOSETRACE_MEMSLOT_A_NPAGES: u64, pages in the slot (or range)
 * @LOOSETRACE_MEMSLOT_A_FLAGS: u32, KVM memslot flags (KVM_MEM_*)
 * @LOOSETRACE_MEMSLOT_A_USERSPACE_ADDR: u64, the VMM's address of the
 *	slot's memory
 * @LOOSETRACE_MEMSLOT_A_TRACED: u8 (VM_GET), 1 if the running trace
 *	covers this slot, 0 if not (no trace, a read-only slot, or outside
 *	the trace's %LOOSETRACE_A_HVA_RANGE allow-list)
 */
enum loosetrace_memslot_attr {
	LOOSETRACE_MEMSLOT_A_UNSPEC,
	LOOSETRACE_MEMSLOT_A_PAD,
	LOOSETRACE_MEMSLOT_A_ID,
	LOOSETRACE_MEMSLOT_A_BASE_GFN,
	LOOSETRACE_MEMSLOT_A_NPAGES,
	LOOSETRACE_MEMSLOT_A_FLAGS,
	LOOSETRACE_MEMSLOT_A_USERSPACE_ADDR,
	LOOSETRACE_MEMSLOT_A_TRACED,

	__LOOSETRACE_MEMSLOT_A_MAX,
	LOOSETRACE_MEMSLOT_A_MAX = __LOOSETRACE_MEMSLOT_A_MAX - 1
};

/**
 * enum loosetrace_hva_range_attr - attributes in %LOOSETRACE_A_HVA_RANGE
 * @LOOSETRACE_HVA_RANGE_A_UNSPEC: unused
 * @LOOSETRACE_HVA_RANGE_A_PAD: padding for 64-bit attributes
 * @LOOSETRACE_HVA_RANGE_A_START: u64, first byte, page aligned
 * @LOOSETRACE_HVA_RANGE_A_LEN: u64, bytes, page aligned, not 0
 */
enum loosetrace_hva_range_attr {
	LOOSETRACE_HVA_RANGE_A_UNSPEC,
	LOOSETRACE_HVA_RANGE_A_PAD,
	LOOSETRACE_HVA_RANGE_A_START,
	LOOSETRACE_HVA_RANGE_A_LEN,

	__LOOSETRACE_HVA_RANGE_A_MAX,
	LOOSETRACE_HVA_RANGE_A_MAX = __LOOSETRACE_HVA_RANGE_A_MAX - 1
};

/* At most this many %LOOSETRACE_A_HVA_RANGE in one TRACE_START. */
#define LOOSETRACE_MAX_HVA_RANGES	64
/* The largest %LOOSETRACE_A_CHUNK_PAGES: 4 GiB of 4 KiB pages. */
#define LOOSETRACE_MAX_CHUNK_PAGES	0x100000U

/**
 * enum loosetrace_layout_event - what %LOOSETRACE_CMD_LAYOUT_CHANGED says
 * @LOOSETRACE_LAYOUT_SLOT_ADOPTED: a memslot created during the trace (in
 *	the allow-list, if one was given) is traced from now on, all of its
 *	pages dirty in the next harvest (the one that adopted it)
 * @LOOSETRACE_LAYOUT_SLOT_STALE: a traced memslot was deleted, moved or
 *	lost dirty logging: HARVEST fails with ESTALE until the trace is
 *	restarted
 * @LOOSETRACE_LAYOUT_VMM_LOGGING: the VMM turned on its own dirty logging
 *	on a traced memslot: the module stopped the trace (HARVEST failed
 *	with EBUSY) and left the VMM's logging on
 */
enum loosetrace_layout_event {
	LOOSETRACE_LAYOUT_SLOT_ADOPTED,
	LOOSETRACE_LAYOUT_SLOT_STALE,
	LOOSETRACE_LAYOUT_VMM_LOGGING,
};

/**
 * enum loosetrace_stat - u64 counters nested in %LOOSETRACE_A_STATS
 * @LOOSETRACE_STAT_UNSPEC: unused
 * @LOOSETRACE_STAT_PAD: padding for 64-bit attributes
 * @LOOSETRACE_STAT_TRACE_INSTALL_NS: first harvest's epoch, start to
 *	completion: the time to install traces on all guest memory
 * @LOOSETRACE_STAT_EPOCHS: epochs started
 * @LOOSETRACE_STAT_EPOCHS_DONE: epochs completed
 * @LOOSETRACE_STAT_FLUSH_NS_MIN: per-vCPU flush latency, minimum
 * @LOOSETRACE_STAT_FLUSH_NS_MEDIAN: per-vCPU flush latency, median of the
 *	latest 1024
 * @LOOSETRACE_STAT_FLUSH_NS_MAX: per-vCPU flush latency, maximum
 * @LOOSETRACE_STAT_DEADLINE_KICKS: vCPUs kicked after missing the deadline
 * @LOOSETRACE_STAT_SYNC_FLUSHES: synchronous remote flushes issued
 * @LOOSETRACE_STAT_PAGES_HARVESTED: dirty pages reported by harvests
 * @LOOSETRACE_STAT_BYTES_ENCODED: compacted bitmap bytes produced
 * @LOOSETRACE_STAT_BYTES_RAW: raw bitmap bytes those stand for
 * @LOOSETRACE_STAT_HARVESTS: harvests served
 * @LOOSETRACE_STAT_HARVEST_NS: total time spent taking and re-protecting
 */
enum loosetrace_stat {
	LOOSETRACE_STAT_UNSPEC,
	LOOSETRACE_STAT_PAD,
	LOOSETRACE_STAT_TRACE_INSTALL_NS,
	LOOSETRACE_STAT_EPOCHS,
	LOOSETRACE_STAT_EPOCHS_DONE,
	LOOSETRACE_STAT_FLUSH_NS_MIN,
	LOOSETRACE_STAT_FLUSH_NS_MEDIAN,
	LOOSETRACE_STAT_FLUSH_NS_MAX,
	LOOSETRACE_STAT_DEADLINE_KICKS,
	LOOSETRACE_STAT_SYNC_FLUSHES,
	LOOSETRACE_STAT_PAGES_HARVESTED,
	LOOSETRACE_STAT_BYTES_ENCODED,
	LOOSETRACE_STAT_BYTES_RAW,
	LOOSETRACE_STAT_HARVESTS,
	LOOSETRACE_STAT_HARVEST_NS,

	__LOOSETRACE_STAT_MAX,
	LOOSETRACE_STAT_MAX = __LOOSETRACE_STAT_MAX - 1
};

/**
 * enum loosetrace_mode - how remote TLB flushes are done after tracing
 * @LOOSETRACE_MODE_LOOSE: deferred, per-vCPU flush at the vCPU's next exit
 * @LOOSETRACE_MODE_SYNC: synchronous flush of all vCPUs after each chunk
 */
enum loosetrace_mode {
	LOOSETRACE_MODE_LOOSE,
	LOOSETRACE_MODE_SYNC,
};

/**
 * enum loosetrace_trace_state - tracing state of an attached VM
 * @LOOSETRACE_TRACE_OFF: not tracing
 * @LOOSETRACE_TRACE_ON: tracing, harvests allowed
 */
enum loosetrace_trace_state {
	LOOSETRACE_TRACE_OFF,
	LOOSETRACE_TRACE_ON,
};

/**
 * enum loosetrace_detach_reason - why an attachment ended
 * @LOOSETRACE_DETACH_REQUESTED: a DETACH command
 * @LOOSETRACE_DETACH_SOCKET_CLOSED: the attaching socket was closed
 * @LOOSETRACE_DETACH_VM_EXITED: the VM was destroyed
 * @LOOSETRACE_DETACH_UNLOAD: the module is being unloaded
 */
enum loosetrace_detach_reason {
	LOOSETRACE_DETACH_REQUESTED,
	LOOSETRACE_DETACH_SOCKET_CLOSED,
	LOOSETRACE_DETACH_VM_EXITED,
	LOOSETRACE_DETACH_UNLOAD,
};

#endif /* _UAPI_LINUX_LOOSETRACE_H */
