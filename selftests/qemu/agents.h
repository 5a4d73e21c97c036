/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Two loosetrace-agents on this host, one for each side of a QEMU
 * guest's migration, and agentctl migrate between them: what the QEMU
 * selftests, the QEMU demo and the QEMU benchmark share.
 */
#ifndef _LOOSETRACE_QEMU_AGENTS_H
#define _LOOSETRACE_QEMU_AGENTS_H

#include <stddef.h>
#include <sys/types.h>

struct lt_agent {
	pid_t pid;
	char port[8];
	char sock[64];
	char log[64];
};

/*
 * Starts loosetrace-agent -v named @name (its socket and log under
 * /tmp), listening on 127.0.0.1:@port; a destination's when
 * @incoming_qmp names the QMP socket of the QEMU waiting for the guest.
 * Waits for its control socket: 0, or -1.
 */
int lt_agent_start(struct lt_agent *a, const char *name, const char *port,
		   const char *incoming_qmp);
/* SIGTERM, and waits for it. */
void lt_agent_stop(struct lt_agent *a);
/* Prints the agent's log as "# " lines, under @what. */
void lt_agent_dump(const struct lt_agent *a, const char *what);

/*
 * agentctl [-j] -s <src's socket> migrate --vm @vm --qmp @qmp --to
 * <dst's port> plus @extra (NULL-terminated, may be empty): its exit
 * code, or -1; its output (stdout and stderr) in @out, and on stdout as
 * it comes when @echo is set.
 */
int lt_agent_migrate(const struct lt_agent *src, const struct lt_agent *dst,
		     pid_t vm, const char *qmp, int json, int echo,
		     char *out, size_t len, const char *const *extra);

#endif /* _LOOSETRACE_QEMU_AGENTS_H */
