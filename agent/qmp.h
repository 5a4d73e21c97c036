/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A QMP client (json-c): one connection to a QEMU's monitor socket
 * ("-qmp unix:PATH,server=on"), commands answered in order, events
 * skipped. Used by the agent's QEMU adapter and by the QEMU selftests.
 */
#ifndef LT_AGENT_QMP_H
#define LT_AGENT_QMP_H

#include <stddef.h>
#include <sys/types.h>
#include <json-c/json.h>

struct qmp {
	int fd;
	size_t len;
	char buf[1 << 16];	/* bytes read, not yet a whole message */
	char err[256];		/* why the last call failed */
};

/*
 * Connects to @path (waiting up to @timeout_ms for QEMU to create it),
 * reads the greeting and leaves capability negotiation mode. 0 or -1
 * with the reason in q->err.
 */
int qmp_open(struct qmp *q, const char *path, int timeout_ms);
void qmp_close(struct qmp *q);
/* The pid of the process at the other end (SO_PEERCRED), or -1. */
pid_t qmp_peer_pid(const struct qmp *q);

/*
 * Runs @cmd with @args (a JSON object text, or NULL) and returns its
 * "return" value, which the caller puts with json_object_put(). NULL if
 * QEMU answered an error (its class and description in q->err) or the
 * connection failed.
 */
json_object *qmp_cmd(struct qmp *q, int timeout_ms, const char *cmd,
		     const char *args);

/*
 * qmp_cmd() that passes @fd to QEMU with the command (SCM_RIGHTS), as
 * "getfd" and "add-fd" want it.
 */
json_object *qmp_cmd_fd(struct qmp *q, int timeout_ms, const char *cmd,
			const char *args, int fd);

/* "a.b.c" in @obj: the string, integer or NULL. */
const char *qmp_get_str(json_object *obj, const char *path);
int qmp_get_int(json_object *obj, const char *path, long long *val);
/* The boolean at @path: 0 or 1, or -1 when it is not there. */
int qmp_get_bool(json_object *obj, const char *path);

#endif /* LT_AGENT_QMP_H */
