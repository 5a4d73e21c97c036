// SPDX-License-Identifier: GPL-2.0
/* When to stop pre-copy; see precopy.h. */
#include <stdio.h>

#include "precopy.h"

#define PRECOPY_PAGE_BYTES	4096.0
#define NS_PER_S		1e9

enum precopy_verdict precopy_next(struct precopy_state *s,
				  const struct precopy_policy *p,
				  const struct precopy_round *r)
{
	uint32_t max_rounds = p->max_rounds < 2 ? 2 : p->max_rounds;
	double final, scale;
	int fits;

	s->rounds++;
	/*
	 * The send rate of the round just sent, as QEMU measures it over its
	 * last iteration: it includes the per-round costs (harvest, epoch,
	 * ack) that the final round pays too, and follows how much of the
	 * machine the running guest leaves to the agent now.
	 */
	s->rate_bps = p->rate_bps ? p->rate_bps : r->send_ns ?
		      (uint64_t)(r->bytes * NS_PER_S / r->send_ns) : 0;

	if (s->rounds == 1 || !r->interval_ns) {
		/* all of memory: it says nothing about the dirty rate yet */
		s->smallest = r->dirty_pages;
		s->flat = 0;
		s->dirty_rate = 0;
		s->final_pages = 0;
		s->final_ms = 0;
		return s->rounds + 1 >= max_rounds ? PRECOPY_ROUND_LIMIT :
						     PRECOPY_CONTINUE;
	}

	s->dirty_rate = (uint64_t)(r->dirty_pages * NS_PER_S / r->interval_ns);
	/*
	 * The final round sends what the guest dirtied while this round was
	 * sent. This round's count covers interval_ns: scaled up when
	 * sending took longer, and not scaled down when it was quicker (a
	 * hot set is dirtied again in full long before the interval ends).
	 */
	scale = (double)r->send_ns / r->interval_ns;
	final = r->dirty_pages * (scale > 1 ? scale : 1);
	s->final_pages = (uint64_t)(final + 0.5);
	s->final_ms = s->rate_bps ? (uint64_t)(final * PRECOPY_PAGE_BYTES *
					       1000 / s->rate_bps + 0.5) :
				    UINT64_MAX;

	if (r->dirty_pages * 100 <
	    s->smallest * (100 - (uint64_t)p->shrink_pct))
		s->flat = 0;
	else
		s->flat++;
	if (r->dirty_pages < s->smallest)
		s->smallest = r->dirty_pages;

	fits = s->rate_bps && p->fixed_ms <= p->downtime_ms &&
	       final * PRECOPY_PAGE_BYTES * 1000 <=
	       (double)(p->downtime_ms - p->fixed_ms) * s->rate_bps;
	if (fits || !s->final_pages)
		return PRECOPY_FITS;
	if (s->flat >= (p->flat_rounds ?: 1))
		return PRECOPY_STALLED;
	if (s->rounds + 1 >= max_rounds)
		return PRECOPY_ROUND_LIMIT;
	return PRECOPY_CONTINUE;
}

void precopy_reason(const struct precopy_state *s,
		    const struct precopy_policy *p, enum precopy_verdict v,
		    char *buf, unsigned int len)
{
	switch (v) {
	case PRECOPY_FITS:
		snprintf(buf, len,
			 "fits the %u ms downtime target: final round ~%llu pages, ~%llu ms at %.2f MB/s, + %llu ms reconcile scan",
			 p->downtime_ms, (unsigned long long)s->final_pages,
			 (unsigned long long)s->final_ms, s->rate_bps / 1e6,
			 (unsigned long long)p->fixed_ms);
		break;
	case PRECOPY_STALLED:
		snprintf(buf, len,
			 "dirty set stopped shrinking: %u rounds without a %u%% decrease below %llu pages",
			 s->flat, p->shrink_pct,
			 (unsigned long long)s->smallest);
		break;
	case PRECOPY_ROUND_LIMIT:
		snprintf(buf, len, "round limit %u (the final round included)",
			 p->max_rounds < 2 ? 2 : p->max_rounds);
		break;
	default:
		snprintf(buf, len, "still iterating");
		break;
	}
}
