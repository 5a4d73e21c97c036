/* SPDX-License-Identifier: GPL-2.0 */
/* The source side of a migration: pre-copy rounds, then switchover. */
#ifndef LT_AGENT_SOURCE_H
#define LT_AGENT_SOURCE_H

#include "ctl.h"

typedef void (*source_progress_fn)(void *arg, const struct ctl_migrate *m);

/*
 * Migrates the VM of process req->vm_pid, whose VMM answers on
 * req->vmm_sock, to the agent at req->target. Returns 0 when the
 * destination resumed the guest; otherwise -errno with a reason in @why,
 * the source VM running again and its trace stopped (or, failing after
 * RESUME without the destination's refusal, left paused:
 * out->source_left_paused). @out gets the figures either way.
 */
int source_migrate(const struct ctl_req *req, int peer_timeout_ms,
		   source_progress_fn progress, void *arg,
		   struct ctl_migrate *out, char *why, size_t why_len);

/*
 * Makes every running migration fail at its next check ("the agent is
 * stopping"), its VM running again and untraced, unless its switchover
 * already sent RESUME.
 */
void source_stop_all(void);

#endif /* LT_AGENT_SOURCE_H */
