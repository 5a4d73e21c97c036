// SPDX-License-Identifier: GPL-2.0
/*
 * lt-vmm's control commands. The socket plumbing is in lt_vmm.c; this
 * file turns a command line into library calls and a reply line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm_ctl.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* snprintf at *off, moving *off on; output past len is dropped. */
static void __attribute__((format(printf, 4, 5)))
append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += n;
}

static const char *vm_state(struct ltvmm_ctl_ctx *c)
{
	if (vmm_failed(c->vm))
		return "failed";
	return vmm_paused(c->vm) ? "paused" : "running";
}

void ltvmm_status_line(struct ltvmm_ctl_ctx *c, char *buf, size_t len)
{
	struct vmm_vcpu_info in;
	struct ltg_vcpu_cfg wl;
	struct vmm_layout l;
	size_t off = 0;
	unsigned int i;

	vmm_get_layout(c->vm, &l);
	append(buf, len, &off, "state=%s pid=%d vm_fd=%d vcpus=%u",
	       vm_state(c), getpid(), l.vm_fd, l.nr_vcpus);
	append(buf, len, &off, " mem_bytes=%llu mem_path=%s slots=%u",
	       (unsigned long long)l.mem_bytes, l.mem_path, l.nr_slots);
	append(buf, len, &off, " slot0=id:%u,gpa:%#llx,pages:%llu",
	       l.slot_id, (unsigned long long)l.slot_gpa,
	       (unsigned long long)l.slot_pages);
	append(buf, len, &off, " data_gfn_first=%llu data_gfn_count=%llu",
	       (unsigned long long)l.data_gfn_first,
	       (unsigned long long)l.data_gfn_count);
	append(buf, len, &off, " gen_table_gpa=%#llx ctl_gpa=%#llx",
	       (unsigned long long)l.gen_table_gpa,
	       (unsigned long long)l.ctl_gpa);
	if (c->control_path)
		append(buf, len, &off, " control=%s", c->control_path);
	append(buf, len, &off, " writes=");
	for (i = 0; i < l.nr_vcpus; i++)
		append(buf, len, &off, "%s%llu", i ? "," : "",
		       (unsigned long long)vmm_writes(c->vm, i));
	/* the vCPU threads, for per-vCPU cgroups (the agent's throttle) */
	append(buf, len, &off, " vcpu_tids=");
	for (i = 0; i < l.nr_vcpus; i++) {
		vmm_vcpu_info(c->vm, i, &in);
		append(buf, len, &off, "%s%d", i ? "," : "", in.tid);
	}
	append(buf, len, &off, " modes=");
	for (i = 0; i < l.nr_vcpus; i++) {
		vmm_get_workload(c->vm, i, &wl);
		append(buf, len, &off, "%s%s", i ? "," : "",
		       vmm_mode_name(wl.mode));
	}
	if (vmm_failed(c->vm))
		append(buf, len, &off, " error=\"%s\"", vmm_error(c->vm));
}

void ltvmm_verdict_line(const struct vmm_verdict *v, char *buf, size_t len)
{
	size_t off = 0;

	append(buf, len, &off, "verdict=%s pages=%llu written=%llu bad=%llu",
	       v->pass ? "pass" : "fail", (unsigned long long)v->pages,
	       (unsigned long long)v->written, (unsigned long long)v->bad);
	if (!v->pass)
		append(buf, len, &off,
		       " first_bad_gfn=%#llx found_gen=%llu want_gen=%llu",
		       (unsigned long long)v->first_bad_gfn,
		       (unsigned long long)v->bad_gen,
		       (unsigned long long)v->want_gen);
}

/* One key=value of the mode command into wl; -1 for an unknown key. */
static int set_key(struct ltg_vcpu_cfg *wl, const char *key,
		   unsigned long long val)
{
	if (!strcmp(key, "delay"))
		wl->delay = val;
	else if (!strcmp(key, "report"))
		wl->report_every = val;
	else if (!strcmp(key, "hot"))
		wl->hot_pct = val;
	else if (!strcmp(key, "hotprob"))
		wl->hot_prob = val;
	else if (!strcmp(key, "halt"))
		wl->halt_us = val;
	else if (!strcmp(key, "burst"))
		wl->burst = val;
	else if (!strcmp(key, "seed"))
		wl->seed = val;
	else
		return -1;
	return 0;
}

/* "mode <vcpu|all> <mode> [key=value...]" */
static int cmd_mode(struct ltvmm_ctl_ctx *c, char *args, char *reply,
		    size_t len)
{
	char *who = strtok(args, " \t"), *name = strtok(NULL, " \t"), *kv;
	struct ltg_vcpu_cfg wl;
	int vcpu, mode;

	if (!who || !name) {
		snprintf(reply, len, "err usage: mode <vcpu|all> <mode> [key=value...]");
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
		if (set_key(&wl, kv, val)) {
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

/* "ok" and the formatted text after a successful @what, else its error. */
static void __attribute__((format(printf, 6, 7)))
reply_done(struct ltvmm_ctl_ctx *c, char *reply, size_t len,
	   const char *what, int ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ret) {
		reply_err(c, reply, len, what, ret);
		return;
	}
	n = snprintf(reply, len, "ok ");
	va_start(ap, fmt);
	vsnprintf(reply + n, len - n, fmt, ap);
	va_end(ap);
}

static void cmd_status(struct ltvmm_ctl_ctx *c, char *arg, char *reply,
		       size_t len)
{
	char buf[900];

	ltvmm_status_line(c, buf, sizeof(buf));
	snprintf(reply, len, "ok %s", buf);
}

static void cmd_pause(struct ltvmm_ctl_ctx *c, char *arg, char *reply,
		      size_t len)
{
	reply_done(c, reply, len, "pause",
		   vmm_pause(c->vm, c->timeout_ms),
		   "paused");
}

static void cmd_resume(struct ltvmm_ctl_ctx *c, char *arg, char *reply,
		       size_t len)
{
	reply_done(c, reply, len, "resume",
		   vmm_resume(c->vm),
		   "running");
}

static void cmd_state(struct ltvmm_ctl_ctx *c, char *arg, char *reply,
		      size_t len)
{
	reply_done(c, reply, len, "state",
		   vmm_save_state_file(c->vm, arg),
		   "state %s", arg);
}

static void cmd_restore(struct ltvmm_ctl_ctx *c, char *arg, char *reply,
			size_t len)
{
	reply_done(c, reply, len, "restore",
		   vmm_restore_state_file(c->vm, arg),
		   "restored (paused; resume to run)");
}

static void cmd_verify(struct ltvmm_ctl_ctx *c, char *arg, char *reply,
		       size_t len)
{
	struct vmm_verdict v;
	char buf[300];
	int ret;

	ret = vmm_verify(c->vm, &v, c->timeout_ms);
	if (ret) {
		reply_err(c, reply, len, "verify", ret);
		return;
	}
	c->verify_failed = !v.pass;
	ltvmm_verdict_line(&v, buf, sizeof(buf));
	snprintf(reply, len, "%s %s", v.pass ? "ok" : "err", buf);
}

static void cmd_park(struct ltvmm_ctl_ctx *c, char *arg, char *reply,
		     size_t len)
{
	reply_done(c, reply, len, "park",
		   vmm_guest_park(c->vm, c->timeout_ms),
		   "parked");
}

static void cmd_run(struct ltvmm_ctl_ctx *c, char *arg, char *reply,
		    size_t len)
{
	vmm_guest_run(c->vm);
	snprintf(reply, len, "ok run");
}

static void cmd_remap(struct ltvmm_ctl_ctx *c, char *arg, char *reply,
		      size_t len)
{
	reply_done(c, reply, len, "remap",
		   vmm_memslot_remap(c->vm, c->timeout_ms),
		   "remapped");
}

static void cmd_poke(struct ltvmm_ctl_ctx *c, char *arg, char *reply,
		     size_t len)
{
	char *end;
	unsigned long long gfn = strtoull(arg, &end, 0);

	reply_done(c, reply, len, "poke",
		   *end ? -EINVAL : vmm_host_write(c->vm, gfn),
		   "poked %llu", gfn);
}

static void cmd_quit(struct ltvmm_ctl_ctx *c, char *arg, char *reply,
		     size_t len)
{
	c->quit = true;
	snprintf(reply, len, "ok bye");
}

static void cmd_mode_line(struct ltvmm_ctl_ctx *c, char *arg, char *reply,
			  size_t len)
{
	cmd_mode(c, arg, reply, len);
}

static const struct {
	const char *name;
	bool needs_arg;
	void (*fn)(struct ltvmm_ctl_ctx *c, char *arg, char *reply,
		   size_t len);
} commands[] = {
	{ "status", false, cmd_status },
	{ "pause", false, cmd_pause },
	{ "resume", false, cmd_resume },
	{ "state", true, cmd_state },
	{ "restore", true, cmd_restore },
	{ "verify", false, cmd_verify },
	{ "park", false, cmd_park },
	{ "run", false, cmd_run },
	{ "mode", true, cmd_mode_line },
	{ "remap", false, cmd_remap },
	{ "poke", true, cmd_poke },
	{ "quit", false, cmd_quit },
};

void ltvmm_ctl_command(struct ltvmm_ctl_ctx *c, char *line, char *reply,
		       size_t len)
{
	char *cmd, *arg;
	size_t i;

	line[strcspn(line, "\r\n")] = 0;
	cmd = strtok(line, " \t");
	arg = strtok(NULL, "");
	while (arg && (*arg == ' ' || *arg == '\t'))
		arg++;
	if (!cmd) {
		snprintf(reply, len, "err empty command");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(cmd, commands[i].name))
			continue;
		if (commands[i].needs_arg && (!arg || !*arg)) {
			snprintf(reply, len, "err %s needs an argument", cmd);
			return;
		}
		commands[i].fn(c, arg, reply, len);
		return;
	}
	snprintf(reply, len,
		 "err unknown command %s (status pause resume state restore verify park run mode remap poke quit)",
		 cmd);
}
