// SPDX-License-Identifier: GPL-2.0
/*
 * Trace engine benchmark, run inside the test VM: one guest (2 vCPUs,
 * MEM_MB of memory, every vCPU writing pages sequentially), traced in
 * turn by loosetrace in loose mode, by loosetrace in sync mode, and by
 * stock KVM (manual-protect dirty logging driven here through the VM fd:
 * KVM_GET_DIRTY_LOG + KVM_CLEAR_DIRTY_LOG, as QEMU does). For each: the
 * trace install time (first harvest to traces installed on every vCPU),
 * the exits and remote TLB flushes KVM counted during the install, the
 * guest's write rate while harvesting every ROUND_MS relative to the
 * untraced rate, and the mean harvest time.
 *
 * Sync mode and stock KVM flush every vCPU synchronously once per chunk
 * they write-protect, and QEMU clears 1 GiB per call: a 1 TiB guest pays
 * 1024 such VM-wide stops per harvest, a guest the emulator can carry
 * only one. So every variant runs twice: with 1 GiB chunks (one chunk
 * here), and with chunks of BIG_CHUNK_PAGES, which gives this guest as
 * many chunks as a guest of that many GiB has (the same chunk is used by
 * sync mode, by loose mode for its mmu_lock hold times, and by the
 * KVM_CLEAR_DIRTY_LOG calls of the stock path). Each variant runs REPS
 * times, interleaved, and the medians are printed. Prints tables; no
 * pass/fail.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "ltnl.h"
#include "vmm.h"

#define MEM_MB		16
#define MEASURE_MS	2000
#define ROUND_MS	100
#define REPS		5
#define GIB_PAGES	(1u << 18)
/* 64 chunks of one bitmap word: a 16 MiB guest cut like a 64 GiB one. */
#define BIG_CHUNK_PAGES	64
#define NR_CHUNKS	2
#define NR_VARIANTS	3
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const uint32_t chunk_pages[NR_CHUNKS] = { GIB_PAGES, BIG_CHUNK_PAGES };
static const char *const variant_name[NR_VARIANTS] = {
	"loose", "sync", "stock-kvm",
};

struct result {
	const char *name;
	double issue_ms;	/* first harvest until it returned */
	double install_ms;	/* until traces are installed on every vCPU */
	/* Counts are doubles too: the tables print medians of them. */
	double exits, irq_exits, remote_flush, remote_flush_req, tlb_flush;
	double install_kicks, kicks;
	double run_rflush, run_irq_exits;	/* during the rounds */
	double untraced;	/* write rate just before this variant */
	double rate;		/* guest page writes per second */
	double harvest_ms;	/* mean over the rounds */
	double rounds;
};

static struct vmm *vm;

static const char row_fmt[] =
	"%-9s %8.3f %10.3f %6lu %8lu %6lu %9lu %6lu | %6.0f %8.3f %9lu %8lu %5.1f%% %6lu\n";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench: %s: %s%s%s\n", what, strerror(-err),
		vm && vmm_error(vm) ? ": " : "",
		vm && vmm_error(vm) ? vmm_error(vm) : "");
	exit(1);
}

static uint64_t stat_sum(const char *name, int vm_wide)
{
	uint64_t v, sum = 0;
	unsigned int i;

	if (vm_wide) {
		if (vmm_kvm_stat(vm, -1, name, &v))
			return 0;
		return v;
	}
	for (i = 0; i < vmm_nr_vcpus(vm); i++)
		if (!vmm_kvm_stat(vm, i, name, &v))
			sum += v;
	return sum;
}

struct counters {
	uint64_t exits, irq_exits, remote_flush, remote_flush_req, tlb_flush;
};

static void counters_read(struct counters *c)
{
	c->exits = stat_sum("exits", 0);
	c->irq_exits = stat_sum("irq_exits", 0);
	c->tlb_flush = stat_sum("tlb_flush", 0);
	c->remote_flush = stat_sum("remote_tlb_flush", 1);
	c->remote_flush_req = stat_sum("remote_tlb_flush_requests", 1);
}

static void counters_delta(struct result *r, const struct counters *a,
			   const struct counters *b)
{
	r->exits = b->exits - a->exits;
	r->irq_exits = b->irq_exits - a->irq_exits;
	r->tlb_flush = b->tlb_flush - a->tlb_flush;
	r->remote_flush = b->remote_flush - a->remote_flush;
	r->remote_flush_req = b->remote_flush_req - a->remote_flush_req;
}

/* Guest writes per second over MEASURE_MS, calling @round every ROUND_MS. */
static double measure(void (*round)(void *), void *arg, double *round_ms,
		      double *rounds)
{
	uint64_t t0 = now_ns(), w0 = vmm_total_writes(vm), t, spent = 0;
	unsigned int n = 0;

	while ((t = now_ns()) - t0 < MEASURE_MS * 1000000ULL) {
		if (round) {
			uint64_t s = now_ns();

			round(arg);
			spent += now_ns() - s;
			n++;
		}
		usleep(ROUND_MS * 1000);
	}
	if (round_ms)
		*round_ms = n ? spent / 1e6 / n : 0;
	if (rounds)
		*rounds = n;
	return (vmm_total_writes(vm) - w0) * 1e9 / (now_ns() - t0);
}

struct lt_ctx {
	struct ltnl *nl;
	uint32_t id;
	uint64_t harvest_ns;	/* of the latest harvest call */
};

/* One loosetrace round: harvest, then wait for the epoch. */
static void lt_round(void *arg)
{
	struct lt_ctx *c = arg;
	struct ltnl_harvest h;
	uint64_t t0 = now_ns();
	int ret;

	ret = ltnl_harvest(c->nl, c->id, 0, 0, &h);
	c->harvest_ns = now_ns() - t0;
	if (ret)
		die("HARVEST", ret);
	ret = ltnl_epoch_wait(c->nl, c->id, h.epoch, 10000);
	if (ret)
		die("epoch", ret);
	ltnl_harvest_free(&h);
}

static void run_loosetrace(struct result *r, uint32_t mode, uint32_t chunk)
{
	uint64_t st[LOOSETRACE_STAT_MAX + 1];
	struct counters a, b;
	struct lt_ctx c;
	struct ltnl nl;
	int ret;

	ret = ltnl_open(&nl);
	if (ret)
		die("loosetrace family", ret);
	c.nl = &nl;
	ret = ltnl_attach(&nl, vmm_vm_fd(vm), &c.id);
	if (ret)
		die("ATTACH", ret);
	ret = ltnl_trace_start_chunk(&nl, c.id, mode, 0, chunk);
	if (ret)
		die("TRACE_START", ret);

	counters_read(&a);
	lt_round(&c);
	counters_read(&b);
	counters_delta(r, &a, &b);
	ret = ltnl_stats(&nl, c.id, st);
	if (ret)
		die("STATS_GET", ret);
	r->install_ms = st[LOOSETRACE_STAT_TRACE_INSTALL_NS] / 1e6;
	r->issue_ms = c.harvest_ns / 1e6;
	r->install_kicks = st[LOOSETRACE_STAT_DEADLINE_KICKS];

	counters_read(&a);
	r->rate = measure(lt_round, &c, &r->harvest_ms, &r->rounds);
	counters_read(&b);
	r->run_rflush = b.remote_flush_req - a.remote_flush_req;
	r->run_irq_exits = b.irq_exits - a.irq_exits;
	ltnl_stats(&nl, c.id, st);
	r->kicks = st[LOOSETRACE_STAT_DEADLINE_KICKS] - r->install_kicks;
	ltnl_trace_stop(&nl, c.id);
	ltnl_detach(&nl, c.id);
	ltnl_close(&nl);
}

struct kvm_ctx {
	int vm_fd;
	uint64_t pages;
	uint32_t chunk;
	uint8_t *bitmap;
};

/*
 * The stock path: get the log, then clear what it showed one chunk per
 * KVM_CLEAR_DIRTY_LOG call, as QEMU does with 1 GiB chunks.
 */
static void kvm_round(void *arg)
{
	struct kvm_ctx *c = arg;
	struct kvm_dirty_log get = { .slot = 0, .dirty_bitmap = c->bitmap };
	struct kvm_clear_dirty_log clr = { .slot = 0 };
	uint64_t off;

	if (ioctl(c->vm_fd, KVM_GET_DIRTY_LOG, &get))
		die("KVM_GET_DIRTY_LOG", -errno);
	for (off = 0; off < c->pages; off += c->chunk) {
		clr.first_page = off;
		clr.num_pages = c->pages - off < c->chunk ? c->pages - off :
							    c->chunk;
		clr.dirty_bitmap = c->bitmap + off / 8;
		if (ioctl(c->vm_fd, KVM_CLEAR_DIRTY_LOG, &clr))
			die("KVM_CLEAR_DIRTY_LOG", -errno);
	}
}

static void set_logging(struct kvm_ctx *c, int on)
{
	struct kvm_userspace_memory_region mr = {
		.slot = 0,
		.flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = 0,
		.memory_size = vmm_mem_bytes(vm),
		.userspace_addr = (uintptr_t)vmm_mem(vm),
	};

	if (ioctl(c->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr))
		die("KVM_SET_USER_MEMORY_REGION", -errno);
}

static void run_stock(struct result *r, uint32_t chunk)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
			  KVM_DIRTY_LOG_INITIALLY_SET },
	};
	struct counters a, b;
	struct kvm_ctx c;
	uint64_t t0;

	c.vm_fd = vmm_vm_fd(vm);
	c.pages = vmm_mem_bytes(vm) / 4096;
	c.chunk = chunk;
	c.bitmap = calloc(1, c.pages / 8 + 8);
	if (ioctl(c.vm_fd, KVM_ENABLE_CAP, &cap))
		die("KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2", -errno);
	set_logging(&c, 1);

	/* The install: clear every page, KVM's flush included. */
	counters_read(&a);
	t0 = now_ns();
	kvm_round(&c);
	r->install_ms = (now_ns() - t0) / 1e6;
	r->issue_ms = r->install_ms;
	counters_read(&b);
	counters_delta(r, &a, &b);

	counters_read(&a);
	r->rate = measure(kvm_round, &c, &r->harvest_ms, &r->rounds);
	counters_read(&b);
	r->run_rflush = b.remote_flush_req - a.remote_flush_req;
	r->run_irq_exits = b.irq_exits - a.irq_exits;
	set_logging(&c, 0);
	cap.args[0] = 0;
	ioctl(c.vm_fd, KVM_ENABLE_CAP, &cap);
	free(c.bitmap);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Every field the median of the REPS runs, each field on its own. */
static void median_of(struct result *m, const struct result *runs)
{
	static const size_t fields[] = {
		offsetof(struct result, issue_ms),
		offsetof(struct result, install_ms),
		offsetof(struct result, exits),
		offsetof(struct result, irq_exits),
		offsetof(struct result, remote_flush),
		offsetof(struct result, remote_flush_req),
		offsetof(struct result, tlb_flush),
		offsetof(struct result, install_kicks),
		offsetof(struct result, kicks),
		offsetof(struct result, run_rflush),
		offsetof(struct result, run_irq_exits),
		offsetof(struct result, harvest_ms),
		offsetof(struct result, rounds),
	};
	double v[REPS];
	unsigned int i, f;

	for (f = 0; f < ARRAY_SIZE(fields); f++) {
		for (i = 0; i < REPS; i++)
			v[i] = *(const double *)((const char *)&runs[i] +
						 fields[f]);
		*(double *)((char *)m + fields[f]) = median(v, REPS);
	}
	/* The rate relative to the untraced rate measured just before. */
	for (i = 0; i < REPS; i++)
		v[i] = runs[i].rate / runs[i].untraced;
	m->rate = median(v, REPS);
	m->untraced = 1;
}

static void run_variant(struct result *r, int variant, uint32_t chunk)
{
	r->name = variant_name[variant];
	r->untraced = measure(NULL, NULL, NULL, NULL);
	if (variant == 2)
		run_stock(r, chunk);
	else
		run_loosetrace(r, variant ? LOOSETRACE_MODE_SYNC :
			       LOOSETRACE_MODE_LOOSE, chunk);
}

static void print_table(const struct result *res, uint32_t chunk)
{
	uint64_t pages = (uint64_t)MEM_MB << 8;
	uint64_t chunks = (pages + chunk - 1) / chunk;
	int i;

	if (chunk >= pages)
		printf("\n%u MiB guest cleared in 1 GiB chunks: %lu chunk\n",
		       MEM_MB, (unsigned long)chunks);
	else
		printf("\nmodel of a %lu GiB guest in 1 GiB chunks: %u MiB in %u-page chunks\n",
		       (unsigned long)chunks, MEM_MB, chunk);
	printf("%-9s %8s %10s %6s %8s %6s %9s %6s | %6s %8s %9s %8s %6s %6s\n",
	       "variant", "issue_ms", "install_ms", "exits", "irq_exit",
	       "rflush", "rflush_rq", "kicks", "rounds", "round_ms",
	       "rflush_rq", "irq_exit", "rate", "kicks");
	for (i = 0; i < NR_VARIANTS; i++)
		printf(row_fmt, res[i].name, res[i].issue_ms, res[i].install_ms,
		       (unsigned long)res[i].exits,
		       (unsigned long)res[i].irq_exits,
		       (unsigned long)res[i].remote_flush,
		       (unsigned long)res[i].remote_flush_req,
		       (unsigned long)res[i].install_kicks,
		       res[i].rounds, res[i].harvest_ms,
		       (unsigned long)res[i].run_rflush,
		       (unsigned long)res[i].run_irq_exits,
		       100.0 * res[i].rate, (unsigned long)res[i].kicks);
	printf("install time ratio (traces on every vCPU): sync/loose %.2fx, stock/loose %.2fx\n",
	       res[1].install_ms / res[0].install_ms,
	       res[2].install_ms / res[0].install_ms);
	printf("issue time ratio (installing thread busy):  sync/loose %.2fx, stock/loose %.2fx\n",
	       res[1].issue_ms / res[0].issue_ms,
	       res[2].issue_ms / res[0].issue_ms);
	printf("install, loose / sync / stock: remote flush requests %lu / %lu / %lu, ",
	       (unsigned long)res[0].remote_flush_req,
	       (unsigned long)res[1].remote_flush_req,
	       (unsigned long)res[2].remote_flush_req);
	printf("IPI-caused exits (irq_exit) %lu / %lu / %lu\n",
	       (unsigned long)res[0].irq_exits,
	       (unsigned long)res[1].irq_exits,
	       (unsigned long)res[2].irq_exits);
}

int main(void)
{
	struct vmm_config cfg = { .nr_vcpus = 2, .mem_bytes = MEM_MB << 20 };
	static struct result runs[NR_CHUNKS][NR_VARIANTS][REPS];
	struct result med[NR_CHUNKS][NR_VARIANTS], first[NR_VARIANTS];
	struct ltg_vcpu_cfg wl;
	double untraced = 0;
	char err[256];
	int i, k, ret, rep;

	/* Progress on stderr; the tables on stdout, line by line. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access("/dev/kvm", R_OK | W_OK)) {
		fprintf(stderr, "bench: no /dev/kvm\n");
		return 1;
	}
	vm = vmm_create(&cfg, err, sizeof(err));
	if (!vm) {
		fprintf(stderr, "bench: vmm_create: %s\n", err);
		return 1;
	}
	vmm_workload_default(&wl, LTG_MODE_SEQ);
	ret = vmm_set_workload(vm, -1, &wl);
	if (!ret)
		ret = vmm_start(vm);
	if (ret)
		die("guest", ret);
	/* Every page touched once, so no variant pays the first faults. */
	fprintf(stderr, "bench: warming up\n");
	ret = vmm_wait_writes(vm, (MEM_MB << 20) / 4096 / 2, 600000);
	if (ret)
		die("warm-up", ret);

	/*
	 * Each variant starts after an untraced period: the guest re-faults
	 * the mappings that stopping the previous trace collapsed, so every
	 * variant's first harvest meets the same mappings. Its rate is
	 * compared with the untraced rate just before it. The VM's very
	 * first traces pay one-time costs whatever their variant: one
	 * unreported pass first. Then REPS rounds of every chunk size and
	 * variant, interleaved so that drift in the machine's load spreads
	 * over all of them.
	 */
	for (i = 0; i < NR_VARIANTS; i++) {
		fprintf(stderr, "bench: warm pass: %s\n", variant_name[i]);
		run_variant(&first[i], i, GIB_PAGES);
	}
	for (rep = 0; rep < REPS; rep++) {
		for (k = 0; k < NR_CHUNKS; k++) {
			for (i = 0; i < NR_VARIANTS; i++) {
				fprintf(stderr, "bench: run %d/%d: %s, %u-page chunks\n",
					rep + 1, REPS, variant_name[i],
					chunk_pages[k]);
				run_variant(&runs[k][i][rep], i,
					    chunk_pages[k]);
				untraced += runs[k][i][rep].untraced;
			}
		}
	}
	untraced /= REPS * NR_CHUNKS * NR_VARIANTS;
	for (k = 0; k < NR_CHUNKS; k++)
		for (i = 0; i < NR_VARIANTS; i++) {
			median_of(&med[k][i], runs[k][i]);
			med[k][i].name = variant_name[i];
		}

	printf("\nTrace engine benchmark: %u vCPUs, %u MiB, sequential writes,",
	       vmm_nr_vcpus(vm), MEM_MB);
	printf(" harvest every %u ms for %u ms; medians of %u runs\n",
	       ROUND_MS, MEASURE_MS, REPS);
	printf("untraced guest write rate: %.0f pages/s\n", untraced);
	printf("Absolute times in the emulator (nested KVM under TCG) mean little:\n");
	printf("compare the variants of one table, the ratios and the counts.\n");
	for (k = 0; k < NR_CHUNKS; k++)
		print_table(med[k], chunk_pages[k]);
	printf("\nwarm pass (the VM's first traces, 1 GiB chunks, not in the tables):");
	printf(" install %.3f / %.3f / %.3f ms\n",
	       first[0].install_ms, first[1].install_ms, first[2].install_ms);
	printf("left of |: the trace install (first harvest); right: the %u ms of rounds.\n",
	       MEASURE_MS);
	printf("issue: first harvest call; install: until its epoch completed (loose waits\n");
	printf("for each vCPU's own exit, or kicks it after the deadline). Counts are KVM's\n");
	printf("stats (rflush_rq: remote flush requests; irq_exit: exits caused by interrupts,\n");
	printf("the flush IPIs among them), around the first harvest; round_ms: harvest +\n");
	printf("epoch wait per round; rate: guest write rate while tracing relative to\n");
	printf("untraced (every write after a harvest faults once: write-protect tracing's\n");
	printf("own cost, the same in every variant).\n");
	vmm_destroy(vm);
	return 0;
}
