// SPDX-License-Identifier: GPL-2.0
/*
 * agentctl migrate --vm PID --to HOST:PORT --vmm SOCKET: the main job.
 * On a terminal, one progress line per pre-copy round; at the end a
 * summary (human or JSON).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agentctl.h"
#include "impact_print.h"
#include "print.h"

static const char *phase_name(uint32_t phase)
{
	switch (phase) {
	case MIG_CONNECT:	return "connect";
	case MIG_PRECOPY:	return "pre-copy";
	case MIG_SWITCHOVER:	return "switchover";
	default:		return "done";
	}
}

static void show_progress(const struct ctl_reply *rep, void *arg)
{
	const struct ctl_migrate *m = &rep->u.migrate;

	fprintf(stderr,
		"\r\033[Kround %u  dirty %llu pages  sent %llu pages / %.1f MiB  %.1f MiB/s  dirty rate %llu pages/s  eta %.1f s",
		m->round, (unsigned long long)m->dirty_pages,
		(unsigned long long)m->pages_sent, m->bytes_sent / 1048576.0,
		m->rate_bps / 1048576.0, (unsigned long long)m->dirty_rate,
		m->eta_ms / 1000.0);
	fflush(stderr);
}

/* Every round: JSON objects, or a table for people. */
static void print_rounds(const struct ctl_migrate *m)
{
	const struct ctl_round *r;
	char name[16];
	uint32_t i;

	if (!opt_json) {
		if (!m->nlog)
			return;
		printf("per_round:\n"
		       "    round  dirty pages  dirty rate/s    MiB sent  time ms  throttle%%\n");
		for (i = 0; i < m->nlog; i++) {
			r = &m->log[i];
			snprintf(name, sizeof(name), "%u", i + 1);
			printf("    %5s  %11llu  %12llu  %10.2f  %7u  %9u\n",
			       r->final ? "final" : name,
			       (unsigned long long)r->dirty_pages,
			       (unsigned long long)r->dirty_rate,
			       r->bytes / 1048576.0, r->ms, r->throttle_pct);
		}
		return;
	}
	pr_array_open("per_round");
	for (i = 0; i < m->nlog; i++) {
		r = &m->log[i];
		pr_open(NULL);
		pr_u64("dirty_pages", r->dirty_pages);
		pr_u64("dirty_rate", r->dirty_rate);
		pr_u64("bytes", r->bytes);
		pr_u64("ms", r->ms);
		pr_u64("throttle_pct", r->throttle_pct);
		pr_bool("final", r->final);
		pr_close();
	}
	pr_array_close();
}

static const char *rates_name(uint32_t rates)
{
	switch (rates) {
	case CTL_THR_RATES_BPF:
		return "write faults per vCPU (BPF)";
	case CTL_THR_RATES_EVEN:
		return "the harvest's dirty count split evenly (no BPF figures)";
	default:
		return "none";
	}
}

/* How long and how hard each vCPU was throttled. */
static void print_throttle(const struct ctl_migrate *m)
{
	const struct ctl_throttle_vcpu *t;
	uint32_t i;

	pr_open("throttle");
	pr_str("mode", m->throttle_mode == CTL_THROTTLE_AUTO ? "auto" : "off");
	if (m->throttle_mode != CTL_THROTTLE_AUTO) {
		pr_close();
		return;
	}
	pr_u64("max_pct", m->throttle_max_pct);
	pr_bool("available", !m->throttle_error[0] || m->throttle_nvcpus);
	if (m->throttle_error[0])
		pr_str("error", m->throttle_error);
	pr_str("dirty_rates", rates_name(m->throttle_rates));
	pr_bool("released", m->throttle_released);
	if (!opt_json) {
		pr_close();
		if (!m->throttle_nvcpus)
			return;
		printf("    vcpu      tid  throttled ms  max%%  mean%%  steps");
		printf("  cpu ms  cfs held ms  periods\n");
		for (i = 0; i < m->throttle_nvcpus; i++) {
			t = &m->throttle[i];
			printf("    %4u  %7u  %12llu  %4u  %5u  %5u  %6llu  %11llu  %7llu\n",
			       t->vcpu_id, t->tid,
			       (unsigned long long)t->throttled_ms, t->max_pct,
			       t->mean_pct, t->steps,
			       (unsigned long long)t->cpu_ms,
			       (unsigned long long)t->cfs_throttled_ms,
			       (unsigned long long)t->cfs_periods);
		}
		return;
	}
	pr_array_open("vcpus");
	for (i = 0; i < m->throttle_nvcpus; i++) {
		t = &m->throttle[i];
		pr_open(NULL);
		pr_u64("vcpu", t->vcpu_id);
		pr_u64("tid", t->tid);
		pr_u64("throttled_ms", t->throttled_ms);
		pr_u64("max_pct", t->max_pct);
		pr_u64("mean_pct", t->mean_pct);
		pr_u64("steps", t->steps);
		pr_u64("cpu_ms", t->cpu_ms);
		pr_u64("cfs_throttled_ms", t->cfs_throttled_ms);
		pr_u64("cfs_periods", t->cfs_periods);
		pr_close();
	}
	pr_array_close();
	pr_close();
}

static void summary(const struct ctl_reply *rep, const struct ctl_req *req,
		    int ok)
{
	const struct ctl_migrate *m = &rep->u.migrate;

	pr_init(opt_json);
	pr_open(NULL);
	pr_str("result", ok ? "migrated" : "failed");
	if (!ok)
		pr_str("error", rep->msg);
	pr_u64("pid", req->vm_pid);
	pr_str("to", req->target);
	pr_str("mode", ipc_mode_name(m->mode));
	pr_str("phase_reached", phase_name(m->phase));
	pr_u64("vcpus", m->vcpus);
	pr_u64("guest_pages", m->guest_pages);
	pr_u64("rounds", m->round);
	pr_str("precopy_stop", m->stop_reason);
	pr_u64("est_final_pages", m->est_final_pages);
	pr_u64("est_final_ms", m->est_final_ms);
	pr_u64("pages_sent", m->pages_sent);
	pr_u64("zero_pages", m->zero_pages);
	pr_u64("bytes_sent", m->bytes_sent);
	pr_u64("bitmap_raw_bytes", m->bitmap_raw_bytes);
	pr_u64("bitmap_compacted_bytes", m->bitmap_compact_bytes);
	pr_u64("final_dirty_pages", m->final_dirty_pages);
	pr_u64("state_bytes", m->state_bytes);
	pr_u64("switchover_ms", m->switchover_ms);
	pr_u64("total_ms", m->elapsed_ms);
	pr_bool("memory_identical", ok);
	if (m->source_left_paused)
		pr_bool("source_left_paused", 1);
	pr_open("trace");
	pr_float("install_ms", m->trace_install_ns / 1e6, "ms");
	pr_u64("epochs", m->epochs);
	pr_float("flush_median_us", m->flush_ns_median / 1e3, "us");
	pr_float("flush_max_us", m->flush_ns_max / 1e3, "us");
	pr_u64("deadline_kicks", m->deadline_kicks);
	pr_u64("sync_flushes", m->sync_flushes);
	pr_u64("retraces", m->retraces);
	pr_close();
	pr_open("reconcile");
	pr_bool("enabled", m->reconcile_threads != 0);
	pr_u64("threads", m->reconcile_threads);
	pr_u64("pages_resent", m->reconcile_pages);
	pr_u64("scan_ms", m->reconcile_ms);
	pr_close();
	if (m->dest_message[0])
		pr_str("destination", m->dest_message);
	print_rounds(m);
	print_throttle(m);
	impact_print_migrate(m);
	pr_close();
}

int cmd_migrate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ "to", required_argument, NULL, 't' },
		{ "vmm", required_argument, NULL, 'c' },
		{ "qmp", required_argument, NULL, 'q' },
		{ "mode", required_argument, NULL, 'm' },
		{ "downtime-ms", required_argument, NULL, 'd' },
		{ "max-rounds", required_argument, NULL, 'r' },
		{ "bandwidth-mbps", required_argument, NULL, 'b' },
		{ "deadline-us", required_argument, NULL, 'D' },
		{ "no-reconcile", no_argument, NULL, 'N' },
		{ "throttle", required_argument, NULL, 'T' },
		{ "throttle-max", required_argument, NULL, 'X' },
		{ NULL, 0, NULL, 0 }
	};
	const struct subcmd *c = subcmd_find("migrate");
	struct ctl_req req = { .op = CTL_MIGRATE };
	struct ctl_reply rep = { 0 };
	int o, rc, tty;

	optind = 1;
	while ((o = getopt_long(argc, argv, "v:t:c:q:m:d:r:b:D:NT:X:", opts,
				NULL)) != -1) {
		switch (o) {
		case 'v':
			rc = parse_u32("--vm", optarg, &req.vm_pid);
			break;
		case 't':
			rc = snprintf(req.target, sizeof(req.target), "%s",
				      optarg) >= (int)sizeof(req.target);
			break;
		case 'q':
		case 'c':
			/* a QMP socket takes the test VMM's place */
			if (o == 'q')
				req.flags |= CTL_MIG_QMP;
			if (req.vmm_sock[0])
				return usage_error(c, "--vmm and --qmp name one VMM: give one");
			rc = snprintf(req.vmm_sock, sizeof(req.vmm_sock), "%s",
				      optarg) >= (int)sizeof(req.vmm_sock);
			break;
		case 'm':
			rc = parse_mode(optarg, &req.mode);
			break;
		case 'd':
			rc = parse_u32("--downtime-ms", optarg, &req.downtime_ms);
			break;
		case 'r':
			rc = parse_u32("--max-rounds", optarg, &req.max_rounds);
			break;
		case 'b':
			rc = parse_u32("--bandwidth-mbps", optarg,
				       &req.bandwidth_mbps);
			break;
		case 'D':
			rc = parse_u32("--deadline-us", optarg, &req.deadline_us);
			break;
		case 'N':
			req.flags |= CTL_MIG_NO_RECONCILE;
			rc = 0;
			break;
		case 'T':
			rc = 0;
			if (!strcmp(optarg, "auto"))
				req.throttle = CTL_THROTTLE_AUTO;
			else if (!strcmp(optarg, "off"))
				req.throttle = CTL_THROTTLE_OFF;
			else
				return usage_error(c, "--throttle takes off or auto");
			break;
		case 'X':
			rc = parse_u32("--throttle-max", optarg,
				       &req.throttle_max_pct);
			if (!rc && (req.throttle_max_pct < 1 ||
				    req.throttle_max_pct > 99))
				return usage_error(c,
						   "--throttle-max takes a percentage from 1 to 99");
			break;
		default:
			return usage_error(c, "unknown option");
		}
		if (rc)
			return usage_error(c, "bad value for an option");
	}
	if (!req.vm_pid || !req.target[0] || !req.vmm_sock[0] ||
	    optind != argc)
		return usage_error(c, "--vm, --to and --vmm (or --qmp) are required");
	tty = isatty(STDERR_FILENO);
	if (tty)
		req.flags |= CTL_MIG_PROGRESS;
	rc = ctl_call(&req, &rep, tty ? show_progress : NULL, NULL);
	if (tty)
		fputc('\n', stderr);
	if (rc == EXIT_OK || (rc == EXIT_FAIL && rep.magic == CTL_MAGIC))
		summary(&rep, &req, rc == EXIT_OK);
	return rc;
}
