// SPDX-License-Identifier: GPL-2.0
/*
 * Loads bpf/guest_impact.bpf.c (its bpftool skeleton, built into the
 * binary) for one VMM and reads its maps. The tracepoints' field offsets
 * come from their format files in tracefs, so the program needs no BTF.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/gi_abi.h"
#include "guest_impact.h"
#include "guest_impact.skel.h"

struct guest_impact {
	struct guest_impact_bpf *skel;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* libbpf's last message, for the reason a load failed */
static char libbpf_msg[256];

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	char line[256];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	if (n)
		memcpy(libbpf_msg, line, n + 1);
	return 0;
}

static int say(char *why, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int say(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return err;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *const tracefs_dirs[] = {
	"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
};

/* Where KVM's events are; mounts tracefs if nothing shows them. */
static const char *kvm_events(void)
{
	char p[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tracefs_dirs); i++) {
		snprintf(p, sizeof(p), "%s/events/kvm/kvm_exit/format",
			 tracefs_dirs[i]);
		if (!access(p, R_OK))
			return tracefs_dirs[i];
	}
	/* a host that never mounted it: libbpf's attach needs it too */
	if (mount("tracefs", tracefs_dirs[0], "tracefs", 0, NULL))
		return NULL;
	if (!access("/sys/kernel/tracing/events/kvm/kvm_exit/format", R_OK))
		return tracefs_dirs[0];
	return NULL;
}

/*
 * The offset of field @name in the record of kvm/@event, which must be
 * @size bytes. 0 or -errno with the reason.
 */
static int field_offset(const char *dir, const char *event, const char *name,
			unsigned int size, uint32_t *off, char *why,
			size_t len)
{
	char path[160], line[512], pat[64];
	unsigned int o, s;
	const char *f;
	FILE *fp;
	int found = 0;

	snprintf(path, sizeof(path), "%s/events/kvm/%s/format", dir, event);
	fp = fopen(path, "r");
	if (!fp)
		return say(why, len, -errno, "%s: %s", path, strerror(errno));
	snprintf(pat, sizeof(pat), " %s;", name);
	while (!found && fgets(line, sizeof(line), fp)) {
		f = strstr(line, pat);
		if (!strstr(line, "field:") || !f)
			continue;
		if (sscanf(strstr(f, "offset:") ?: "", "offset:%u;\tsize:%u;",
			   &o, &s) != 2)
			continue;
		found = 1;
	}
	fclose(fp);
	if (!found)
		return say(why, len, -ENOENT,
			   "the kvm:%s tracepoint has no field \"%s\" (%s)",
			   event, name, path);
	if (s != size)
		return say(why, len, -EINVAL,
			   "the kvm:%s field \"%s\" is %u bytes, not %u",
			   event, name, s, size);
	*off = o;
	return 0;
}

int gi_open(struct guest_impact **out, pid_t pid, char *why, size_t len)
{
	struct guest_impact *gi;
	struct guest_impact_bpf *sk;
	struct gi_config cfg = { 0 };
	const char *dir;
	int err;

	*out = NULL;
	if (geteuid() != 0)
		return say(why, len, -EPERM,
			   "guest impact needs root: it loads a BPF program on KVM's tracepoints");
	if (kill(pid, 0) && errno == ESRCH)
		return say(why, len, -ESRCH, "no process %d", (int)pid);
	dir = kvm_events();
	if (!dir)
		return say(why, len, -ENOENT,
			   "KVM's tracepoints are not in tracefs (kvm.ko not loaded, or no tracefs at /sys/kernel/tracing)");
	libbpf_set_print(libbpf_print);
	libbpf_msg[0] = '\0';
	sk = guest_impact_bpf__open();
	if (!sk)
		return say(why, len, -errno, "opening the BPF object: %s",
			   strerror(errno));
	err = field_offset(dir, "kvm_exit", "exit_reason", 4,
			   &cfg.off_exit_reason, why, len) ?:
	      field_offset(dir, "kvm_exit", "isa", 4, &cfg.off_exit_isa, why,
			   len) ?:
	      field_offset(dir, "kvm_exit", "vcpu_id", 4, &cfg.off_exit_vcpu,
			   why, len) ?:
	      field_offset(dir, "kvm_page_fault", "fault_address", 8,
			   &cfg.off_pf_addr, why, len) ?:
	      field_offset(dir, "kvm_page_fault", "error_code", 8,
			   &cfg.off_pf_error, why, len);
	if (err)
		goto fail;
	cfg.target_tgid = pid;
	err = guest_impact_bpf__load(sk);
	if (err) {
		err = -errno ?: err;
		say(why, len, err, "loading the BPF program: %s%s%s",
		    strerror(-err), libbpf_msg[0] ? ": " : "", libbpf_msg);
		goto fail;
	}
	/* the mapped .bss: the programs see it from their first run */
	sk->bss->cfg = cfg;
	err = guest_impact_bpf__attach(sk);
	if (err) {
		err = -errno ?: err;
		say(why, len, err,
		    "attaching to KVM's tracepoints: %s%s%s", strerror(-err),
		    libbpf_msg[0] ? ": " : "", libbpf_msg);
		goto fail;
	}
	gi = calloc(1, sizeof(*gi));
	if (!gi) {
		err = say(why, len, -ENOMEM, "out of memory");
		goto fail;
	}
	gi->skel = sk;
	*out = gi;
	return 0;
fail:
	guest_impact_bpf__destroy(sk);
	return err;
}

void gi_close(struct guest_impact *gi)
{
	if (!gi)
		return;
	guest_impact_bpf__destroy(gi->skel);
	free(gi);
}

void gi_new_window(struct guest_impact *gi)
{
	__atomic_add_fetch(&gi->skel->bss->cfg.gfn_window, 1, __ATOMIC_RELAXED);
}

static struct gi_vcpu *find_tid(struct gi_snap *s, uint32_t tid)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].tid == tid)
			return &s->v[i];
	return NULL;
}

static int by_vcpu(const void *a, const void *b)
{
	const struct gi_vcpu *x = a, *y = b;

	if (x->vcpu_id != y->vcpu_id)
		return x->vcpu_id < y->vcpu_id ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

int gi_snapshot(struct guest_impact *gi, struct gi_snap *s)
{
	int tfd = bpf_map__fd(gi->skel->maps.threads);
	int rfd = bpf_map__fd(gi->skel->maps.reasons);
	struct gi_reason_key rk, *rprev = NULL;
	uint32_t tid, *prev = NULL;
	struct gi_thread t;
	struct gi_vcpu *v;
	uint64_t count;

	memset(s, 0, sizeof(*s));
	s->t_ns = mono_ns();
	while (s->n < GI_VCPUS && !bpf_map_get_next_key(tfd, prev, &tid)) {
		prev = &s->v[s->n].tid;
		if (bpf_map_lookup_elem(tfd, &tid, &t))
			continue;
		v = &s->v[s->n++];
		v->tid = tid;
		v->vcpu_id = t.vcpu_id;
		v->exits = t.exits;
		v->irq_exits = t.irq_exits;
		v->write_faults = t.write_faults;
		v->new_gfns = t.new_gfns;
		v->last_gfn = t.last_gfn;
		/* a vCPU out of the guest now (halted, paused) counts to now */
		v->out_ns = t.out_ns;
		if (t.outside && s->t_ns > t.exit_ts)
			v->out_ns += s->t_ns - t.exit_ts;
		if (t.isa)
			s->isa = t.isa;
	}
	while (!bpf_map_get_next_key(rfd, rprev, &rk)) {
		rprev = &rk;
		v = find_tid(s, rk.tid);
		if (!v || v->nreasons == GI_REASONS ||
		    bpf_map_lookup_elem(rfd, &rk, &count))
			continue;
		v->reason[v->nreasons] = rk.reason;
		v->count[v->nreasons++] = count;
	}
	qsort(s->v, s->n, sizeof(s->v[0]), by_vcpu);
	return 0;
}

static uint64_t reason_count(const struct gi_vcpu *v, uint32_t reason)
{
	uint32_t i;

	for (i = 0; v && i < v->nreasons; i++)
		if (v->reason[i] == reason)
			return v->count[i];
	return 0;
}

static void keep_top(struct gi_delta *d, uint32_t reason, uint64_t n)
{
	uint32_t i, j;

	for (i = 0; i < d->ntop && d->top_count[i] >= n; i++)
		;
	if (i == GI_TOP)
		return;
	if (d->ntop < GI_TOP)
		d->ntop++;
	for (j = d->ntop - 1; j > i; j--) {
		d->top_reason[j] = d->top_reason[j - 1];
		d->top_count[j] = d->top_count[j - 1];
	}
	d->top_reason[i] = reason;
	d->top_count[i] = n;
}

static uint64_t sub(uint64_t b, uint64_t a)
{
	return b > a ? b - a : 0;
}

uint32_t gi_diff(const struct gi_snap *a, const struct gi_snap *b,
		 struct gi_delta *d)
{
	const struct gi_vcpu *x, *y;
	uint32_t i, j;
	uint64_t c;

	for (i = 0; i < b->n; i++) {
		y = &b->v[i];
		x = find_tid((struct gi_snap *)a, y->tid);
		memset(&d[i], 0, sizeof(d[i]));
		d[i].tid = y->tid;
		d[i].vcpu_id = y->vcpu_id;
		d[i].exits = sub(y->exits, x ? x->exits : 0);
		d[i].irq_exits = sub(y->irq_exits, x ? x->irq_exits : 0);
		d[i].write_faults = sub(y->write_faults,
					x ? x->write_faults : 0);
		d[i].new_gfns = sub(y->new_gfns, x ? x->new_gfns : 0);
		d[i].out_ns = sub(y->out_ns, x ? x->out_ns : 0);
		/* a thread first seen in @b: its time since @a at most */
		if (d[i].out_ns > b->t_ns - a->t_ns)
			d[i].out_ns = b->t_ns - a->t_ns;
		for (j = 0; j < y->nreasons; j++) {
			c = sub(y->count[j], reason_count(x, y->reason[j]));
			if (c)
				keep_top(&d[i], y->reason[j], c);
		}
	}
	return b->n;
}
