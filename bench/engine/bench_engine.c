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
 * untraced rate, and the mean harvest time. Prints a table; no pass/fail.
 */
#include <errno.h>
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

struct result {
	const char *name;
	double issue_ms;	/* first harvest until it returned */
	double install_ms;	/* until traces are installed on every vCPU */
	uint64_t exits, irq_exits, remote_flush, remote_flush_req, tlb_flush;
	uint64_t install_kicks, kicks;
	uint64_t run_rflush, run_irq_exits;	/* during the rounds */
	double untraced;	/* write rate just before this variant */
	double rate;		/* guest page writes per second */
	double harvest_ms;	/* mean over the rounds */
	unsigned int rounds;
};

static struct vmm *vm;

static const char row_fmt[] =
	"%-9s %8.3f %10.3f %6lu %8lu %6lu %9lu %6lu | %6u %8.3f %9lu %8lu %5.1f%% %6lu\n";

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
		      unsigned int *rounds)
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

static void run_loosetrace(struct result *r, uint32_t mode)
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
	ret = ltnl_trace_start(&nl, c.id, mode, 0);
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
	void *bitmap;
};

/* The stock path: get the log, clear what it showed (one 1 GiB chunk). */
static void kvm_round(void *arg)
{
	struct kvm_ctx *c = arg;
	struct kvm_dirty_log get = { .slot = 0, .dirty_bitmap = c->bitmap };
	struct kvm_clear_dirty_log clr = {
		.slot = 0, .first_page = 0, .num_pages = c->pages,
		.dirty_bitmap = c->bitmap,
	};

	if (ioctl(c->vm_fd, KVM_GET_DIRTY_LOG, &get))
		die("KVM_GET_DIRTY_LOG", -errno);
	if (ioctl(c->vm_fd, KVM_CLEAR_DIRTY_LOG, &clr))
		die("KVM_CLEAR_DIRTY_LOG", -errno);
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

static void run_stock(struct result *r)
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

int main(void)
{
	struct vmm_config cfg = { .nr_vcpus = 2, .mem_bytes = MEM_MB << 20 };
	struct result res[3] = {
		{ .name = "loose" }, { .name = "sync" }, { .name = "stock-kvm" },
	};
	struct result first[3];
	struct ltg_vcpu_cfg wl;
	double untraced;
	char err[256];
	int i, ret, pass;

	/* Progress on stderr; the table on stdout, line by line. */
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
	 * first trace pays one-time costs whatever its variant, so every
	 * variant runs twice and the second pass is the one reported.
	 */
	for (pass = 0; pass < 2; pass++) {
		untraced = 0;
		for (i = 0; i < 3; i++) {
			struct result *r = &res[i];

			if (!pass)
				r = &first[i];
			r->name = res[i].name;
			fprintf(stderr, "bench: pass %d: untraced, then %s\n",
				pass + 1, r->name);
			r->untraced = measure(NULL, NULL, NULL, NULL);
			untraced += r->untraced / 3;
			if (i == 2)
				run_stock(r);
			else
				run_loosetrace(r, i ? LOOSETRACE_MODE_SYNC :
					       LOOSETRACE_MODE_LOOSE);
		}
	}

	printf("\nTrace engine benchmark: %u vCPUs, %u MiB, sequential writes,",
	       vmm_nr_vcpus(vm), MEM_MB);
	printf(" harvest every %u ms for %u ms\n", ROUND_MS, MEASURE_MS);
	printf("untraced guest write rate: %.0f pages/s\n\n", untraced);
	printf("%-9s %8s %10s %6s %8s %6s %9s %6s | %6s %8s %9s %8s %6s %6s\n",
	       "variant", "issue_ms", "install_ms", "exits", "irq_exit",
	       "rflush", "rflush_rq", "kicks", "rounds", "round_ms",
	       "rflush_rq", "irq_exit", "rate", "kicks");
	for (i = 0; i < 3; i++)
		printf(row_fmt, res[i].name, res[i].issue_ms, res[i].install_ms,
		       (unsigned long)res[i].exits,
		       (unsigned long)res[i].irq_exits,
		       (unsigned long)res[i].remote_flush,
		       (unsigned long)res[i].remote_flush_req,
		       (unsigned long)res[i].install_kicks,
		       res[i].rounds, res[i].harvest_ms,
		       (unsigned long)res[i].run_rflush,
		       (unsigned long)res[i].run_irq_exits,
		       100.0 * res[i].rate / res[i].untraced,
		       (unsigned long)res[i].kicks);
	printf("first pass (the VM's first traces, in this order): install %.3f / %.3f / %.3f ms\n",
	       first[0].install_ms, first[1].install_ms, first[2].install_ms);
	printf("\nissue time ratio (installing thread busy): sync/loose %.2fx, stock/loose %.2fx\n",
	       res[1].issue_ms / res[0].issue_ms,
	       res[2].issue_ms / res[0].issue_ms);
	printf("install time ratio (traces on every vCPU): sync/loose %.2fx, stock/loose %.2fx\n",
	       res[1].install_ms / res[0].install_ms,
	       res[2].install_ms / res[0].install_ms);
	printf("left of |: the trace install (first harvest); right: the %u ms of rounds.\n",
	       MEASURE_MS);
	printf("issue: first harvest call; install: until its epoch completed (loose waits\n");
	printf("for each vCPU's own exit, or kicks it after the deadline). Counts are KVM's,\n");
	printf("around the first harvest; round_ms: harvest + epoch wait per round; rate: guest\n");
	printf("write rate while tracing relative to untraced (every write after a harvest\n");
	printf("faults once: write-protect tracing's own cost, the same in every variant).\n");
	vmm_destroy(vm);
	return 0;
}
