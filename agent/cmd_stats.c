// SPDX-License-Identifier: GPL-2.0
/* agentctl stats --vm PID: the module's counters for an attached VM. */
#include <stdio.h>

#include "agentctl.h"
#include "print.h"

int cmd_stats(int argc, char **argv)
{
	struct ctl_req req = { .op = CTL_STATS };
	struct ctl_reply rep;
	int rc, i;

	rc = parse_vm_only(subcmd_find("stats"), argc, argv, &req.vm_pid);
	if (rc)
		return rc;
	rc = ctl_call(&req, &rep, NULL, NULL);
	if (rc)
		return rc;
	pr_init(opt_json);
	pr_open(NULL);
	pr_u64("vm_id", rep.vm_id);
	for (i = 0; i <= LOOSETRACE_STAT_MAX; i++)
		if (rep.u.stats.present[i] && ipc_stat_name(i))
			pr_u64(ipc_stat_name(i), rep.u.stats.v[i]);
	pr_close();
	return EXIT_OK;
}
