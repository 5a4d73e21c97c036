/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The end-to-end test bed of the agent suite: two network namespaces
 * joined by a veth pair, a source side (lt-vmm running the guest, a
 * loosetrace-agent) in one and a destination side (lt-vmm waiting for an
 * incoming guest, a loosetrace-agent taking it) in the other.
 */
#ifndef LT_SELFTEST_AGENT_ENV_H
#define LT_SELFTEST_AGENT_ENV_H

#include <stddef.h>
#include <sys/types.h>

#define SRC_IP		"10.77.0.1"
#define DST_IP		"10.77.0.2"
#define PEER_PORT	"7450"
#define DST_TARGET	DST_IP ":" PEER_PORT
/*
 * The agents' peer timeout (-t): far above any gap between two frames
 * of a migration in the emulator, switchover included.
 */
#define PEER_TIMEOUT_MS	15000

struct side {
	int netns;		/* fd of the namespace */
	pid_t vmm;
	pid_t agent;
	char vmm_sock[64];
	char agent_sock[64];
	char mem[64];
	char log[64];
};

struct bed {
	int init_ns;
	struct side src;
	struct side dst;
};

/* 0, or -1 with a reason on stderr. SKIP when there is no /dev/kvm. */
int bed_setup(struct bed *b);
void bed_teardown(struct bed *b);

/* lt-vmm on a side; extra arguments after the common ones, NULL-ended. */
int side_vmm(struct side *s, int incoming, unsigned int mib, ...);
int side_agent(struct side *s, int incoming, ...);
void side_kill(pid_t *pid, int sig);

/* One control-socket command; the reply line (without newline) in @out. */
int vmm_cmd(const char *sock, const char *cmd, char *out, size_t len);

/* Runs a program in @netns; stdout into @out, stderr into @err. Exit code. */
int run_in(int netns, char *out, size_t out_len, char *err, size_t err_len,
	   const char *const argv[]);
/* A JSON number or bare value after "key": in @json; 0 if absent. */
unsigned long long json_u64(const char *json, const char *key);
/* The number after "key": in vCPU @v's entry of a migration's throttle summary. */
unsigned long long vcpu_u64(const char *out, int v, const char *key);
int json_has(const char *json, const char *key, const char *value);
/* Prints a side's log as TAP comments. */
void dump_log(const char *path);
/* Waits until the VMM's writes (sum over vCPUs) reach @n. */
int vmm_wait_writes(const char *sock, unsigned long long n, int timeout_ms);
/* Waits for @n writes more than the VMM reports now. */
int vmm_wait_more_writes(const char *sock, unsigned long long n,
			 int timeout_ms);
/* The guest's writes so far (sum over vCPUs), or -1 if the VMM did not say. */
long long vmm_total_writes(const char *sock);

#endif /* LT_SELFTEST_AGENT_ENV_H */
