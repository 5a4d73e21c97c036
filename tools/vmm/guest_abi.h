/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The contract between the test VMM and its guest: guest-physical layout,
 * the control block both sides read and write, the I/O ports the guest
 * uses to report, and the content every page write produces.
 *
 * This header is compiled twice: into the freestanding 64-bit guest and
 * into the host library. It must stay free of libc and of anything whose
 * layout differs between the two (fixed-size fields, explicit padding).
 *
 * Guest-physical layout (one memslot, slot 0, gpa 0, mem_bytes long):
 *
 *   0x000000  zero page, never touched
 *   0x001000  PML4, 0x002000 PDPT, 0x003000 PD: identity map of the first
 *             1 GiB with 2 MiB pages (built by the VMM at first boot)
 *   0x004000  GDT (null, code64, data, 64-bit TSS) and the TSS
 *   0x006000  control block (struct ltg_ctl), 2 pages
 *   0x010000  guest image (code, data, bss, its IDT), at most 128 KiB
 *   0x030000  stacks, LTG_STACK_SIZE per vCPU
 *   0x100000  generation table: one __u32 per gfn of the whole memory
 *   0x200000  data pages, up to the end of memory: the pages the
 *             workloads write, split into one contiguous region per vCPU
 *
 * Everything but the data pages is guest "system" memory; it is migrated
 * like any other page, and the guest's own state (stack, registers saved
 * by the VMM) lives there.
 */
#ifndef LTVMM_GUEST_ABI_H
#define LTVMM_GUEST_ABI_H

#include <stdint.h>

#define LTG_PAGE_SIZE		4096ULL
#define LTG_PAGE_WORDS		(LTG_PAGE_SIZE / 8)

#define LTG_PML4_GPA		0x1000ULL
#define LTG_PDPT_GPA		0x2000ULL
#define LTG_PD_GPA		0x3000ULL
#define LTG_GDT_GPA		0x4000ULL
#define LTG_TSS_GPA		0x4800ULL
#define LTG_CTL_GPA		0x6000ULL
#define LTG_IMAGE_GPA		0x10000ULL
#define LTG_IMAGE_MAX		0x20000ULL
#define LTG_STACK_GPA		0x30000ULL
#define LTG_STACK_SIZE		0x4000ULL
#define LTG_GEN_TABLE_GPA	0x100000ULL
#define LTG_DATA_GPA		0x200000ULL

#define LTG_MAX_VCPUS		32
#define LTG_MIN_MEM		(4ULL << 20)
#define LTG_MAX_MEM		(1ULL << 30)

/* GDT selectors set up by the VMM. */
#define LTG_SEL_CODE		0x08
#define LTG_SEL_DATA		0x10
#define LTG_SEL_TSS		0x18

/*
 * I/O ports. The guest writes a 32-bit value with OUT; every one of these
 * is a KVM_EXIT_IO to the VMM.
 */
#define LTG_PORT_BOOTED		0x4c0	/* value: vCPU id, once at start */
#define LTG_PORT_PROGRESS	0x4c1	/* value: vCPU id; count in status */
#define LTG_PORT_VERDICT	0x4c2	/* value: verify sequence number */
#define LTG_PORT_EXCEPTION	0x4c3	/* value: vector; details in status */
#define LTG_PORT_PARKED		0x4c4	/* value: vCPU id, cmd seen */

/* Interrupt vectors the guest handles (x2APIC). */
#define LTG_VEC_TIMER		0x20
#define LTG_VEC_DOORBELL	0x21
#define LTG_VEC_SPURIOUS	0xff

/**
 * enum ltg_mode - what one vCPU does
 * @LTG_MODE_SEQ: writes its region's pages in order, wrapping around
 * @LTG_MODE_RANDOM: writes uniformly random pages of its region
 * @LTG_MODE_HOT: hot_prob percent of writes go to the first hot_pct
 *	percent of its region, the rest anywhere in the region
 * @LTG_MODE_SPIN: loops without writing and without any exit
 * @LTG_MODE_HALT: HLT with interrupts on, woken by a one-shot LAPIC timer
 *	after halt_us (or by the doorbell), then burst writes (sequential)
 * @LTG_MODE_IDLE: like HALT with no writes and no timer: blocked in HLT
 *	until the doorbell rings
 */
enum ltg_mode {
	LTG_MODE_SEQ = 0,
	LTG_MODE_RANDOM = 1,
	LTG_MODE_HOT = 2,
	LTG_MODE_SPIN = 3,
	LTG_MODE_HALT = 4,
	LTG_MODE_IDLE = 5,
	LTG_MODE_COUNT
};

/* Host -> guest command, in ltg_ctl.cmd. */
enum ltg_cmd {
	LTG_CMD_RUN = 0,	/* run the configured workload */
	LTG_CMD_VERIFY = 1,	/* park; vCPU 0 verifies all pages */
	LTG_CMD_PARK = 2,	/* park (stop writing) until RUN */
};

/* Guest-reported vCPU state, in ltg_vcpu_status.state. */
enum ltg_state {
	LTG_STATE_NONE = 0,
	LTG_STATE_RUNNING = 1,
	LTG_STATE_PARKED = 2,
	LTG_STATE_VERIFYING = 3,
	LTG_STATE_FAULT = 4,
};

/* Per-vCPU workload, written by the host, re-read by the guest every loop. */
struct ltg_vcpu_cfg {
	uint32_t mode;		/* enum ltg_mode */
	uint32_t delay;		/* PAUSE iterations after each write */
	uint32_t report_every;	/* writes between PROGRESS exits, 0 never */
	uint32_t hot_pct;	/* hot set size, percent of region (1-100) */
	uint32_t hot_prob;	/* percent of writes into the hot set */
	uint32_t halt_us;	/* HALT: timer before each wakeup */
	uint32_t burst;		/* HALT: writes per wakeup */
	uint32_t pad;
	uint64_t seed;		/* RANDOM/HOT: xorshift64 seed, never 0 */
};

/* Per-vCPU status, written by the guest only. */
struct ltg_vcpu_status {
	uint64_t writes;	/* page writes completed */
	uint64_t last_gfn;	/* gfn of the last completed write */
	uint64_t loops;		/* workload loop iterations */
	uint64_t wakeups;	/* interrupts taken */
	uint32_t state;		/* enum ltg_state */
	uint32_t mode;		/* the mode it currently runs */
	uint32_t parked_seq;	/* cmd_seq it parked for */
	uint32_t pad;
	uint64_t fault_rip;	/* exception: faulting RIP */
	uint64_t fault_vec;	/* exception: vector */
	uint64_t cursor;	/* SEQ/HALT: next page offset in region */
};

#define LTG_CTL_MAGIC		0x4c5456434c544c31ULL	/* "1LTLCVTL" */
#define LTG_ABI_VERSION		1

struct ltg_ctl {
	uint64_t magic;		/* LTG_CTL_MAGIC, set by the VMM */
	uint32_t abi_version;
	uint32_t nr_vcpus;
	uint64_t mem_bytes;
	uint64_t data_gfn_first;
	uint64_t data_gfn_count;
	uint64_t gen_table_gpa;

	/* host -> guest */
	uint32_t cmd;		/* enum ltg_cmd */
	uint32_t cmd_seq;	/* bumped with every cmd change */

	/* guest -> host: result of the last verify */
	uint32_t verify_seq;	/* cmd_seq of the verify that finished */
	uint32_t idt_ready;	/* vCPU 0 built the IDT */
	uint64_t verify_pages;	/* data pages checked */
	uint64_t verify_bad;	/* pages whose content is not expected */
	uint64_t verify_first_bad;	/* gfn of the first one, or ~0 */
	uint64_t verify_bad_gen;	/* header gen found in that page */
	uint64_t verify_want_gen;	/* generation the table expects */
	uint64_t verify_written;	/* pages with generation != 0 */

	struct ltg_vcpu_cfg cfg[LTG_MAX_VCPUS];
	struct ltg_vcpu_status st[LTG_MAX_VCPUS];
};

/*
 * Page content. A data page of generation gen (gen >= 1) holds:
 *   word 0          LTG_PAGE_MAGIC
 *   word 1          gfn
 *   word 2          gen
 *   words 3..510    ltg_pattern(gfn, gen, i)
 *   word 511        gen (written last: a torn page shows gen != word 2)
 * A page of generation 0 was never written and is all zero.
 * The writer stores word 0 first and word 511 last.
 */
#define LTG_PAGE_MAGIC		0x45474150544c4e47ULL	/* "GNLTPAGE" */
#define LTG_WORD_GEN		2
#define LTG_WORD_TAIL		(LTG_PAGE_WORDS - 1)

static inline uint64_t ltg_page_seed(uint64_t gfn, uint64_t gen)
{
	uint64_t x = gfn * 0x9e3779b97f4a7c15ULL ^ gen * 0xc2b2ae3d27d4eb4fULL;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return x;
}

static inline uint64_t ltg_pattern(uint64_t seed, uint64_t i)
{
	return seed ^ (i * 0x94d049bb133111ebULL);
}

/* Size of the generation table for a memory size, in bytes. */
static inline uint64_t ltg_gen_table_bytes(uint64_t mem_bytes)
{
	return mem_bytes / LTG_PAGE_SIZE * sizeof(uint32_t);
}

/*
 * The region of data pages owned by one vCPU: [*first, *first + *count).
 * Regions are disjoint, so exactly one vCPU ever writes a given page and
 * its generation grows by one with every write.
 */
static inline void ltg_vcpu_region(uint64_t data_first, uint64_t data_count,
				   uint32_t nr_vcpus, uint32_t id,
				   uint64_t *first, uint64_t *count)
{
	uint64_t lo = data_count * id / nr_vcpus;
	uint64_t hi = data_count * (id + 1) / nr_vcpus;

	*first = data_first + lo;
	*count = hi - lo;
}

/* Keeps the compiler from moving memory accesses across it. */
static inline void ltg_barrier(void)
{
	__asm__ __volatile__("" : : : "memory");
}

/* Writes generation gen (>= 1) of page gfn, in the documented order. */
static inline void ltg_page_fill(uint64_t *p, uint64_t gfn, uint64_t gen)
{
	uint64_t seed = ltg_page_seed(gfn, gen);
	uint64_t i;

	p[0] = LTG_PAGE_MAGIC;
	p[1] = gfn;
	p[LTG_WORD_GEN] = gen;
	ltg_barrier();
	for (i = 3; i < LTG_WORD_TAIL; i++)
		p[i] = ltg_pattern(seed, i);
	ltg_barrier();
	p[LTG_WORD_TAIL] = gen;
}

/*
 * Checks that page gfn holds generation gen exactly (gen 0: all zero).
 * Returns 0 if it does, else 1 + the index of the first wrong word.
 */
static inline uint64_t ltg_page_check(const uint64_t *p, uint64_t gfn,
				      uint64_t gen)
{
	uint64_t seed = ltg_page_seed(gfn, gen);
	uint64_t i;

	if (gen == 0) {
		for (i = 0; i < LTG_PAGE_WORDS; i++)
			if (p[i])
				return i + 1;
		return 0;
	}
	if (p[0] != LTG_PAGE_MAGIC)
		return 1;
	if (p[1] != gfn)
		return 2;
	if (p[LTG_WORD_GEN] != gen)
		return LTG_WORD_GEN + 1;
	for (i = 3; i < LTG_WORD_TAIL; i++)
		if (p[i] != ltg_pattern(seed, i))
			return i + 1;
	if (p[LTG_WORD_TAIL] != gen)
		return LTG_WORD_TAIL + 1;
	return 0;
}

#endif /* LTVMM_GUEST_ABI_H */
