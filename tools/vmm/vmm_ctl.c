// SPDX-License-Identifier: GPL-2.0
/*
 * lt-vmm's control commands. The socket plumbing is in lt_vmm.c; this
 * file turns a command line into library calls and a reply line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm_ctl.h"

#define APPEND(buf, len, off, ...) do {					\
	if ((off) < (len))						\
		(off) += snprintf((buf) + (off), (len) - (off), __VA_ARGS__); \
} while (0)

static const char *vm_state(struct ltvmm_ctl_ctx *c)
{
	if (vmm_failed(c->vm))
		return "failed";
	return vmm_paused(c->vm) ? "paused" : "running";
}

void ltvmm_status_line(struct ltvmm_ctl_ctx *c, char *buf, size_t len)
{
	struct ltg_vcpu_cfg wl;
	struct vmm_layout l;
	size_t off = 0;
	unsigned int i;

	vmm_get_layout(c->vm, &l);
	APPEND(buf, len, off,
	       "state=%s pid=%d vm_fd=%d vcpus=%u mem_bytes=%llu mem_path=%s slots=%u slot0=id:%u,gpa:%#llx,pages:%llu data_gfn_first=%llu data_gfn_count=%llu gen_table_gpa=%#llx ctl_gpa=%#llx",
	       vm_state(c), getpid(), l.vm_fd, l.nr_vcpus,
	       (unsigned long long)l.mem_bytes, l.mem_path, l.nr_slots,
	       l.slot_id, (unsigned long long)l.slot_gpa,
	       (unsigned long long)l.slot_pages,
	       (unsigned long long)l.data_gfn_first,
	       (unsigned long long)l.data_gfn_count,
	       (unsigned long long)l.gen_table_gpa,
	       (unsigned long long)l.ctl_gpa);
	if (c->control_path)
		APPEND(buf, len, off, " control=%s", c->control_path);
	APPEND(buf, len, off, " writes=");
	for (i = 0; i < l.nr_vcpus; i++)
		APPEND(buf, len, off, "%s%llu", i ? "," : "",
		       (unsigned long long)vmm_writes(c->vm, i));
	APPEND(buf, len, off, " modes=");
	for (i = 0; i < l.nr_vcpus; i++) {
		vmm_get_workload(c->vm, i, &wl);
		APPEND(buf, len, off, "%s%s", i ? "," : "",
		       vmm_mode_name(wl.mode));
	}
	if (vmm_failed(c->vm))
		APPEND(buf, len, off, " error=\"%s\"", vmm_error(c->vm));
}

void ltvmm_verdict_line(const struct vmm_verdict *v, char *buf, size_t len)
{
	if (v->pass)
		snprintf(buf, len,
			 "verdict=pass pages=%llu written=%llu bad=0",
			 (unsigned long long)v->pages,
			 (unsigned long long)v->written);
	else
		snprintf(buf, len,
			 "verdict=fail pages=%llu written=%llu bad=%llu first_bad_gfn=%#llx found_gen=%llu want_gen=%llu",
			 (unsigned long long)v->pages,
			 (unsigned long long)v->written,
			 (unsigned long long)v->bad,
			 (unsigned long long)v->first_bad_gfn,
			 (unsigned long long)v->bad_gen,
			 (unsigned long long)v->want_gen);
}

/* "mode <vcpu|all> <mode> [key=value...]" */
static int cmd_mode(struct ltvmm_ctl_ctx *c, char *args, char *reply,
		    size_t len)
{
	char *who = strtok(args, " \t"), *name = strtok(NULL, " \t"), *kv;
	struct ltg_vcpu_cfg wl;
	int vcpu, mode;

	if (!who || !name) {
		snprintf(reply, len, "err usage: mode <vcpu|all> <mode> [delay=N report=N hot=PCT hotprob=PCT halt=US burst=N seed=N]");
		return -1;
	}
	vcpu = strcmp(who, "all") ? atoi(who) : -1;
	mode = vmm_mode_parse(name);
	if (mode < 0 || vcpu >= (int)vmm_nr_vcpus(c->vm)) {
		snprintf(reply, len, "err unknown mode or vCPU");
		return -1;
	}
	vmm_workload_default(&wl, mode);
	while ((kv = strtok(NULL, " \t"))) {
		char *eq = strchr(kv, '=');
		unsigned long long val;

		if (!eq) {
			snprintf(reply, len, "err expected key=value: %s", kv);
			return -1;
		}
		*eq = 0;
		val = strtoull(eq + 1, NULL, 0);
		if (!strcmp(kv, "delay"))
			wl.delay = val;
		else if (!strcmp(kv, "report"))
			wl.report_every = val;
		else if (!strcmp(kv, "hot"))
			wl.hot_pct = val;
		else if (!strcmp(kv, "hotprob"))
			wl.hot_prob = val;
		else if (!strcmp(kv, "halt"))
			wl.halt_us = val;
		else if (!strcmp(kv, "burst"))
			wl.burst = val;
		else if (!strcmp(kv, "seed"))
			wl.seed = val;
		else {
			snprintf(reply, len, "err unknown key %s", kv);
			return -1;
		}
	}
	if (vmm_set_workload(c->vm, vcpu, &wl)) {
		snprintf(reply, len, "err invalid workload");
		return -1;
	}
	snprintf(reply, len, "ok mode %s", name);
	return 0;
}

static void reply_err(struct ltvmm_ctl_ctx *c, char *reply, size_t len,
		      const char *what, int ret)
{
	snprintf(reply, len, "err %s: %s", what,
		 vmm_error(c->vm) ? vmm_error(c->vm) : strerror(-ret));
}

void ltvmm_ctl_command(struct ltvmm_ctl_ctx *c, char *line, char *reply,
		       size_t len)
{
	char *cmd, *arg;
	struct vmm_verdict v;
	char buf[512];
	int ret;

	line[strcspn(line, "\r\n")] = 0;
	cmd = strtok(line, " \t");
	arg = strtok(NULL, "");
	while (arg && (*arg == ' ' || *arg == '\t'))
		arg++;
	if (!cmd) {
		snprintf(reply, len, "err empty command");
	} else if (!strcmp(cmd, "status")) {
		ltvmm_status_line(c, buf, sizeof(buf));
		snprintf(reply, len, "ok %s", buf);
	} else if (!strcmp(cmd, "pause")) {
		ret = vmm_pause(c->vm, c->timeout_ms);
		if (ret)
			reply_err(c, reply, len, "pause", ret);
		else
			snprintf(reply, len, "ok paused");
	} else if (!strcmp(cmd, "resume")) {
		ret = vmm_resume(c->vm);
		if (ret)
			reply_err(c, reply, len, "resume", ret);
		else
			snprintf(reply, len, "ok running");
	} else if (!strcmp(cmd, "state") && arg && *arg) {
		ret = vmm_save_state_file(c->vm, arg);
		if (ret)
			reply_err(c, reply, len, "state", ret);
		else
			snprintf(reply, len, "ok state %s", arg);
	} else if (!strcmp(cmd, "restore") && arg && *arg) {
		ret = vmm_restore_state_file(c->vm, arg);
		if (ret)
			reply_err(c, reply, len, "restore", ret);
		else
			snprintf(reply, len, "ok restored (paused; resume to run)");
	} else if (!strcmp(cmd, "verify")) {
		ret = vmm_verify(c->vm, &v, c->timeout_ms);
		if (ret) {
			reply_err(c, reply, len, "verify", ret);
		} else {
			c->verify_failed = !v.pass;
			ltvmm_verdict_line(&v, buf, sizeof(buf));
			snprintf(reply, len, "%s %s", v.pass ? "ok" : "err", buf);
		}
	} else if (!strcmp(cmd, "park")) {
		ret = vmm_guest_park(c->vm, c->timeout_ms);
		if (ret)
			reply_err(c, reply, len, "park", ret);
		else
			snprintf(reply, len, "ok parked");
	} else if (!strcmp(cmd, "run")) {
		vmm_guest_run(c->vm);
		snprintf(reply, len, "ok run");
	} else if (!strcmp(cmd, "mode") && arg) {
		cmd_mode(c, arg, reply, len);
	} else if (!strcmp(cmd, "quit")) {
		c->quit = true;
		snprintf(reply, len, "ok bye");
	} else {
		snprintf(reply, len,
			 "err unknown command (status pause resume state <file> restore <file> verify park run mode quit)");
	}
}
