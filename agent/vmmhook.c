// SPDX-License-Identifier: GPL-2.0
/*
 * The VMM hook for the test VMM, lt-vmm: one command per line on its
 * Unix control socket, one reply line starting with "ok" or "err"
 * (tools/vmm/vmm_ctl.h). The vCPU state travels as a file the VMM
 * writes ("state FILE") or reads ("restore FILE") in the agent's runtime
 * directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vmmhook.h"

#define HOOK_TIMEOUT_MS		30000
#define HOOK_STATE_DIR		"/run/loosetrace"

/* Sends @cmd and reads the reply line; 0 for "ok ...", else -EIO. */
static int hook_cmd(const char *sock, const char *cmd, char *reply,
		    size_t len, char *why, size_t why_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd;
	size_t used = 0;
	ssize_t n;
	int fd, err;

	if (!sock || !sock[0]) {
		snprintf(why, why_len, "no VMM control socket given (--vmm)");
		return -EINVAL;
	}
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		snprintf(why, why_len, "control socket path too long");
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		snprintf(why, why_len, "cannot connect to %s: %s", sock,
			 strerror(errno));
		close(fd);
		return err;
	}
	if (dprintf(fd, "%s\n", cmd) < 0) {
		err = -errno;
		snprintf(why, why_len, "writing to %s: %s", sock,
			 strerror(errno));
		close(fd);
		return err;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (used < len - 1) {
		if (poll(&pfd, 1, HOOK_TIMEOUT_MS) <= 0) {
			snprintf(why, why_len, "VMM did not answer \"%s\"", cmd);
			close(fd);
			return -ETIMEDOUT;
		}
		n = read(fd, reply + used, len - 1 - used);
		if (n <= 0)
			break;
		used += n;
		reply[used] = '\0';
		if (strchr(reply, '\n'))
			break;
	}
	close(fd);
	reply[used] = '\0';
	reply[strcspn(reply, "\r\n")] = '\0';
	if (!strncmp(reply, "ok", 2))
		return 0;
	snprintf(why, why_len, "VMM: %s", used ? reply : "closed without answer");
	return -EIO;
}

/* Value of key=value in a status line, copied into @out. */
static int kv(const char *line, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);
	const char *p = line;

	while ((p = strstr(p, key))) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=') {
			p += klen + 1;
			snprintf(out, len, "%.*s", (int)strcspn(p, " "), p);
			return 0;
		}
		p += klen;
	}
	return -ENOENT;
}

int vmmhook_status(const char *sock, struct vmmhook_status *st, char *why,
		   size_t why_len)
{
	char reply[4096], v[256], tv[VMMHOOK_MAX_VCPUS * 12];
	int err;

	memset(st, 0, sizeof(*st));
	st->vm_fd = -1;
	err = hook_cmd(sock, "status", reply, sizeof(reply), why, why_len);
	if (err)
		return err;
	if (!kv(reply, "mem_bytes", v, sizeof(v)))
		st->mem_bytes = strtoull(v, NULL, 0);
	if (!st->mem_bytes || kv(reply, "vcpus", v, sizeof(v))) {
		snprintf(why, why_len, "VMM status lacks mem_bytes/vcpus: %s",
			 reply);
		return -EPROTO;
	}
	st->nr_vcpus = strtoul(v, NULL, 0);
	if (!kv(reply, "pid", v, sizeof(v)))
		st->pid = atoi(v);
	if (!kv(reply, "vm_fd", v, sizeof(v)))
		st->vm_fd = atoi(v);
	kv(reply, "mem_path", st->mem_path, sizeof(st->mem_path));
	kv(reply, "state", st->state, sizeof(st->state));
	if (!kv(reply, "vcpu_tids", tv, sizeof(tv))) {
		char *p = tv, *end;
		long t;

		while (*p && st->ntids < VMMHOOK_MAX_VCPUS) {
			t = strtol(p, &end, 10);
			if (end == p)
				break;
			st->tids[st->ntids++] = t;
			p = *end == ',' ? end + 1 : end;
		}
	}
	return 0;
}

int vmmhook_pause(const char *sock, char *why, size_t why_len)
{
	char reply[512];

	return hook_cmd(sock, "pause", reply, sizeof(reply), why, why_len);
}

int vmmhook_resume(const char *sock, char *why, size_t why_len)
{
	char reply[512];

	return hook_cmd(sock, "resume", reply, sizeof(reply), why, why_len);
}

static void state_path(char *path, size_t len)
{
	mkdir(HOOK_STATE_DIR, 0700);
	snprintf(path, len, HOOK_STATE_DIR "/state-%d-%lx.bin", (int)getpid(),
		 (unsigned long)random());
}

int vmmhook_save_state(const char *sock, uint8_t **blob, size_t *len,
		       char *why, size_t why_len)
{
	char path[128], cmd[160], reply[512];
	struct stat sb;
	int fd, err;
	ssize_t n;

	state_path(path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "state %s", path);
	err = hook_cmd(sock, cmd, reply, sizeof(reply), why, why_len);
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	unlink(path);
	if (fd < 0 || fstat(fd, &sb) || !sb.st_size) {
		snprintf(why, why_len, "VMM state file %s unreadable", path);
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	*len = sb.st_size;
	*blob = malloc(*len);
	n = *blob ? read(fd, *blob, *len) : -1;
	close(fd);
	if (n != (ssize_t)*len) {
		free(*blob);
		*blob = NULL;
		snprintf(why, why_len, "reading the VMM state file failed");
		return -EIO;
	}
	return 0;
}

int vmmhook_restore(const char *sock, const uint8_t *blob, size_t len,
		    char *why, size_t why_len)
{
	char path[128], cmd[160], reply[512];
	int fd, err;

	state_path(path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, why_len, "cannot create %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	if (write(fd, blob, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		snprintf(why, why_len, "cannot write the state file");
		return -EIO;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "restore %s", path);
	err = hook_cmd(sock, cmd, reply, sizeof(reply), why, why_len);
	unlink(path);
	if (err)
		return err;
	return hook_cmd(sock, "resume", reply, sizeof(reply), why, why_len);
}
