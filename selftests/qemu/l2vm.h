/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An unmodified QEMU running the QEMU test guest (tools/qemu-guest):
 * Debian's kernel, a busybox initramfs and lt-qguest, with its RAM in a
 * shared file, its console in a file, lt-qguest's control port on a
 * socket and QMP on another.
 */
#ifndef _LOOSETRACE_L2VM_H
#define _LOOSETRACE_L2VM_H

#include <stdint.h>
#include <sys/types.h>

#include "qmp.h"

/* Where the test VM's initramfs holds the guest (selftests/qemu/initramfs.sh). */
#define L2_KERNEL	"/lib/qemu-guest/vmlinuz"
#define L2_INITRD	"/lib/qemu-guest/initrd.cpio.gz"
#define L2_QEMU		"qemu-system-x86_64"

struct l2vm_cfg {
	const char *name;	/* short, unique per test: "src", "dst" */
	const char *machine;	/* "pc" or "q35" */
	const char *vga;	/* "none" or "std" */
	const char *ram_path;	/* the shared RAM file (memory-backend-file) */
	unsigned int ram_mib;	/* guest RAM */
	unsigned int buf_mib;	/* lt-qguest's buffer */
	int incoming;		/* -incoming defer -S: a migration target */
};

struct l2vm {
	pid_t pid;
	char dir[64];		/* sockets, console and QEMU's output */
	char qmp_path[96];
	char ctl_path[96];
	char mig_path[96];	/* where a migration target listens */
	struct qmp qmp;
	int ctl_fd;
	unsigned int seq;
	size_t ctl_len;
	char ctl_buf[1024];
	char err[256];
};

/* Why the environment cannot run a QEMU guest, or NULL if it can. */
const char *l2vm_missing(void);

/*
 * Starts QEMU and connects to its QMP and control sockets. 0, or -1
 * with the reason in vm->err (QEMU's own output is in vm->dir/qemu.log).
 */
int l2vm_start(struct l2vm *vm, const struct l2vm_cfg *cfg);
/* Kills QEMU (if still running) and removes vm->dir. */
void l2vm_stop(struct l2vm *vm);
/* Prints the tails of QEMU's output and of the guest console as "# ". */
void l2vm_dump(struct l2vm *vm);

/*
 * Sends lt-qguest command @cmd and waits for its "ok" reply: 0 with the
 * reply (after "ok <seq> ") in @reply, -1 with the reason in vm->err.
 */
int l2vm_ctl(struct l2vm *vm, const char *cmd, char *reply, size_t len,
	     int timeout_ms);
/* Waits until lt-qguest answers (it answers once its buffer is full). */
int l2vm_wait_ready(struct l2vm *vm, int timeout_ms);
/* The number after "key=" in a reply; -1 if absent. */
int l2vm_value(const char *reply, const char *key, uint64_t *val);

/* Polls query-status until it reads @status; 0 or -1 (vm->err). */
int l2vm_wait_status(struct l2vm *vm, const char *status, int timeout_ms);

struct l2vm_map {
	uint64_t start, end;	/* QEMU's mapping of the file */
	uint64_t pgoff;		/* file offset of start */
};

/* QEMU's one mapping of @path from /proc/PID/maps: 0, or -1 (vm->err). */
int l2vm_find_map(struct l2vm *vm, const char *path, struct l2vm_map *m);

#endif /* _LOOSETRACE_L2VM_H */
