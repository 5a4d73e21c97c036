// SPDX-License-Identifier: GPL-2.0
/*
 * The pre-copy stop rule (agent/precopy.c) on scripted round histories:
 * each test feeds the rounds a migration could measure and checks after
 * which round, and why, pre-copy stops.
 */
#include <string.h>

#include "kselftest_harness.h"
#include "precopy.h"

#define MS		1000000ULL	/* ns */
#define PAGE		4096ULL
/* 4 MB/s: what a page costs on the wire, plus nothing else */
#define RATE		4000000ULL

/* |a - b| <= tol, for figures that are rounded */
static int near(uint64_t a, uint64_t b, uint64_t tol)
{
	return a + tol >= b && a <= b + tol;
}

struct step {
	uint64_t dirty;
	uint64_t send_ms;
};

/*
 * Feeds @n rounds; each round's interval is the previous round's send
 * time plus @gap_ms (harvests follow each other back to back). Returns
 * the verdict of the round where it stopped (1-based in *at), or
 * PRECOPY_CONTINUE with *at = 0 if it never stopped.
 */
static enum precopy_verdict feed(const struct precopy_policy *p,
				 const struct step *steps, int n,
				 uint64_t gap_ms, struct precopy_state *s,
				 int *at)
{
	struct precopy_round r;
	enum precopy_verdict v;
	uint64_t prev_send = 0;
	int i;

	memset(s, 0, sizeof(*s));
	*at = 0;
	for (i = 0; i < n; i++) {
		r.dirty_pages = steps[i].dirty;
		r.bytes = steps[i].dirty * PAGE;
		r.send_ns = steps[i].send_ms * MS;
		r.interval_ns = i ? (prev_send + gap_ms) * MS : 0;
		prev_send = steps[i].send_ms;
		v = precopy_next(s, p, &r);
		if (v != PRECOPY_CONTINUE) {
			*at = i + 1;
			return v;
		}
	}
	return PRECOPY_CONTINUE;
}

/* Send time of @pages at RATE, in ms. */
static uint64_t t(uint64_t pages)
{
	return pages * PAGE * 1000 / RATE;
}

static const struct precopy_policy policy = {
	.downtime_ms = 300,
	.max_rounds = 30,
	.shrink_pct = PRECOPY_DEFAULT_SHRINK_PCT,
	.flat_rounds = PRECOPY_DEFAULT_FLAT_ROUNDS,
};

/* A hot set plus a trickle: each round a fraction of the last. */
TEST(converging_stops_when_final_round_fits)
{
	const struct step h[] = {
		{ 16384, t(16384) }, { 2400, t(2400) }, { 700, t(700) },
		{ 290, t(290) }, { 280, t(280) },
	};
	struct precopy_state s;
	char why[160];
	int at;

	/* 700 pages ~ 717 ms at 4 MB/s: too many; 290 ~ 290 ms fits */
	ASSERT_EQ(PRECOPY_FITS, feed(&policy, h, 5, 5, &s, &at));
	ASSERT_EQ(4, at);
	ASSERT_EQ(290, s.final_pages);
	ASSERT_GE(300, s.final_ms);
	EXPECT_TRUE(near(RATE, s.rate_bps, RATE / 20));
	/* 290 pages over the ~722 ms since the previous harvest */
	EXPECT_TRUE(near(290 * 1000 / (t(700) + 5), s.dirty_rate, 2));
	precopy_reason(&s, &policy, PRECOPY_FITS, why, sizeof(why));
	ASSERT_NE(NULL, strstr(why, "300 ms downtime"));
	ASSERT_NE(NULL, strstr(why, "~290 pages"));
}

/*
 * The reconcile scan is paid at switchover too: with 100 ms of it, the
 * final round must fit in the 200 ms left, one round later than above.
 */
TEST(fixed_switchover_cost_counts)
{
	const struct step h[] = {
		{ 16384, t(16384) }, { 2400, t(2400) }, { 700, t(700) },
		{ 290, t(290) }, { 180, t(180) },
	};
	struct precopy_policy p = policy;
	struct precopy_state s;
	char why[200];
	int at;

	p.fixed_ms = 100;
	ASSERT_EQ(PRECOPY_FITS, feed(&p, h, 5, 5, &s, &at));
	ASSERT_EQ(5, at);
	ASSERT_GE(200, s.final_ms);
	precopy_reason(&s, &p, PRECOPY_FITS, why, sizeof(why));
	ASSERT_NE(NULL, strstr(why, "100 ms reconcile"));
	/* a scan longer than the target itself: never fits */
	p.fixed_ms = 301;
	ASSERT_NE(PRECOPY_FITS, feed(&p, h, 5, 5, &s, &at));
}

/* Uniform random writes: every round dirties nearly all of memory. */
TEST(random_writes_stall_after_two_flat_rounds)
{
	const struct step h[] = {
		{ 16384, t(16384) }, { 15843, t(15843) }, { 15801, t(15801) },
		{ 15790, t(15790) },
	};
	struct precopy_state s;
	char why[160];
	int at;

	ASSERT_EQ(PRECOPY_STALLED, feed(&policy, h, 4, 5, &s, &at));
	ASSERT_EQ(3, at);
	ASSERT_EQ(15801, s.smallest);
	precopy_reason(&s, &policy, PRECOPY_STALLED, why, sizeof(why));
	ASSERT_NE(NULL, strstr(why, "stopped shrinking"));
}

/* A flat round followed by real progress starts the count again. */
TEST(progress_resets_the_flat_count)
{
	const struct step h[] = {
		{ 16384, t(16384) }, { 8000, t(8000) }, { 7900, t(7900) },
		{ 6000, t(6000) }, { 5900, t(5900) }, { 6100, t(6100) },
	};
	struct precopy_state s;
	int at;

	ASSERT_EQ(PRECOPY_STALLED, feed(&policy, h, 6, 5, &s, &at));
	ASSERT_EQ(6, at);
}

/* Going up and down around one size is no progress either. */
TEST(oscillation_is_not_progress)
{
	const struct step h[] = {
		{ 16384, t(16384) }, { 8000, t(8000) }, { 7500, t(7500) },
		{ 8100, t(8100) },
	};
	struct precopy_state s;
	int at;

	/* 7500 is 6% below 8000: not meaningful; 8100 is above */
	ASSERT_EQ(PRECOPY_STALLED, feed(&policy, h, 4, 5, &s, &at));
	ASSERT_EQ(4, at);
	ASSERT_EQ(7500, s.smallest);
}

/* Slow, steady shrinking: the round limit, which counts the final round. */
TEST(round_limit_counts_the_final_round)
{
	struct precopy_policy p = policy;
	struct step h[10];
	struct precopy_state s;
	char why[160];
	uint64_t d = 16384;
	int i, at;

	for (i = 0; i < 10; i++, d = d * 3 / 4)
		h[i] = (struct step){ d, t(d) };
	p.max_rounds = 5;
	ASSERT_EQ(PRECOPY_ROUND_LIMIT, feed(&p, h, 10, 5, &s, &at));
	/* four pre-copy rounds and the final one make five */
	ASSERT_EQ(4, at);
	precopy_reason(&s, &p, PRECOPY_ROUND_LIMIT, why, sizeof(why));
	ASSERT_NE(NULL, strstr(why, "round limit 5"));
	/* a limit below 2 still leaves one pre-copy round */
	p.max_rounds = 1;
	ASSERT_EQ(PRECOPY_ROUND_LIMIT, feed(&p, h, 10, 5, &s, &at));
	ASSERT_EQ(1, at);
}

/* The first round sends all memory: it never fits by itself. */
TEST(first_round_never_fits)
{
	struct precopy_policy p = policy;
	const struct step h[] = { { 16, 1 }, { 16, 1 } };
	struct precopy_state s;
	int at;

	p.downtime_ms = 100000;
	ASSERT_EQ(PRECOPY_FITS, feed(&p, h, 2, 5, &s, &at));
	ASSERT_EQ(2, at);
}

/*
 * The final round counts: a round that sent few pages but took far longer
 * than the interval its count covers predicts a larger final round.
 */
TEST(final_round_scales_with_send_time)
{
	struct precopy_policy p = policy;
	struct precopy_round r = { 16384, 16384 * PAGE, t(16384) * MS, 0 };
	struct precopy_state s = { 0 };

	p.rate_bps = RATE;
	ASSERT_EQ(PRECOPY_CONTINUE, precopy_next(&s, &p, &r));
	/* 200 pages dirtied in 100 ms, but the round took 1 s to send */
	r = (struct precopy_round){ 200, 200 * PAGE, 1000 * MS, 100 * MS };
	ASSERT_EQ(PRECOPY_CONTINUE, precopy_next(&s, &p, &r));
	ASSERT_EQ(2000, s.final_pages);
	ASSERT_EQ(2000, s.dirty_rate);
	/* the same 200 pages sent in 50 ms: they are the final round */
	r = (struct precopy_round){ 200, 200 * PAGE, 50 * MS, 1000 * MS };
	ASSERT_EQ(PRECOPY_FITS, precopy_next(&s, &p, &r));
	ASSERT_EQ(200, s.final_pages);
	ASSERT_EQ(205, s.final_ms);
}

/*
 * The rate is the last round's: a first round slowed down (by the guest
 * competing for the CPU, say) does not hold back the estimate later.
 */
TEST(rate_is_the_last_rounds)
{
	const struct step h[] = { { 16384, 90000 }, { 250, t(250) } };
	struct precopy_state s;
	int at;

	ASSERT_EQ(PRECOPY_FITS, feed(&policy, h, 2, 5, &s, &at));
	ASSERT_EQ(2, at);
	ASSERT_TRUE(near(RATE, s.rate_bps, RATE / 20));
}

/* A clean guest: nothing left, pre-copy ends at once. */
TEST(no_dirty_pages_fits)
{
	const struct step h[] = { { 16384, t(16384) }, { 0, 3 } };
	struct precopy_state s;
	int at;

	ASSERT_EQ(PRECOPY_FITS, feed(&policy, h, 2, 5, &s, &at));
	ASSERT_EQ(2, at);
	ASSERT_EQ(0, s.final_pages);
}

/* An assumed link speed replaces the measured rate. */
TEST(assumed_rate_overrides_measured)
{
	struct precopy_policy p = policy;
	const struct step h[] = { { 16384, t(16384) }, { 2000, t(2000) } };
	struct precopy_state s;
	int at;

	/* 2000 pages take 2 s at 4 MB/s: no */
	ASSERT_EQ(PRECOPY_CONTINUE, feed(&p, h, 2, 5, &s, &at));
	/* at 10 Gbit/s, 6.6 ms: yes */
	p.rate_bps = 1250000000ULL;
	ASSERT_EQ(PRECOPY_FITS, feed(&p, h, 2, 5, &s, &at));
	ASSERT_EQ(2, at);
	ASSERT_EQ(1250000000ULL, s.rate_bps);
}

TEST_HARNESS_MAIN
