/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the QEMU selftests: boot the test guest in an
 * unmodified QEMU (l2vm.h) and ask it to verify its memory.
 */
#ifndef _LOOSETRACE_QEMU_TEST_H
#define _LOOSETRACE_QEMU_TEST_H

#include <stdio.h>
#include <unistd.h>

#include "l2vm.h"

/* Small: every guest write is a nested fault under the test VM's emulator. */
#define L2_RAM_MIB	128
#define L2_BUF_MIB	32
/* The test guest on @machine ("pc", "q35") with @vga ("none", "std"). */
#define L2_CFG(machine_, vga_) {					\
	.machine = (machine_), .vga = (vga_),				\
	.ram_mib = L2_RAM_MIB, .buf_mib = L2_BUF_MIB,			\
}
/*
 * Boot to lt-qguest's first answer: 20 to 40 s on the one-CPU test VM
 * run_checks.sh boots for this suite. On a two-CPU test VM most boots
 * hang, the emulator delivering an interrupt inside its own handler
 * (Documentation/qemu.rst); a boot that still hangs is given up after
 * L2_BOOT_MS and started again, at most L2_BOOT_TRIES times.
 */
#define L2_BOOT_MS	180000
#define L2_BOOT_TRIES	4
#define L2_CTL_MS	60000
/*
 * The downtime target agentctl migrate gets: the emulator's, not a
 * host's. Two agents and two QEMUs on the test VM's one CPU carry about
 * 10 MB/s, about what the guest dirties, and a final round of a few
 * thousand pages takes seconds there.
 */
#define L2_DOWNTIME_MS	"10000"

static inline void l2_ram_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "/dev/shm/ltq-%d-%s.ram", (int)getpid(), name);
}

/* Boots QEMU and waits for the guest; 0, or -1 with the reason in vm->err. */
static inline int l2_boot(struct l2vm *vm, const struct l2vm_cfg *cfg)
{
	int try;

	for (try = 1;; try++) {
		unlink(cfg->ram_path);
		if (l2vm_start(vm, cfg)) {
			l2vm_dump(vm);
			return -1;
		}
		if (!l2vm_wait_ready(vm, L2_BOOT_MS))
			return 0;
		printf("# %s: boot %d of %d: %s\n", cfg->name, try,
		       L2_BOOT_TRIES, vm->err);
		l2vm_dump(vm);
		if (try == L2_BOOT_TRIES)
			return -1;
		l2vm_stop(vm);
	}
}

/*
 * Asks the guest to verify all of its buffer: 0 and the verdict in
 * @reply if it passed, -1 if it failed or did not answer.
 */
static inline int l2_verify(struct l2vm *vm, char *reply, size_t len)
{
	if (l2vm_ctl(vm, "verify", reply, len, L2_CTL_MS)) {
		snprintf(reply, len, "%s", vm->err);
		return -1;
	}
	return strncmp(reply, "verdict=pass ", 13) ? -1 : 0;
}

#endif /* _LOOSETRACE_QEMU_TEST_H */
