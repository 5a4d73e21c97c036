// SPDX-License-Identifier: GPL-2.0
/* Shared steps of the agent suite's tests; see migrate.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "migrate.h"

int have_kvm(void)
{
	return access("/dev/kvm", R_OK | W_OK) == 0;
}

int bed_start(struct bed *b, unsigned int src_mib, unsigned int dst_mib,
	      const char *workload)
{
	char cmd[256], reply[4096];
	int err;

	/*
	 * A sweep first, so that every page holds data as in a guest that
	 * has run for a while, then the workload of the test.
	 */
	err = side_vmm(&b->src, 0, src_mib, "-w", "seq", NULL);
	if (!err)
		err = vmm_wait_writes(b->src.vmm_sock, src_mib * 256ULL, 60000);
	if (!err) {
		snprintf(cmd, sizeof(cmd), "mode all %s", workload);
		err = vmm_cmd(b->src.vmm_sock, cmd, reply, sizeof(reply));
		if (err)
			printf("# lt-vmm %s: %s\n", cmd, reply);
	}
	if (!err)
		err = side_vmm(&b->dst, 1, dst_mib, NULL);
	if (!err)
		err = side_agent(&b->src, 0, NULL);
	if (!err)
		err = side_agent(&b->dst, 1, NULL);
	if (!err)
		/* the workload runs before anything moves */
		err = vmm_wait_more_writes(b->src.vmm_sock, 100, 30000);
	if (err) {
		printf("# test bed did not start: %s\n", strerror(-err));
		dump_log(b->src.log);
		dump_log(b->dst.log);
	}
	return err;
}

void migrate(struct bed *b, const char *mode, struct mig_result *r, ...)
{
	const char *argv[32] = {
		"agentctl", "-j", "-s", b->src.agent_sock, "migrate",
		"--vm", NULL, "--to", DST_TARGET, "--vmm", b->src.vmm_sock,
		"--mode", mode, "--max-rounds", "5",
	};
	char pid[16];
	const char *a;
	va_list ap;
	int n = 15;

	snprintf(pid, sizeof(pid), "%d", (int)b->src.vmm);
	argv[6] = pid;
	va_start(ap, r);
	while (n < 31 && (a = va_arg(ap, const char *)))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	r->rc = run_in(b->src.netns, r->out, sizeof(r->out), r->err,
		       sizeof(r->err), argv);
}

void report(const char *what, const struct mig_result *r)
{
	const char *o = r->out;

	printf("# %s: rc=%d %s", what, r->rc, r->err);
	printf("# %s: rounds %llu, pages sent %llu (%llu zero), bytes sent %llu\n",
	       what, json_u64(o, "rounds"), json_u64(o, "pages_sent"),
	       json_u64(o, "zero_pages"), json_u64(o, "bytes_sent"));
	printf("# %s: bitmaps raw %llu bytes, compacted %llu bytes\n", what,
	       json_u64(o, "bitmap_raw_bytes"),
	       json_u64(o, "bitmap_compacted_bytes"));
	printf("# %s: final round %llu pages, switchover %llu ms, total %llu ms\n",
	       what, json_u64(o, "final_dirty_pages"),
	       json_u64(o, "switchover_ms"), json_u64(o, "total_ms"));
	printf("# %s: JSON %s", what, o);
}
