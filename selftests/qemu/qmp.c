// SPDX-License-Identifier: GPL-2.0
/* QMP client for the QEMU selftests. See qmp.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "qmp.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * The next whole message (QEMU ends each with a newline), parsed; NULL
 * on timeout, EOF or bad JSON.
 */
static json_object *qmp_read(struct qmp *q, long long deadline)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
	enum json_tokener_error jerr;
	json_object *obj;
	char *nl;
	ssize_t n;
	int left;

	for (;;) {
		nl = memchr(q->buf, '\n', q->len);
		if (nl) {
			*nl = '\0';
			obj = json_tokener_parse_verbose(q->buf, &jerr);
			q->len -= nl + 1 - q->buf;
			memmove(q->buf, nl + 1, q->len);
			if (!obj)
				snprintf(q->err, sizeof(q->err),
					 "QEMU sent bad JSON: %s",
					 json_tokener_error_desc(jerr));
			return obj;
		}
		if (q->len == sizeof(q->buf)) {
			snprintf(q->err, sizeof(q->err),
				 "a QMP message longer than %zu bytes",
				 sizeof(q->buf));
			return NULL;
		}
		left = deadline - now_ms();
		if (left <= 0 || poll(&pfd, 1, left) <= 0) {
			snprintf(q->err, sizeof(q->err),
				 "no answer from QEMU in time");
			return NULL;
		}
		n = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (n <= 0) {
			snprintf(q->err, sizeof(q->err),
				 "QEMU closed the QMP connection");
			return NULL;
		}
		q->len += n;
	}
}

static int qmp_write(struct qmp *q, const char *s)
{
	size_t off = 0, len = strlen(s);
	ssize_t n;

	while (off < len) {
		n = write(q->fd, s + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(q->err, sizeof(q->err), "QMP write: %s",
				 strerror(errno));
			return -1;
		}
		off += n;
	}
	return 0;
}

int qmp_open(struct qmp *q, const char *path, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_object *obj, *ret;

	q->len = 0;
	q->err[0] = '\0';
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (;;) {
		q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (q->fd < 0) {
			snprintf(q->err, sizeof(q->err), "socket: %s",
				 strerror(errno));
			return -1;
		}
		if (!connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		close(q->fd);
		q->fd = -1;
		if (now_ms() >= deadline) {
			snprintf(q->err, sizeof(q->err), "connect %s: %s",
				 path, strerror(errno));
			return -1;
		}
		usleep(50000);
	}
	obj = qmp_read(q, deadline);
	if (!obj || !json_object_object_get_ex(obj, "QMP", NULL)) {
		if (obj)
			snprintf(q->err, sizeof(q->err), "no QMP greeting");
		json_object_put(obj);
		qmp_close(q);
		return -1;
	}
	json_object_put(obj);
	ret = qmp_cmd(q, timeout_ms, "qmp_capabilities", NULL);
	if (!ret) {
		qmp_close(q);
		return -1;
	}
	json_object_put(ret);
	return 0;
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}

json_object *qmp_cmd(struct qmp *q, int timeout_ms, const char *cmd,
		     const char *args)
{
	long long deadline = now_ms() + timeout_ms;
	json_object *obj, *val;
	char msg[2048];

	if (q->fd < 0) {
		snprintf(q->err, sizeof(q->err), "not connected");
		return NULL;
	}
	if (args)
		snprintf(msg, sizeof(msg),
			 "{\"execute\":\"%s\",\"arguments\":%s}\n", cmd, args);
	else
		snprintf(msg, sizeof(msg), "{\"execute\":\"%s\"}\n", cmd);
	if (qmp_write(q, msg))
		return NULL;
	for (;;) {
		obj = qmp_read(q, deadline);
		if (!obj)
			return NULL;
		if (json_object_object_get_ex(obj, "return", &val)) {
			json_object_get(val);
			json_object_put(obj);
			return val;
		}
		if (json_object_object_get_ex(obj, "error", &val)) {
			snprintf(q->err, sizeof(q->err), "%s: %s: %s", cmd,
				 qmp_get_str(val, "class") ?: "?",
				 qmp_get_str(val, "desc") ?: "?");
			json_object_put(obj);
			return NULL;
		}
		/* an event: not what the caller waits for */
		json_object_put(obj);
	}
}

static json_object *qmp_walk(json_object *obj, const char *path)
{
	char key[64];
	const char *dot;
	size_t n;

	while (obj && *path) {
		dot = strchr(path, '.');
		n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(obj, key, &obj))
			return NULL;
		path += n + (dot ? 1 : 0);
	}
	return obj;
}

const char *qmp_get_str(json_object *obj, const char *path)
{
	obj = qmp_walk(obj, path);
	if (!obj || !json_object_is_type(obj, json_type_string))
		return NULL;
	return json_object_get_string(obj);
}

int qmp_get_int(json_object *obj, const char *path, long long *val)
{
	obj = qmp_walk(obj, path);
	if (!obj || !json_object_is_type(obj, json_type_int))
		return -1;
	*val = json_object_get_int64(obj);
	return 0;
}
