/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The reconcile pass: writes that KVM never logs.
 *
 * KVM's dirty log sees only writes made through the vCPUs' page tables.
 * A VMM's device emulation (virtio rings, block and NIC DMA into guest
 * buffers), vhost workers and the balloon write guest memory from the
 * host side, and a page written that way after it was sent would reach
 * the destination stale. So the source keeps a 64-bit hash (XXH3) of
 * every page as it sent it, and while the VM is paused for the final
 * round it hashes every page again, with several threads, and resends
 * each page whose hash changed.
 */
#ifndef LT_AGENT_RECONCILE_H
#define LT_AGENT_RECONCILE_H

#include <stdint.h>

/* The hash of one 4 KiB page, as recorded when it is sent. */
uint64_t page_hash(const void *page);
/* The hash of an all-zero page (a page sent without data). */
uint64_t zero_page_hash(void);

/*
 * Hashes pages [0, @npages) of @mem and sets, in @dirty (a bitmap of
 * @npages bits), every page whose hash differs from @sent[page] and that
 * is not already set. @threads workers (at least 1). Returns the pages
 * added.
 */
uint64_t reconcile_scan(const uint8_t *mem, uint64_t npages,
			const uint64_t *sent, uint64_t *dirty,
			unsigned int threads);

/* Worker threads the reconcile pass uses on this machine. */
unsigned int reconcile_threads(void);

#endif /* LT_AGENT_RECONCILE_H */
