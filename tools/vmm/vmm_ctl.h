/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lt-vmm's control protocol: one command per line on a Unix stream
 * socket, one reply line per command, starting with "ok" or "err".
 * See Documentation/test-vmm.rst for the commands.
 */
#ifndef LTVMM_VMM_CTL_H
#define LTVMM_VMM_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm.h"

struct ltvmm_ctl_ctx {
	struct vmm *vm;
	const char *control_path;
	unsigned int timeout_ms;	/* for pause and verify */
	bool quit;			/* a "quit" was served */
	bool verify_failed;		/* the last verify found bad pages */
};

/* The status line without its "ok ": key=value pairs. */
void ltvmm_status_line(struct ltvmm_ctl_ctx *c, char *buf, size_t len);
/* Runs one command; writes the reply line (without newline) to reply. */
void ltvmm_ctl_command(struct ltvmm_ctl_ctx *c, char *line, char *reply,
		       size_t len);
/* One human line for a verdict. */
void ltvmm_verdict_line(const struct vmm_verdict *v, char *buf, size_t len);

#endif /* LTVMM_VMM_CTL_H */
