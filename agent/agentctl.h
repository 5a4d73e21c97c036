/* SPDX-License-Identifier: GPL-2.0 */
/* agentctl: shared declarations of the subcommands (one file each). */
#ifndef LT_AGENT_AGENTCTL_H
#define LT_AGENT_AGENTCTL_H

#include "ctl.h"

/* Exit codes, documented in agentctl(8). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* the operation failed; reason on stderr */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_NOAGENT = 3,	/* loosetrace-agent not reachable */
	EXIT_PERM = 4,		/* permission denied */
};

struct subcmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
	const char *help;
};

extern int opt_json;
extern const char *opt_socket;

typedef void (*ctl_progress_fn)(const struct ctl_reply *rep, void *arg);

/* One request to the agent; returns an exit code, errors on stderr. */
int ctl_call(struct ctl_req *req, struct ctl_reply *rep,
	     ctl_progress_fn progress, void *arg);
/* Parses "--vm PID" style options common to the commands. */
int parse_u32(const char *what, const char *s, uint32_t *out);
int parse_mode(const char *s, uint32_t *mode);
/* "--vm PID" alone; returns 0 or an exit code. */
int parse_vm_only(const struct subcmd *c, int argc, char **argv,
		  uint32_t *pid);
int usage_error(const struct subcmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

int cmd_status(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_harvest(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_check(int argc, char **argv);

extern const struct subcmd subcmds[];
const struct subcmd *subcmd_find(const char *name);

#endif /* LT_AGENT_AGENTCTL_H */
