// SPDX-License-Identifier: GPL-2.0
/*
 * The pre-copy throttle's decision (agent/throttle.c) on scripted
 * rounds: when it acts, which vCPUs it slows, by how much, and that a
 * guest modelled as dirtying in proportion to its CPU time comes down
 * to the target within a few rounds.
 */
#include <string.h>

#include "kselftest_harness.h"
#include "throttle.h"

static void vcpus(struct thr_vcpu *v, const uint64_t *dirty, uint32_t n)
{
	uint32_t i;

	memset(v, 0, n * sizeof(*v));
	for (i = 0; i < n; i++) {
		v[i].vcpu_id = i;
		v[i].dirty = dirty[i];
	}
}

TEST(shrinking_rounds_are_left_alone)
{
	static const uint64_t d[2] = { 900, 100 };
	struct thr_round r = { .dirty_pages = 500, .prev_pages = 1000,
			       .max_pct = 99 };
	struct thr_vcpu v[2];

	vcpus(v, d, 2);
	/* half of what the previous round sent: converging on its own */
	ASSERT_EQ(0, thr_plan(v, 2, &r));
	ASSERT_EQ(0, v[0].pct);
	ASSERT_EQ(0, v[1].pct);
	/* the first round has nothing to compare with */
	r.prev_pages = 0;
	r.dirty_pages = 5000;
	ASSERT_EQ(0, thr_plan(v, 2, &r));
}

TEST(only_the_vcpu_that_dirties_most)
{
	static const uint64_t d[2] = { 900, 100 };
	struct thr_round r = { .dirty_pages = 1000, .prev_pages = 1000,
			       .max_pct = 99 };
	struct thr_vcpu v[2];

	vcpus(v, d, 2);
	ASSERT_EQ(1, thr_plan(v, 2, &r));
	/*
	 * Target: a quarter of today's dirtying. The light vCPU's 10% stays;
	 * the heavy one may dirty 15% of today's total instead of 90%.
	 */
	ASSERT_EQ(84, v[0].pct);
	ASSERT_EQ(0, v[1].pct);
}

TEST(in_proportion_to_each_share)
{
	static const uint64_t d[3] = { 500, 300, 200 };
	struct thr_round r = { .dirty_pages = 1000, .prev_pages = 1000,
			       .max_pct = 99 };
	struct thr_vcpu v[3];

	vcpus(v, d, 3);
	ASSERT_EQ(3, thr_plan(v, 3, &r));
	/* all above the level 1/12: each keeps (1/12) / share of its CPU */
	ASSERT_EQ(84, v[0].pct);
	ASSERT_EQ(73, v[1].pct);
	ASSERT_EQ(59, v[2].pct);
}

TEST(no_figures_split_evenly)
{
	static const uint64_t d[4] = { 0, 0, 0, 0 };
	struct thr_round r = { .dirty_pages = 2000, .prev_pages = 1000,
			       .max_pct = 99 };
	struct thr_vcpu v[4];
	uint32_t i;

	vcpus(v, d, 4);
	ASSERT_EQ(4, thr_plan(v, 4, &r));
	/* twice what the link carried: each keeps an eighth */
	for (i = 0; i < 4; i++)
		ASSERT_EQ(88, v[i].pct);
}

TEST(an_idle_vcpu_is_never_throttled)
{
	static const uint64_t d[3] = { 700, 300, 0 };
	struct thr_round r = { .dirty_pages = 4000, .prev_pages = 1000,
			       .max_pct = 99 };
	struct thr_vcpu v[3];

	vcpus(v, d, 3);
	ASSERT_EQ(2, thr_plan(v, 3, &r));
	ASSERT_LT(0, v[0].pct);
	ASSERT_LT(0, v[1].pct);
	ASSERT_LE(v[1].pct, v[0].pct);
	ASSERT_EQ(0, v[2].pct);
}

TEST(bounded_and_only_tightening)
{
	static const uint64_t d[2] = { 500, 500 };
	struct thr_round r = { .dirty_pages = 1000, .prev_pages = 100,
			       .max_pct = 95 };
	struct thr_vcpu v[2];

	vcpus(v, d, 2);
	v[0].pct = 90;
	ASSERT_EQ(2, thr_plan(v, 2, &r));
	ASSERT_EQ(95, v[0].pct);
	ASSERT_EQ(95, v[1].pct);
	/* at the maximum nothing more can be done */
	ASSERT_EQ(0, thr_plan(v, 2, &r));
	/* a round just over the trigger asks less than is in force: kept */
	r.dirty_pages = 51;
	ASSERT_EQ(0, thr_plan(v, 2, &r));
	ASSERT_EQ(95, v[0].pct);
}

/*
 * A guest whose vCPUs dirty pages in proportion to the CPU time they
 * get, against a link that carries 1000 pages a round: vCPU 0 would
 * dirty 6000, vCPU 1 200, vCPU 2 nothing. Within a few rounds the guest
 * dirties no more than half of what the link carries, vCPU 1 was
 * slowed much less than vCPU 0 and vCPU 2 not at all.
 */
TEST(a_modelled_guest_comes_down_to_the_target)
{
	static const double base[3] = { 6000, 200, 0 };
	struct thr_round r = { .prev_pages = 1000, .max_pct = 99 };
	struct thr_vcpu v[3];
	uint64_t total = 0;
	uint32_t round, i;

	memset(v, 0, sizeof(v));
	for (round = 1; round <= 6; round++) {
		total = 0;
		for (i = 0; i < 3; i++) {
			v[i].dirty = (uint64_t)(base[i] * (100 - v[i].pct) / 100);
			total += v[i].dirty;
		}
		printf("# round %u: dirtied %llu (vCPU 0 %u%%, vCPU 1 %u%%)\n",
		       round, (unsigned long long)total, v[0].pct, v[1].pct);
		if (total * 100 <= r.prev_pages * THR_TRIGGER_PCT)
			break;
		r.dirty_pages = total;
		thr_plan(v, 3, &r);
	}
	ASSERT_GE(3, round);
	ASSERT_GE(r.prev_pages * THR_TRIGGER_PCT / 100, total);
	ASSERT_LT(v[1].pct, v[0].pct);
	ASSERT_EQ(0, v[2].pct);
}

TEST_HARNESS_MAIN
