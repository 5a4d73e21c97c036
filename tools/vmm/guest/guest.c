// SPDX-License-Identifier: GPL-2.0
/*
 * The test guest: a freestanding 64-bit program that every vCPU runs.
 * Each vCPU writes the data pages of its own region according to its
 * workload (see enum ltg_mode), keeps the generation of every page it
 * writes in the generation table, and on LTG_CMD_VERIFY parks so that
 * vCPU 0 can check every data page against that table.
 *
 * All of its state is in guest memory and in the vCPU registers, so a
 * VM restored from migrated memory and a saved register set continues
 * exactly where the source stopped.
 */
#include "../guest_abi.h"
#include "guest.h"

#define CTL		((struct ltg_ctl *)LTG_CTL_GPA)
#define GEN_TABLE	((uint32_t *)LTG_GEN_TABLE_GPA)

/*
 * The host and the other vCPUs read and write the control block while
 * this code runs: every access to it goes through these, so the
 * compiler neither caches nor tears nor drops them.
 */
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, val)	__atomic_store_n(&(x), (val), __ATOMIC_RELAXED)

#define MSR_APIC_BASE		0x1b
#define APIC_BASE_EXTD		(1ULL << 10)
#define APIC_BASE_EN		(1ULL << 11)
#define MSR_X2APIC_SVR		0x80f
#define MSR_X2APIC_LVT_TIMER	0x832
#define MSR_X2APIC_TMICT	0x838
#define MSR_X2APIC_TDCR		0x83e
#define TDCR_DIV_1		0xb
#define TDCR_DIV_128		0xa

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __attribute__((packed));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));

static inline void port_write(uint16_t port, uint32_t val)
{
	__asm__ __volatile__("outl %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

static inline void wrmsr(uint32_t msr, uint64_t val)
{
	__asm__ __volatile__("wrmsr" : : "c"(msr), "a"((uint32_t)val),
			     "d"((uint32_t)(val >> 32)) : "memory");
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

/* sti's one-instruction shadow makes the pair atomic: no lost wakeup. */
static inline void wait_for_interrupt(void)
{
	__asm__ __volatile__("sti; hlt; cli" : : : "memory");
}

static void set_gate(int vec, uint64_t handler)
{
	idt[vec].off_lo = handler & 0xffff;
	idt[vec].sel = LTG_SEL_CODE;
	idt[vec].ist = 0;
	idt[vec].type_attr = 0x8e;	/* present, DPL 0, interrupt gate */
	idt[vec].off_mid = (handler >> 16) & 0xffff;
	idt[vec].off_hi = handler >> 32;
	idt[vec].zero = 0;
}

static void build_idt(void)
{
	int v;

	for (v = 0; v < 32; v++)
		set_gate(v, ltg_exc_stubs[v]);
	set_gate(LTG_VEC_TIMER, (uint64_t)ltg_irq_entry);
	set_gate(LTG_VEC_DOORBELL, (uint64_t)ltg_irq_entry);
	set_gate(LTG_VEC_SPURIOUS, (uint64_t)ltg_spurious_entry);
}

static void load_idt(void)
{
	struct desc_ptr p = { sizeof(idt) - 1, (uint64_t)idt };

	__asm__ __volatile__("lidt %0" : : "m"(p));
}

/* x2APIC on, software-enabled, timer one-shot on LTG_VEC_TIMER. */
static void apic_init(void)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN |
	      APIC_BASE_EXTD);
	wrmsr(MSR_X2APIC_SVR, 0x100 | LTG_VEC_SPURIOUS);
	wrmsr(MSR_X2APIC_LVT_TIMER, LTG_VEC_TIMER);
}

/* KVM's APIC bus runs at 1 GHz: one timer tick per ns at divide 1. */
static void timer_arm(uint32_t us)
{
	uint64_t ns = (uint64_t)us * 1000;

	if (!ns)
		ns = 1;
	if (ns <= 0xffffffffULL) {
		wrmsr(MSR_X2APIC_TDCR, TDCR_DIV_1);
		wrmsr(MSR_X2APIC_TMICT, ns);
	} else {
		wrmsr(MSR_X2APIC_TDCR, TDCR_DIV_128);
		wrmsr(MSR_X2APIC_TMICT, ns / 128);
	}
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/*
 * A plain counted loop, not PAUSE: AMD pause filtering may turn a long
 * PAUSE loop into exits, and the rate limit must not add exits.
 */
static void delay(uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		ltg_barrier();
		if (!(i & 1023) && READ_ONCE(CTL->cmd) != LTG_CMD_RUN)
			return;
	}
}

static void write_page(uint32_t id, struct ltg_vcpu_status *st,
		       uint64_t gfn)
{
	uint64_t gen = GEN_TABLE[gfn] + 1;
	uint32_t every;

	ltg_page_fill((uint64_t *)(gfn * LTG_PAGE_SIZE), gfn, gen);
	ltg_barrier();
	GEN_TABLE[gfn] = gen;
	WRITE_ONCE(st->last_gfn, gfn);
	WRITE_ONCE(st->writes, st->writes + 1);
	every = READ_ONCE(CTL->cfg[id].report_every);
	if (every && st->writes % every == 0)
		port_write(LTG_PORT_PROGRESS, id);
}

static void verify_all(void)
{
	uint64_t first = CTL->data_gfn_first;
	uint64_t end = first + CTL->data_gfn_count;
	uint64_t gfn, gen, bad = 0, written = 0, first_bad = ~0ULL;

	WRITE_ONCE(CTL->verify_bad_gen, 0);
	WRITE_ONCE(CTL->verify_want_gen, 0);
	for (gfn = first; gfn < end; gfn++) {
		const uint64_t *p = (const uint64_t *)(gfn * LTG_PAGE_SIZE);

		gen = GEN_TABLE[gfn];
		if (gen)
			written++;
		if (!ltg_page_check(p, gfn, gen))
			continue;
		if (!bad++) {
			first_bad = gfn;
			WRITE_ONCE(CTL->verify_bad_gen, p[LTG_WORD_GEN]);
			WRITE_ONCE(CTL->verify_want_gen, gen);
		}
	}
	WRITE_ONCE(CTL->verify_pages, end - first);
	WRITE_ONCE(CTL->verify_bad, bad);
	WRITE_ONCE(CTL->verify_first_bad, first_bad);
	WRITE_ONCE(CTL->verify_written, written);
}

static int all_parked(uint32_t seq)
{
	uint32_t i, n = CTL->nr_vcpus;

	for (i = 0; i < n; i++)
		if (READ_ONCE(CTL->st[i].state) != LTG_STATE_PARKED ||
		    READ_ONCE(CTL->st[i].parked_seq) != seq)
			return 0;
	return 1;
}

/*
 * Parks this vCPU for a command other than RUN. The host writes cmd_seq
 * before cmd, so the seq read here is the one of the cmd just seen.
 */
static void park(uint32_t id, struct ltg_vcpu_status *st)
{
	uint32_t cmd = READ_ONCE(CTL->cmd);
	uint32_t seq = READ_ONCE(CTL->cmd_seq);

	WRITE_ONCE(st->parked_seq, seq);
	ltg_barrier();
	WRITE_ONCE(st->state, LTG_STATE_PARKED);
	port_write(LTG_PORT_PARKED, id);
	if (cmd == LTG_CMD_VERIFY && id == 0) {
		while (!all_parked(seq) && READ_ONCE(CTL->cmd_seq) == seq)
			ltg_barrier();
		if (READ_ONCE(CTL->cmd_seq) == seq) {
			WRITE_ONCE(st->state, LTG_STATE_VERIFYING);
			verify_all();
			WRITE_ONCE(CTL->verify_seq, seq);
			WRITE_ONCE(st->state, LTG_STATE_PARKED);
			port_write(LTG_PORT_VERDICT, seq);
		}
	}
	while (READ_ONCE(CTL->cmd_seq) == seq) {
		timer_arm(1000);
		wait_for_interrupt();
		WRITE_ONCE(st->wakeups, st->wakeups + 1);
	}
	WRITE_ONCE(st->state, LTG_STATE_RUNNING);
}

void ltg_exception(uint64_t *frame, uint64_t vec)
{
	uint64_t rsp = (uint64_t)frame;
	uint32_t id = (rsp - LTG_STACK_GPA) / LTG_STACK_SIZE;
	/* These vectors push an error code below the return RIP. */
	int has_err = vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 ||
		      vec == 21 || vec == 29 || vec == 30;

	if (id < LTG_MAX_VCPUS) {
		WRITE_ONCE(CTL->st[id].fault_vec, vec);
		WRITE_ONCE(CTL->st[id].fault_rip, frame[has_err ? 1 : 0]);
		WRITE_ONCE(CTL->st[id].state, LTG_STATE_FAULT);
	}
	port_write(LTG_PORT_EXCEPTION, vec);
}

static uint64_t pick_hot(struct ltg_vcpu_cfg *cfg, uint64_t *rng,
			 uint64_t count)
{
	uint64_t hot = count * READ_ONCE(cfg->hot_pct) / 100;

	if (!hot)
		hot = 1;
	if (xorshift64(rng) % 100 < READ_ONCE(cfg->hot_prob))
		return xorshift64(rng) % hot;
	return xorshift64(rng) % count;
}

void ltg_main(uint32_t id)
{
	struct ltg_vcpu_status *st = &CTL->st[id];
	struct ltg_vcpu_cfg *cfg = &CTL->cfg[id];
	uint64_t first, count, rng, b;
	uint32_t mode;

	if (id == 0) {
		build_idt();
		ltg_barrier();
		WRITE_ONCE(CTL->idt_ready, 1);
	} else {
		while (!READ_ONCE(CTL->idt_ready))
			ltg_barrier();
	}
	load_idt();
	apic_init();
	ltg_vcpu_region(CTL->data_gfn_first, CTL->data_gfn_count,
			CTL->nr_vcpus, id, &first, &count);
	rng = cfg->seed ? cfg->seed : 0x9e3779b97f4a7c15ULL * (id + 1);
	WRITE_ONCE(st->state, LTG_STATE_RUNNING);
	port_write(LTG_PORT_BOOTED, id);

	for (;;) {
		if (READ_ONCE(CTL->cmd) != LTG_CMD_RUN) {
			park(id, st);
			continue;
		}
		mode = READ_ONCE(cfg->mode);
		if (st->mode != mode)
			WRITE_ONCE(st->mode, mode);
		switch (mode) {
		case LTG_MODE_SEQ:
			write_page(id, st, first + st->cursor);
			WRITE_ONCE(st->cursor, (st->cursor + 1) % count);
			break;
		case LTG_MODE_RANDOM:
			write_page(id, st, first + xorshift64(&rng) % count);
			break;
		case LTG_MODE_HOT:
			write_page(id, st, first + pick_hot(cfg, &rng, count));
			break;
		case LTG_MODE_SPIN:
			/* No store and no exit while spinning. */
			while (READ_ONCE(CTL->cmd) == LTG_CMD_RUN &&
			       READ_ONCE(cfg->mode) == LTG_MODE_SPIN)
				ltg_barrier();
			continue;
		case LTG_MODE_HALT:
			timer_arm(READ_ONCE(cfg->halt_us));
			wait_for_interrupt();
			WRITE_ONCE(st->wakeups, st->wakeups + 1);
			for (b = 0; b < READ_ONCE(cfg->burst); b++) {
				if (READ_ONCE(CTL->cmd) != LTG_CMD_RUN)
					break;
				write_page(id, st, first + st->cursor);
				WRITE_ONCE(st->cursor, (st->cursor + 1) % count);
			}
			break;
		case LTG_MODE_IDLE:
		default:
			wait_for_interrupt();
			WRITE_ONCE(st->wakeups, st->wakeups + 1);
			break;
		}
		WRITE_ONCE(st->loops, st->loops + 1);
		delay(READ_ONCE(cfg->delay));
	}
}
