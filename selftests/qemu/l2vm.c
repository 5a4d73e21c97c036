// SPDX-License-Identifier: GPL-2.0
/* An unmodified QEMU running the QEMU test guest. See l2vm.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "l2vm.h"

#define QMP_TIMEOUT_MS	30000

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int in_path(const char *prog)
{
	char path[256], *dirs, *dir, *save = NULL;
	const char *env = getenv("PATH");
	int found = 0;

	dirs = strdup(env ? env : "/bin:/sbin");
	for (dir = strtok_r(dirs, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		snprintf(path, sizeof(path), "%s/%s", dir, prog);
		found = !access(path, X_OK);
	}
	free(dirs);
	return found;
}

const char *l2vm_missing(void)
{
	if (access("/dev/kvm", R_OK | W_OK))
		return "no /dev/kvm";
	if (!in_path(L2_QEMU))
		return "no " L2_QEMU " (VM_SUITES=qemu puts it into the test VM)";
	if (access(L2_KERNEL, R_OK) || access(L2_INITRD, R_OK))
		return "no guest kernel or initramfs under /lib/qemu-guest";
	return NULL;
}

static int ctl_connect(struct l2vm *vm, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long long deadline = now_ms() + timeout_ms;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", vm->ctl_path);
	for (;;) {
		vm->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (vm->ctl_fd < 0)
			break;
		if (!connect(vm->ctl_fd, (struct sockaddr *)&sa, sizeof(sa)))
			return 0;
		close(vm->ctl_fd);
		vm->ctl_fd = -1;
		if (now_ms() >= deadline)
			break;
		usleep(50000);
	}
	snprintf(vm->err, sizeof(vm->err), "connect %s: %s", vm->ctl_path,
		 strerror(errno));
	return -1;
}

/* How often l2vm_wait_ready() looks at a booting guest's console. */
#define L2VM_BOOT_POLL_S	5

int l2vm_start(struct l2vm *vm, const struct l2vm_cfg *cfg)
{
	char mem[32], machine[64], backend[256], con[128], ctl[160], qmp[160];
	char append[128], log[96];
	const char *argv[64];
	int argc = 0, fd;

	/* A QEMU that died shows as EPIPE on its sockets, not as a kill. */
	signal(SIGPIPE, SIG_IGN);
	memset(vm, 0, sizeof(*vm));
	vm->ctl_fd = -1;
	vm->qmp.fd = -1;
	snprintf(vm->dir, sizeof(vm->dir), "/run/ltq-%d-%s", (int)getpid(),
		 cfg->name);
	snprintf(vm->qmp_path, sizeof(vm->qmp_path), "%s/qmp.sock", vm->dir);
	snprintf(vm->ctl_path, sizeof(vm->ctl_path), "%s/ctl.sock", vm->dir);
	snprintf(vm->mig_path, sizeof(vm->mig_path), "%s/mig.sock", vm->dir);
	snprintf(log, sizeof(log), "%s/qemu.log", vm->dir);
	if (mkdir(vm->dir, 0700) && errno != EEXIST) {
		snprintf(vm->err, sizeof(vm->err), "mkdir %s: %s", vm->dir,
			 strerror(errno));
		return -1;
	}

	snprintf(mem, sizeof(mem), "%uM", cfg->ram_mib);
	snprintf(machine, sizeof(machine), "%s,memory-backend=ram0",
		 cfg->machine);
	snprintf(backend, sizeof(backend),
		 "memory-backend-file,id=ram0,size=%uM,mem-path=%s,share=on",
		 cfg->ram_mib, cfg->ram_path);
	snprintf(con, sizeof(con), "file,id=con,path=%s/console.log", vm->dir);
	snprintf(ctl, sizeof(ctl), "socket,id=ctl,path=%s,server=on,wait=off",
		 vm->ctl_path);
	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", vm->qmp_path);
	snprintf(append, sizeof(append),
		 "console=ttyS0 panic=-1 loglevel=4 nokaslr rdinit=/init ltq.mem=%u",
		 cfg->buf_mib);

	argv[argc++] = L2_QEMU;
	argv[argc++] = "-name";
	argv[argc++] = cfg->name;
	argv[argc++] = "-nodefaults";
	argv[argc++] = "-no-user-config";
	argv[argc++] = "-enable-kvm";
	argv[argc++] = "-cpu";
	argv[argc++] = "host";
	argv[argc++] = "-smp";
	argv[argc++] = "1";
	argv[argc++] = "-m";
	argv[argc++] = mem;
	argv[argc++] = "-machine";
	argv[argc++] = machine;
	argv[argc++] = "-object";
	argv[argc++] = backend;
	argv[argc++] = "-vga";
	argv[argc++] = cfg->vga;
	argv[argc++] = "-display";
	argv[argc++] = "none";
	argv[argc++] = "-no-reboot";
	/* QEMU looks for firmware beside its binary, which is in /sbin here. */
	argv[argc++] = "-L";
	argv[argc++] = "/usr/share/seabios";
	argv[argc++] = "-L";
	argv[argc++] = "/usr/share/qemu";
	argv[argc++] = "-chardev";
	argv[argc++] = con;
	argv[argc++] = "-serial";
	argv[argc++] = "chardev:con";
	argv[argc++] = "-chardev";
	argv[argc++] = ctl;
	argv[argc++] = "-serial";
	argv[argc++] = "chardev:ctl";
	argv[argc++] = "-kernel";
	argv[argc++] = L2_KERNEL;
	argv[argc++] = "-initrd";
	argv[argc++] = L2_INITRD;
	argv[argc++] = "-append";
	argv[argc++] = append;
	argv[argc++] = "-qmp";
	argv[argc++] = qmp;
	if (cfg->incoming) {
		argv[argc++] = "-incoming";
		argv[argc++] = "defer";
		argv[argc++] = "-S";
	}
	argv[argc] = NULL;

	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(vm->err, sizeof(vm->err), "%s: %s", log,
			 strerror(errno));
		return -1;
	}
	fflush(NULL);
	vm->pid = fork();
	if (vm->pid < 0) {
		snprintf(vm->err, sizeof(vm->err), "fork: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (!vm->pid) {
		/* QEMU must not outlive the test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		execvp(L2_QEMU, (char **)argv);
		fprintf(stderr, "exec %s: %s\n", L2_QEMU, strerror(errno));
		_exit(127);
	}
	close(fd);
	if (qmp_open(&vm->qmp, vm->qmp_path, QMP_TIMEOUT_MS)) {
		snprintf(vm->err, sizeof(vm->err), "QMP: %.200s", vm->qmp.err);
		return -1;
	}
	/* a booting guest's control port stays unconnected: l2vm_wait_ready */
	return cfg->incoming ? ctl_connect(vm, QMP_TIMEOUT_MS) : 0;
}

static void rm_dir(const char *dir)
{
	char path[384];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

void l2vm_stop(struct l2vm *vm)
{
	if (!vm->dir[0])
		return;		/* never started */
	qmp_close(&vm->qmp);
	if (vm->ctl_fd >= 0)
		close(vm->ctl_fd);
	vm->ctl_fd = -1;
	if (vm->pid > 0) {
		kill(vm->pid, SIGKILL);
		waitpid(vm->pid, NULL, 0);
		vm->pid = 0;
	}
	if (vm->dir[0])
		rm_dir(vm->dir);
	vm->dir[0] = '\0';
}

static void dump_tail(const char *what, const char *path, int lines)
{
	char line[512];
	long nl = 0, skip;
	FILE *f = fopen(path, "r");
	int c;

	if (!f)
		return;
	while ((c = fgetc(f)) != EOF)
		nl += c == '\n';
	skip = nl > lines ? nl - lines : 0;
	rewind(f);
	printf("# --- %s (last %d lines) ---\n", what, lines);
	while (fgets(line, sizeof(line), f)) {
		if (skip > 0) {
			skip -= !!strchr(line, '\n');
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		printf("# %s\n", line);
	}
	fclose(f);
}

/*
 * The guest runs this kernel's own image without KASLR: a guest text
 * address, moved to where this kernel's text starts, names the function
 * in kallsyms. Prints "# <what> <symbol>+<offset>" for one that does.
 */
static void guest_symbol(const char *what, unsigned long long addr)
{
	unsigned long long text = 0, a, best = 0;
	char line[256], name[128], best_name[128] = "?", type;
	FILE *f;

	if (addr < 0xffffffff81000000ULL || addr >= 0xffffffffc0000000ULL)
		return;
	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %127s", &a, &type, name) == 3 &&
		    !strcmp(name, "_text")) {
			text = a;
			break;
		}
	addr = addr - 0xffffffff81000000ULL + text;
	rewind(f);
	while (text && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %127s", &a, &type, name) == 3 &&
		    (type == 't' || type == 'T') && a <= addr && a > best) {
			best = a;
			snprintf(best_name, sizeof(best_name), "%s", name);
		}
	fclose(f);
	if (best)
		printf("# %s %s+%#llx\n", what, best_name, addr - best);
}

/* An HMP command's text, or NULL; json_object_put() the second result. */
static const char *hmp(struct l2vm *vm, const char *cmd, json_object **r)
{
	char args[128];

	snprintf(args, sizeof(args), "{\"command-line\": \"%s\"}", cmd);
	*r = qmp_cmd(&vm->qmp, 5000, "human-monitor-command", args);
	return *r ? json_object_get_string(*r) : NULL;
}

/*
 * Where the vCPU is (HMP's info registers): a hung guest's RIP, and the
 * kernel text addresses on its stack (a call chain, with stale entries).
 */
static void dump_regs(struct l2vm *vm)
{
	unsigned long long rip, rsp = 0, v[2];
	const char *text, *end, *p;
	char cmd[64];
	json_object *r;
	int lines = 0;

	if (vm->qmp.fd < 0)
		return;
	text = hmp(vm, "info registers", &r);
	if (!text)
		return;
	printf("# --- vCPU registers ---\n");
	p = strstr(text, "RIP=");
	if (p && sscanf(p, "RIP=%llx", &rip) == 1)
		guest_symbol("RIP is", rip);
	p = strstr(text, "RSP=");
	if (p)
		sscanf(p, "RSP=%llx", &rsp);
	while (text && *text && lines++ < 8) {
		end = strchrnul(text, '\n');
		printf("# %.*s\n", (int)(end - text), text);
		text = *end ? end + 1 : end;
	}
	json_object_put(r);
	if (!rsp)
		return;
	snprintf(cmd, sizeof(cmd), "x/128gx %#llx", rsp);
	text = hmp(vm, cmd, &r);
	for (p = text; p && *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, '\n');
		if (sscanf(p, "%*x: %llx %llx", &v[0], &v[1]) == 2) {
			guest_symbol("stack:", v[0]);
			guest_symbol("stack:", v[1]);
		}
	}
	json_object_put(r);
}

void l2vm_dump(struct l2vm *vm)
{
	char path[128];

	if (!vm->dir[0])
		return;
	dump_regs(vm);
	snprintf(path, sizeof(path), "%s/qemu.log", vm->dir);
	dump_tail("QEMU output", path, 20);
	snprintf(path, sizeof(path), "%s/console.log", vm->dir);
	dump_tail("guest console", path, 120);
	fflush(stdout);
}

/* The next line from the control socket, without its newline. */
static int ctl_line(struct l2vm *vm, char *line, size_t len,
		    long long deadline)
{
	struct pollfd pfd = { .fd = vm->ctl_fd, .events = POLLIN };
	char *nl;
	ssize_t n;
	int left;

	for (;;) {
		nl = memchr(vm->ctl_buf, '\n', vm->ctl_len);
		if (nl) {
			*nl = '\0';
			snprintf(line, len, "%s", vm->ctl_buf);
			vm->ctl_len -= nl + 1 - vm->ctl_buf;
			memmove(vm->ctl_buf, nl + 1, vm->ctl_len);
			return 0;
		}
		if (vm->ctl_len == sizeof(vm->ctl_buf))
			vm->ctl_len = 0;	/* garbage without a newline */
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, left) <= 0)
			return -ETIMEDOUT;
		n = read(vm->ctl_fd, vm->ctl_buf + vm->ctl_len,
			 sizeof(vm->ctl_buf) - vm->ctl_len);
		if (n <= 0)
			return -EPIPE;
		vm->ctl_len += n;
	}
}

int l2vm_ctl(struct l2vm *vm, const char *cmd, char *reply, size_t len,
	     int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	char msg[64], line[sizeof(vm->ctl_buf)];
	unsigned int seq = ++vm->seq;
	unsigned long got;
	int off = 0, r;

	snprintf(msg, sizeof(msg), "%s %u\n", cmd, seq);
	if (write(vm->ctl_fd, msg, strlen(msg)) != (ssize_t)strlen(msg)) {
		snprintf(vm->err, sizeof(vm->err), "control socket: %s",
			 strerror(errno));
		return -1;
	}
	for (;;) {
		r = ctl_line(vm, line, sizeof(line), deadline);
		if (r) {
			snprintf(vm->err, sizeof(vm->err),
				 "no answer to '%s' from the guest: %s", cmd,
				 strerror(-r));
			return -1;
		}
		/* Replies to earlier commands (before the guest listened). */
		if (sscanf(line, "ok %lu %n", &got, &off) == 1 && off &&
		    got == seq) {
			snprintf(reply, len, "%s", line + off);
			return 0;
		}
		if (sscanf(line, "err %lu %n", &got, &off) == 1 && off &&
		    got == seq) {
			snprintf(vm->err, sizeof(vm->err), "guest: %s",
				 line + off);
			return -1;
		}
	}
}

/* Whether the guest console holds @text. */
static int console_has(struct l2vm *vm, const char *text)
{
	char path[128], line[512];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/console.log", vm->dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = !!strstr(line, text);
	fclose(f);
	return found;
}

int l2vm_wait_ready(struct l2vm *vm, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	char reply[256];

	/*
	 * The control port is connected only once lt-qguest polls it (it
	 * says "ready" on the console then): nothing reaches the guest's
	 * UART while it boots. Boots fed commands on it hung more often
	 * (5 of 7) under the emulator's double interrupts (qemu.rst).
	 */
	while (now_ms() < deadline) {
		if (console_has(vm, "lt-qguest: ready")) {
			if (vm->ctl_fd < 0 &&
			    ctl_connect(vm, deadline - now_ms()))
				return -1;
			return l2vm_ctl(vm, "stats", reply, sizeof(reply),
					deadline - now_ms());
		}
		if (vm->pid > 0 && waitpid(vm->pid, NULL, WNOHANG) == vm->pid) {
			vm->pid = 0;
			snprintf(vm->err, sizeof(vm->err),
				 "QEMU exited before the guest was ready");
			return -1;
		}
		/*
		 * Seldom: while the guest boots, every wakeup of the test
		 * VM's CPUs raises the chance that the emulator delivers
		 * one of the guest's interrupts twice (Documentation/qemu.rst).
		 */
		sleep(L2VM_BOOT_POLL_S);
	}
	snprintf(vm->err, sizeof(vm->err),
		 "the guest was not ready after %d s", timeout_ms / 1000);
	return -1;
}

int l2vm_value(const char *reply, const char *key, uint64_t *val)
{
	char pat[64];
	const char *p = reply;
	size_t n;

	n = snprintf(pat, sizeof(pat), "%s=", key);
	while ((p = strstr(p, pat))) {
		if (p == reply || p[-1] == ' ') {
			*val = strtoull(p + n, NULL, 0);
			return 0;
		}
		p += n;
	}
	return -1;
}

int l2vm_wait_status(struct l2vm *vm, const char *status, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	const char *st = NULL;
	json_object *r;
	char last[64] = "?";

	for (;;) {
		r = qmp_cmd(&vm->qmp, QMP_TIMEOUT_MS, "query-status", NULL);
		if (!r) {
			snprintf(vm->err, sizeof(vm->err), "%s", vm->qmp.err);
			return -1;
		}
		st = qmp_get_str(r, "status");
		snprintf(last, sizeof(last), "%s", st ? st : "?");
		json_object_put(r);
		if (!strcmp(last, status))
			return 0;
		if (now_ms() >= deadline)
			break;
		usleep(100000);
	}
	snprintf(vm->err, sizeof(vm->err), "QEMU status %s, not %s", last,
		 status);
	return -1;
}

int l2vm_find_map(struct l2vm *vm, const char *path, struct l2vm_map *m)
{
	char maps[64], line[512], file[256];
	unsigned long long start, end, pgoff;
	int found = 0;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)vm->pid);
	f = fopen(maps, "r");
	if (!f) {
		snprintf(vm->err, sizeof(vm->err), "%s: %s", maps,
			 strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		file[0] = '\0';
		if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %255s", &start,
			   &end, &pgoff, file) != 4 || strcmp(file, path))
			continue;
		/* One mapping may show as several adjacent VMAs. */
		if (found && start == m->end &&
		    pgoff == m->pgoff + (m->end - m->start)) {
			m->end = end;
			continue;
		}
		m->start = start;
		m->end = end;
		m->pgoff = pgoff;
		found++;
	}
	fclose(f);
	if (found != 1) {
		snprintf(vm->err, sizeof(vm->err),
			 "QEMU maps %s %d times, not once", path, found);
		return -1;
	}
	return 0;
}
