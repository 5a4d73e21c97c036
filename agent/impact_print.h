/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest impact figures for people (a table) and for scripts (-j): one
 * window of per-vCPU counters, for agentctl migrate's summary and for
 * agentctl top's intervals.
 */
#ifndef LT_AGENT_IMPACT_PRINT_H
#define LT_AGENT_IMPACT_PRINT_H

#include "ctl.h"

struct impact_row {
	uint32_t vcpu_id;
	uint32_t tid;
	struct ctl_impact_win w;
};

/* The table's heading (human output only). */
void impact_print_header(void);
/*
 * One window of @ns nanoseconds. JSON: its members, in an object the
 * caller opened ("window" if @name, "ms", "total", "vcpus"). Human: its
 * rows, the total last.
 */
void impact_print_window(const char *name, uint32_t isa, uint64_t ns,
			 const struct impact_row *r, uint32_t n);
/* The "guest_impact" object of a migration summary. */
void impact_print_migrate(const struct ctl_migrate *m);

#endif /* LT_AGENT_IMPACT_PRINT_H */
