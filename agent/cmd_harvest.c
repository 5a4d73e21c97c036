// SPDX-License-Identifier: GPL-2.0
/* agentctl harvest --vm PID: one harvest and its bitmap statistics. */
#include <getopt.h>
#include <stdio.h>

#include "agentctl.h"
#include "print.h"

/* "--vm PID" and nothing else: harvest, stats. */
int parse_vm_only(const struct subcmd *c, int argc, char **argv,
		  uint32_t *pid)
{
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	int o;

	optind = 1;
	*pid = 0;
	while ((o = getopt_long(argc, argv, "v:", opts, NULL)) != -1) {
		if (o != 'v')
			return usage_error(c, "unknown option");
		if (parse_u32("--vm", optarg, pid))
			return EXIT_USAGE;
	}
	if (!*pid || optind != argc)
		return usage_error(c, "--vm PID is required");
	return 0;
}

int cmd_harvest(int argc, char **argv)
{
	struct ctl_req req = { .op = CTL_HARVEST };
	struct ctl_harvest *h;
	struct ctl_reply rep;
	int rc;

	rc = parse_vm_only(subcmd_find("harvest"), argc, argv, &req.vm_pid);
	if (rc)
		return rc;
	rc = ctl_call(&req, &rep, NULL, NULL);
	if (rc)
		return rc;
	h = &rep.u.harvest;
	pr_init(opt_json);
	pr_open(NULL);
	pr_u64("vm_id", rep.vm_id);
	pr_u64("epoch", h->epoch);
	pr_u64("memslots", h->nslots);
	pr_u64("pages", h->pages);
	pr_u64("dirty_pages", h->dirty);
	pr_float("dirty_percent", h->pages ? 100.0 * h->dirty / h->pages : 0,
		 "%");
	pr_u64("dirty_runs", h->runs);
	pr_u64("raw_bitmap_bytes", h->raw_bytes);
	pr_u64("compacted_bytes", h->compact_bytes);
	pr_float("compaction_ratio", h->compact_bytes ?
		 (double)h->raw_bytes / h->compact_bytes : 0, "x");
	pr_float("harvest_ms", h->harvest_ns / 1e6, "ms");
	pr_float("epoch_wait_ms", h->install_ns / 1e6, "ms");
	pr_close();
	return EXIT_OK;
}
