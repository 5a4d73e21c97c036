/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Asks loosetrace.ko for its status over generic netlink (libnl-genl-3).
 * Shared by the module selftests and the loosetrace-status tool.
 */
#ifndef _LOOSETRACE_GENL_STATUS_H
#define _LOOSETRACE_GENL_STATUS_H

#include <stdint.h>

struct lt_status {
	char module_version[64];
	char kernel_release[128];
	uint32_t proto_version;
	uint32_t vm_count;
	uint32_t bitmap_version;
	int has_proto_version;
	int has_vm_count;
	int has_bitmap_version;
};

/*
 * The "loosetrace" family's id, or a negative errno: -ENOENT when the
 * family is not registered (the module is not loaded).
 */
int lt_family_id(void);

/* The id of the family's "events" multicast group, or a negative errno. */
int lt_events_group_id(void);

/* Sends STATUS_GET and parses the answer. 0 or a negative errno. */
int lt_status_get(struct lt_status *st);

/*
 * Sends command @cmd with no attributes and waits for the kernel's
 * acknowledgment: 0 or the negative errno the kernel answered with.
 */
int lt_send_cmd(uint8_t cmd);

#endif /* _LOOSETRACE_GENL_STATUS_H */
