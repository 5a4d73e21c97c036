// SPDX-License-Identifier: GPL-2.0
/*
 * lt-bench-qemu, run in the test VM by `make bench-qemu`: one guest of
 * Debian's unmodified QEMU (the QEMU test guest of tools/qemu-guest,
 * booted as the QEMU selftests boot it) migrated again and again, each
 * time to a new QEMU started with -incoming defer, by five methods:
 * loosetrace in loose and in sync mode (two loosetrace-agents, QEMU's
 * own migration with x-ignore-shared moving the devices), QEMU's
 * precopy, QEMU's multifd with two channels and QEMU's auto-converge
 * (QEMU moving all of the RAM itself), with the guest's writer parked
 * and with it writing random pages. All runs have the same downtime
 * target and bandwidth cap and are given up after the same time.
 *
 * The guest hops from QEMU to QEMU, so every method moves the very
 * guest the previous one moved, one boot for all runs (a boot in the
 * nested emulator takes minutes when it hangs and is retried), and
 * every verification checks every page the guest ever wrote, across all
 * hops before it.
 *
 * Prints one row per run: the outcome, QEMU's or the agent's own total
 * time, downtime, bytes and rounds, the guest's write rate before and
 * during the migration, and the verdict of the guest's check of all of
 * its memory where it runs afterwards. Exits 1 if the guest could not
 * be booted or a verification failed; never on a time.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agents.h"
#include "qemu_test.h"

#define BW_MBPS		200
#define BW_BYTES	(BW_MBPS * 125000LL)	/* QEMU's max-bandwidth, B/s */
#define DOWNTIME_MS	300
#define MAX_ROUNDS	30		/* the agent's default, said aloud */
#define RUN_MS		120000		/* then the run is cancelled */
#define CANCEL_MS	60000		/* for a cancelled run to end */
#define BASE_MS		5000		/* to measure the writer before a run */
#define POLL_MS		100
#define OUT_LEN		65536
#define AGENT_PORT	7490
#define BOOT_ROUNDS	2		/* of l2_boot(), each with its retries */

enum method { M_LOOSE, M_SYNC, M_PRECOPY, M_MULTIFD, M_AUTOCONV, NMETHODS };

static const char *const method_name[NMETHODS] = {
	"loosetrace loose", "loosetrace sync", "qemu precopy",
	"qemu multifd x2", "qemu auto-converge",
};

struct row {
	const char *method;
	const char *workload;
	char result[16];
	long long total_ms, downtime_ms, bytes, rounds;
	double wps_before, wps_during;
	char verdict[16];
	char note[512];
};

/* The guest runs in vms[cur]; the next destination is vms[!cur]. */
static struct l2vm vms[2];
static char names[2][16], rams[2][96];
static int cur, hop;
static struct lt_agent a_src, a_dst;
static char *out;
static pid_t alarm_pid;		/* the source agent, while it migrates */

#define STR_(x)		#x
#define STR(x)		STR_(x)
#define AGENT_OPTS(mode) { \
	"--mode", mode, "--downtime-ms", STR(DOWNTIME_MS), \
	"--bandwidth-mbps", STR(BW_MBPS), "--max-rounds", STR(MAX_ROUNDS), \
	NULL \
}

/* agentctl migrate's options for loose ([0]) and sync ([1]) mode */
static const char *const agent_opts[2][9] = {
	AGENT_OPTS("loose"), AGENT_OPTS("sync"),
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void progress(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Progress goes to stderr: stdout is for the table. */
static void progress(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench-qemu: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* A QMP command whose answer is not needed: 0, or -1 (vm->qmp.err). */
static int qmp_do(struct l2vm *vm, const char *cmd, const char *args)
{
	json_object *r = qmp_cmd(&vm->qmp, L2_CTL_MS, cmd, args);

	if (!r)
		return -1;
	json_object_put(r);
	return 0;
}

/*
 * Every capability a run depends on, set on every QEMU of every run: a
 * QEMU that came in by an earlier hop keeps what that hop set (the
 * agents' x-ignore-shared, multifd).
 */
static int set_caps(struct l2vm *vm, int multifd, int autoconv)
{
	static const char *const cap[] = {
		"x-ignore-shared", "multifd", "auto-converge",
	};
	const int on[] = { 0, multifd, autoconv };
	char args[512];
	size_t n = 0;
	int i;

	n += snprintf(args, sizeof(args), "{\"capabilities\":[");
	for (i = 0; i < 3; i++)
		n += snprintf(args + n, sizeof(args) - n,
			      "%s{\"capability\":\"%s\",\"state\":%s}",
			      i ? "," : "", cap[i], on[i] ? "true" : "false");
	snprintf(args + n, sizeof(args) - n, "]}");
	return qmp_do(vm, "migrate-set-capabilities", args);
}

/* The guest's writes so far, and when they were read; -1 if no answer. */
static int writes(struct l2vm *vm, uint64_t *w, long long *t)
{
	char reply[256];

	if (l2vm_ctl(vm, "stats", reply, sizeof(reply), L2_CTL_MS) ||
	    l2vm_value(reply, "writes", w))
		return -1;
	*t = now_ms();
	return 0;
}

static void on_alarm(int sig)
{
	pid_t pid = __atomic_load_n(&alarm_pid, __ATOMIC_RELAXED);

	(void)sig;
	/* the agent's cancel: it resumes the guest and answers agentctl */
	if (pid > 0)
		kill(pid, SIGTERM);
}

/* The agent's summary: the JSON object in agentctl -j's output. */
static json_object *agent_json(const char *text)
{
	const char *p = text;
	json_tokener *tok;
	json_object *o;

	while (*p && !(*p == '{' && (p == text || p[-1] == '\n')))
		p++;
	if (!*p)
		return NULL;
	tok = json_tokener_new();
	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, p, strlen(p));
	json_tokener_free(tok);
	return o;
}

/*
 * loosetrace: two agents, agentctl -j migrate. 1 if the guest runs on
 * the destination afterwards, 0 if it runs on the source, -1 if neither
 * can be told.
 */
static int run_agents(struct row *rw, struct l2vm *src, struct l2vm *dst,
		      int sync)
{
	char sport[8], dport[8];
	const char *res, *err;
	long long v, t0;
	json_object *j;
	struct sigaction sa = { .sa_handler = on_alarm,
				.sa_flags = SA_RESTART };
	int rc, timed_out, migrated = 0;

	/* the agents' stream is one fd: no multifd, their own caps */
	if (set_caps(src, 0, 0)) {
		snprintf(rw->result, sizeof(rw->result), "failed");
		snprintf(rw->note, sizeof(rw->note), "%s", src->qmp.err);
		return 0;
	}
	/* a QMP socket serves one client: the agents' turn */
	qmp_close(&src->qmp);
	qmp_close(&dst->qmp);
	snprintf(sport, sizeof(sport), "%d", AGENT_PORT + 2 * (hop % 50));
	snprintf(dport, sizeof(dport), "%d", AGENT_PORT + 2 * (hop % 50) + 1);
	if (lt_agent_start(&a_dst, "bq-dst", dport, dst->qmp_path) ||
	    lt_agent_start(&a_src, "bq-src", sport, NULL)) {
		snprintf(rw->note, sizeof(rw->note), "an agent did not start");
		lt_agent_dump(&a_src, "source agent");
		lt_agent_dump(&a_dst, "destination agent");
		goto out;
	}

	sigaction(SIGALRM, &sa, NULL);
	__atomic_store_n(&alarm_pid, a_src.pid, __ATOMIC_RELAXED);
	alarm(RUN_MS / 1000);
	t0 = now_ms();
	rc = lt_agent_migrate(&a_src, &a_dst, src->pid, src->qmp_path, 1, 0,
			      out, OUT_LEN, agent_opts[sync]);
	alarm(0);
	__atomic_store_n(&alarm_pid, 0, __ATOMIC_RELAXED);
	timed_out = now_ms() - t0 >= RUN_MS;

	j = agent_json(out);
	res = j ? qmp_get_str(j, "result") : NULL;
	err = j ? qmp_get_str(j, "error") : NULL;
	migrated = rc == 0 && res && !strcmp(res, "migrated");
	if (j && !qmp_get_int(j, "total_ms", &v))
		rw->total_ms = v;
	if (migrated && !qmp_get_int(j, "switchover_ms", &v))
		rw->downtime_ms = v;
	if (j && !qmp_get_int(j, "bytes_sent", &v))
		rw->bytes = v;
	if (j && !qmp_get_int(j, "rounds", &v))
		rw->rounds = v;
	if (migrated)
		snprintf(rw->result, sizeof(rw->result), "migrated");
	else if (timed_out || (err && strstr(err, "cannot converge")))
		snprintf(rw->result, sizeof(rw->result), "no converge");
	else
		snprintf(rw->result, sizeof(rw->result), "failed");
	if (!migrated)
		snprintf(rw->note, sizeof(rw->note), "%s%s",
			 timed_out ? "cancelled (SIGTERM to the source agent): " : "",
			 err ? err : j ? "?" : out);
	if (j)
		json_object_put(j);
	if (!migrated && !timed_out && !strstr(rw->note, "cannot converge")) {
		printf("# agentctl migrate: rc=%d %s\n", rc, out);
		lt_agent_dump(&a_src, "source agent");
		lt_agent_dump(&a_dst, "destination agent");
	}
out:
	lt_agent_stop(&a_src);
	lt_agent_stop(&a_dst);
	if (migrated) {
		/* the source stays paused (postmigrate), to be killed */
		if (qmp_open(&dst->qmp, dst->qmp_path, L2_CTL_MS)) {
			snprintf(rw->note, sizeof(rw->note), "destination: %s",
				 dst->qmp.err);
			return -1;
		}
		if (l2vm_wait_status(dst, "running", L2_CTL_MS)) {
			snprintf(rw->note, sizeof(rw->note), "destination: %s",
				 dst->err);
			return -1;
		}
		return 1;
	}
	if (!rw->result[0])
		snprintf(rw->result, sizeof(rw->result), "failed");
	if (qmp_open(&src->qmp, src->qmp_path, L2_CTL_MS))
		return -1;
	/* a failed run resumes the source; make sure it did */
	if (l2vm_wait_status(src, "running", 5000)) {
		progress("the source is not running after a failed run (%s): cont",
			 src->err);
		qmp_do(src, "cont", NULL);
		if (l2vm_wait_status(src, "running", L2_CTL_MS))
			return -1;
	}
	return 0;
}

/* query-migrate's status: over (completed, failed, cancelled) or not. */
static int mig_over(const char *st)
{
	return !strcmp(st, "completed") || !strcmp(st, "failed") ||
	       !strcmp(st, "cancelled");
}

/* The figures of a query-migrate answer into @rw. */
static void mig_figures(struct row *rw, json_object *r)
{
	long long v;

	if (!qmp_get_int(r, "total-time", &v))
		rw->total_ms = v;
	if (!qmp_get_int(r, "downtime", &v))
		rw->downtime_ms = v;
	if (!qmp_get_int(r, "ram.transferred", &v))
		rw->bytes = v;
	if (!qmp_get_int(r, "ram.dirty-sync-count", &v))
		rw->rounds = v;
}

/* QEMU's own migration: 1, 0 or -1 as run_agents(). */
static int run_qemu(struct row *rw, struct l2vm *src, struct l2vm *dst,
		    enum method m)
{
	int multifd = m == M_MULTIFD, autoconv = m == M_AUTOCONV;
	char params[160], uri[160], st[32] = "";
	long long t0, cancel_at = 0;
	json_object *r;
	struct l2vm *fail_vm = src;

	snprintf(params, sizeof(params),
		 "{\"downtime-limit\":%d,\"max-bandwidth\":%lld,\"multifd-channels\":2}",
		 DOWNTIME_MS, BW_BYTES);
	snprintf(uri, sizeof(uri), "{\"uri\":\"unix:%s\"}", dst->mig_path);
	if (set_caps(src, multifd, autoconv) ||
	    qmp_do(src, "migrate-set-parameters", params))
		goto qmp_failed;
	fail_vm = dst;
	if (set_caps(dst, multifd, autoconv) ||
	    qmp_do(dst, "migrate-set-parameters",
		   "{\"multifd-channels\":2}") ||
	    qmp_do(dst, "migrate-incoming", uri))
		goto qmp_failed;
	fail_vm = src;
	if (qmp_do(src, "migrate", uri))
		goto qmp_failed;

	t0 = now_ms();
	for (;;) {
		usleep(POLL_MS * 1000);
		r = qmp_cmd(&src->qmp, L2_CTL_MS, "query-migrate", NULL);
		if (!r)
			goto qmp_failed;
		snprintf(st, sizeof(st), "%s", qmp_get_str(r, "status") ?: "?");
		mig_figures(rw, r);
		json_object_put(r);
		if (mig_over(st))
			break;
		if (!cancel_at && now_ms() - t0 >= RUN_MS) {
			cancel_at = now_ms();
			if (qmp_do(src, "migrate_cancel", NULL))
				goto qmp_failed;
		} else if (cancel_at && now_ms() - cancel_at >= CANCEL_MS) {
			snprintf(rw->note, sizeof(rw->note),
				 "still %s %d s after migrate_cancel", st,
				 CANCEL_MS / 1000);
			return -1;
		}
	}
	if (!strcmp(st, "completed")) {
		snprintf(rw->result, sizeof(rw->result), "migrated");
		/* -incoming defer -S: loaded, paused until told */
		if (l2vm_wait_status(dst, "paused", L2_CTL_MS) ||
		    qmp_do(dst, "cont", NULL) ||
		    l2vm_wait_status(dst, "running", L2_CTL_MS)) {
			snprintf(rw->note, sizeof(rw->note), "destination: %s",
				 dst->err[0] ? dst->err : dst->qmp.err);
			return -1;
		}
		return 1;
	}
	rw->downtime_ms = -1;
	if (cancel_at) {
		/* what it was doing when cancelled: its own total-time is gone */
		rw->total_ms = cancel_at - t0;
		snprintf(rw->result, sizeof(rw->result), "no converge");
		snprintf(rw->note, sizeof(rw->note),
			 "migrate_cancel after %d s", RUN_MS / 1000);
	} else {
		snprintf(rw->result, sizeof(rw->result), "failed");
		snprintf(rw->note, sizeof(rw->note), "QEMU's migration %s",
			 st);
	}
	/* a cancelled or failed migration resumes the source */
	if (l2vm_wait_status(src, "running", L2_CTL_MS))
		return -1;
	return 0;

qmp_failed:
	snprintf(rw->result, sizeof(rw->result), "failed");
	snprintf(rw->note, sizeof(rw->note), "%s", fail_vm->qmp.err);
	return l2vm_wait_status(src, "running", 1000) ? -1 : 0;
}

/*
 * One run: a new destination QEMU, the workload set, the migration, the
 * guest's check of its memory wherever it runs then. 0, or -1 if the
 * guest is lost or failed its check.
 */
static int run(struct row *rw, enum method m, int idle)
{
	struct l2vm_cfg cfg = L2_CFG("pc", "none");
	struct l2vm *src = &vms[cur], *dst = &vms[!cur], *vm;
	uint64_t w0, w1, wb;
	long long t0, t1, tb;
	char reply[512];
	int where;

	memset(rw, 0, sizeof(*rw));
	rw->method = method_name[m];
	rw->workload = idle ? "idle" : "writer";
	rw->total_ms = -1;
	rw->downtime_ms = -1;
	rw->bytes = -1;
	rw->rounds = -1;
	snprintf(rw->verdict, sizeof(rw->verdict), "-");
	progress("%s, %s guest: starting the destination QEMU", rw->method,
		 rw->workload);

	hop++;
	snprintf(names[!cur], sizeof(names[!cur]), "h%d", hop);
	l2_ram_path(rams[!cur], sizeof(rams[!cur]), names[!cur]);
	cfg.name = names[!cur];
	cfg.ram_path = rams[!cur];
	cfg.incoming = 1;
	unlink(cfg.ram_path);
	if (l2vm_start(dst, &cfg) ||
	    l2vm_wait_status(dst, "inmigrate", L2_CTL_MS)) {
		snprintf(rw->result, sizeof(rw->result), "failed");
		snprintf(rw->note, sizeof(rw->note), "destination start: %s",
			 dst->err);
		l2vm_dump(dst);
		l2vm_stop(dst);
		unlink(rams[!cur]);
		return 0;
	}

	if (l2vm_ctl(src, idle ? "park" : "run", reply, sizeof(reply),
		     L2_CTL_MS) ||
	    writes(src, &wb, &tb)) {
		snprintf(rw->note, sizeof(rw->note), "guest: %s", src->err);
		return -1;
	}
	/* the write rate the migration competes with */
	usleep(BASE_MS * 1000);
	if (writes(src, &w0, &t0)) {
		snprintf(rw->note, sizeof(rw->note), "guest: %s", src->err);
		return -1;
	}
	rw->wps_before = (w0 - wb) * 1000.0 / (t0 - tb);

	progress("%s, %s guest: migrating (guest %s -> %s)", rw->method,
		 rw->workload, names[cur], names[!cur]);
	if (m == M_LOOSE || m == M_SYNC)
		where = run_agents(rw, src, dst, m == M_SYNC);
	else
		where = run_qemu(rw, src, dst, m);
	if (where < 0) {
		progress("%s, %s guest: lost: %s", rw->method, rw->workload,
			 rw->note);
		return -1;
	}

	vm = where ? dst : src;
	if (writes(vm, &w1, &t1)) {
		snprintf(rw->note, sizeof(rw->note), "guest: %s", vm->err);
		return -1;
	}
	rw->wps_during = (w1 - w0) * 1000.0 / (t1 - t0);
	if (l2_verify(vm, reply, sizeof(reply))) {
		snprintf(rw->verdict, sizeof(rw->verdict), "FAIL %s",
			 where ? "dst" : "src");
		progress("%s, %s guest: verify on the %s: %s", rw->method,
			 rw->workload, where ? "destination" : "source",
			 reply);
		return -1;
	}
	snprintf(rw->verdict, sizeof(rw->verdict), "pass %s",
		 where ? "dst" : "src");
	progress("%s, %s guest: %s; verify on the %s: %s", rw->method,
		 rw->workload, rw->result,
		 where ? "destination" : "source", reply);

	/* the copy that does not run the guest goes */
	if (where) {
		l2vm_stop(src);
		unlink(rams[cur]);
		cur = !cur;
	} else {
		l2vm_stop(dst);
		unlink(rams[!cur]);
	}
	return 0;
}

static void print_table(const struct row *rows, int n)
{
	char mib[16], tot[16], down[16], rounds[16];
	int i;

	printf("\nQEMU migration benchmark: one guest of Debian's QEMU (%u MiB RAM in a\n",
	       L2_RAM_MIB);
	printf("share=on memory-backend-file; lt-qguest's writer parked, or rewriting random\n");
	printf("pages of its %u MiB buffer) migrated again and again, each time to a new\n",
	       L2_BUF_MIB);
	printf("QEMU (-incoming defer), by each method in turn. All: downtime target %d ms,\n",
	       DOWNTIME_MS);
	printf("%d Mbit/s cap (QEMU max-bandwidth %lld B/s, agentctl --bandwidth-mbps %d),\n",
	       BW_MBPS, BW_BYTES, BW_MBPS);
	printf("cancelled after %d s. KVM runs nested in QEMU's emulator: absolute times\n",
	       RUN_MS / 1000);
	printf("mean little here; compare the rows, their ratios and counts.\n");
	printf("total, downtime: QEMU's query-migrate total-time and downtime, the agent's\n");
	printf("total_ms and switchover_ms. MiB sent: ram.transferred, the agent's bytes_sent.\n");
	printf("rounds: ram.dirty-sync-count, the agent's pre-copy rounds. writes/s: the\n");
	printf("guest's page writes over %d s before the run, and from its start until the\n",
	       BASE_MS / 1000);
	printf("guest ran again. verify: the guest's check of every page it ever wrote, on\n");
	printf("the destination (dst) or, not migrated, on the source (src).\n\n");
	printf("%-18s %-8s %-11s %8s %8s %8s %6s %10s %10s  %s\n", "method",
	       "workload", "result", "total ms", "downtime", "MiB sent",
	       "rounds", "w/s before", "w/s during", "verify");
	for (i = 0; i < n; i++) {
		const struct row *r = &rows[i];

		snprintf(tot, sizeof(tot), "%lld", r->total_ms);
		snprintf(down, sizeof(down), "%lld", r->downtime_ms);
		snprintf(mib, sizeof(mib), "%.1f", r->bytes / 1048576.0);
		snprintf(rounds, sizeof(rounds), "%lld", r->rounds);
		printf("%-18s %-8s %-11s %8s %8s %8s %6s %10.0f %10.0f  %s\n",
		       r->method, r->workload, r->result,
		       r->total_ms < 0 ? "-" : tot,
		       r->downtime_ms < 0 ? "-" : down,
		       r->bytes < 0 ? "-" : mib,
		       r->rounds < 0 ? "-" : rounds,
		       r->wps_before, r->wps_during, r->verdict);
	}
	for (i = 0; i < n; i++)
		if (rows[i].note[0])
			printf("  %s, %s: %s\n", rows[i].method,
			       rows[i].workload, rows[i].note);
	fflush(stdout);
}

static void cleanup(void)
{
	lt_agent_stop(&a_src);
	lt_agent_stop(&a_dst);
	l2vm_stop(&vms[0]);
	l2vm_stop(&vms[1]);
	unlink(rams[0]);
	unlink(rams[1]);
}

int main(void)
{
	struct l2vm_cfg cfg = L2_CFG("pc", "none");
	struct row rows[2 * NMETHODS];
	const char *missing = l2vm_missing();
	long long t0 = now_ms();
	int n = 0, idle, m, status = 0;

	if (missing) {
		fprintf(stderr, "bench-qemu: %s\n", missing);
		return 4;
	}
	/* l2vm's and l2_boot()'s "# " lines as they come, between ours */
	setvbuf(stdout, NULL, _IOLBF, 0);
	out = malloc(OUT_LEN);
	if (!out)
		return 1;
	snprintf(names[0], sizeof(names[0]), "h0");
	l2_ram_path(rams[0], sizeof(rams[0]), names[0]);
	cfg.name = names[0];
	cfg.ram_path = rams[0];
	progress("booting the guest");
	/*
	 * Most boots in the nested emulator hang (qemu_test.h): one failed
	 * l2_boot() would waste the test VM's boot, so it gets another.
	 */
	for (n = 1; l2_boot(&vms[0], &cfg); n++) {
		l2vm_stop(&vms[0]);
		if (n == BOOT_ROUNDS) {
			fprintf(stderr, "bench-qemu: the guest did not boot: %s\n",
				vms[0].err);
			cleanup();
			return 1;
		}
	}
	n = 0;
	progress("guest ready after %lld s", (now_ms() - t0) / 1000);

	for (idle = 1; idle >= 0 && !status; idle--)
		for (m = 0; m < NMETHODS && !status; m++)
			if (run(&rows[n++], m, idle))
				status = 1;
	print_table(rows, n);
	if (status) {
		printf("bench-qemu: stopped: the guest was lost or failed its check\n");
		l2vm_dump(&vms[cur]);
	}
	printf("bench-qemu: %lld s in all\n", (now_ms() - t0) / 1000);
	cleanup();
	free(out);
	return status;
}
