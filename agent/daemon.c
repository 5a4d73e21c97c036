// SPDX-License-Identifier: GPL-2.0
/*
 * loosetrace-agent: one per host. Listens for peer agents on TCP (the
 * destination side of migrations) and for agentctl on a Unix socket that
 * only root may use. Each connection gets a thread; VMs attached with
 * "agentctl attach" belong to the daemon's own netlink socket, so they
 * stay attached between agentctl calls and go away with the daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include "bitmap.h"
#include "cgthrottle.h"
#include "ctl.h"
#include "dest.h"
#include "ipc.h"
#include "source.h"
#include "vmfd.h"

#define DEFAULT_PORT		7450
#define DEFAULT_PEER_TIMEOUT	30000
/* a switchover waits up to 60 s for DONE; systemd stops after 90 s */
#define STOP_WAIT_MS		70000

/* agentctl migrate requests being served, replies included */
static int migrate_calls;

struct attached {
	uint32_t pid;
	uint32_t vm_id;
};

static struct {
	const char *ctl_path;
	const char *listen_addr;
	const char *incoming_vmm;
	int incoming_qemu;		/* incoming_vmm is a QEMU's QMP socket */
	int port;
	int peer_timeout_ms;
	int verbose;

	pthread_mutex_t lock;		/* everything below */
	struct ipc ipc;			/* owns "agentctl attach" VMs */
	int ipc_ok;
	struct attached vms[CTL_MAX_VMS];
	int nvms;
	uint32_t migrating[CTL_MAX_VMS];	/* pids being migrated out */
	int nmigrating;
	int incoming_busy;
	uint32_t migrations_in;
	uint32_t migrations_out;
} g = {
	.ctl_path = CTL_SOCKET_PATH,
	.port = DEFAULT_PORT,
	.peer_timeout_ms = DEFAULT_PEER_TIMEOUT,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loosetrace-agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The shared netlink socket, opened on first use (the module may load late). */
static int shared_ipc(struct ctl_reply *rep)
{
	int err;

	if (g.ipc_ok)
		return 0;
	err = ipc_open(&g.ipc);
	if (err) {
		snprintf(rep->msg, sizeof(rep->msg), "%s", g.ipc.err_msg);
		return err;
	}
	g.ipc_ok = 1;
	return 0;
}

static int ipc_error(struct ctl_reply *rep, int err, const char *what)
{
	snprintf(rep->msg, sizeof(rep->msg), "%s: %s%s%s", what,
		 strerror(-err), g.ipc.err_msg[0] ? ": " : "", g.ipc.err_msg);
	return err;
}

static struct attached *find_vm(uint32_t pid)
{
	int i;

	for (i = 0; i < g.nvms; i++)
		if (g.vms[i].pid == pid)
			return &g.vms[i];
	return NULL;
}

static int is_migrating(uint32_t pid)
{
	int i;

	for (i = 0; i < g.nmigrating; i++)
		if (g.migrating[i] == pid)
			return 1;
	return 0;
}

static struct attached *need_vm(uint32_t pid, struct ctl_reply *rep)
{
	struct attached *a = find_vm(pid);

	if (!a)
		snprintf(rep->msg, sizeof(rep->msg),
			 "VM of process %u is not attached (agentctl attach --vm %u)",
			 pid, pid);
	return a;
}

static int op_status(struct ctl_reply *rep)
{
	struct ctl_status *st = &rep->u.status;
	struct ipc_vm vm;
	int i, err;

	err = shared_ipc(rep);
	if (err)
		return err;
	err = ipc_status(&g.ipc, &st->module);
	if (err)
		return ipc_error(rep, err, "module status");
	st->peer_port = g.port;
	st->migrations_in = g.migrations_in;
	st->migrations_out = g.migrations_out;
	for (i = 0; i < g.nvms && st->nvms < CTL_MAX_VMS; i++) {
		struct ctl_vm *v = &st->vms[st->nvms++];
		uint32_t s;

		v->pid = g.vms[i].pid;
		v->vm_id = g.vms[i].vm_id;
		if (ipc_vm_get(&g.ipc, v->vm_id, &vm))
			continue;
		v->trace_state = vm.trace_state;
		v->mode = vm.mode;
		v->vcpus = vm.vcpus;
		v->nslots = vm.nslots;
		v->epoch = vm.epoch;
		v->epoch_done = vm.epoch_done;
		for (s = 0; s < vm.nslots; s++)
			v->pages += vm.slots[s].npages;
	}
	for (i = 0; i < g.nmigrating && st->nvms < CTL_MAX_VMS; i++) {
		struct ctl_vm *v = &st->vms[st->nvms++];

		v->pid = g.migrating[i];
		v->migrating = 1;
	}
	return 0;
}

static int op_attach(const struct ctl_req *req, struct ctl_reply *rep)
{
	int pidfd, fdnum, vmfd, err;
	char why[256];
	uint32_t id;

	if (find_vm(req->vm_pid) || is_migrating(req->vm_pid)) {
		snprintf(rep->msg, sizeof(rep->msg),
			 "VM of process %u is already attached", req->vm_pid);
		return -EEXIST;
	}
	if (g.nvms >= CTL_MAX_VMS) {
		snprintf(rep->msg, sizeof(rep->msg), "too many attached VMs");
		return -ENOSPC;
	}
	err = shared_ipc(rep);
	if (err)
		return err;
	pidfd = vmfd_pidfd_open(req->vm_pid);
	if (pidfd < 0) {
		snprintf(rep->msg, sizeof(rep->msg), "no process %u: %s",
			 req->vm_pid, strerror(-pidfd));
		return pidfd;
	}
	fdnum = vmfd_find(req->vm_pid, why, sizeof(why));
	vmfd = fdnum < 0 ? fdnum : vmfd_get(pidfd, fdnum, why, sizeof(why));
	close(pidfd);
	if (vmfd < 0) {
		snprintf(rep->msg, sizeof(rep->msg), "%s", why);
		return vmfd;
	}
	err = ipc_attach(&g.ipc, vmfd, &id);
	close(vmfd);
	if (err)
		return ipc_error(rep, err, "attach");
	g.vms[g.nvms].pid = req->vm_pid;
	g.vms[g.nvms++].vm_id = id;
	rep->vm_id = id;
	return 0;
}

static int op_detach(const struct ctl_req *req, struct ctl_reply *rep)
{
	struct attached *a = need_vm(req->vm_pid, rep);
	int err;

	if (!a)
		return -ENOENT;
	err = ipc_detach(&g.ipc, a->vm_id);
	/* gone already (the VM exited) is as good as detached */
	if (err && err != -ENOENT)
		return ipc_error(rep, err, "detach");
	rep->vm_id = a->vm_id;
	*a = g.vms[--g.nvms];
	return 0;
}

static int op_trace(const struct ctl_req *req, struct ctl_reply *rep)
{
	struct attached *a = need_vm(req->vm_pid, rep);
	int err;

	if (!a)
		return -ENOENT;
	rep->vm_id = a->vm_id;
	if (req->op == CTL_TRACE_START)
		err = ipc_trace_start(&g.ipc, a->vm_id, req->mode,
				      req->deadline_us);
	else
		err = ipc_trace_stop(&g.ipc, a->vm_id);
	return err ? ipc_error(rep, err, req->op == CTL_TRACE_START ?
			       "trace start" : "trace stop") : 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int op_harvest(const struct ctl_req *req, struct ctl_reply *rep)
{
	struct ctl_harvest *hv = &rep->u.harvest;
	struct attached *a = need_vm(req->vm_pid, rep);
	struct ipc_harvest h;
	uint64_t t0, *w, i, j;
	uint32_t s;
	int err;

	if (!a)
		return -ENOENT;
	rep->vm_id = a->vm_id;
	t0 = now_ns();
	err = ipc_harvest(&g.ipc, a->vm_id, 0, 0, &h);
	if (err)
		return ipc_error(rep, err, "harvest");
	hv->harvest_ns = now_ns() - t0;
	err = ipc_epoch_wait(&g.ipc, a->vm_id, h.epoch, 10000, NULL);
	hv->install_ns = now_ns() - t0 - hv->harvest_ns;
	if (err) {
		ipc_harvest_free(&h);
		return ipc_error(rep, err, "waiting for the epoch");
	}
	hv->epoch = h.epoch;
	hv->nslots = h.nslots;
	for (s = 0; s < h.nslots; s++) {
		struct ipc_harvest_slot *sl = &h.slots[s];

		w = calloc(bm_words(sl->npages), 8);
		if (!w || bm_decode(sl->data, sl->size, sl->npages, w)) {
			free(w);
			ipc_harvest_free(&h);
			snprintf(rep->msg, sizeof(rep->msg),
				 "slot %u: the module's bitmap does not decode",
				 sl->slot_id);
			return -EBADMSG;
		}
		hv->pages += sl->npages;
		hv->dirty += bm_count(w, sl->npages);
		hv->compact_bytes += sl->size;
		hv->raw_bytes += bm_words(sl->npages) * 8;
		for (i = bm_next(w, sl->npages, 0); i < sl->npages;
		     i = bm_next(w, sl->npages, j)) {
			for (j = i + 1; j < sl->npages && bm_test(w, j); j++)
				;
			hv->runs++;
		}
		free(w);
	}
	ipc_harvest_free(&h);
	return 0;
}

static int op_stats(const struct ctl_req *req, struct ctl_reply *rep)
{
	struct attached *a = need_vm(req->vm_pid, rep);
	int err;

	if (!a)
		return -ENOENT;
	rep->vm_id = a->vm_id;
	err = ipc_stats(&g.ipc, a->vm_id, &rep->u.stats);
	return err ? ipc_error(rep, err, "stats") : 0;
}

static void send_reply(int fd, struct ctl_reply *rep)
{
	rep->magic = CTL_MAGIC;
	if (send(fd, rep, sizeof(*rep), MSG_NOSIGNAL) < 0 && g.verbose)
		logmsg("reply to agentctl: %s", strerror(errno));
}

struct progress_ctx {
	int fd;
	int on;
};

static void on_progress(void *arg, const struct ctl_migrate *m)
{
	struct progress_ctx *p = arg;
	struct ctl_reply rep = { .kind = CTL_R_PROGRESS };

	if (g.verbose)
		logmsg("round %u: %llu dirty pages (%llu/s), %llu pages sent, %llu kB/s",
		       m->round, (unsigned long long)m->dirty_pages,
		       (unsigned long long)m->dirty_rate,
		       (unsigned long long)m->pages_sent,
		       (unsigned long long)m->rate_bps / 1000);
	if (!p->on)
		return;
	rep.u.migrate = *m;
	send_reply(p->fd, &rep);
}

static int op_migrate(int fd, const struct ctl_req *req, struct ctl_reply *rep)
{
	struct progress_ctx p = { .fd = fd,
				  .on = !!(req->flags & CTL_MIG_PROGRESS) };
	int err, i;

	pthread_mutex_lock(&g.lock);
	if (find_vm(req->vm_pid) || is_migrating(req->vm_pid) ||
	    g.nmigrating >= CTL_MAX_VMS) {
		pthread_mutex_unlock(&g.lock);
		snprintf(rep->msg, sizeof(rep->msg),
			 "VM of process %u is attached or being migrated already (agentctl detach first)",
			 req->vm_pid);
		return -EBUSY;
	}
	g.migrating[g.nmigrating++] = req->vm_pid;
	pthread_mutex_unlock(&g.lock);

	logmsg("migrating VM of process %u to %s", req->vm_pid, req->target);
	/* its own netlink socket: if this thread dies, the VM is detached */
	err = source_migrate(req, g.peer_timeout_ms, on_progress, &p,
			     &rep->u.migrate, rep->msg, sizeof(rep->msg));
	if (err)
		logmsg("migration of %u failed: %s", req->vm_pid, rep->msg);
	else
		logmsg("migration of %u done: %u rounds (%s), final %llu pages, switchover %llu ms",
		       req->vm_pid, rep->u.migrate.round,
		       rep->u.migrate.stop_reason,
		       (unsigned long long)rep->u.migrate.final_dirty_pages,
		       (unsigned long long)rep->u.migrate.switchover_ms);

	pthread_mutex_lock(&g.lock);
	for (i = 0; i < g.nmigrating; i++)
		if (g.migrating[i] == req->vm_pid)
			g.migrating[i] = g.migrating[--g.nmigrating];
	if (!err)
		g.migrations_out++;
	pthread_mutex_unlock(&g.lock);
	return err;
}

static int peer_is_root(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return 0;
	return cred.uid == 0;
}

/* agentctl sends its request at once: do not wait long for it */
static const struct timeval ctl_recv_timeout = { .tv_sec = 5 };

static void *ctl_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct ctl_reply *rep;
	struct ctl_req req;
	ssize_t n;
	int err;

	rep = calloc(1, sizeof(*rep));
	if (!rep)
		goto out;
	rep->kind = CTL_R_FINAL;
	/*
	 * Take the request off the socket before any answer, even a
	 * refusal: closing a Unix socket with unread data resets the
	 * peer's end, and agentctl would see that instead of the reason.
	 */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &ctl_recv_timeout,
		   sizeof(ctl_recv_timeout));
	n = recv(fd, &req, sizeof(req), 0);
	if (n == 0)
		goto out;	/* connected and went away: a liveness probe */
	if (!peer_is_root(fd)) {
		rep->kind = CTL_R_DENIED;
		rep->err = -EPERM;
		snprintf(rep->msg, sizeof(rep->msg),
			 "permission denied: only root may control loosetrace-agent");
		send_reply(fd, rep);
		goto out;
	}
	if (n != sizeof(req) || req.magic != CTL_MAGIC ||
	    req.version != CTL_VERSION) {
		rep->err = -EPROTO;
		snprintf(rep->msg, sizeof(rep->msg),
			 "agentctl and loosetrace-agent versions differ");
		send_reply(fd, rep);
		goto out;
	}
	req.target[sizeof(req.target) - 1] = '\0';
	req.vmm_sock[sizeof(req.vmm_sock) - 1] = '\0';
	if (req.op == CTL_MIGRATE) {
		__atomic_add_fetch(&migrate_calls, 1, __ATOMIC_RELAXED);
		err = op_migrate(fd, &req, rep);
	} else {
		pthread_mutex_lock(&g.lock);
		switch (req.op) {
		case CTL_STATUS:
			err = op_status(rep);
			break;
		case CTL_ATTACH:
			err = op_attach(&req, rep);
			break;
		case CTL_DETACH:
			err = op_detach(&req, rep);
			break;
		case CTL_TRACE_START:
		case CTL_TRACE_STOP:
			err = op_trace(&req, rep);
			break;
		case CTL_HARVEST:
			err = op_harvest(&req, rep);
			break;
		case CTL_STATS:
			err = op_stats(&req, rep);
			break;
		default:
			err = -EOPNOTSUPP;
			snprintf(rep->msg, sizeof(rep->msg), "unknown request %u",
				 req.op);
		}
		pthread_mutex_unlock(&g.lock);
	}
	rep->kind = CTL_R_FINAL;
	rep->err = err;
	send_reply(fd, rep);
	if (req.op == CTL_MIGRATE)
		__atomic_sub_fetch(&migrate_calls, 1, __ATOMIC_RELAXED);
out:
	free(rep);
	close(fd);
	return NULL;
}

/* Frees the destination for the next source as soon as one is done. */
static void incoming_ended(void *arg, int err)
{
	pthread_mutex_lock(&g.lock);
	/* one migration in: after a success there is nothing to receive */
	if (!err) {
		g.migrations_in++;
		g.incoming_vmm = NULL;
	}
	g.incoming_busy = 0;
	pthread_mutex_unlock(&g.lock);
}

static void *peer_thread(void *arg)
{
	const struct dest_hooks hooks = { .ended = incoming_ended };
	const char *vmm;
	int fd = (int)(intptr_t)arg, busy, err;
	struct dest_result res;
	struct wire_conn c;

	pthread_mutex_lock(&g.lock);
	vmm = g.incoming_vmm;
	busy = g.incoming_busy || !vmm;
	if (!busy)
		g.incoming_busy = 1;
	pthread_mutex_unlock(&g.lock);
	if (busy) {
		/* answer in protocol so the source can show why */
		if (!wire_conn_init(&c, fd, 1000)) {
			wire_send_error(&c, EBUSY, vmm ?
					"destination busy with another migration" :
					"this agent takes no incoming migration (no --incoming VMM)");
			wire_conn_free(&c);
		}
		close(fd);
		return NULL;
	}
	logmsg("incoming migration into %s", vmm);
	err = g.incoming_qemu ?
	      dest_serve_qemu(fd, vmm, g.peer_timeout_ms, &hooks, &res) :
	      dest_serve(fd, vmm, g.peer_timeout_ms, &hooks, &res);
	close(fd);
	if (err)
		logmsg("incoming migration failed: %s", res.why);
	else
		logmsg("incoming migration done: %u rounds, %llu pages (%llu zero), %llu bytes in",
		       res.stats.rounds, (unsigned long long)res.stats.pages,
		       (unsigned long long)res.stats.zero_pages,
		       (unsigned long long)res.bytes_rx);
	return NULL;
}

static int spawn(void *(*fn)(void *), int fd)
{
	pthread_attr_t attr;
	sigset_t stop_sigs, old;
	pthread_t t;
	int err;

	/* the main thread alone takes SIGINT and SIGTERM */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_sigs, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&t, &attr, fn, (void *)(intptr_t)fd);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		close(fd);
	return -err;
}

static int listen_ctl(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)], *slash;
	int fd;

	if (strlen(g.ctl_path) >= sizeof(sa.sun_path)) {
		logmsg("socket path too long: %s", g.ctl_path);
		return -1;
	}
	strcpy(sa.sun_path, g.ctl_path);
	strcpy(dir, g.ctl_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0700);
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(g.ctl_path);
	/* root only: the mode keeps others out, SO_PEERCRED double-checks */
	umask(077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		logmsg("cannot listen on %s: %s", g.ctl_path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(022);
	return fd;
}

static int listen_peer(void)
{
	struct sockaddr_in6 sa = {
		.sin6_family = AF_INET6, .sin6_port = htons(g.port),
		.sin6_addr = IN6ADDR_ANY_INIT,
	};
	struct sockaddr_in sa4 = {
		.sin_family = AF_INET, .sin_port = htons(g.port),
	};
	int fd, one = 1, v6 = 1;

	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || g.listen_addr) {
		v6 = 0;
		if (fd >= 0)
			close(fd);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (g.listen_addr &&
		    inet_pton(AF_INET, g.listen_addr, &sa4.sin_addr) != 1) {
			logmsg("--listen takes an IPv4 address: %s",
			       g.listen_addr);
			close(fd);
			return -1;
		}
	}
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((v6 ? bind(fd, (struct sockaddr *)&sa, sizeof(sa)) :
		  bind(fd, (struct sockaddr *)&sa4, sizeof(sa4))) ||
	    listen(fd, 8)) {
		logmsg("cannot listen on port %d: %s", g.port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void print_usage(FILE *f)
{
	fprintf(f, "usage: loosetrace-agent [options]\n");
	fprintf(f, "  -p, --port PORT           TCP port for peer agents (default %d)\n",
		DEFAULT_PORT);
	fprintf(f, "  -l, --listen ADDR         IPv4 address to listen on (default: all)\n");
	fprintf(f, "  -s, --socket PATH         agentctl socket (default %s)\n",
		CTL_SOCKET_PATH);
	fprintf(f, "  -i, --incoming SOCK       accept one incoming migration into the VMM\n");
	fprintf(f, "                            whose control socket is SOCK\n");
	fprintf(f, "  -Q, --incoming-qmp SOCK   accept one incoming migration into the QEMU\n");
	fprintf(f, "                            (-incoming defer -S) whose QMP socket is SOCK\n");
	fprintf(f, "  -t, --peer-timeout MS     give up on a silent peer after MS (default %d)\n",
		DEFAULT_PEER_TIMEOUT);
	fprintf(f, "  -v, --verbose             log every pre-copy round\n");
	fprintf(f, "      --release-throttles   undo every vCPU throttle a dead agent left\n");
	fprintf(f, "                            (loosetrace.* cgroups), then exit\n");
	fprintf(f, "  -h, --help\n");
}

static int stop;

/*
 * Outgoing migrations end cleanly before the agent exits: each resumes
 * and untraces its VM (a paused VM left behind would stay paused). Bounded
 * by the longest wait of a switchover, for DONE.
 */
static void stop_migrations(void)
{
	int i, n = 1;

	source_stop_all();
	for (i = 0; i < STOP_WAIT_MS / 50 && n; i++) {
		/* until each migrate call has also sent agentctl its reply */
		n = __atomic_load_n(&migrate_calls, __ATOMIC_RELAXED);
		if (n)
			usleep(50000);
	}
	if (n)
		logmsg("%d migration(s) still running at exit", n);
}

static void on_signal(int sig)
{
	__atomic_store_n(&stop, sig, __ATOMIC_RELAXED);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "listen", required_argument, NULL, 'l' },
		{ "socket", required_argument, NULL, 's' },
		{ "incoming", required_argument, NULL, 'i' },
		{ "incoming-qmp", required_argument, NULL, 'Q' },
		{ "peer-timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "release-throttles", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct sigaction sa = { .sa_handler = on_signal };
	struct pollfd pfd[2];
	int c, fd, sweep = 0;

	/* the throttle's guard (cgthrottle.h), started by an agent */
	if (argc == 2 && !strcmp(argv[1], CGT_GUARD_ARG))
		return cgt_guard_main();
	while ((c = getopt_long(argc, argv, "p:l:s:i:Q:t:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			g.port = atoi(optarg);
			break;
		case 'l':
			g.listen_addr = optarg;
			break;
		case 's':
			g.ctl_path = optarg;
			break;
		case 'i':
		case 'Q':
			g.incoming_vmm = optarg;
			g.incoming_qemu = c == 'Q';
			break;
		case 't':
			g.peer_timeout_ms = atoi(optarg);
			break;
		case 'v':
			g.verbose = 1;
			break;
		case 'R':
			sweep = 1;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || g.port <= 0 || g.port > 65535 ||
	    g.peer_timeout_ms <= 0) {
		print_usage(stderr);
		return 2;
	}
	if (geteuid() != 0) {
		logmsg("must run as root (it borrows VM file descriptors and needs CAP_NET_ADMIN)");
		return 4;
	}
	if (sweep) {
		c = cgt_sweep(stderr);
		if (c < 0 && c != -ENOENT) {
			logmsg("releasing throttles: %s", strerror(-c));
			return 1;
		}
		return 0;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	srandom(time(NULL) ^ getpid());

	/*
	 * The peer port first: whoever sees the control socket answer
	 * (agentctl, the unit's start-up, a test) may rely on the agent
	 * taking peers too.
	 */
	pfd[1].fd = listen_peer();
	if (pfd[1].fd < 0)
		return 1;
	pfd[0].fd = listen_ctl();
	if (pfd[0].fd < 0)
		return 1;
	pfd[0].events = POLLIN;
	pfd[1].events = POLLIN;
	logmsg("listening on port %d and %s%s%s", g.port, g.ctl_path,
	       g.incoming_vmm ? ", incoming VMM " : "",
	       g.incoming_vmm ? g.incoming_vmm : "");
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & POLLIN) {
			fd = accept4(pfd[0].fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				spawn(ctl_thread, fd);
		}
		if (pfd[1].revents & POLLIN) {
			fd = accept4(pfd[1].fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				c = 1;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &c,
					   sizeof(c));
				spawn(peer_thread, fd);
			}
		}
	}
	logmsg("exiting on signal %d", stop);
	close(pfd[0].fd);
	close(pfd[1].fd);
	unlink(g.ctl_path);
	stop_migrations();
	/* closing the netlink socket detaches what agentctl attached */
	pthread_mutex_lock(&g.lock);
	if (g.ipc_ok)
		ipc_close(&g.ipc);
	g.ipc_ok = 0;
	pthread_mutex_unlock(&g.lock);
	return 0;
}
