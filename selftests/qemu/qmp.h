/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small QMP client (json-c) for the QEMU selftests: one connection to
 * a QEMU's "-qmp unix:PATH,server=on" socket, commands answered in
 * order, events skipped.
 */
#ifndef _LOOSETRACE_QMP_H
#define _LOOSETRACE_QMP_H

#include <stddef.h>
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

/*
 * Runs @cmd with @args (a JSON object text, or NULL) and returns its
 * "return" value, which the caller puts with json_object_put(). NULL if
 * QEMU answered an error (its class and description in q->err) or the
 * connection failed.
 */
json_object *qmp_cmd(struct qmp *q, int timeout_ms, const char *cmd,
		     const char *args);

/* "a.b.c" in @obj: the string, integer or NULL. */
const char *qmp_get_str(json_object *obj, const char *path);
int qmp_get_int(json_object *obj, const char *path, long long *val);

#endif /* _LOOSETRACE_QMP_H */
