/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small client of the "loosetrace" generic netlink family for the
 * engine selftests and the engine benchmark (libnl-genl-3). Every call
 * returns 0 or the negative errno the kernel answered with; the kernel's
 * extended-ack message, if any, is left in ltnl.err.
 */
#ifndef _LOOSETRACE_LTNL_H
#define _LOOSETRACE_LTNL_H

#include <stdint.h>
#include <linux/loosetrace.h>

struct nl_sock;

struct ltnl {
	struct nl_sock *sk;
	int family;
	int events_grp;
	char err[256];		/* extended-ack message of the last error */
};

/* A raw attribute for requests that must be malformed on purpose. */
enum ltnl_kind {
	LTNL_U8, LTNL_U32, LTNL_S32, LTNL_U64, LTNL_FLAG,
	LTNL_HVA_RANGE,		/* a LOOSETRACE_A_HVA_RANGE nest: val, val2 */
};

struct ltnl_attr {
	int type;
	enum ltnl_kind kind;
	uint64_t val;
	uint64_t val2;		/* LTNL_HVA_RANGE: the length */
};

/* Decoded harvest of one memslot. */
struct ltnl_hslot {
	uint32_t slot;
	uint64_t base_gfn;
	uint64_t npages;
	uint64_t userspace_addr;
	uint64_t *bitmap;	/* npages bits */
	uint64_t dirty;		/* bits set */
	uint64_t encoded;	/* compacted bytes */
	uint8_t *enc;		/* being reassembled */
	uint64_t enc_got;
};

#define LTNL_MAX_SLOTS	64	/* a QEMU pc guest with std VGA has 16 */

struct ltnl_harvest {
	uint64_t epoch;
	uint64_t memslot_gen;
	unsigned int nr;
	struct ltnl_hslot slots[LTNL_MAX_SLOTS];
};

struct ltnl_vm_info {
	uint32_t id, pid, vcpus, trace_state, mode, deadline_us, pending;
	uint32_t chunk_pages;
	uint64_t epoch, epoch_done, memslot_gen;
	unsigned int nr_slots;
	struct {
		uint32_t id, flags, traced;
		uint64_t base_gfn, npages, userspace_addr;
	} slots[LTNL_MAX_SLOTS];
};

int ltnl_open(struct ltnl *nl);
void ltnl_close(struct ltnl *nl);

/* Any command with any attributes; the reply is ignored. */
int ltnl_raw(struct ltnl *nl, uint8_t cmd, const struct ltnl_attr *a, int n);

int ltnl_attach(struct ltnl *nl, int fd, uint32_t *id);
int ltnl_detach(struct ltnl *nl, uint32_t id);
int ltnl_trace_start(struct ltnl *nl, uint32_t id, uint32_t mode,
		     uint32_t deadline_us);
/* chunk_pages 0: leave LOOSETRACE_A_CHUNK_PAGES out (the default). */
int ltnl_trace_start_chunk(struct ltnl *nl, uint32_t id, uint32_t mode,
			   uint32_t deadline_us, uint32_t chunk_pages);
int ltnl_trace_stop(struct ltnl *nl, uint32_t id);
int ltnl_epoch_get(struct ltnl *nl, uint32_t id, uint64_t *started,
		   uint64_t *done, uint32_t *pending);
/* Polls EPOCH_GET until @epoch is done: 0, -ETIMEDOUT or an error. */
int ltnl_epoch_wait(struct ltnl *nl, uint32_t id, uint64_t epoch,
		    unsigned int timeout_ms);
/* stats[LOOSETRACE_STAT_*] */
int ltnl_stats(struct ltnl *nl, uint32_t id,
	       uint64_t stats[LOOSETRACE_STAT_MAX + 1]);
int ltnl_vm_get(struct ltnl *nl, uint32_t id, struct ltnl_vm_info *vi);
/* Number of VMs a VM_GET dump lists. */
int ltnl_vm_count(struct ltnl *nl);
/* gfn_count 0: every memslot. */
int ltnl_harvest(struct ltnl *nl, uint32_t id, uint64_t gfn_start,
		 uint64_t gfn_count, struct ltnl_harvest *h);
void ltnl_harvest_free(struct ltnl_harvest *h);
/* Is @gfn dirty in @h? */
int ltnl_harvest_test(const struct ltnl_harvest *h, uint64_t gfn);

/* Joins the "events" group: this socket then receives events. */
int ltnl_events_join(struct ltnl *nl);
/*
 * Waits for event @cmd about VM @id; stores its DETACH_REASON, EPOCH, or
 * for LAYOUT_CHANGED the memslot id << 8 | LAYOUT_EVENT, in *val. 0,
 * -ETIMEDOUT or an error.
 */
int ltnl_event_wait(struct ltnl *nl, uint8_t cmd, uint32_t id,
		    uint64_t *val, unsigned int timeout_ms);

#endif /* _LOOSETRACE_LTNL_H */
