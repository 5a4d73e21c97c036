// SPDX-License-Identifier: GPL-2.0
/*
 * agentctl top --vm PID [--interval MS] [--count N]: the guest impact of
 * a VMM's vCPUs, live, one table (or one JSON object) per interval. It
 * loads the BPF program itself (guest_impact.h), as root, without the
 * agent.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentctl.h"
#include "guest_impact.h"
#include "impact_print.h"
#include "print.h"

static int top_stop;	/* set by a signal, read with __atomic */

static void on_signal(int sig)
{
	__atomic_store_n(&top_stop, 1, __ATOMIC_RELAXED);
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	/* a signal ends the wait early, and the loop */
	nanosleep(&ts, NULL);
}

static uint32_t to_rows(const struct gi_delta *d, uint32_t n,
			struct impact_row *r)
{
	uint32_t i, j;

	for (i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].vcpu_id = d[i].vcpu_id;
		r[i].tid = d[i].tid;
		r[i].w.exits = d[i].exits;
		r[i].w.irq_exits = d[i].irq_exits;
		r[i].w.write_faults = d[i].write_faults;
		r[i].w.new_gfns = d[i].new_gfns;
		r[i].w.out_ns = d[i].out_ns;
		r[i].w.ntop = d[i].ntop < CTL_IMPACT_TOP ? d[i].ntop :
			      CTL_IMPACT_TOP;
		for (j = 0; j < r[i].w.ntop; j++) {
			r[i].w.top_reason[j] = d[i].top_reason[j];
			r[i].w.top_count[j] = d[i].top_count[j];
		}
	}
	return n;
}

static void show(uint32_t pid, uint32_t seq, const struct gi_snap *a,
		 const struct gi_snap *b)
{
	static struct gi_delta d[GI_VCPUS];
	static struct impact_row r[GI_VCPUS];
	uint32_t n = to_rows(d, gi_diff(a, b, d), r);

	pr_init(opt_json);
	if (opt_json) {
		pr_open(NULL);
		pr_u64("pid", pid);
		pr_u64("interval", seq);
		pr_str("isa", gi_isa_name(b->isa));
		impact_print_window(NULL, b->isa, b->t_ns - a->t_ns, r, n);
		pr_close();
	} else {
		printf("pid %u  interval %u  %s  %u vCPU threads\n", pid, seq,
		       gi_isa_name(b->isa), n);
		impact_print_header();
		impact_print_window("", b->isa, b->t_ns - a->t_ns, r, n);
		putchar('\n');
	}
	fflush(stdout);
}

int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	const struct subcmd *c = subcmd_find("top");
	uint32_t pid = 0, interval = 1000, count = 0, seq;
	static struct gi_snap snap[2];
	struct guest_impact *gi;
	char why[256];
	int o, rc, err;

	optind = 1;
	while ((o = getopt_long(argc, argv, "v:i:n:", opts, NULL)) != -1) {
		switch (o) {
		case 'v':
			rc = parse_u32("--vm", optarg, &pid);
			break;
		case 'i':
			rc = parse_u32("--interval", optarg, &interval);
			break;
		case 'n':
			rc = parse_u32("--count", optarg, &count);
			break;
		default:
			return usage_error(c, "unknown option");
		}
		if (rc)
			return usage_error(c, "bad value for an option");
	}
	if (!pid || optind != argc)
		return usage_error(c, "--vm is required");
	if (interval < 10)
		return usage_error(c, "--interval is at least 10 ms");
	err = gi_open(&gi, pid, why, sizeof(why));
	if (err) {
		fprintf(stderr, "agentctl: top: %s\n", why);
		return err == -EPERM ? EXIT_PERM : EXIT_FAIL;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	gi_snapshot(gi, &snap[0]);
	rc = EXIT_OK;
	for (seq = 1; !__atomic_load_n(&top_stop, __ATOMIC_RELAXED) &&
	     (!count || seq <= count); seq++) {
		sleep_ms(interval);
		gi_snapshot(gi, &snap[seq & 1]);
		gi_new_window(gi);
		show(pid, seq, &snap[(seq - 1) & 1], &snap[seq & 1]);
		if (kill(pid, 0) && errno == ESRCH) {
			fprintf(stderr, "agentctl: top: the VMM (pid %u) exited\n",
				pid);
			rc = EXIT_FAIL;
			break;
		}
	}
	gi_close(gi);
	return rc;
}
