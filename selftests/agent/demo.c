// SPDX-License-Identifier: GPL-2.0
/*
 * lt-agent-demo: the demo migration, on the agent suite's test bed. A
 * 2-vCPU guest of MIB MiB (default 64) keeps writing while the source
 * agent migrates it (loose mode by default) to the destination agent in
 * another network namespace; prints agentctl's summary, with every
 * round, and the destination guest's own verification of all its memory.
 *
 *   lt-agent-demo [MIB [loose|sync [WORKLOAD...]]]
 *
 * The guest first writes every page once, then runs WORKLOAD (lt-vmm's
 * "mode all" arguments, e.g. "random delay=20000"). The default is one a
 * real migration converges on (WL_CONVERGING): a hot set and a write
 * rate limit.
 * Exit code 0 only if the migration and the verification both passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "migrate.h"

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Pages the guest writes per second before anything is traced. */
static unsigned long long write_rate(const char *sock)
{
	long long w0 = vmm_total_writes(sock), w1;
	long t0 = now_ms(), t1;
	struct timespec ts = { 2, 0 };

	nanosleep(&ts, NULL);
	w1 = vmm_total_writes(sock);
	t1 = now_ms();
	if (w0 < 0 || w1 < w0)
		return 0;
	return (w1 - w0) * 1000 / ((t1 - t0) ?: 1);
}

int main(int argc, char **argv)
{
	unsigned int mib = argc > 1 ? atoi(argv[1]) : 64;
	const char *mode = argc > 2 ? argv[2] : "loose";
	const char *args[16];
	char workload[256] = WL_CONVERGING;
	size_t used = 0;
	int i;
	struct mig_result r;
	char pid[16], reply[4096];
	struct bed b;
	int rc = 1;

	setvbuf(stdout, NULL, _IONBF, 0);
	for (i = 3; i < argc && used < sizeof(workload); i++)
		used += snprintf(workload + used, sizeof(workload) - used,
				 "%s%s", i > 3 ? " " : "", argv[i]);
	if (!have_kvm()) {
		fprintf(stderr, "lt-agent-demo: no /dev/kvm\n");
		return 4;
	}
	if (bed_setup(&b) || bed_start(&b, mib, mib, workload))
		goto out;
	printf("== source: lt-vmm pid %d, 2 vCPUs, %u MiB (%u pages) in namespace A (%s)\n",
	       (int)b.src.vmm, mib, mib * 256, SRC_IP);
	printf("   every page written once, then: mode all %s\n", workload);
	printf("   the guest writes %llu pages/s before tracing\n",
	       write_rate(b.src.vmm_sock));
	printf("== destination: lt-vmm waiting for the guest in namespace B (%s)\n",
	       DST_IP);
	printf("== agentctl migrate --vm %d --to %s --mode %s\n",
	       (int)b.src.vmm, DST_TARGET, mode);
	snprintf(pid, sizeof(pid), "%d", (int)b.src.vmm);
	args[0] = "agentctl";
	args[1] = "-s";
	args[2] = b.src.agent_sock;
	args[3] = "migrate";
	args[4] = "--vm";
	args[5] = pid;
	args[6] = "--to";
	args[7] = DST_TARGET;
	args[8] = "--vmm";
	args[9] = b.src.vmm_sock;
	args[10] = "--mode";
	args[11] = mode;
	args[12] = "--max-rounds";
	args[13] = "12";
	args[14] = NULL;
	r.rc = run_in(b.src.netns, r.out, sizeof(r.out), r.err, sizeof(r.err),
		      args);
	fputs(r.out, stdout);
	fputs(r.err, stdout);
	if (r.rc) {
		printf("== migration FAILED (agentctl exit %d)\n", r.rc);
		dump_log(b.src.log);
		dump_log(b.dst.log);
		goto out;
	}
	if (vmm_wait_more_writes(b.dst.vmm_sock, 200, 30000))
		printf("== the destination guest does not write on\n");
	vmm_cmd(b.dst.vmm_sock, "verify", reply, sizeof(reply));
	printf("== destination guest verification: %s\n", reply);
	rc = strstr(reply, "verdict=pass") ? 0 : 1;
	printf("== verdict: %s\n", rc ? "FAIL" :
	       "PASS (every page verified by the guest after migration)");
out:
	bed_teardown(&b);
	return rc;
}
