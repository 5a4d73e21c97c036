/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The destination side of a migration as a state machine over frames,
 * with no socket and no VMM in it: dest.c feeds it frames from the
 * network and gives it a target (where pages go), the fuzzer feeds it
 * arbitrary bytes and an in-memory target. Every frame is checked
 * against the state: a page must belong to the round's bitmap, arrive
 * once, and lie inside the layout that was accepted before any write.
 */
#ifndef LT_AGENT_DEST_SESSION_H
#define LT_AGENT_DEST_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define DEST_STATE_MAX		(64ULL << 20)	/* VMM state blob bound */
#define DEST_MAX_PAGES		(1ULL << 32)	/* 16 TiB of guest memory */

struct dest_target {
	void *ctx;
	/* Accept or refuse the source's layout; nothing is written before. */
	int (*layout)(void *ctx, const struct wire_layout *l,
		      char *why, size_t why_len);
	/* Writes @count pages at @gfn of slot @slot; @data NULL: zeroes. */
	int (*write)(void *ctx, uint32_t slot, uint64_t gfn, uint32_t count,
		     const uint8_t *data);
	/* Digest of all guest memory (wire_mem_digest()). */
	uint64_t (*digest)(void *ctx);
	/* Hands the memory and @state to the VMM and resumes the guest. */
	int (*resume)(void *ctx, const uint8_t *state, size_t len,
		      char *why, size_t why_len);
};

enum dest_phase {
	DEST_HELLO,		/* waiting for HELLO */
	DEST_LAYOUT,		/* waiting for LAYOUT */
	DEST_IDLE,		/* between rounds: ROUND, STATE or RESUME */
	DEST_ROUND,		/* in a round: BITMAP, PAGES, ROUND_END */
	DEST_DONE,		/* resumed; nothing more */
	DEST_FAILED,
};

struct dest_slot {
	uint64_t base_gfn;
	uint64_t npages;
	uint8_t *bm;		/* compacted bitmap being reassembled */
	uint64_t bm_total;
	uint64_t bm_got;
	int bm_ready;		/* decoded into dirty[] */
	uint64_t *dirty;	/* the round's bitmap, rebuilt */
	uint64_t *seen;		/* pages received this round */
	uint64_t ndirty;
	uint64_t nseen;
};

struct dest_stats {
	uint32_t rounds;
	uint64_t pages;
	uint64_t zero_pages;
	uint64_t bitmap_bytes;		/* compacted, as received */
	uint64_t bitmap_raw_bytes;	/* what raw bitmaps would have been */
	uint64_t state_bytes;
};

struct dest_session {
	const struct dest_target *target;
	enum dest_phase phase;
	uint32_t proto;
	uint64_t caps;
	char peer_software[WIRE_SOFTWARE_LEN + 1];
	struct wire_layout layout;
	struct dest_slot slots[WIRE_MAX_SLOTS];
	uint32_t round;
	int final_round;
	uint8_t *state;
	uint64_t state_total;
	uint64_t state_got;
	struct dest_stats stats;
	char why[WIRE_REASON_MAX + 1];	/* reason of the last failure */
};

/* A frame to send back; len bytes of payload in buf. */
struct dest_reply {
	uint8_t type;		/* 0: nothing to send */
	uint32_t len;
	uint8_t buf[64 + WIRE_REASON_MAX];
};

void dest_session_init(struct dest_session *s, const struct dest_target *t);
void dest_session_free(struct dest_session *s);
/*
 * Handles one frame whose header was parsed and CRC checked. Returns 0
 * (maybe with a reply to send) or -errno with s->why set: the caller
 * sends ERROR with that reason and closes.
 */
int dest_session_frame(struct dest_session *s, const struct wire_hdr *h,
		       const uint8_t *payload, struct dest_reply *r);

#endif /* LT_AGENT_DEST_SESSION_H */
