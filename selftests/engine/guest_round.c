// SPDX-License-Identifier: GPL-2.0
/*
 * Pre-copy rounds against a running test-VMM guest (see guest_round.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest_abi.h"
#include "vmm.h"
#include "guest_round.h"

#define PAGE	4096

/*
 * The control block is written by the host program too (commands), and
 * host writes through the VMM's mapping are not KVM writes: never dirty.
 */
static int host_written(uint64_t gfn)
{
	return gfn >= LTG_CTL_GPA / PAGE && gfn < LTG_CTL_GPA / PAGE + 2;
}

int round_init(struct round_ctx *c, struct vmm *vm, struct ltnl *nl,
	       uint32_t id)
{
	memset(c, 0, sizeof(*c));
	c->vm = vm;
	c->nl = nl;
	c->id = id;
	c->mem = vmm_mem(vm);
	c->pages = vmm_mem_bytes(vm) / PAGE;
	c->copy = calloc(c->pages, PAGE);
	c->snap = malloc(c->pages * PAGE);
	c->first_missed_gfn = ~0ULL;
	c->epoch_timeout_ms = 10000;
	return c->copy && c->snap ? 0 : -ENOMEM;
}

/* Harvest, wait for the epoch, copy what it reported. */
static int harvest_and_copy(struct round_ctx *c, struct ltnl_harvest *h)
{
	uint64_t gfn;
	int ret;

	ret = ltnl_harvest(c->nl, c->id, 0, 0, h);
	if (ret)
		return ret;
	ret = ltnl_epoch_wait(c->nl, c->id, h->epoch, c->epoch_timeout_ms);
	if (ret)
		return ret;
	/* The epoch is complete: now the harvested pages may be read. */
	for (gfn = 0; gfn < c->pages; gfn++) {
		if (!ltnl_harvest_test(h, gfn))
			continue;
		memcpy(c->copy + gfn * PAGE, c->mem + gfn * PAGE, PAGE);
		c->harvested++;
	}
	return 0;
}

int round_once(struct round_ctx *c)
{
	struct ltnl_harvest h;
	uint8_t *changed;
	uint64_t gfn;
	int ret;

	/* Pages written since the snapshot, read before the harvest. */
	changed = calloc(c->pages, 1);
	if (!changed)
		return -ENOMEM;
	if (c->have_snap) {
		for (gfn = 0; gfn < c->pages; gfn++)
			changed[gfn] = !host_written(gfn) &&
				memcmp(c->snap + gfn * PAGE, c->mem + gfn * PAGE,
				       PAGE);
	}

	ret = harvest_and_copy(c, &h);
	if (ret)
		goto out;
	for (gfn = 0; gfn < c->pages; gfn++) {
		if (!changed[gfn])
			continue;
		c->changed++;
		if (!ltnl_harvest_test(&h, gfn)) {
			if (!c->missed)
				c->first_missed_gfn = gfn;
			c->missed++;
		}
	}
	ltnl_harvest_free(&h);
	memcpy(c->snap, c->mem, c->pages * PAGE);
	c->have_snap = 1;
	c->rounds++;
out:
	free(changed);
	return ret;
}

int round_final(struct round_ctx *c, uint64_t *mismatch)
{
	struct ltnl_harvest h;
	uint64_t gfn;
	int ret;

	ret = harvest_and_copy(c, &h);
	if (ret)
		return ret;
	ltnl_harvest_free(&h);
	*mismatch = 0;
	for (gfn = 0; gfn < c->pages; gfn++) {
		if (host_written(gfn))
			continue;
		if (memcmp(c->copy + gfn * PAGE, c->mem + gfn * PAGE, PAGE)) {
			if (!*mismatch && !c->missed)
				c->first_missed_gfn = gfn;
			(*mismatch)++;
		}
	}
	return 0;
}

void round_free(struct round_ctx *c)
{
	free(c->copy);
	free(c->snap);
	c->copy = NULL;
	c->snap = NULL;
}
