/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VMM's side of a migration, seen from the agent: status, pause,
 * resume, the vCPU state blob, restore. Spoken over the VMM's control
 * socket (the test VMM lt-vmm; a QEMU would take QMP stop/cont the same
 * way).
 */
#ifndef LT_AGENT_VMMHOOK_H
#define LT_AGENT_VMMHOOK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VMMHOOK_MAX_VCPUS	64

struct vmmhook_status {
	pid_t pid;
	int vm_fd;			/* VM fd number in the VMM */
	unsigned int nr_vcpus;
	uint64_t mem_bytes;
	char mem_path[256];
	char state[32];			/* running, paused, incoming, ... */
	/* each vCPU's thread, where the VMM says (lt-vmm's vcpu_tids) */
	unsigned int ntids;
	pid_t tids[VMMHOOK_MAX_VCPUS];
};

int vmmhook_status(const char *sock, struct vmmhook_status *st,
		   char *why, size_t why_len);
int vmmhook_pause(const char *sock, char *why, size_t why_len);
int vmmhook_resume(const char *sock, char *why, size_t why_len);
/* The paused VM's vCPU state; *blob is malloc'd. */
int vmmhook_save_state(const char *sock, uint8_t **blob, size_t *len,
		       char *why, size_t why_len);
/* Destination: load @blob into the incoming VM and run it. */
int vmmhook_restore(const char *sock, const uint8_t *blob, size_t len,
		    char *why, size_t why_len);

#endif /* LT_AGENT_VMMHOOK_H */
