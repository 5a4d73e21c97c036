/* SPDX-License-Identifier: GPL-2.0 */
/*
 * When to stop pre-copy: a pure decision over the history of rounds, so
 * that it can be tested with scripted histories and no VM.
 *
 * After each pre-copy round the source asks precopy_next() whether to go
 * on. It stops when
 *  - the final round fits the downtime target: the pages the final round
 *    will send (those dirtied while this round was sent, estimated from
 *    this round's dirty count scaled by how long it took to send) at the
 *    send rate of this round, plus the switchover's fixed costs (the
 *    reconcile scan), take no longer than the target; or
 *  - the dirty set stopped shrinking: @flat_rounds rounds in a row none
 *    of which got below the smallest dirty set seen by at least
 *    @shrink_pct percent (the guest dirties memory as fast as it is sent:
 *    more rounds only cost time); or
 *  - one more round would pass the round limit, which counts the final
 *    round too (a safety net).
 */
#ifndef LT_AGENT_PRECOPY_H
#define LT_AGENT_PRECOPY_H

#include <stdint.h>

#define PRECOPY_DEFAULT_SHRINK_PCT	10
#define PRECOPY_DEFAULT_FLAT_ROUNDS	2

struct precopy_policy {
	uint32_t downtime_ms;		/* target for the final round */
	uint32_t max_rounds;		/* all rounds, the final one included */
	uint32_t shrink_pct;		/* a meaningful decrease, percent */
	uint32_t flat_rounds;		/* rounds without one before stopping */
	uint64_t rate_bps;		/* assumed send rate; 0: measured */
	uint64_t fixed_ms;		/* switchover costs beside the transfer */
};

/* What one finished pre-copy round measured. */
struct precopy_round {
	uint64_t dirty_pages;		/* harvested and sent in this round */
	uint64_t bytes;			/* on the wire in this round */
	uint64_t send_ns;		/* harvest to the destination's ack */
	uint64_t interval_ns;		/* since the previous harvest; 0 first */
};

enum precopy_verdict {
	PRECOPY_CONTINUE,
	PRECOPY_FITS,			/* final round fits the downtime */
	PRECOPY_STALLED,		/* dirty set stopped shrinking */
	PRECOPY_ROUND_LIMIT,
};

/* Running state: zero it before the first round. */
struct precopy_state {
	uint32_t rounds;		/* pre-copy rounds seen */
	uint32_t flat;			/* rounds in a row without progress */
	uint64_t smallest;		/* smallest dirty set so far */
	/* figures of the last decision, for progress and the summary */
	uint64_t rate_bps;		/* send rate used */
	uint64_t dirty_rate;		/* pages dirtied per second */
	uint64_t final_pages;		/* the final round, estimated */
	uint64_t final_ms;		/* its estimated transfer time */
};

/* Records @r and decides; fills the figures in @s. */
enum precopy_verdict precopy_next(struct precopy_state *s,
				  const struct precopy_policy *p,
				  const struct precopy_round *r);

/* Why pre-copy stopped, in words, with the figures behind it. */
void precopy_reason(const struct precopy_state *s,
		    const struct precopy_policy *p, enum precopy_verdict v,
		    char *buf, unsigned int len);

#endif /* LT_AGENT_PRECOPY_H */
