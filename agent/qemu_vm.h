/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A QEMU guest as loosetrace moves it: its RAM in shared memory backends
 * the agents copy, everything else (vCPU and device state, ROMs, ACPI,
 * vram) left to QEMU's own migration with x-ignore-shared. Before any page
 * is sent, qemu_inspect() finds those backends and where QEMU maps them,
 * and refuses a guest that cannot be moved this way, saying what to
 * change (Documentation/qemu.rst lists every refusal).
 */
#ifndef LT_AGENT_QEMU_VM_H
#define LT_AGENT_QEMU_VM_H

#include <stdint.h>
#include <sys/types.h>

#include "qmp.h"

#define QEMU_MAX_REGIONS	16

/* One shared RAM backend: a region of the migration. */
struct qemu_region {
	char id[64];		/* memdev id, which is QEMU's RAMBlock name */
	char type[40];		/* memory-backend-file, -memfd, -ram */
	char path[256];		/* mem-path of a file backend, else "" */
	uint64_t size;
	uint64_t hva;		/* where the QEMU process maps it */
};

struct qemu_vm {
	pid_t pid;
	int major, minor, micro;	/* QEMU's version */
	char status[32];		/* query-status: running, paused... */
	unsigned int nregions;
	struct qemu_region regions[QEMU_MAX_REGIONS];
};

/*
 * Inspects the QEMU behind @q. @pid: the VMM process the operator named
 * (0: take the socket's peer). Returns 0, or a negative errno with the
 * reason, and what to change, in @why:
 *   -EINVAL   the QMP socket belongs to another process, or a RAM
 *             backend is private (share=off) or of a kind x-ignore-shared
 *             skips no more (memfd on QEMU >= 8.1)
 *   -EBUSY    QEMU's own migration, or a dirty-rate measurement, runs
 *   -EPERM    QEMU reports migration blockers (blocked-reasons)
 *   -EOPNOTSUPP  a VFIO device is assigned (its DMA escapes the trace)
 *   -ENOENT   a backend's mapping is not found in the process
 *   -EIO      QMP failed
 */
int qemu_inspect(struct qmp *q, pid_t pid, struct qemu_vm *vm, char *why,
		 size_t len);

#endif /* LT_AGENT_QEMU_VM_H */
