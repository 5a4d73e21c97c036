// SPDX-License-Identifier: GPL-2.0
/*
 * Convergence benchmark: the same guest that dirties memory faster than
 * the link carries it, migrated with the pre-copy throttle off and with
 * it on (agentctl migrate --throttle off|auto), between two network
 * namespaces with lt-vmm and two agents, as the agent selftests do.
 * vCPU 0 writes random pages, vCPU 1 rewrites a few; the link
 * (--bandwidth-mbps) carries a quarter of what vCPU 0 writes, measured
 * before each run. Prints one row per run: the outcome, rounds, total
 * and switchover time, the final round, how long and how hard each vCPU
 * was throttled, and the guest's write rate per vCPU during the
 * migration. The emulator's absolute speeds mean little: compare the
 * rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "migrate.h"

#define MIB		8
#define WL_HEAVY	"random delay=100000"
#define WL_LIGHT	"mode 1 hot hot=1 hotprob=100 delay=100000"
#define RUNS		2

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Each vCPU's writes so far; 0 if the VMM did not answer. */
static int vcpu_writes(const char *sock, long long w[2])
{
	char reply[4096], *p;

	w[0] = 0;
	w[1] = 0;
	if (vmm_cmd(sock, "status", reply, sizeof(reply)))
		return -1;
	p = strstr(reply, " writes=");
	if (!p)
		return -1;
	w[0] = strtoll(p + 8, &p, 10);
	if (*p == ',')
		w[1] = strtoll(p + 1, NULL, 10);
	return 0;
}

static struct mig_result res;

static int run(const char *throttle, int n)
{
	char reply[4096], mbps[16], thr[64];
	long long w0[2], w1[2], rate;
	long t0, t1;
	struct bed b;
	int err;

	err = bed_setup(&b);
	if (!err)
		err = bed_start(&b, MIB, MIB, WL_HEAVY);
	if (!err)
		err = vmm_cmd(b.src.vmm_sock, WL_LIGHT, reply, sizeof(reply));
	if (!err) {
		vcpu_writes(b.src.vmm_sock, w0);
		t0 = now_ms();
		sleep(1);
		vcpu_writes(b.src.vmm_sock, w1);
		t1 = now_ms();
		rate = (w1[0] - w0[0]) * 1000 / (t1 - t0 ?: 1);
		snprintf(mbps, sizeof(mbps), "%llu",
			 (unsigned long long)(rate / 4 * 4096 * 8 / 1000000) ?: 1);
		vcpu_writes(b.src.vmm_sock, w0);
		t0 = now_ms();
		migrate(&b, "loose", &res, "--bandwidth-mbps", mbps,
			"--max-rounds", "30", "--throttle", throttle,
			"--throttle-max", "99", NULL);
		vcpu_writes(b.src.vmm_sock, w1);
		t1 = now_ms();
		/* a migrated source stopped writing at the pause */
		if (!res.rc)
			t1 = t0 + json_u64(res.out, "total_ms") -
			     json_u64(res.out, "switchover_ms");
		snprintf(thr, sizeof(thr), "%llu/%llu/%llu %llu/%llu/%llu",
			 vcpu_u64(res.out, 0, "throttled_ms"),
			 vcpu_u64(res.out, 0, "max_pct"),
			 vcpu_u64(res.out, 0, "mean_pct"),
			 vcpu_u64(res.out, 1, "throttled_ms"),
			 vcpu_u64(res.out, 1, "max_pct"),
			 vcpu_u64(res.out, 1, "mean_pct"));
		printf("%-5s %3d %6lld %5s %-9s %6llu %8llu %10llu %6llu  %-26s %7.0f %7.0f\n",
		       throttle, n, rate, mbps,
		       res.rc ? "no conv." : "migrated",
		       json_u64(res.out, "rounds"),
		       json_u64(res.out, "total_ms"),
		       json_u64(res.out, "switchover_ms"),
		       json_u64(res.out, "final_dirty_pages"), thr,
		       (w1[0] - w0[0]) * 1000.0 / (t1 - t0 ?: 1),
		       (w1[1] - w0[1]) * 1000.0 / (t1 - t0 ?: 1));
		fflush(stdout);
		if (res.rc && strcmp(throttle, "off"))
			fprintf(stderr, "bench: %s: %s", throttle, res.err);
	}
	bed_teardown(&b);
	return err;
}

int main(void)
{
	static const char *const modes[] = { "off", "auto" };
	int i, n, err = 0;

	if (!have_kvm()) {
		fprintf(stderr, "bench: no /dev/kvm\n");
		return 4;
	}
	printf("\nConvergence benchmark: 2 vCPUs, %u MiB, loose mode; %s\n",
	       MIB, "vCPU 0 writes random pages,");
	printf("vCPU 1 rewrites 1%% of its region; %s\n",
	       "the link carries a quarter of vCPU 0's writes");
	printf("(--bandwidth-mbps); downtime target 300 ms; --throttle-max 99.\n");
	printf("throttled: ms/max%%/mean%% for vCPU 0 and vCPU 1; %s\n",
	       "writes/s: the guest's, per vCPU,");
	printf("during the migration (up to the pause where it migrated).\n\n");
	printf("%-5s %3s %6s %5s %-9s %6s %8s %10s %6s  %-26s %7s %7s\n",
	       "thr.", "run", "wr/s", "Mbps", "result", "rounds", "total ms",
	       "downtime", "final", "throttled v0 v1", "v0 wr/s",
	       "v1 wr/s");
	for (n = 1; n <= RUNS; n++)
		for (i = 0; i < 2; i++)
			err |= run(modes[i], n);
	return err ? 1 : 0;
}
