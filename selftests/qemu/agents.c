// SPDX-License-Identifier: GPL-2.0
/* Two loosetrace-agents and agentctl migrate. See agents.h. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "agents.h"

int lt_agent_start(struct lt_agent *a, const char *name, const char *port,
		   const char *incoming_qmp)
{
	struct stat st;
	int i, fd;

	snprintf(a->port, sizeof(a->port), "%s", port);
	snprintf(a->sock, sizeof(a->sock), "/tmp/ltq-agent-%s.sock", name);
	snprintf(a->log, sizeof(a->log), "/tmp/ltq-agent-%s.log", name);
	unlink(a->sock);
	fflush(NULL);
	a->pid = fork();
	if (a->pid < 0)
		return -1;
	if (!a->pid) {
		/* an agent must not outlive the program that started it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(a->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (incoming_qmp)
			execlp("loosetrace-agent", "loosetrace-agent", "-v",
			       "-s", a->sock, "-l", "127.0.0.1", "-p", port,
			       "--incoming-qmp", incoming_qmp, (char *)NULL);
		else
			execlp("loosetrace-agent", "loosetrace-agent", "-v",
			       "-s", a->sock, "-l", "127.0.0.1", "-p", port,
			       (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		if (!stat(a->sock, &st))
			return 0;
		usleep(100000);
	}
	return -1;
}

void lt_agent_stop(struct lt_agent *a)
{
	if (a->pid > 0) {
		kill(a->pid, SIGTERM);
		waitpid(a->pid, NULL, 0);
	}
	a->pid = 0;
	if (a->sock[0])
		unlink(a->sock);
}

void lt_agent_dump(const struct lt_agent *a, const char *what)
{
	char line[512];
	FILE *f = fopen(a->log, "r");

	if (!f)
		return;
	printf("# %s:\n", what);
	while (fgets(line, sizeof(line), f))
		printf("#   %s", line);
	fclose(f);
}

int lt_agent_migrate(const struct lt_agent *src, const struct lt_agent *dst,
		     pid_t vm, const char *qmp, int json, int echo,
		     char *out, size_t len, const char *const *extra)
{
	char cmd[1024];
	size_t n = 0, off;
	FILE *p;
	int st;

	off = snprintf(cmd, sizeof(cmd),
		       "agentctl %s-s %s migrate --vm %d --to 127.0.0.1:%s --qmp %s",
		       json ? "-j " : "", src->sock, (int)vm, dst->port, qmp);
	while (extra && *extra && off < sizeof(cmd))
		off += snprintf(cmd + off, sizeof(cmd) - off, " %s", *extra++);
	if (off + 6 >= sizeof(cmd))
		return -1;
	strcat(cmd, " 2>&1");
	fflush(NULL);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (n + 1 < len && fgets(out + n, len - n, p)) {
		if (echo) {
			fputs(out + n, stdout);
			fflush(stdout);
		}
		n += strlen(out + n);
	}
	out[n] = '\0';
	/* drain what did not fit */
	while (fgets(cmd, sizeof(cmd), p))
		if (echo)
			fputs(cmd, stdout);
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
