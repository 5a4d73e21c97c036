/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libltvmm: a small KVM VMM for tests and demos of loosetrace.
 *
 * A VM has nr_vcpus vCPUs (>= 1; tests use >= 2) and mem_bytes of guest
 * memory in ONE memslot (slot 0, gpa 0), backed by a shared file mapped
 * MAP_SHARED: a path (tmpfs, /dev/shm) or a memfd, so that another
 * process can read the pages on the source and write them on the
 * destination of a migration. The guest is our own 64-bit program (see
 * guest_abi.h for its layout and page format); each vCPU runs a write
 * workload over its own region of data pages and keeps the generation
 * of every page in a table in guest memory, so the guest can verify all
 * of its memory after a migration.
 *
 * Threads: every vCPU runs in a thread of its own once started. The
 * other calls are made from one controlling thread. The library uses
 * SIGUSR1 to kick vCPU threads out of KVM_RUN: a program linking it must
 * leave SIGUSR1 to it.
 *
 * Errors: calls return 0 or a negative errno; vmm_error() tells why in
 * words (including guest faults reported by a vCPU thread).
 */
#ifndef LTVMM_VMM_H
#define LTVMM_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_abi.h"

struct vmm;

struct vmm_config {
	unsigned int nr_vcpus;
	uint64_t mem_bytes;	/* multiple of 2 MiB, LTG_MIN_MEM..LTG_MAX_MEM */
	const char *mem_path;	/* backing file; NULL for a memfd */
	/*
	 * true: the memory already holds a migrated guest (destination):
	 * it is neither cleared nor written, and vCPUs wait for
	 * vmm_restore_state(). false: a fresh guest is booted on zeroed
	 * memory (an existing file is truncated).
	 */
	bool incoming;
};

/* The memory layout another process needs to read or write the guest. */
struct vmm_layout {
	int vm_fd;		/* KVM VM fd number in the VMM process */
	unsigned int nr_vcpus;
	uint64_t mem_bytes;
	const char *mem_path;	/* /proc/<pid>/fd/<n> for a memfd */
	unsigned int nr_slots;	/* always 1 */
	uint32_t slot_id;	/* 0 */
	uint64_t slot_gpa;	/* 0 */
	uint64_t slot_pages;	/* mem_bytes / 4096 */
	uint64_t data_gfn_first;	/* first page the workloads write */
	uint64_t data_gfn_count;
	uint64_t gen_table_gpa;	/* __u32 per gfn, indexed by gfn */
	uint64_t ctl_gpa;	/* struct ltg_ctl */
};

struct vmm_verdict {
	bool pass;
	uint64_t pages;		/* data pages checked */
	uint64_t written;	/* of those, pages written at least once */
	uint64_t bad;		/* pages not holding their expected content */
	uint64_t first_bad_gfn;	/* valid when bad */
	uint64_t bad_gen;	/* generation found in the first bad page */
	uint64_t want_gen;	/* generation the table expected there */
};

/* Host view of one vCPU: the guest's status plus host-side counters. */
struct vmm_vcpu_info {
	struct ltg_vcpu_status guest;	/* snapshot of the guest's status */
	uint64_t io_exits;	/* KVM_EXIT_IO seen by this vCPU's thread */
	uint64_t progress_exits;
	bool booted;		/* reported LTG_PORT_BOOTED (fresh guests) */
	bool exited;		/* its thread ended (error or stop) */
	int tid;		/* its thread's id (0 until it runs) */
};

/* Lifecycle */
struct vmm *vmm_create(const struct vmm_config *cfg, char *err, size_t errlen);
int vmm_start(struct vmm *vm);		/* start every vCPU thread */
/* Runs a started vCPU's thread on host CPU @cpu only. */
int vmm_vcpu_pin(struct vmm *vm, unsigned int vcpu, int cpu);
int vmm_pause(struct vmm *vm, unsigned int timeout_ms);
int vmm_resume(struct vmm *vm);
bool vmm_paused(struct vmm *vm);
void vmm_destroy(struct vmm *vm);	/* stops threads, unmaps, closes */
/* Why the last call failed, or the fatal error once failed; or NULL. */
const char *vmm_error(struct vmm *vm);
bool vmm_failed(struct vmm *vm);	/* a vCPU thread hit a fatal error */

/*
 * Workload: applies at once, the guest re-reads it every loop (a halted
 * vCPU is woken by a doorbell interrupt to see it).
 */
void vmm_workload_default(struct ltg_vcpu_cfg *wl, enum ltg_mode mode);
/* vcpu -1: every vCPU */
int vmm_set_workload(struct vmm *vm, int vcpu, const struct ltg_vcpu_cfg *wl);
int vmm_get_workload(struct vmm *vm, unsigned int vcpu,
		     struct ltg_vcpu_cfg *wl);
int vmm_mode_parse(const char *name);	/* enum ltg_mode or -EINVAL */
const char *vmm_mode_name(unsigned int mode);

/* Progress */
int vmm_vcpu_info(struct vmm *vm, unsigned int vcpu,
		  struct vmm_vcpu_info *info);
uint64_t vmm_writes(struct vmm *vm, unsigned int vcpu);
uint64_t vmm_total_writes(struct vmm *vm);
/* Waits until every vCPU has completed at least n writes (or fails). */
int vmm_wait_writes(struct vmm *vm, uint64_t n, unsigned int timeout_ms);
/* Same for one vCPU (vcpu -1: every vCPU). */
int vmm_wait_vcpu_writes(struct vmm *vm, int vcpu, uint64_t n,
			 unsigned int timeout_ms);

/*
 * Guest-side commands: the guest finishes the page write it is in,
 * then parks (stops writing, halts) or verifies. Unlike vmm_pause(),
 * this quiesces the guest at a write boundary while its vCPUs still
 * run (and still exit when kicked).
 */
int vmm_guest_park(struct vmm *vm, unsigned int timeout_ms);
int vmm_guest_run(struct vmm *vm);
int vmm_verify(struct vmm *vm, struct vmm_verdict *v, unsigned int timeout_ms);

/*
 * One counter from KVM's statistics of the VM (vcpu -1) or of a vCPU,
 * by its name in KVM_GET_STATS_FD ("exits", "halt_wakeup",
 * "remote_tlb_flush", ...).
 */
int vmm_kvm_stat(struct vmm *vm, int vcpu, const char *name, uint64_t *val);

/*
 * Stock KVM dirty logging on slot 0, the baseline loosetrace is measured
 * against (VM ioctls: only the VMM's own process may issue them).
 * harvest fills bitmap (one bit per page of the slot, little-endian
 * 64-bit words, mem_bytes / 4096 bits) with the pages dirtied since the
 * last harvest; with manual_protect it then clears them with
 * KVM_CLEAR_DIRTY_LOG, whose synchronous TLB flush has finished when it
 * returns.
 */
int vmm_stock_dirty_log_start(struct vmm *vm, bool manual_protect);
int vmm_stock_dirty_log_harvest(struct vmm *vm, uint64_t *bitmap);
int vmm_stock_dirty_log_stop(struct vmm *vm);
/*
 * Deletes the guest's memslot and registers it again, unchanged, with
 * the vCPUs paused meanwhile (and left as they were): what a VMM does
 * when its memory map changes. The memslot loses any dirty logging.
 */
int vmm_memslot_remap(struct vmm *vm, unsigned int timeout_ms);

/* Layout and access for other processes and tests */
void vmm_get_layout(struct vmm *vm, struct vmm_layout *l);
int vmm_vm_fd(struct vmm *vm);
int vmm_mem_fd(struct vmm *vm);
void *vmm_mem(struct vmm *vm);
uint64_t vmm_mem_bytes(struct vmm *vm);
unsigned int vmm_nr_vcpus(struct vmm *vm);
void vmm_vcpu_region(struct vmm *vm, unsigned int vcpu, uint64_t *first,
		     uint64_t *count);

/*
 * Page helpers for the host side of a test. The generation table is the
 * guest's record; the header/tail generations are what the page itself
 * holds right now (see Documentation/test-vmm.rst for which one to use
 * to decide whether a page was written after a given moment).
 */
uint32_t vmm_table_gen(struct vmm *vm, uint64_t gfn);
uint64_t vmm_page_head_gen(struct vmm *vm, uint64_t gfn);
uint64_t vmm_page_tail_gen(struct vmm *vm, uint64_t gfn);
void vmm_page_expected(uint64_t gfn, uint64_t gen, void *page);
/* 0 if the page holds gen exactly, else 1 + index of the first bad word */
uint64_t vmm_page_check(struct vmm *vm, uint64_t gfn, uint64_t gen);
/*
 * Writes page @gfn from the VMM process, as a device's DMA would: KVM's
 * dirty log never sees it. Only gfn 0, the zero page the guest never
 * touches, so that neither the guest nor its own verification is
 * disturbed. 0 or -EINVAL.
 */
int vmm_host_write(struct vmm *vm, uint64_t gfn);

/*
 * vCPU state (regs, sregs, FPU, LAPIC, MP state, events, XCRs) of every
 * vCPU with a header, as one blob. Save needs the VM paused; restore
 * needs a VM created with incoming = true and not started yet, whose
 * vCPU count and memory size match the blob's.
 */
int vmm_save_state(struct vmm *vm, void **blob, size_t *len);
int vmm_restore_state(struct vmm *vm, const void *blob, size_t len);
int vmm_save_state_file(struct vmm *vm, const char *path);
int vmm_restore_state_file(struct vmm *vm, const char *path);
/* Reads a state file's header: vCPU count and memory size it needs. */
int vmm_state_file_info(const char *path, unsigned int *nr_vcpus,
			uint64_t *mem_bytes, char *err, size_t errlen);

#endif /* LTVMM_VMM_H */
