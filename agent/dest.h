/* SPDX-License-Identifier: GPL-2.0 */
/* Destination side of a migration over one accepted peer connection. */
#ifndef LT_AGENT_DEST_H
#define LT_AGENT_DEST_H

#include "dest_session.h"

struct dest_result {
	struct dest_stats stats;
	uint64_t bytes_rx;
	char why[WIRE_REASON_MAX + 1];
};

/* What the daemon learns while a migration is served. */
struct dest_hooks {
	/* the outcome (0: resumed), before the last frame is sent */
	void (*ended)(void *arg, int err);
	void *arg;
};

/*
 * Serves one migration on the connected socket @fd into the incoming VMM
 * whose control socket is @vmm_sock. Returns 0 once the guest resumed,
 * else -errno with res->why; the VMM is then left waiting as it was.
 */
int dest_serve(int fd, const char *vmm_sock, int timeout_ms,
	       const struct dest_hooks *hk, struct dest_result *res);
/*
 * The same into a QEMU started with -incoming defer, whose QMP monitor
 * is @qmp_sock (dest_qemu.c): its shared RAM backends take the pages,
 * and QEMU loads the device state after the digests matched.
 */
int dest_serve_qemu(int fd, const char *qmp_sock, int timeout_ms,
		    const struct dest_hooks *hk, struct dest_result *res);
/* The connection loop both serve with their own target. */
int dest_run(int fd, const struct dest_target *target, int timeout_ms,
	     const struct dest_hooks *hk, struct dest_result *res);

#endif /* LT_AGENT_DEST_H */
