// SPDX-License-Identifier: GPL-2.0
/* Guest impact figures, human and JSON: see impact_print.h. */
#include <stdio.h>
#include <string.h>

#include "agentctl.h"
#include "guest_impact.h"
#include "impact_print.h"
#include "print.h"

static const char *const window_names[CTL_IMPACT_WINDOWS] = {
	[CTL_IMPACT_BEFORE] = "before",
	[CTL_IMPACT_PRECOPY] = "precopy",
	[CTL_IMPACT_SWITCHOVER] = "switchover",
	[CTL_IMPACT_AFTER] = "after",
};

static double per_s(uint64_t n, uint64_t ns)
{
	return ns ? n * 1e9 / ns : 0;
}

static double pct(uint64_t part, uint64_t whole)
{
	double p = whole ? 100.0 * part / whole : 0;

	return p > 100 ? 100 : p;
}

static void reason_label(char *buf, size_t len, uint32_t isa,
			 uint32_t reason)
{
	const char *name = gi_reason_name(isa, reason);

	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%#x", reason);
}

void impact_print_header(void)
{
	if (!opt_json)
		printf("    %-10s %6s %5s %9s %9s %8s %8s %8s %8s  %s\n",
		       "window", "ms", "vcpu", "exits", "exits/s", "irq/s",
		       "wfault/s", "pages", "outside%", "top exit reasons");
}

static void json_counters(const struct ctl_impact_win *w, uint64_t ns,
			  uint32_t nvcpus)
{
	pr_u64("exits", w->exits);
	pr_float("exits_per_s", per_s(w->exits, ns), "/s");
	pr_u64("irq_exits", w->irq_exits);
	pr_float("irq_exits_per_s", per_s(w->irq_exits, ns), "/s");
	pr_u64("write_faults", w->write_faults);
	pr_float("write_faults_per_s", per_s(w->write_faults, ns), "/s");
	pr_u64("pages_written", w->new_gfns);
	pr_u64("outside_guest_ns", w->out_ns);
	pr_float("outside_guest_pct", pct(w->out_ns, ns * nvcpus), "%");
}

static void json_top(const struct ctl_impact_win *w, uint32_t isa)
{
	char name[32];
	uint32_t i;

	pr_array_open("top_reasons");
	for (i = 0; i < w->ntop && i < CTL_IMPACT_TOP; i++) {
		reason_label(name, sizeof(name), isa, w->top_reason[i]);
		pr_open(NULL);
		pr_str("reason", name);
		pr_u64("code", w->top_reason[i]);
		pr_u64("count", w->top_count[i]);
		pr_close();
	}
	pr_array_close();
}

static void human_row(const char *name, uint64_t ns, const char *vcpu,
		      const struct ctl_impact_win *w, uint32_t nvcpus,
		      uint32_t isa)
{
	char top[160] = "", label[32];
	size_t n = 0;
	uint32_t i;

	for (i = 0; i < w->ntop && i < CTL_IMPACT_TOP && n < sizeof(top); i++) {
		reason_label(label, sizeof(label), isa, w->top_reason[i]);
		n += snprintf(top + n, sizeof(top) - n, "%s%s %llu",
			      i ? ", " : "", label,
			      (unsigned long long)w->top_count[i]);
	}
	printf("    %-10s %6s %5s %9llu %9.0f %8.0f %8.0f %8llu %8.1f  %s\n",
	       name ? name : "", "", vcpu, (unsigned long long)w->exits,
	       per_s(w->exits, ns), per_s(w->irq_exits, ns),
	       per_s(w->write_faults, ns), (unsigned long long)w->new_gfns,
	       pct(w->out_ns, ns * nvcpus), top);
}

/* The total over vCPUs, its top reasons merged from theirs. */
static void sum_rows(const struct impact_row *r, uint32_t n,
		     struct ctl_impact_win *t)
{
	uint32_t i, j, k, m;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < n; i++) {
		t->exits += r[i].w.exits;
		t->irq_exits += r[i].w.irq_exits;
		t->write_faults += r[i].w.write_faults;
		t->new_gfns += r[i].w.new_gfns;
		t->out_ns += r[i].w.out_ns;
	}
	/* the top reasons of the total, from each vCPU's top ones */
	for (i = 0; i < n; i++) {
		for (j = 0; j < r[i].w.ntop && j < CTL_IMPACT_TOP; j++) {
			uint32_t code = r[i].w.top_reason[j];
			uint64_t c = r[i].w.top_count[j];

			for (k = 0; k < t->ntop && t->top_reason[k] != code; k++)
				;
			if (k == t->ntop) {
				if (t->ntop == CTL_IMPACT_TOP)
					continue;
				t->top_reason[t->ntop] = code;
				t->top_count[t->ntop++] = 0;
			}
			t->top_count[k] += c;
		}
	}
	/* most frequent first */
	for (i = 1; i < t->ntop; i++) {
		for (m = i; m > 0 && t->top_count[m] > t->top_count[m - 1]; m--) {
			uint64_t c = t->top_count[m];
			uint32_t code = t->top_reason[m];

			t->top_count[m] = t->top_count[m - 1];
			t->top_reason[m] = t->top_reason[m - 1];
			t->top_count[m - 1] = c;
			t->top_reason[m - 1] = code;
		}
	}
}

void impact_print_window(const char *name, uint32_t isa, uint64_t ns,
			 const struct impact_row *r, uint32_t n)
{
	struct ctl_impact_win total;
	char vcpu[16], ms[16];
	uint32_t i;

	sum_rows(r, n, &total);
	if (!opt_json) {
		snprintf(ms, sizeof(ms), "%llu", (unsigned long long)(ns / 1000000));
		for (i = 0; i < n; i++) {
			snprintf(vcpu, sizeof(vcpu), "%u", r[i].vcpu_id);
			human_row(i ? NULL : name, ns, vcpu, &r[i].w, 1, isa);
		}
		printf("    %-10s %6s %5s", "", ms, "all");
		printf(" %9llu %9.0f %8.0f %8.0f %8llu %8.1f\n",
		       (unsigned long long)total.exits, per_s(total.exits, ns),
		       per_s(total.irq_exits, ns),
		       per_s(total.write_faults, ns),
		       (unsigned long long)total.new_gfns,
		       pct(total.out_ns, ns * (n ?: 1)));
		return;
	}
	if (name)
		pr_str("window", name);
	pr_u64("ms", ns / 1000000);
	pr_open("total");
	pr_u64("vcpus", n);
	json_counters(&total, ns, n ?: 1);
	json_top(&total, isa);
	pr_close();
	pr_array_open("vcpus");
	for (i = 0; i < n; i++) {
		pr_open(NULL);
		pr_u64("vcpu", r[i].vcpu_id);
		pr_u64("tid", r[i].tid);
		json_counters(&r[i].w, ns, 1);
		json_top(&r[i].w, isa);
		pr_close();
	}
	pr_array_close();
}

void impact_print_migrate(const struct ctl_migrate *m)
{
	struct impact_row rows[CTL_IMPACT_VCPUS];
	uint32_t w, i, n = m->impact_nvcpus;

	if (n > CTL_IMPACT_VCPUS)
		n = CTL_IMPACT_VCPUS;
	if (!m->impact_windows) {
		if (opt_json) {
			pr_open("guest_impact");
			pr_bool("available", 0);
			pr_str("error", m->impact_error);
			pr_close();
		} else if (m->impact_error[0]) {
			printf("guest_impact: not measured: %s\n", m->impact_error);
		}
		return;
	}
	if (opt_json) {
		pr_open("guest_impact");
		pr_bool("available", 1);
		pr_str("isa", gi_isa_name(m->impact_isa));
		pr_array_open("windows");
	} else {
		printf("guest_impact (%s; per vCPU, then all):\n",
		       gi_isa_name(m->impact_isa));
		impact_print_header();
	}
	for (w = 0; w < CTL_IMPACT_WINDOWS; w++) {
		if (!(m->impact_windows & (1U << w)))
			continue;
		for (i = 0; i < n; i++) {
			rows[i].vcpu_id = m->impact[i].vcpu_id;
			rows[i].tid = m->impact[i].tid;
			rows[i].w = m->impact[i].w[w];
		}
		if (opt_json)
			pr_open(NULL);
		impact_print_window(window_names[w], m->impact_isa,
				    m->impact_ns[w], rows, n);
		if (opt_json)
			pr_close();
	}
	if (opt_json) {
		pr_array_close();
		pr_close();
	}
}
