// SPDX-License-Identifier: GPL-2.0
/*
 * Per-VM statistics: flush latency samples and the STATS nest.
 */

#include <linux/sort.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <linux/loosetrace.h>

#include "loosetrace.h"

/* Called with epoch.lock held. */
void lt_stats_flush_latency(struct lt_stats *st, u64 ns)
{
	if (!st->lat_count || ns < st->flush_ns_min)
		st->flush_ns_min = ns;
	if (ns > st->flush_ns_max)
		st->flush_ns_max = ns;
	st->lat[st->lat_next] = min_t(u64, ns, U32_MAX);
	st->lat_next = (st->lat_next + 1) % LT_LAT_SAMPLES;
	if (st->lat_count < LT_LAT_SAMPLES)
		st->lat_count++;
}

static int lt_cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

int lt_stats_fill(struct sk_buff *skb, struct lt_vm *vm)
{
	struct lt_stats *st;
	struct nlattr *nest;
	u64 median = 0;
	u32 *lat;
	int ret = -EMSGSIZE;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	spin_lock_bh(&vm->epoch.lock);
	*st = vm->stats;
	spin_unlock_bh(&vm->epoch.lock);

	/* The median of the most recent LT_LAT_SAMPLES flushes. */
	if (st->lat_count) {
		lat = st->lat;
		sort(lat, st->lat_count, sizeof(*lat), lt_cmp_u32, NULL);
		median = lat[st->lat_count / 2];
	}

	nest = nla_nest_start(skb, LOOSETRACE_A_STATS);
	if (!nest)
		goto out;
	if (nla_put_u64_64bit(skb, LOOSETRACE_STAT_TRACE_INSTALL_NS,
			      st->trace_install_ns, LOOSETRACE_STAT_PAD) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_STAT_EPOCHS, st->epochs,
			      LOOSETRACE_STAT_PAD) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_STAT_EPOCHS_DONE,
			      st->epochs_done, LOOSETRACE_STAT_PAD) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_STAT_FLUSH_NS_MIN,
			      st->flush_ns_min, LOOSETRACE_STAT_PAD) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_STAT_FLUSH_NS_MEDIAN, median,
			      LOOSETRACE_STAT_PAD) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_STAT_FLUSH_NS_MAX,
			      st->flush_ns_max, LOOSETRACE_STAT_PAD) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_STAT_DEADLINE_KICKS,
			      st->deadline_kicks, LOOSETRACE_STAT_PAD) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_STAT_SYNC_FLUSHES,
			      st->sync_flushes, LOOSETRACE_STAT_PAD) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_STAT_PAGES_HARVESTED,
			      st->pages_harvested, LOOSETRACE_STAT_PAD) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_STAT_BYTES_ENCODED,
			      st->bytes_encoded, LOOSETRACE_STAT_PAD) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_STAT_BYTES_RAW, st->bytes_raw,
			      LOOSETRACE_STAT_PAD) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_STAT_HARVESTS, st->harvests,
			      LOOSETRACE_STAT_PAD) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_STAT_HARVEST_NS, st->harvest_ns,
			      LOOSETRACE_STAT_PAD)) {
		nla_nest_cancel(skb, nest);
		goto out;
	}
	nla_nest_end(skb, nest);
	ret = 0;
out:
	kfree(st);
	return ret;
}
