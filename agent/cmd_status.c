// SPDX-License-Identifier: GPL-2.0
/* agentctl status: the module, the agent, the VMs it holds. */
#include <stdio.h>

#include "agentctl.h"
#include "print.h"

int cmd_status(int argc, char **argv)
{
	struct ctl_reply rep;
	struct ctl_req req = { .op = CTL_STATUS };
	struct ctl_status *st = &rep.u.status;
	uint32_t i;
	int rc;

	if (argc != 1)
		return usage_error(subcmd_find("status"), "no arguments expected");
	rc = ctl_call(&req, &rep, NULL, NULL);
	if (rc)
		return rc;
	pr_init(opt_json);
	pr_open(NULL);
	pr_open("module");
	pr_str("version", st->module.module_version);
	pr_u64("protocol", st->module.proto_version);
	pr_str("kernel", st->module.kernel_release);
	pr_u64("attached_vms", st->module.vm_count);
	pr_close();
	pr_open("agent");
	pr_str("version", LT_VERSION);
	pr_u64("peer_port", st->peer_port);
	pr_u64("migrations_in", st->migrations_in);
	pr_u64("migrations_out", st->migrations_out);
	pr_close();
	pr_array_open("vms");
	for (i = 0; i < st->nvms && i < CTL_MAX_VMS; i++) {
		struct ctl_vm *v = &st->vms[i];

		pr_open(NULL);
		pr_u64("pid", v->pid);
		if (v->migrating) {
			pr_str("state", "migrating");
			pr_close();
			continue;
		}
		pr_u64("vm_id", v->vm_id);
		pr_str("trace", v->trace_state == LOOSETRACE_TRACE_ON ?
		       ipc_mode_name(v->mode) : "off");
		pr_u64("vcpus", v->vcpus);
		pr_u64("memslots", v->nslots);
		pr_u64("pages", v->pages);
		pr_u64("epoch", v->epoch);
		pr_u64("epoch_done", v->epoch_done);
		pr_close();
	}
	pr_array_close();
	pr_close();
	return EXIT_OK;
}
