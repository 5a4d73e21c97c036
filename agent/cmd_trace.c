// SPDX-License-Identifier: GPL-2.0
/* agentctl trace start|stop --vm PID [--mode loose|sync] [--deadline-us US] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agentctl.h"
#include "print.h"

int parse_mode(const char *s, uint32_t *mode)
{
	if (!strcmp(s, "loose"))
		*mode = LOOSETRACE_MODE_LOOSE;
	else if (!strcmp(s, "sync"))
		*mode = LOOSETRACE_MODE_SYNC;
	else
		return -1;
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ "mode", required_argument, NULL, 'm' },
		{ "deadline-us", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	const struct subcmd *c = subcmd_find("trace");
	struct ctl_req req = { 0 };
	struct ctl_reply rep;
	int o, rc;

	if (argc < 2)
		return usage_error(c, "start or stop?");
	if (!strcmp(argv[1], "start"))
		req.op = CTL_TRACE_START;
	else if (!strcmp(argv[1], "stop"))
		req.op = CTL_TRACE_STOP;
	else
		return usage_error(c, "start or stop, not \"%s\"", argv[1]);
	optind = 1;
	while ((o = getopt_long(argc - 1, argv + 1, "v:m:d:", opts, NULL)) != -1) {
		switch (o) {
		case 'v':
			if (parse_u32("--vm", optarg, &req.vm_pid))
				return EXIT_USAGE;
			break;
		case 'm':
			if (parse_mode(optarg, &req.mode))
				return usage_error(c, "--mode loose or sync");
			break;
		case 'd':
			if (parse_u32("--deadline-us", optarg, &req.deadline_us))
				return EXIT_USAGE;
			break;
		default:
			return usage_error(c, "unknown option");
		}
	}
	if (!req.vm_pid || optind != argc - 1)
		return usage_error(c, "--vm PID is required");
	rc = ctl_call(&req, &rep, NULL, NULL);
	if (rc)
		return rc;
	pr_init(opt_json);
	pr_open(NULL);
	pr_u64("pid", req.vm_pid);
	pr_u64("vm_id", rep.vm_id);
	pr_str("trace", req.op == CTL_TRACE_STOP ? "off" :
	       ipc_mode_name(req.mode));
	pr_close();
	return EXIT_OK;
}
