// SPDX-License-Identifier: GPL-2.0
/*
 * lt-vmm: runs the test guest of libltvmm as a program, with a control
 * socket for the migration agent and the demo. See
 * Documentation/test-vmm.rst.
 *
 * Exit codes: 0 done (and verify passed), 1 verify found bad pages,
 * 2 usage or setup error, 3 the guest or a vCPU failed, 4 no /dev/kvm.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm_ctl.h"

#define EXIT_VERIFY	1
#define EXIT_USAGE	2
#define EXIT_GUEST	3
#define EXIT_NOKVM	4

#define MAX_CLIENTS	8

struct client {
	int fd;
	size_t used;
	char buf[1024];
};

struct opts {
	unsigned int vcpus;
	unsigned int mem_mib;
	const char *mem_path;
	const char *control;
	const char *restore;
	const char *modes;
	bool workload_given;
	struct ltg_vcpu_cfg wl;
	bool paused;
	bool incoming;
	bool verify;
	bool quiet;
	long run_ms;
	unsigned int timeout_ms;
};

/* Long options without a short form. */
enum {
	O_DELAY = 256, O_REPORT, O_HOTPCT, O_HOTPROB, O_HALTUS, O_BURST,
	O_SEED, O_PAUSED, O_INCOMING, O_RESTORE, O_RUNMS, O_VERIFY, O_TIMEOUT
};

static int stop_signal;

static void on_stop(int sig)
{
	__atomic_store_n(&stop_signal, sig, __ATOMIC_RELAXED);
}

static bool stopped(void)
{
	return __atomic_load_n(&stop_signal, __ATOMIC_RELAXED);
}

static const char usage_text[] =
	"usage: lt-vmm [options]\n"
	"       lt-vmm ctl SOCKET COMMAND [ARGS...]   (one control command)\n"
	"  -c, --vcpus N           vCPUs (default 2)\n"
	"  -m, --mem-mib M         guest memory in MiB, multiple of 2 (default 16)\n"
	"  -f, --mem PATH          shared backing file (default: a memfd)\n"
	"  -s, --control PATH      control socket (Unix stream)\n"
	"  -w, --mode M[,M...]     workload per vCPU, the last one repeats:\n"
	"                          seq random hot spin halt idle (default seq)\n"
	"      --delay N           loop iterations after each write (rate limit)\n"
	"      --report-every N    a progress port exit every N writes (0: none)\n"
	"      --hot-pct P         hot: hot set size, percent of the region (10)\n"
	"      --hot-prob P        hot: percent of writes into the hot set (90)\n"
	"      --halt-us US        halt: sleep per HLT (1000)\n"
	"      --burst N           halt: writes per wakeup (16)\n"
	"      --seed S            random/hot: xorshift seed\n"
	"      --paused            do not run the vCPUs until \"resume\"\n"
	"      --incoming          destination: wait for \"restore <file>\"\n"
	"      --restore FILE      destination: restore the vCPU state in FILE onto\n"
	"                          the memory already in --mem, then run\n"
	"      --run-ms MS         run MS milliseconds, then exit (or verify)\n"
	"      --verify            have the guest verify all its memory, exit 0 on\n"
	"                          pass, 1 on a bad page (after --run-ms if given)\n"
	"      --timeout-ms MS     pause and verify timeout (default 60000)\n"
	"  -q, --quiet             no status line on start\n";

static void print_usage(FILE *f)
{
	fputs(usage_text, f);
}

/* One option into o; -1 for an unknown one. */
static int set_opt(struct opts *o, int c, const char *arg, unsigned long v)
{
	bool wl = true;

	switch (c) {
	case 'w':
		o->modes = arg;
		break;
	case O_DELAY:
		o->wl.delay = v;
		break;
	case O_REPORT:
		o->wl.report_every = v;
		break;
	case O_HOTPCT:
		o->wl.hot_pct = v;
		break;
	case O_HOTPROB:
		o->wl.hot_prob = v;
		break;
	case O_HALTUS:
		o->wl.halt_us = v;
		break;
	case O_BURST:
		o->wl.burst = v;
		break;
	case O_SEED:
		o->wl.seed = v;
		break;
	default:
		wl = false;
	}
	if (wl) {
		o->workload_given = true;
		return 0;
	}
	switch (c) {
	case 'c':
		o->vcpus = v;
		break;
	case 'm':
		o->mem_mib = v;
		break;
	case 'f':
		o->mem_path = arg;
		break;
	case 's':
		o->control = arg;
		break;
	case O_PAUSED:
		o->paused = true;
		break;
	case O_INCOMING:
		o->incoming = true;
		break;
	case O_RESTORE:
		o->restore = arg;
		break;
	case O_RUNMS:
		o->run_ms = v;
		break;
	case O_VERIFY:
		o->verify = true;
		break;
	case O_TIMEOUT:
		o->timeout_ms = v;
		break;
	case 'q':
		o->quiet = true;
		break;
	default:
		return -1;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "vcpus", required_argument, NULL, 'c' },
		{ "mem-mib", required_argument, NULL, 'm' },
		{ "mem", required_argument, NULL, 'f' },
		{ "control", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'w' },
		{ "delay", required_argument, NULL, O_DELAY },
		{ "report-every", required_argument, NULL, O_REPORT },
		{ "hot-pct", required_argument, NULL, O_HOTPCT },
		{ "hot-prob", required_argument, NULL, O_HOTPROB },
		{ "halt-us", required_argument, NULL, O_HALTUS },
		{ "burst", required_argument, NULL, O_BURST },
		{ "seed", required_argument, NULL, O_SEED },
		{ "paused", no_argument, NULL, O_PAUSED },
		{ "incoming", no_argument, NULL, O_INCOMING },
		{ "restore", required_argument, NULL, O_RESTORE },
		{ "run-ms", required_argument, NULL, O_RUNMS },
		{ "verify", no_argument, NULL, O_VERIFY },
		{ "timeout-ms", required_argument, NULL, O_TIMEOUT },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	o->vcpus = 2;
	o->mem_mib = 16;
	o->run_ms = -1;
	o->timeout_ms = 60000;
	vmm_workload_default(&o->wl, LTG_MODE_SEQ);
	while ((c = getopt_long(argc, argv, "c:m:f:s:w:qh", lo, NULL)) != -1) {
		unsigned long v = optarg ? strtoul(optarg, NULL, 0) : 0;

		if (c == 'h') {
			print_usage(stdout);
			exit(0);
		}
		if (set_opt(o, c, optarg, v)) {
			print_usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		print_usage(stderr);
		return -1;
	}
	if (o->incoming && !o->control) {
		fprintf(stderr, "lt-vmm: --incoming needs --control\n");
		return -1;
	}
	if ((o->incoming || o->restore) && !o->mem_path) {
		fprintf(stderr, "lt-vmm: --incoming/--restore need --mem\n");
		return -1;
	}
	return 0;
}

/* Per-vCPU modes from "m0,m1,...": the last one named repeats. */
static int apply_workload(struct vmm *vm, const struct opts *o)
{
	char *list = strdup(o->modes ? o->modes : "seq"), *save = NULL;
	char *name = strtok_r(list, ",", &save);
	struct ltg_vcpu_cfg wl = o->wl;
	unsigned int i;
	int mode = LTG_MODE_SEQ;

	for (i = 0; i < vmm_nr_vcpus(vm); i++) {
		if (name) {
			mode = vmm_mode_parse(name);
			if (mode < 0) {
				fprintf(stderr, "lt-vmm: unknown mode %s\n", name);
				free(list);
				return -1;
			}
			name = strtok_r(NULL, ",", &save);
		}
		wl.mode = mode;
		if (vmm_set_workload(vm, i, &wl)) {
			fprintf(stderr, "lt-vmm: invalid workload settings\n");
			free(list);
			return -1;
		}
	}
	free(list);
	return 0;
}

static int listen_control(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "lt-vmm: control path too long: %s\n", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4) < 0) {
		fprintf(stderr, "lt-vmm: control socket %s: %s\n", path,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void serve_client(struct ltvmm_ctl_ctx *ctx, struct client *cl)
{
	char reply[1024];
	ssize_t n;
	char *nl;

	n = read(cl->fd, cl->buf + cl->used, sizeof(cl->buf) - 1 - cl->used);
	if (n <= 0) {
		close(cl->fd);
		cl->fd = -1;
		return;
	}
	cl->used += n;
	cl->buf[cl->used] = 0;
	while ((nl = strchr(cl->buf, '\n'))) {
		size_t len = nl - cl->buf + 1;

		*nl = 0;
		ltvmm_ctl_command(ctx, cl->buf, reply, sizeof(reply) - 1);
		strcat(reply, "\n");
		if (write(cl->fd, reply, strlen(reply)) < 0)
			break;
		memmove(cl->buf, cl->buf + len, cl->used - len + 1);
		cl->used -= len;
	}
	if (cl->used == sizeof(cl->buf) - 1) {
		dprintf(cl->fd, "err line too long\n");
		close(cl->fd);
		cl->fd = -1;
	}
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Serves the control socket until quit, a signal, a failure or run_ms. */
static void main_loop(struct ltvmm_ctl_ctx *ctx, int lfd, long run_ms)
{
	struct client cl[MAX_CLIENTS];
	struct pollfd pfd[MAX_CLIENTS + 1];
	long end = run_ms >= 0 ? now_ms() + run_ms : -1;
	int i, n;

	for (i = 0; i < MAX_CLIENTS; i++)
		cl[i].fd = -1;
	while (!ctx->quit && !stopped() && !vmm_failed(ctx->vm)) {
		if (end >= 0 && now_ms() >= end)
			break;
		n = 0;
		if (lfd >= 0) {
			pfd[n].fd = lfd;
			pfd[n++].events = POLLIN;
		}
		for (i = 0; i < MAX_CLIENTS; i++) {
			if (cl[i].fd < 0)
				continue;
			pfd[n].fd = cl[i].fd;
			pfd[n++].events = POLLIN;
		}
		if (poll(pfd, n, 50) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			int j;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (pfd[i].fd == lfd) {
				int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

				for (j = 0; fd >= 0 && j < MAX_CLIENTS; j++)
					if (cl[j].fd < 0)
						break;
				if (fd >= 0 && j == MAX_CLIENTS) {
					dprintf(fd, "err too many clients\n");
					close(fd);
				} else if (fd >= 0) {
					cl[j].fd = fd;
					cl[j].used = 0;
				}
				continue;
			}
			for (j = 0; j < MAX_CLIENTS; j++)
				if (cl[j].fd == pfd[i].fd)
					serve_client(ctx, &cl[j]);
		}
	}
	for (i = 0; i < MAX_CLIENTS; i++)
		if (cl[i].fd >= 0)
			close(cl[i].fd);
}

/* Where every vCPU is, for a failure message. */
static void print_vcpus(struct vmm *vm, FILE *f)
{
	struct vmm_vcpu_info in;
	unsigned int i;

	for (i = 0; i < vmm_nr_vcpus(vm); i++) {
		vmm_vcpu_info(vm, i, &in);
		fprintf(f, "lt-vmm: vCPU %u: state %u mode %s writes %llu",
			i, in.guest.state, vmm_mode_name(in.guest.mode),
			(unsigned long long)in.guest.writes);
		fprintf(f, " loops %llu wakeups %llu io_exits %llu%s%s\n",
			(unsigned long long)in.guest.loops,
			(unsigned long long)in.guest.wakeups,
			(unsigned long long)in.io_exits,
			in.booted ? " booted" : "", in.exited ? " exited" : "");
	}
}

static int run_verify(struct ltvmm_ctl_ctx *ctx)
{
	struct vmm_verdict v;
	char line[512];
	int ret;

	ret = vmm_verify(ctx->vm, &v, ctx->timeout_ms);
	if (ret) {
		fprintf(stderr, "lt-vmm: verify: %s\n",
			vmm_error(ctx->vm) ? vmm_error(ctx->vm) :
			strerror(-ret));
		print_vcpus(ctx->vm, stderr);
		return EXIT_GUEST;
	}
	ltvmm_verdict_line(&v, line, sizeof(line));
	printf("lt-vmm: %s\n", line);
	fflush(stdout);
	return v.pass ? 0 : EXIT_VERIFY;
}

static struct vmm *create_vm(struct opts *o)
{
	struct vmm_config cfg = { 0 };
	char err[512];
	struct vmm *vm;

	if (o->restore) {
		if (vmm_state_file_info(o->restore, &cfg.nr_vcpus,
					&cfg.mem_bytes, err, sizeof(err))) {
			fprintf(stderr, "lt-vmm: %s\n", err);
			return NULL;
		}
	} else {
		cfg.nr_vcpus = o->vcpus;
		cfg.mem_bytes = (uint64_t)o->mem_mib << 20;
	}
	cfg.mem_path = o->mem_path;
	cfg.incoming = o->incoming || o->restore;
	vm = vmm_create(&cfg, err, sizeof(err));
	if (!vm)
		fprintf(stderr, "lt-vmm: %s\n", err);
	return vm;
}

/*
 * "lt-vmm ctl SOCKET COMMAND...": sends one command, prints the reply,
 * exits 0 on "ok", 1 on "err", 2 if the VMM cannot be reached.
 */
static int ctl_client(int argc, char **argv)
{
	struct sockaddr_un sa;
	char buf[2048];
	size_t off = 0;
	ssize_t n;
	int fd, i;

	if (argc < 4 || strlen(argv[2]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: lt-vmm ctl SOCKET COMMAND [ARGS...]\n");
		return EXIT_USAGE;
	}
	for (i = 3; i < argc; i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s",
				i > 3 ? " " : "", argv[i]);
	if (off >= sizeof(buf) - 1) {
		fprintf(stderr, "lt-vmm ctl: command too long\n");
		return EXIT_USAGE;
	}
	buf[off++] = '\n';
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, argv[2]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, buf, off) != (ssize_t)off) {
		fprintf(stderr, "lt-vmm ctl: %s: %s\n", argv[2],
			strerror(errno));
		return EXIT_USAGE;
	}
	off = 0;
	while (off < sizeof(buf) - 1 &&
	       (n = read(fd, buf + off, sizeof(buf) - 1 - off)) > 0) {
		off += n;
		if (memchr(buf, '\n', off))
			break;
	}
	close(fd);
	buf[off] = 0;
	fputs(buf, stdout);
	if (!off || buf[off - 1] != '\n')
		fputs("\n", stdout);
	return strncmp(buf, "ok", 2) ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct ltvmm_ctl_ctx ctx = { 0 };
	struct sigaction sa;
	struct opts o = { 0 };
	int lfd = -1, rc = 0;
	char line[1024];

	if (argc > 1 && !strcmp(argv[1], "ctl"))
		return ctl_client(argc, argv);
	if (parse_opts(argc, argv, &o))
		return EXIT_USAGE;
	if (access("/dev/kvm", R_OK | W_OK)) {
		fprintf(stderr, "lt-vmm: /dev/kvm: %s\n", strerror(errno));
		return EXIT_NOKVM;
	}
	/* The migration agent takes our VM fd with pidfd_getfd(). */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ctx.vm = create_vm(&o);
	if (!ctx.vm)
		return EXIT_USAGE;
	ctx.control_path = o.control;
	ctx.timeout_ms = o.timeout_ms;
	if (o.restore && vmm_restore_state_file(ctx.vm, o.restore)) {
		fprintf(stderr, "lt-vmm: %s\n", vmm_error(ctx.vm));
		rc = EXIT_USAGE;
		goto out;
	}
	if ((!o.incoming && !o.restore) || (o.restore && o.workload_given)) {
		if (apply_workload(ctx.vm, &o)) {
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (o.control) {
		lfd = listen_control(o.control);
		if (lfd < 0) {
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (!o.incoming && !o.paused && vmm_start(ctx.vm)) {
		fprintf(stderr, "lt-vmm: %s\n", vmm_error(ctx.vm));
		rc = EXIT_GUEST;
		goto out;
	}
	if (!o.quiet) {
		ltvmm_status_line(&ctx, line, sizeof(line));
		printf("lt-vmm: %s%s\n", line,
		       o.incoming ? " (incoming: waiting for restore)" : "");
		fflush(stdout);
	}

	/* --verify alone verifies at once; --run-ms first runs that long. */
	if (!o.verify || o.run_ms >= 0)
		main_loop(&ctx, lfd, o.run_ms);
	if (vmm_failed(ctx.vm)) {
		fprintf(stderr, "lt-vmm: guest failed: %s\n",
			vmm_error(ctx.vm));
		rc = EXIT_GUEST;
	} else if (o.verify) {
		rc = run_verify(&ctx);
	} else if (ctx.verify_failed) {
		rc = EXIT_VERIFY;
	}
out:
	if (lfd >= 0) {
		close(lfd);
		unlink(o.control);
	}
	vmm_destroy(ctx.vm);
	return rc;
}
