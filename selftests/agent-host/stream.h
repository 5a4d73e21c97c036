/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Builds byte streams of the peer protocol, as a source agent would send
 * them, and an in-memory destination target: shared by the unit tests,
 * the fuzzer's seed corpus and the fuzzer itself.
 */
#ifndef LT_SELFTEST_STREAM_H
#define LT_SELFTEST_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "dest_session.h"
#include "wire.h"

#define MEM_SLOTS	2
#define MEM_SLOT_PAGES	48		/* not a multiple of 64 on purpose */
#define MEM_PAGES	(MEM_SLOTS * MEM_SLOT_PAGES)

struct stream {
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint32_t seq;
};

void stream_frame(struct stream *s, uint8_t type, uint16_t flags,
		  const void *payload, uint32_t len);
/*
 * A whole migration of @src (MEM_PAGES pages, two slots) in @rounds
 * rounds: round r sends the pages whose index is a multiple of r, the
 * last round all pages; then STATE and RESUME. All-zero pages go as zero
 * runs.
 */
void stream_migration(struct stream *s, const uint8_t *src, int rounds);
/* The same, offering @caps in HELLO and ending with RESUME @rs. */
void stream_migration_resume(struct stream *s, const uint8_t *src,
			     int rounds, uint64_t caps,
			     const struct wire_resume *rs);
void stream_free(struct stream *s);

struct mem_target {
	uint8_t mem[MEM_PAGES * WIRE_PAGE_SIZE];
	/* each slot's first gfn as the accepted LAYOUT gave it */
	uint64_t base_gfn[MEM_SLOTS];
	uint64_t writes;
	int refuse_layout;
	int resumed;
	size_t state_len;
};

void mem_target_init(struct mem_target *t, struct dest_target *ops);

/* Feeds a byte stream frame by frame; returns the first error or 0. */
int stream_feed(struct dest_session *s, const uint8_t *buf, size_t len,
		int check_crc, struct dest_reply *last_reply);

#endif /* LT_SELFTEST_STREAM_H */
