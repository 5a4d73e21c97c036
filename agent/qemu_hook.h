/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VMM operations of a migration, spoken to an unmodified QEMU over
 * QMP (the test VMM's are in vmmhook.h). The agents move the guest's
 * shared RAM; QEMU's own migration, with x-ignore-shared, carries the
 * vCPU and device state and the small private blocks (ROMs, ACPI, vram)
 * as one stream, which the agents carry as the migration's state blob.
 * Each call opens its own QMP connection: a QMP socket serves one
 * client at a time, and the agent holds none between steps.
 */
#ifndef LT_AGENT_QEMU_HOOK_H
#define LT_AGENT_QEMU_HOOK_H

#include <stddef.h>
#include <stdint.h>

/* QMP stop: every vCPU out, devices quiesced, block I/O drained. */
int qemu_hook_pause(const char *sock, char *why, size_t why_len);
/* QMP cont, then announce-self (the network learns where it runs). */
int qemu_hook_resume(const char *sock, char *why, size_t why_len);
/*
 * Source, guest paused: QEMU's migration of everything but the shared
 * RAM into *blob (malloc'd).
 */
int qemu_hook_save_devices(const char *sock, uint8_t **blob, size_t *len,
			   char *why, size_t why_len);
/*
 * Destination, a QEMU started with -incoming defer (and -S): loads @blob,
 * its shared RAM already final, then runs the guest.
 */
int qemu_hook_load_devices(const char *sock, const uint8_t *blob,
			   size_t len, char *why, size_t why_len);

#endif /* LT_AGENT_QEMU_HOOK_H */
