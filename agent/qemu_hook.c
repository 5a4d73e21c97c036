// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU's side of a migration over QMP (see qemu_hook.h). The device
 * stream goes through a socketpair whose one end QEMU gets with getfd:
 * "migrate fd:NAME" on the source, "migrate-incoming fd:NAME" on the
 * destination, as libvirt drives its own migrations, so it works where
 * QEMU may not spawn a helper (exec:).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "qemu_hook.h"
#include "qmp.h"

#define QMP_TIMEOUT_MS		10000
/* QEMU's device migration of a paused guest: seconds at most. */
#define STREAM_TIMEOUT_MS	120000
#define STREAM_FD_NAME		"loosetrace-mig"
/* No bandwidth cap of QEMU's (128 MiB/s by default) in the downtime. */
#define UNLIMITED_BPS		"{\"max-bandwidth\":1099511627776}"
#define IGNORE_SHARED \
	"{\"capabilities\":[{\"capability\":\"x-ignore-shared\",\"state\":true}]}"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int open_qmp(struct qmp *q, const char *sock, char *why,
		    size_t why_len)
{
	if (!qmp_open(q, sock, QMP_TIMEOUT_MS))
		return 0;
	snprintf(why, why_len, "QMP socket %s: %s", sock, q->err);
	return -EIO;
}

/* Runs one command whose answer is not needed: 0 or -EIO and why. */
static int run(struct qmp *q, const char *cmd, const char *args, int fd,
	       char *why, size_t why_len)
{
	json_object *r = qmp_cmd_fd(q, QMP_TIMEOUT_MS, cmd, args, fd);

	if (!r) {
		snprintf(why, why_len, "QMP %s", q->err);
		return -EIO;
	}
	json_object_put(r);
	return 0;
}

static int one_command(const char *sock, const char *cmd, char *why,
		       size_t why_len)
{
	struct qmp q;
	int err;

	err = open_qmp(&q, sock, why, why_len);
	if (!err)
		err = run(&q, cmd, NULL, -1, why, why_len);
	qmp_close(&q);
	return err;
}

int qemu_hook_pause(const char *sock, char *why, size_t why_len)
{
	return one_command(sock, "stop", why, why_len);
}

int qemu_hook_resume(const char *sock, char *why, size_t why_len)
{
	struct qmp q;
	int err;

	err = open_qmp(&q, sock, why, why_len);
	if (!err)
		err = run(&q, "cont", NULL, -1, why, why_len);
	/* best effort: switches relearn the guest's MACs */
	if (!err)
		json_object_put(qmp_cmd(&q, QMP_TIMEOUT_MS, "announce-self",
					"{\"initial\":50,\"max\":550,\"rounds\":5,\"step\":100}"));
	qmp_close(&q);
	return err;
}

/*
 * Waits until query-migrate says "completed" (0), or "failed" or
 * "cancelled" (-EIO, QEMU's error-desc in @why), until @deadline.
 */
static int wait_completed(struct qmp *q, long long deadline, char *why,
			  size_t why_len)
{
	const char *status;
	json_object *r;
	int done = 0;

	while (!done) {
		r = qmp_cmd(q, QMP_TIMEOUT_MS, "query-migrate", NULL);
		if (!r) {
			snprintf(why, why_len, "QMP %s", q->err);
			return -EIO;
		}
		status = qmp_get_str(r, "status") ?: "none";
		if (!strcmp(status, "completed")) {
			done = 1;
		} else if (!strcmp(status, "failed") ||
			   !strcmp(status, "cancelled")) {
			snprintf(why, why_len, "QEMU's device migration %s: %s",
				 status, qmp_get_str(r, "error-desc") ?: "");
			json_object_put(r);
			return -EIO;
		}
		json_object_put(r);
		if (!done && now_ms() > deadline) {
			snprintf(why, why_len,
				 "QEMU's device migration did not complete in %d s",
				 STREAM_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		if (!done)
			usleep(10000);
	}
	return 0;
}

/* Reads @fd to its end into a growing buffer. */
static int read_all(int fd, long long deadline, uint8_t **out, size_t *len,
		    char *why, size_t why_len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t cap = 1 << 20, n = 0;
	uint8_t *buf = malloc(cap), *nb;
	ssize_t got;
	int left;

	while (buf) {
		if (n == cap) {
			nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		left = deadline - now_ms();
		if (left <= 0 || poll(&pfd, 1, left) <= 0) {
			free(buf);
			snprintf(why, why_len,
				 "QEMU's device stream stalled after %zu bytes", n);
			return -ETIMEDOUT;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			free(buf);
			snprintf(why, why_len, "reading QEMU's device stream: %s",
				 strerror(errno));
			return -EIO;
		}
		if (!got) {
			*out = buf;
			*len = n;
			return 0;
		}
		n += got;
	}
	free(buf);
	snprintf(why, why_len, "out of memory for QEMU's device stream");
	return -ENOMEM;
}

int qemu_hook_save_devices(const char *sock, uint8_t **blob, size_t *len,
			   char *why, size_t why_len)
{
	long long deadline = now_ms() + STREAM_TIMEOUT_MS;
	int sv[2] = { -1, -1 }, err;
	struct qmp q;

	*blob = NULL;
	*len = 0;
	err = open_qmp(&q, sock, why, why_len);
	if (err)
		return err;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		err = -errno;
		snprintf(why, why_len, "socketpair: %s", strerror(errno));
		goto out;
	}
	err = run(&q, "migrate-set-capabilities", IGNORE_SHARED, -1, why,
		  why_len);
	if (!err)
		err = run(&q, "migrate-set-parameters", UNLIMITED_BPS, -1, why,
			  why_len);
	if (!err)
		err = run(&q, "getfd", "{\"fdname\":\"" STREAM_FD_NAME "\"}",
			  sv[1], why, why_len);
	close(sv[1]);
	if (!err)
		err = run(&q, "migrate", "{\"uri\":\"fd:" STREAM_FD_NAME "\"}",
			  -1, why, why_len);
	/* QEMU closes its end when its migration ends, either way */
	if (!err)
		err = read_all(sv[0], deadline, blob, len, why, why_len);
	if (!err)
		err = wait_completed(&q, deadline, why, why_len);
	if (err) {
		free(*blob);
		*blob = NULL;
		*len = 0;
	}
out:
	if (sv[0] >= 0)
		close(sv[0]);
	qmp_close(&q);
	return err;
}

/* Writes all of @buf to @fd. */
static int write_all(int fd, const uint8_t *buf, size_t len, char *why,
		     size_t why_len)
{
	ssize_t n;

	while (len) {
		/* a QEMU that gave up must not kill the agent with SIGPIPE */
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, why_len,
				 "feeding QEMU its device stream: %s",
				 strerror(errno));
			return -EIO;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

int qemu_hook_load_devices(const char *sock, const uint8_t *blob,
			   size_t len, char *why, size_t why_len)
{
	long long deadline = now_ms() + STREAM_TIMEOUT_MS;
	int sv[2] = { -1, -1 }, err;
	struct qmp q;

	err = open_qmp(&q, sock, why, why_len);
	if (err)
		return err;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		err = -errno;
		snprintf(why, why_len, "socketpair: %s", strerror(errno));
		goto out;
	}
	/* the capability must be on before the incoming migration starts */
	err = run(&q, "migrate-set-capabilities", IGNORE_SHARED, -1, why,
		  why_len);
	if (!err)
		err = run(&q, "getfd", "{\"fdname\":\"" STREAM_FD_NAME "\"}",
			  sv[1], why, why_len);
	close(sv[1]);
	if (!err)
		err = run(&q, "migrate-incoming",
			  "{\"uri\":\"fd:" STREAM_FD_NAME "\"}", -1, why,
			  why_len);
	if (!err)
		err = write_all(sv[0], blob, len, why, why_len);
	close(sv[0]);
	sv[0] = -1;
	if (!err)
		err = wait_completed(&q, deadline, why, why_len);
	if (!err)
		err = run(&q, "cont", NULL, -1, why, why_len);
out:
	if (sv[0] >= 0)
		close(sv[0]);
	qmp_close(&q);
	return err;
}
