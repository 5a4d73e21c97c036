// SPDX-License-Identifier: GPL-2.0
/*
 * agentctl check --vm PID --qmp SOCKET: can loosetrace move this QEMU
 * guest? Asks the QEMU itself (QMP) and reads its /proc entries, before
 * anything is attached or sent; prints the RAM regions the agents would
 * move, or why the guest cannot be moved this way and what to change.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agentctl.h"
#include "print.h"
#include "qemu_vm.h"

#define CHECK_TIMEOUT_MS	5000

static void print_vm(const struct qemu_vm *vm, int ok, const char *why)
{
	char version[32], hva[24];
	unsigned int i;

	pr_init(opt_json);
	pr_open(NULL);
	pr_str("verdict", ok ? "movable" : "refused");
	if (!ok)
		pr_str("reason", why);
	/* refused before QEMU said anything about itself */
	if (!vm->pid) {
		pr_close();
		return;
	}
	pr_u64("pid", vm->pid);
	snprintf(version, sizeof(version), "%d.%d.%d", vm->major, vm->minor,
		 vm->micro);
	pr_str("qemu", version);
	pr_str("status", vm->status);
	pr_array_open("regions");
	for (i = 0; i < vm->nregions; i++) {
		pr_open(NULL);
		pr_str("id", vm->regions[i].id);
		pr_str("type", vm->regions[i].type);
		if (vm->regions[i].path[0])
			pr_str("path", vm->regions[i].path);
		pr_u64("bytes", vm->regions[i].size);
		snprintf(hva, sizeof(hva), "%#llx",
			 (unsigned long long)vm->regions[i].hva);
		pr_str("hva", hva);
		pr_close();
	}
	pr_array_close();
	pr_close();
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ "qmp", required_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 }
	};
	const struct subcmd *c = subcmd_find("check");
	const char *sock = NULL;
	struct qemu_vm vm;
	struct qmp q;
	uint32_t pid = 0;
	char why[512];
	int o, ret;

	optind = 1;
	while ((o = getopt_long(argc, argv, "v:q:", opts, NULL)) != -1) {
		if (o == 'v' && !parse_u32("--vm", optarg, &pid))
			continue;
		if (o == 'q') {
			sock = optarg;
			continue;
		}
		return usage_error(c, "bad option");
	}
	if (!pid || !sock || optind != argc)
		return usage_error(c, "--vm and --qmp are required");
	if (qmp_open(&q, sock, CHECK_TIMEOUT_MS)) {
		fprintf(stderr, "agentctl: QMP socket %s: %s\n", sock, q.err);
		return EXIT_FAIL;
	}
	ret = qemu_inspect(&q, pid, &vm, why, sizeof(why));
	qmp_close(&q);
	print_vm(&vm, !ret, why);
	if (ret) {
		fprintf(stderr, "agentctl: cannot move this guest: %s\n", why);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
