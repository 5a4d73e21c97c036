// SPDX-License-Identifier: GPL-2.0
/*
 * agentctl: the command line of loosetrace-agent. A table of
 * subcommands, one file each; every one sends a request over the agent's
 * Unix socket and prints the reply through print.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "agentctl.h"

int opt_json;
const char *opt_socket = CTL_SOCKET_PATH;

const struct subcmd subcmds[] = {
	{ "status", cmd_status, "",
	  "module and agent status, attached VMs" },
	{ "attach", cmd_attach, "--vm PID",
	  "attach the KVM VM of a VMM process" },
	{ "detach", cmd_detach, "--vm PID", "detach it" },
	{ "trace", cmd_trace,
	  "start|stop --vm PID [--mode loose|sync] [--deadline-us US]",
	  "start or stop dirty-page tracing" },
	{ "harvest", cmd_harvest, "--vm PID",
	  "harvest the dirty bitmap once and show its statistics" },
	{ "stats", cmd_stats, "--vm PID", "the module's counters for a VM" },
	{ "migrate", cmd_migrate,
	  "--vm PID --to HOST:PORT --vmm SOCKET [--mode loose|sync]\n"
	  "                [--downtime-ms MS] [--max-rounds N] [--bandwidth-mbps N]\n"
	  "                [--throttle off|auto] [--throttle-max PCT]",
	  "live-migrate the VM's memory to the agent at HOST:PORT" },
	{ "top", cmd_top, "--vm PID [--interval MS] [--count N]",
	  "live guest impact per vCPU: exits, interrupts, write faults (root, BPF)" },
	{ "check", cmd_check, "--vm PID --qmp SOCKET",
	  "can this QEMU guest be moved by loosetrace? (nothing is attached)" },
	{ NULL, NULL, NULL, NULL }
};

const struct subcmd *subcmd_find(const char *name)
{
	const struct subcmd *c;

	for (c = subcmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static void print_usage(FILE *f)
{
	const struct subcmd *c;

	fprintf(f, "usage: agentctl [-j] [-s SOCKET] COMMAND [ARGS]\n\n");
	for (c = subcmds; c->name; c++)
		fprintf(f, "  %-8s %s\n           %s\n", c->name, c->usage,
			c->help);
	fprintf(f, "\n  -j  JSON output\n  -s  agent socket (default %s)\n",
		CTL_SOCKET_PATH);
}

int usage_error(const struct subcmd *c, const char *fmt, ...)
{
	va_list ap;

	fputs("agentctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: agentctl %s %s\n", c->name, c->usage);
	return EXIT_USAGE;
}

int parse_u32(const char *what, const char *s, uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || v > UINT32_MAX) {
		fprintf(stderr, "agentctl: %s: not a number: %s\n", what, s);
		return -1;
	}
	*out = v;
	return 0;
}

int ctl_call(struct ctl_req *req, struct ctl_reply *rep,
	     ctl_progress_fn progress, void *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ssize_t n;
	int fd;

	req->magic = CTL_MAGIC;
	req->version = CTL_VERSION;
	if (strlen(opt_socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "agentctl: socket path too long\n");
		return EXIT_USAGE;
	}
	strcpy(sa.sun_path, opt_socket);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("agentctl: socket");
		return EXIT_FAIL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (errno == EACCES || errno == EPERM) {
			fprintf(stderr,
				"agentctl: permission denied: %s is for root only (run agentctl as root)\n",
				opt_socket);
			close(fd);
			return EXIT_PERM;
		}
		fprintf(stderr,
			"agentctl: cannot reach loosetrace-agent at %s: %s (is it running? systemctl start loosetrace-agent)\n",
			opt_socket, strerror(errno));
		close(fd);
		return EXIT_NOAGENT;
	}
	if (send(fd, req, sizeof(*req), MSG_NOSIGNAL) != sizeof(*req)) {
		fprintf(stderr, "agentctl: sending to the agent: %s\n",
			strerror(errno));
		close(fd);
		return EXIT_NOAGENT;
	}
	for (;;) {
		n = recv(fd, rep, sizeof(*rep), 0);
		if (n != sizeof(*rep) || rep->magic != CTL_MAGIC) {
			fprintf(stderr, "agentctl: %s\n", n == 0 ?
				"the agent closed the connection" :
				"malformed reply from the agent");
			close(fd);
			return EXIT_NOAGENT;
		}
		if (rep->kind != CTL_R_PROGRESS)
			break;
		if (progress)
			progress(rep, arg);
	}
	close(fd);
	rep->msg[sizeof(rep->msg) - 1] = '\0';
	/* exit code 4 is the agent's refusal of a non-root caller only */
	if (rep->kind == CTL_R_DENIED) {
		fprintf(stderr, "agentctl: %s\n", rep->msg[0] ? rep->msg :
			"permission denied");
		return EXIT_PERM;
	}
	if (rep->err) {
		fprintf(stderr, "agentctl: %s\n", rep->msg[0] ? rep->msg :
			strerror(-rep->err));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct subcmd *c;
	int opt;

	while ((opt = getopt(argc, argv, "+js:h")) != -1) {
		switch (opt) {
		case 'j':
			opt_json = 1;
			break;
		case 's':
			opt_socket = optarg;
			break;
		case 'h':
			print_usage(stdout);
			return EXIT_OK;
		default:
			print_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	c = subcmd_find(argv[optind]);
	if (!c) {
		fprintf(stderr, "agentctl: unknown command \"%s\"\n",
			argv[optind]);
		print_usage(stderr);
		return EXIT_USAGE;
	}
	return c->run(argc - optind, argv + optind);
}
