/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pre-copy rounds against a running test-VMM guest, checked page by page.
 *
 * Each round: (1) before the harvest, every page whose content differs
 * from the snapshot taken after the previous epoch completed was written
 * after that epoch's traces were installed, so the harvest MUST report it
 * (otherwise it is counted as missed); (2) harvest; (3) wait for the
 * epoch; (4) copy the harvested pages into a "destination" copy, as a
 * migration would; (5) snapshot all of memory. At the end, with the guest
 * paused, a final harvest and copy must leave the copy identical to the
 * guest's memory: a page that differs was written and never reported.
 */
#ifndef _LOOSETRACE_GUEST_ROUND_H
#define _LOOSETRACE_GUEST_ROUND_H

#include <stdint.h>

#include "ltnl.h"

struct vmm;

struct round_ctx {
	struct vmm *vm;
	struct ltnl *nl;
	uint32_t id;
	uint8_t *mem;		/* the guest's memory (slot 0, gpa 0) */
	uint64_t pages;
	uint8_t *copy;		/* the destination's copy */
	uint8_t *snap;		/* memory after the last completed epoch */
	int have_snap;
	uint64_t rounds;
	uint64_t missed;	/* changed after an epoch, not harvested */
	uint64_t changed;	/* pages that changed between rounds */
	uint64_t harvested;	/* dirty pages reported */
	uint64_t first_missed_gfn;
	unsigned int epoch_timeout_ms;
};

int round_init(struct round_ctx *c, struct vmm *vm, struct ltnl *nl,
	       uint32_t id);
/* One round; 0 or an error (the harvest or the epoch failed). */
int round_once(struct round_ctx *c);
/*
 * With the guest paused: the last harvest and copy, then the count of
 * pages whose copy differs from memory in *mismatch.
 */
int round_final(struct round_ctx *c, uint64_t *mismatch);
void round_free(struct round_ctx *c);

#endif /* _LOOSETRACE_GUEST_ROUND_H */
