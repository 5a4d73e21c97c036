// SPDX-License-Identifier: GPL-2.0
/* The agent suite's test bed; see env.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "env.h"

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* rtnetlink attribute helpers for the one message we need */
struct nlreq {
	struct nlmsghdr h;
	struct ifinfomsg i;
	char buf[512];
};

static struct rtattr *put(struct nlmsghdr *h, int type, const void *d,
			  int len)
{
	struct rtattr *a = (void *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), d, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

static void end(struct nlmsghdr *h, struct rtattr *a)
{
	a->rta_len = (char *)h + h->nlmsg_len - (char *)a;
}

/* veth "lt-src" in the current namespace, its peer "lt-dst" in @peer_ns. */
static int make_veth(int peer_ns)
{
	struct nlreq r = {
		.h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
		       .nlmsg_type = RTM_NEWLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE |
				      NLM_F_EXCL | NLM_F_ACK },
		.i = { .ifi_family = AF_UNSPEC },
	};
	struct rtattr *li, *data, *peer;
	struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };
	struct {
		struct nlmsghdr h;
		struct nlmsgerr e;
	} ack;
	int fd, err;

	put(&r.h, IFLA_IFNAME, "lt-src", 7);
	li = put(&r.h, IFLA_LINKINFO, NULL, 0);
	put(&r.h, IFLA_INFO_KIND, "veth", 5);
	data = put(&r.h, IFLA_INFO_DATA, NULL, 0);
	peer = put(&r.h, VETH_INFO_PEER, &pi, sizeof(pi));
	put(&r.h, IFLA_IFNAME, "lt-dst", 7);
	put(&r.h, IFLA_NET_NS_FD, &peer_ns, 4);
	end(&r.h, peer);
	end(&r.h, data);
	end(&r.h, li);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &r, r.h.nlmsg_len, 0) < 0 ||
	    recv(fd, &ack, sizeof(ack), 0) < (ssize_t)sizeof(ack)) {
		err = -errno;
		close(fd);
		return err;
	}
	close(fd);
	return ack.e.error;
}

static int sh_in(int ns, const char *cmd)
{
	const char *const argv[] = { "sh", "-c", cmd, NULL };

	return run_in(ns, NULL, 0, NULL, 0, argv);
}

int bed_setup(struct bed *b)
{
	int err;

	memset(b, 0, sizeof(*b));
	b->src.netns = -1;
	b->dst.netns = -1;
	b->init_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (unshare(CLONE_NEWNET))
		return -errno;
	b->src.netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (unshare(CLONE_NEWNET))
		return -errno;
	b->dst.netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (setns(b->src.netns, CLONE_NEWNET))
		return -errno;
	err = make_veth(b->dst.netns);
	setns(b->init_ns, CLONE_NEWNET);
	if (err) {
		fprintf(stderr, "# creating the veth pair: %s\n", strerror(-err));
		return err;
	}
	if (sh_in(b->src.netns, "ip link set lo up && ip addr add " SRC_IP
		  "/24 dev lt-src && ip link set lt-src up") ||
	    sh_in(b->dst.netns, "ip link set lo up && ip addr add " DST_IP
		  "/24 dev lt-dst && ip link set lt-dst up"))
		return -EIO;
	strcpy(b->src.vmm_sock, "/tmp/lt-src-vmm.sock");
	strcpy(b->dst.vmm_sock, "/tmp/lt-dst-vmm.sock");
	strcpy(b->src.agent_sock, "/tmp/lt-src-agent.sock");
	strcpy(b->dst.agent_sock, "/tmp/lt-dst-agent.sock");
	strcpy(b->src.mem, "/dev/shm/lt-src.mem");
	strcpy(b->dst.mem, "/dev/shm/lt-dst.mem");
	strcpy(b->src.log, "/tmp/lt-src.log");
	strcpy(b->dst.log, "/tmp/lt-dst.log");
	unlink(b->src.log);
	unlink(b->dst.log);
	return 0;
}

void side_kill(pid_t *pid, int sig)
{
	if (*pid <= 0)
		return;
	kill(*pid, sig);
	if (sig == SIGKILL || sig == SIGTERM) {
		long t0 = now_ms();

		while (waitpid(*pid, NULL, WNOHANG) == 0) {
			if (now_ms() - t0 > 5000) {
				kill(*pid, SIGKILL);
				waitpid(*pid, NULL, 0);
				break;
			}
			sleep_ms(10);
		}
		*pid = 0;
	}
}

void bed_teardown(struct bed *b)
{
	struct side *s[2] = { &b->src, &b->dst };
	int i;

	for (i = 0; i < 2; i++) {
		side_kill(&s[i]->agent, SIGTERM);
		side_kill(&s[i]->vmm, SIGKILL);
		unlink(s[i]->mem);
		unlink(s[i]->vmm_sock);
		if (s[i]->netns >= 0)
			close(s[i]->netns);
	}
	if (b->init_ns >= 0)
		close(b->init_ns);
}

static pid_t spawn(int ns, const char *log, char *const argv[])
{
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	/*
	 * Dies with the test: a test the harness kills on its timeout runs
	 * no teardown, and its VMM and agents would otherwise live on and
	 * answer on the sockets of the tests after it.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() == 1)
		_exit(125);
	if (setns(ns, CLONE_NEWNET))
		_exit(126);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	setpgid(0, 0);
	execvp(argv[0], argv);
	_exit(127);
}

static int wait_ready(const char *sock, int is_vmm, pid_t pid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long t0 = now_ms();
	char reply[4096];
	int fd;

	strcpy(sa.sun_path, sock);
	while (now_ms() - t0 < 20000) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -ECHILD;
		if (is_vmm) {
			if (!vmm_cmd(sock, "status", reply, sizeof(reply)))
				return 0;
		} else {
			fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
			if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
				close(fd);
				return 0;
			}
			close(fd);
		}
		sleep_ms(20);
	}
	return -ETIMEDOUT;
}

#define MAX_ARGS 32

static void collect(char **argv, int n, va_list ap)
{
	const char *a;

	while (n < MAX_ARGS - 1 && (a = va_arg(ap, const char *)))
		argv[n++] = (char *)a;
	argv[n] = NULL;
}

int side_vmm(struct side *s, int incoming, unsigned int mib, ...)
{
	char *argv[MAX_ARGS], m[16];
	va_list ap;
	int n = 0;

	snprintf(m, sizeof(m), "%u", mib);
	unlink(s->vmm_sock);
	argv[n++] = "lt-vmm";
	argv[n++] = "-c";
	argv[n++] = "2";
	argv[n++] = "-m";
	argv[n++] = m;
	argv[n++] = "-f";
	argv[n++] = s->mem;
	argv[n++] = "-s";
	argv[n++] = s->vmm_sock;
	if (incoming) {
		/* an empty file of the right size, as a fresh host would have */
		unlink(s->mem);
		argv[n++] = "--incoming";
	}
	va_start(ap, mib);
	collect(argv, n, ap);
	va_end(ap);
	s->vmm = spawn(s->netns, s->log, argv);
	return wait_ready(s->vmm_sock, 1, s->vmm);
}

int side_agent(struct side *s, int incoming, ...)
{
	char *argv[MAX_ARGS], t[16];
	va_list ap;
	int n = 0;

	snprintf(t, sizeof(t), "%d", PEER_TIMEOUT_MS);
	/* no earlier agent's socket may pass for this one's readiness */
	unlink(s->agent_sock);
	argv[n++] = "loosetrace-agent";
	argv[n++] = "-s";
	argv[n++] = s->agent_sock;
	argv[n++] = "-t";
	argv[n++] = t;
	argv[n++] = "-v";
	if (incoming) {
		argv[n++] = "--incoming";
		argv[n++] = s->vmm_sock;
	}
	va_start(ap, incoming);
	collect(argv, n, ap);
	va_end(ap);
	s->agent = spawn(s->netns, s->log, argv);
	return wait_ready(s->agent_sock, 0, s->agent);
}

int vmm_cmd(const char *sock, const char *cmd, char *out, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd;
	size_t used = 0;
	ssize_t n;
	int fd;

	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -errno;
	}
	dprintf(fd, "%s\n", cmd);
	pfd.fd = fd;
	pfd.events = POLLIN;
	out[0] = '\0';
	while (used < len - 1 && poll(&pfd, 1, 60000) > 0) {
		n = read(fd, out + used, len - 1 - used);
		if (n <= 0)
			break;
		used += n;
		out[used] = '\0';
		if (strchr(out, '\n'))
			break;
	}
	close(fd);
	out[strcspn(out, "\n")] = '\0';
	return strncmp(out, "ok", 2) ? -EIO : 0;
}

static void slurp(int fd, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;

	if (!buf) {
		char junk[4096];

		while (read(fd, junk, sizeof(junk)) > 0)
			;
		return;
	}
	while (used < len - 1 && (n = read(fd, buf + used, len - 1 - used)) > 0)
		used += n;
	buf[used] = '\0';
}

int run_in(int netns, char *out, size_t out_len, char *err, size_t err_len,
	   const char *const argv[])
{
	int po[2], pe[2], status;
	pid_t pid;

	if (pipe(po) || pipe(pe))
		return -1;
	pid = fork();
	if (!pid) {
		if (netns >= 0 && setns(netns, CLONE_NEWNET))
			_exit(126);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	/* stderr is short; read stdout to its end first */
	slurp(po[0], out, out_len);
	slurp(pe[0], err, err_len);
	close(po[0]);
	close(pe[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

unsigned long long json_u64(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

unsigned long long vcpu_u64(const char *out, int v, const char *key)
{
	const char *t = strstr(out, "\"throttle\":{");
	char pat[32];

	snprintf(pat, sizeof(pat), "{\"vcpu\":%d,", v);
	t = t ? strstr(t, pat) : NULL;
	return t ? json_u64(t, key) : 0;
}

int json_has(const char *json, const char *key, const char *value)
{
	char pat[128];

	snprintf(pat, sizeof(pat), "\"%s\":%s", key, value);
	return !!strstr(json, pat);
}

void dump_log(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("# | %s", line);
	fclose(f);
}

long long vmm_total_writes(const char *sock)
{
	unsigned long long sum = 0;
	char reply[4096], *p;

	if (vmm_cmd(sock, "status", reply, sizeof(reply)))
		return -1;
	p = strstr(reply, " writes=");
	if (!p)
		return -1;
	p += 8;
	for (;;) {
		sum += strtoull(p, &p, 10);
		if (*p != ',')
			break;
		p++;
	}
	return sum;
}

int vmm_wait_writes(const char *sock, unsigned long long n, int timeout_ms)
{
	long t0 = now_ms();

	long long w;

	while (now_ms() - t0 < timeout_ms) {
		w = vmm_total_writes(sock);
		if (w < 0)
			return -EIO;
		if ((unsigned long long)w >= n)
			return 0;
		sleep_ms(20);
	}
	return -ETIMEDOUT;
}

int vmm_wait_more_writes(const char *sock, unsigned long long n,
			 int timeout_ms)
{
	long long w = vmm_total_writes(sock);

	return w < 0 ? -EIO : vmm_wait_writes(sock, w + n, timeout_ms);
}
