// SPDX-License-Identifier: GPL-2.0
/* agentctl attach / detach --vm PID */
#include <getopt.h>
#include <stdio.h>

#include "agentctl.h"
#include "print.h"

static int vm_op(int argc, char **argv, uint32_t op)
{
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	const struct subcmd *c = subcmd_find(argv[0]);
	struct ctl_req req = { .op = op };
	struct ctl_reply rep;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "v:", opts, NULL)) != -1) {
		if (o != 'v')
			return usage_error(c, "unknown option");
		if (parse_u32("--vm", optarg, &req.vm_pid))
			return EXIT_USAGE;
	}
	if (!req.vm_pid || optind != argc)
		return usage_error(c, "--vm PID is required");
	rc = ctl_call(&req, &rep, NULL, NULL);
	if (rc)
		return rc;
	pr_init(opt_json);
	pr_open(NULL);
	pr_u64("pid", req.vm_pid);
	pr_u64("vm_id", rep.vm_id);
	pr_str("state", op == CTL_ATTACH ? "attached" : "detached");
	pr_close();
	return EXIT_OK;
}

int cmd_attach(int argc, char **argv)
{
	return vm_op(argc, argv, CTL_ATTACH);
}

int cmd_detach(int argc, char **argv)
{
	return vm_op(argc, argv, CTL_DETACH);
}
