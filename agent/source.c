// SPDX-License-Identifier: GPL-2.0
/*
 * Source side of a migration. Each pre-copy round: HARVEST (the module
 * takes the dirty bits and re-arms the traces), wait until that epoch is
 * complete, and only then read the round's dirty pages from the guest
 * memory and send the compacted bitmap and the pages. Before the epoch is
 * complete a vCPU may still write through a stale TLB entry without the
 * write being logged, so reading earlier could send a page that changes
 * again unseen: the contract of <linux/loosetrace.h>.
 *
 * Pre-copy stops (precopy.h) when the final round would fit the downtime
 * target at the measured send rate, when the dirty set stops shrinking,
 * or before the round limit, the final round included. Switchover:
 * pause the VMM, a final harvest and round, the VMM's state blob,
 * RESUME; the destination answers DONE once its guest runs. Any failure
 * on the way stops the trace, detaches and lets the source VM run on,
 * unless RESUME went out: then the destination may run the guest, and the
 * source VM stays paused unless the destination said it did not resume.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "bitmap.h"
#include "converge.h"
#include "guestmem.h"
#include "mig_impact.h"
#include "precopy.h"
#include "qemu_hook.h"
#include "qemu_vm.h"
#include "reconcile.h"
#include "source.h"
#include "vmfd.h"
#include "vmmhook.h"
#include "wire.h"

#define EPOCH_TIMEOUT_MS	10000
#define ACK_TIMEOUT_MS		60000
#define DONE_TIMEOUT_MS		60000
#define DEFAULT_MAX_ROUNDS	30	/* the final round included */
#define DEFAULT_DOWNTIME_MS	300
#define CHECK_EVERY_FRAMES	64

struct mig {
	const struct ctl_req *req;
	source_progress_fn progress;
	void *progress_arg;
	struct ipc ipc;
	int ipc_open;
	uint32_t vm_id;
	int pidfd;
	int tracing;
	int paused;		/* we paused the VM: teardown resumes it */
	int peer_refused;	/* the destination answered ERROR */
	/*
	 * A QEMU guest (--qmp): its shared RAM backends are the migration's
	 * slots (vm.slots[i] is backend i, at its QEMU address), KVM's
	 * memslots only the way to their dirty bits.
	 */
	int qemu;
	struct qemu_vm qvm;
	struct ipc_vm vm;
	uint8_t *mem[IPC_MAX_SLOTS];
	uint64_t *dirty[IPC_MAX_SLOTS];
	/* reconcile.h: each page's hash as sent; NULL: the pass is off */
	uint64_t *sent_hash[IPC_MAX_SLOTS];
	uint64_t zero_hash;
	uint64_t hash_ns, hash_pages;	/* hashing cost, for the estimate */
	uint8_t *snap;			/* WIRE_MAX_PAGES pages being sent */
	struct wire_conn conn;
	int conn_open;
	uint64_t caps;
	uint64_t t_start;
	uint64_t t_last_harvest;	/* of the last pre-copy round */
	uint64_t frames;
	/* --bandwidth-mbps: a token bucket that the sender keeps to */
	uint64_t pace_t, pace_tx;
	double pace_tokens;
	struct converge *cv;	/* the pre-copy throttle, or NULL */
	struct ctl_migrate *st;
	char *why;
	size_t why_len;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int fail(struct mig *m, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct mig *m, int err, const char *fmt, ...)
{
	size_t n = 0;
	va_list ap;

	/* keep the first, innermost reason */
	if (m->why[0])
		return err;
	/*
	 * Whatever step failed (the module detached the VM, the pause hook
	 * found no VMM), a VMM that died is the reason the operator needs.
	 */
	if (err != -ESRCH && vmfd_exited(m->pidfd))
		n = snprintf(m->why, m->why_len, "the VMM (pid %u) exited: ",
			     m->req->vm_pid);
	if (n >= m->why_len)
		return err;
	va_start(ap, fmt);
	vsnprintf(m->why + n, m->why_len - n, fmt, ap);
	va_end(ap);
	return err;
}

static int ipc_fail(struct mig *m, int err, const char *what)
{
	return fail(m, err, "%s: %s%s%s", what, strerror(-err),
		    m->ipc.err_msg[0] ? ": " : "", m->ipc.err_msg);
}

static int peer_connect(struct mig *m)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	char host[CTL_TARGET_LEN], *port;
	unsigned char buf[sizeof(struct in6_addr)];
	struct addrinfo *res, *ai;
	int fd = -1, err, one = 1;

	snprintf(host, sizeof(host), "%s", m->req->target);
	port = strrchr(host, ':');
	if (!port || port == host || !port[1])
		return fail(m, -EINVAL, "target \"%s\" is not HOST:PORT",
			    m->req->target);
	*port++ = '\0';
	if (host[0] == '[' && port[-2] == ']') {
		port[-2] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	/* numeric addresses need no resolver (static builds have none) */
	hints.ai_flags = AI_NUMERICSERV;
	if (inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1)
		hints.ai_flags |= AI_NUMERICHOST;
	err = getaddrinfo(host, port, &hints, &res);
	if (err)
		return fail(m, -EHOSTUNREACH, "cannot resolve %s: %s", host,
			    gai_strerror(err));
	err = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		err = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fail(m, err, "cannot connect to %s: %s", m->req->target,
			    strerror(-err));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	err = wire_conn_init(&m->conn, fd, ACK_TIMEOUT_MS);
	if (err) {
		close(fd);
		return fail(m, err, "out of memory");
	}
	m->conn_open = 1;
	return 0;
}

/* Receives a frame of @type; ERROR or anything else is a failure. */
static int expect(struct mig *m, uint8_t type, struct wire_hdr *h)
{
	struct wire_error e;
	int err;

	err = wire_recv(&m->conn, h);
	if (err == -ECONNRESET)
		return fail(m, err, "destination closed the connection");
	if (err)
		return fail(m, err, "waiting for %s from the destination: %s",
			    wire_type_name(type), strerror(-err));
	if (h->type == WIRE_ERROR) {
		if (wire_get_error(m->conn.buf, h->len, &e))
			return fail(m, -EBADMSG, "malformed ERROR from the destination");
		m->peer_refused = 1;
		return fail(m, -e.code, "destination refused: %s", e.reason);
	}
	if (h->type != type)
		return fail(m, -EPROTO, "destination sent %s, expected %s",
			    wire_type_name(h->type), wire_type_name(type));
	return 0;
}

/*
 * Between frames: has the VMM died, the module dropped the VM, or the
 * destination sent an ERROR? Checked every few frames, not per page.
 */
static int source_stopping;

void source_stop_all(void)
{
	__atomic_store_n(&source_stopping, 1, __ATOMIC_RELAXED);
}

static int check_alive(struct mig *m)
{
	struct pollfd pfd = { .fd = m->conn.fd, .events = POLLIN };
	struct ipc_event ev;
	struct wire_hdr h;

	if (__atomic_load_n(&source_stopping, __ATOMIC_RELAXED))
		return fail(m, -ECANCELED, "the agent is stopping");
	if (vmfd_exited(m->pidfd))
		return fail(m, -ESRCH, "the VMM (pid %u) exited", m->req->vm_pid);
	while (ipc_event_read(&m->ipc, &ev) > 0)
		if (ev.type == IPC_EVENT_VM_DETACHED && ev.vm_id == m->vm_id)
			return fail(m, -ENODEV, "the module detached the VM: %s",
				    ipc_detach_reason_name(ev.detach_reason));
	if (poll(&pfd, 1, 0) > 0)
		return expect(m, 0, &h) ?: fail(m, -EPROTO, "unexpected frame");
	return 0;
}

/*
 * With --bandwidth-mbps the link is that fast and no faster, as QEMU's
 * max-bandwidth makes it: after each frame the sender waits until the
 * bytes sent fit the rate, with a burst of one full PAGES frame.
 */
static void pace(struct mig *m)
{
	double rate = m->req->bandwidth_mbps * 125000.0, burst, t;
	uint64_t now;
	struct timespec ts;

	if (!m->req->bandwidth_mbps)
		return;
	burst = WIRE_MAX_PAGES * WIRE_PAGE_SIZE;
	now = now_ns();
	if (!m->pace_t) {
		m->pace_t = now;
		m->pace_tx = m->conn.bytes_tx;
		m->pace_tokens = burst;
	}
	m->pace_tokens += rate * (now - m->pace_t) / 1e9;
	if (m->pace_tokens > burst)
		m->pace_tokens = burst;
	m->pace_tokens -= m->conn.bytes_tx - m->pace_tx;
	m->pace_t = now;
	m->pace_tx = m->conn.bytes_tx;
	if (m->pace_tokens >= 0)
		return;
	t = -m->pace_tokens / rate;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int send_frame(struct mig *m, uint8_t type, uint16_t flags,
		      const void *head, uint32_t head_len,
		      const void *tail, uint32_t tail_len)
{
	int err;

	if (++m->frames % CHECK_EVERY_FRAMES == 0) {
		err = check_alive(m);
		if (err)
			return err;
	}
	err = wire_send(&m->conn, type, flags, head, head_len, tail, tail_len);
	if (!err)
		pace(m);
	if (err == -ECONNRESET || err == -EPIPE)
		return fail(m, err, "connection to the destination lost");
	if (err)
		return fail(m, err, "sending %s: %s", wire_type_name(type),
			    strerror(-err));
	return 0;
}

static int handshake(struct mig *m)
{
	struct wire_hello hello = {
		.proto_min = WIRE_PROTO_MIN,
		.proto_max = WIRE_PROTO_MAX,
		.caps = WIRE_CAPS_SUPPORTED,
	};
	uint8_t buf[16 + WIRE_MAX_SLOTS * 16];
	struct wire_layout l = { 0 };
	struct wire_welcome w;
	struct wire_hdr h;
	uint32_t i;
	int err;

	snprintf(hello.software, sizeof(hello.software),
		 "loosetrace-agent %s", LT_VERSION);
	err = send_frame(m, WIRE_HELLO, 0, buf, wire_put_hello(buf, &hello),
			 NULL, 0);
	if (!err)
		err = expect(m, WIRE_WELCOME, &h);
	if (err)
		return err;
	if (wire_get_welcome(m->conn.buf, h.len, &w) ||
	    w.proto < WIRE_PROTO_MIN || w.proto > WIRE_PROTO_MAX)
		return fail(m, -EPROTO, "destination chose an unknown protocol version");
	m->caps = w.caps & WIRE_CAPS_SUPPORTED;

	l.page_size = WIRE_PAGE_SIZE;
	l.vcpus = m->vm.vcpus;
	l.mode = m->req->mode;
	l.nslots = m->vm.nslots;
	for (i = 0; i < m->vm.nslots; i++) {
		l.slots[i].base_gfn = m->vm.slots[i].base_gfn;
		l.slots[i].npages = m->vm.slots[i].npages;
	}
	err = send_frame(m, WIRE_LAYOUT, 0, buf, wire_put_layout(buf, &l),
			 NULL, 0);
	return err ?: expect(m, WIRE_LAYOUT_OK, &h);
}

/* Where the harvest's slot is in our layout, or -1. */
static int slot_index(struct mig *m, const struct ipc_harvest_slot *s)
{
	uint32_t i;

	for (i = 0; i < m->vm.nslots; i++)
		if (m->vm.slots[i].base_gfn == s->base_gfn &&
		    m->vm.slots[i].npages == s->npages)
			return i;
	return -1;
}

/* Sends @size bytes of @data as @type frames of at most WIRE_CHUNK bytes. */
static int send_chunked(struct mig *m, uint8_t type, uint32_t slot,
			const uint8_t *data, uint64_t size)
{
	struct wire_chunk c = { .slot = slot, .total = size };
	uint8_t hdr[32];
	uint32_t len;
	int err;

	do {
		len = size - c.offset < WIRE_CHUNK ? size - c.offset : WIRE_CHUNK;
		err = send_frame(m, type, 0, hdr,
				 wire_put_chunk_hdr(hdr, type, &c),
				 data + c.offset, len);
		if (err)
			return err;
		c.offset += len;
	} while (c.offset < size);
	return 0;
}

static int send_bitmap(struct mig *m, uint32_t slot, const uint8_t *bm,
		       uint64_t size)
{
	int err = send_chunked(m, WIRE_BITMAP, slot, bm, size);

	if (err)
		return err;
	m->st->bitmap_compact_bytes += size;
	m->st->bitmap_raw_bytes += bm_words(m->vm.slots[slot].npages) * 8;
	return 0;
}

/* Notes the hash of each page of a run as it goes out (NULL: zeros). */
static void record_hashes(struct mig *m, uint32_t slot, uint64_t first,
			  uint64_t n, const uint8_t *snap)
{
	uint64_t *h = m->sent_hash[slot] + first, t0 = now_ns(), k;

	for (k = 0; k < n; k++)
		h[k] = snap ? page_hash(snap + k * WIRE_PAGE_SIZE) :
			      m->zero_hash;
	if (snap) {
		m->hash_ns += now_ns() - t0;
		m->hash_pages += n;
	}
}

/*
 * The final round, the VM paused: every page whose content is not what
 * was sent (a host-side write KVM did not log) joins the round's dirty
 * set. Returns the pages added; @changed[i] says slot i got any.
 */
static uint64_t reconcile(struct mig *m, int *changed)
{
	uint64_t t0 = now_ns(), added = 0, n;
	uint32_t i;

	for (i = 0; i < m->vm.nslots; i++) {
		n = reconcile_scan(m->mem[i], m->vm.slots[i].npages,
				   m->sent_hash[i], m->dirty[i],
				   m->st->reconcile_threads);
		changed[i] = n != 0;
		added += n;
	}
	m->st->reconcile_pages += added;
	m->st->reconcile_ms = (now_ns() - t0) / 1000000;
	return added;
}

/*
 * What the reconcile scan will add to the downtime: all of memory at the
 * hash rate measured while sending, spread over its threads.
 */
static uint64_t reconcile_estimate_ms(const struct mig *m)
{
	double per_page_ns;

	if (!m->st->reconcile_threads || !m->hash_pages)
		return 0;
	per_page_ns = (double)m->hash_ns / m->hash_pages;
	return (uint64_t)(per_page_ns * m->st->guest_pages /
			  m->st->reconcile_threads / 1e6 + 0.5);
}

/*
 * Sends pages [first, first + count) of @slot, zero runs without data.
 * The guest keeps writing during pre-copy, so each run is copied first:
 * the checksum and the bytes sent must be of the same snapshot (a page
 * that changes after its copy is dirty again and goes in a later round).
 */
static int send_run(struct mig *m, uint32_t slot, uint64_t first,
		    uint64_t count)
{
	const uint8_t *mem = m->mem[slot];
	struct wire_pages p = { .slot = slot };
	uint8_t hdr[16], *snap = m->snap;
	uint64_t i, n, k;
	int zero, err;

	for (i = first; i < first + count; i += n) {
		n = first + count - i;
		if (n > WIRE_MAX_PAGES)
			n = WIRE_MAX_PAGES;
		memcpy(snap, mem + i * WIRE_PAGE_SIZE, n * WIRE_PAGE_SIZE);
		zero = (m->caps & WIRE_CAP_ZERO_PAGES) &&
		       guestmem_page_is_zero(snap);
		/* cut the run where zero and non-zero pages alternate */
		k = n;
		if (m->caps & WIRE_CAP_ZERO_PAGES)
			for (k = 1; k < n; k++)
				if (guestmem_page_is_zero(snap + k * WIRE_PAGE_SIZE) !=
				    zero)
					break;
		n = k;
		if (m->sent_hash[slot])
			record_hashes(m, slot, i, n, zero ? NULL : snap);
		p.gfn = m->vm.slots[slot].base_gfn + i;
		p.count = n;
		err = send_frame(m, WIRE_PAGES, zero ? WIRE_F_ZERO : 0, hdr,
				 wire_put_pages_hdr(hdr, &p),
				 zero ? NULL : snap, zero ? 0 : n * WIRE_PAGE_SIZE);
		if (err)
			return err;
		m->st->pages_sent += n;
		if (zero)
			m->st->zero_pages += n;
	}
	return 0;
}

static int send_pages(struct mig *m, uint32_t slot)
{
	uint64_t npages = m->vm.slots[slot].npages, i, j;
	const uint64_t *d = m->dirty[slot];
	int err;

	for (i = bm_next(d, npages, 0); i < npages; i = bm_next(d, npages, j)) {
		for (j = i + 1; j < npages && bm_test(d, j); j++)
			;
		err = send_run(m, slot, i, j - i);
		if (err)
			return err;
	}
	return 0;
}

/*
 * TRACE_START; for a QEMU guest limited to its shared RAM backends, so
 * that the VGA memory QEMU logs itself, ROMs and the SMM aliases of
 * other memory stay QEMU's.
 */
static int trace_start(struct mig *m)
{
	struct ipc_range r[QEMU_MAX_REGIONS];
	unsigned int i;

	if (!m->qemu)
		return ipc_trace_start(&m->ipc, m->vm_id, m->req->mode,
				       m->req->deadline_us);
	for (i = 0; i < m->qvm.nregions; i++) {
		r[i].start = m->qvm.regions[i].hva;
		r[i].len = m->qvm.regions[i].size;
	}
	return ipc_trace_start_ranges(&m->ipc, m->vm_id, m->req->mode,
				      m->req->deadline_us, r, i);
}

/*
 * A QEMU guest: one harvested memslot's dirty pages into the bitmap of
 * the RAM backend its memory lies in (memslots of both address spaces,
 * and slots adopted during the trace, map into the same backend).
 */
static int qemu_fold(struct mig *m, const struct ipc_harvest_slot *hs)
{
	uint64_t *bits, first, j, hva = hs->userspace_addr;
	const struct ipc_memslot *r = NULL;
	uint32_t i;

	for (i = 0; i < m->vm.nslots && !r; i++)
		if (hva >= m->vm.slots[i].userspace_addr &&
		    hva + hs->npages * WIRE_PAGE_SIZE <=
		    m->vm.slots[i].userspace_addr +
		    m->vm.slots[i].npages * WIRE_PAGE_SIZE)
			r = &m->vm.slots[i];
	if (!r)
		return fail(m, -EBADMSG,
			    "the module harvested memslot %#x outside QEMU's RAM backends",
			    hs->slot_id);
	bits = calloc(bm_words(hs->npages), 8);
	if (!bits)
		return fail(m, -ENOMEM, "out of memory");
	if (bm_decode(hs->data, hs->size, hs->npages, bits)) {
		free(bits);
		return fail(m, -EBADMSG, "the module's bitmap does not decode");
	}
	first = (hva - r->userspace_addr) / WIRE_PAGE_SIZE;
	for (j = bm_next(bits, hs->npages, 0); j < hs->npages;
	     j = bm_next(bits, hs->npages, j + 1))
		m->dirty[r - m->vm.slots][(first + j) / 64] |=
			1ULL << ((first + j) % 64);
	free(bits);
	return 0;
}

/* Whether the VM's memslots are still the ones the destination was given. */
static int same_layout(const struct ipc_vm *a, const struct ipc_vm *b)
{
	uint32_t i;

	if (a->nslots != b->nslots)
		return 0;
	for (i = 0; i < a->nslots; i++) {
		if (a->slots[i].id != b->slots[i].id ||
		    a->slots[i].base_gfn != b->slots[i].base_gfn ||
		    a->slots[i].npages != b->slots[i].npages ||
		    a->slots[i].userspace_addr != b->slots[i].userspace_addr)
			return 0;
	}
	return 1;
}

/* A VMM re-registering its memory in a loop must not hold us forever. */
#define MAX_RETRACES	8

/*
 * Harvests one round. The VMM may re-register its memslots during the
 * trace (QEMU does on a PCI BAR or PAM change): the module then fails
 * the harvest with ESTALE rather than report the changed slot clean. If
 * the layout the destination was given still stands, a new trace starts
 * with every page dirty, so nothing is lost; a layout that really
 * changed cannot be carried to the destination (the peer protocol fixes
 * it at the start), and the migration fails before switchover, the
 * source running on.
 */
static int harvest(struct mig *m, struct ipc_harvest *h)
{
	struct ipc_vm now;
	int err;

	for (;;) {
		err = ipc_harvest(&m->ipc, m->vm_id, 0, 0, h);
		if (err != -ESTALE || m->st->retraces >= MAX_RETRACES)
			break;
		err = ipc_vm_get(&m->ipc, m->vm_id, &now);
		if (err)
			return ipc_fail(m, err, "reading the VM's memslots");
		/* a QEMU guest's RAM backends do not move with its memslots */
		if (!m->qemu && !same_layout(&m->vm, &now))
			return fail(m, -ESTALE,
				    "the VM's memory layout changed during the migration (memslot generation %llu): the destination was set up for the old one; the source keeps running",
				    (unsigned long long)now.memslot_gen);
		fprintf(stderr,
			"loosetrace-agent: the VMM re-registered guest memory (memslot generation %llu): trace restarted, every page is sent again\n",
			(unsigned long long)now.memslot_gen);
		m->tracing = 0;
		ipc_trace_stop(&m->ipc, m->vm_id);
		err = trace_start(m);
		if (err)
			return ipc_fail(m, err, "restarting the trace");
		m->tracing = 1;
		m->st->retraces++;
	}
	if (err)
		return ipc_fail(m, err, "harvest");
	return 0;
}

/*
 * One round: harvest, wait for the epoch, then bitmap and pages.
 * Returns the number of dirty pages sent, or -errno.
 */
static int64_t do_round(struct mig *m, uint32_t round, int final)
{
	struct wire_round r = { .round = round };
	struct wire_round_end re = { .round = round };
	uint8_t *encoded[IPC_MAX_SLOTS] = { NULL };
	uint64_t size[IPC_MAX_SLOTS] = { 0 };
	int changed[IPC_MAX_SLOTS] = { 0 };
	struct ipc_harvest h;
	uint8_t buf[32];
	struct wire_hdr hdr;
	uint64_t dirty = 0;
	uint32_t i;
	int err, idx;
	long n;

	err = harvest(m, &h);
	if (err)
		return err;
	/* the contract: no page of this round is read before its epoch */
	err = ipc_epoch_wait(&m->ipc, m->vm_id, h.epoch, EPOCH_TIMEOUT_MS, NULL);
	if (err) {
		ipc_harvest_free(&h);
		if (err == -ENODEV)
			return fail(m, err, "the module detached the VM");
		return ipc_fail(m, err, "waiting for the harvest's epoch");
	}
	m->st->epochs = h.epoch;
	for (i = 0; i < m->vm.nslots; i++)
		memset(m->dirty[i], 0, bm_words(m->vm.slots[i].npages) * 8);
	for (i = 0; m->qemu && i < h.nslots; i++) {
		err = qemu_fold(m, &h.slots[i]);
		if (err)
			goto out;
	}
	for (i = 0; m->qemu && i < m->vm.nslots; i++)
		dirty += bm_count(m->dirty[i], m->vm.slots[i].npages);
	for (i = 0; !m->qemu && i < h.nslots; i++) {
		idx = slot_index(m, &h.slots[i]);
		if (idx < 0) {
			/* the module adopted a slot the VMM created */
			err = fail(m, -ESTALE,
				   "the VM's memory layout changed during the migration: memslot %#x (%llu pages at gfn %#llx) appeared, and the destination cannot take new memory; the source keeps running",
				   h.slots[i].slot_id,
				   (unsigned long long)h.slots[i].npages,
				   (unsigned long long)h.slots[i].base_gfn);
			goto out;
		}
		if (encoded[idx]) {
			err = fail(m, -EBADMSG, "harvest names a memslot twice");
			goto out;
		}
		if (bm_decode(h.slots[i].data, h.slots[i].size,
			      h.slots[i].npages, m->dirty[idx])) {
			err = fail(m, -EBADMSG,
				   "the module's bitmap does not decode (%llu bytes for %llu pages): are loosetrace.ko and the agent built from the same tree?",
				   (unsigned long long)h.slots[i].size,
				   (unsigned long long)h.slots[i].npages);
			goto out;
		}
		/* forward the module's encoding as it is */
		encoded[idx] = h.slots[i].data;
		size[idx] = h.slots[i].size;
		h.slots[i].data = NULL;
		dirty += bm_count(m->dirty[idx], m->vm.slots[idx].npages);
	}
	if (final && m->st->reconcile_threads) {
		dirty += reconcile(m, changed);
		/* the module's encoding no longer says it all */
		for (i = 0; i < m->vm.nslots; i++) {
			if (changed[i]) {
				free(encoded[i]);
				encoded[i] = NULL;
			}
		}
	}
	for (i = 0; i < m->vm.nslots; i++) {
		if (encoded[i])
			continue;
		/* a slot the harvest left out, or the reconcile pass added to */
		n = bm_encode(m->dirty[i], m->vm.slots[i].npages, &encoded[i]);
		if (n < 0) {
			err = fail(m, (int)n, "encoding an empty bitmap");
			goto out;
		}
		size[i] = n;
	}

	r.epoch = h.epoch;
	err = send_frame(m, WIRE_ROUND, final ? WIRE_F_FINAL : 0, buf,
			 wire_put_round(buf, &r), NULL, 0);
	for (i = 0; !err && i < m->vm.nslots; i++)
		err = send_bitmap(m, i, encoded[i], size[i]);
	for (i = 0; !err && i < m->vm.nslots; i++)
		err = send_pages(m, i);
	re.pages = dirty;
	if (!err)
		err = send_frame(m, WIRE_ROUND_END, 0, buf,
				 wire_put_round_end(buf, &re), NULL, 0);
	if (!err)
		err = expect(m, WIRE_ROUND_ACK, &hdr);
out:
	for (i = 0; i < IPC_MAX_SLOTS; i++)
		free(encoded[i]);
	ipc_harvest_free(&h);
	return err ? err : (int64_t)dirty;
}

static void report(struct mig *m)
{
	m->st->bytes_sent = m->conn.bytes_tx;
	m->st->elapsed_ms = (now_ns() - m->t_start) / 1000000;
	if (m->progress)
		m->progress(m->progress_arg, m->st);
}

/*
 * The test VMM's control socket: it must be the named process's, and
 * it may say which fd is the VM. Returns the fd number in the VMM.
 */
static int identify_vmm(struct mig *m)
{
	struct vmmhook_status vs;
	char why[256];
	int err;

	err = vmmhook_status(m->req->vmm_sock, &vs, why, sizeof(why));
	if (err)
		return fail(m, err, "VMM control socket %s: %s",
			    m->req->vmm_sock, why);
	/* pausing another VMM would let the traced VM write on unseen */
	if (vs.pid != (pid_t)m->req->vm_pid)
		return fail(m, -EINVAL, "VMM control socket %s belongs to pid %d, not %u",
			    m->req->vmm_sock, (int)vs.pid, m->req->vm_pid);
	if (vs.vm_fd >= 0)
		return vs.vm_fd;
	err = vmfd_find(m->req->vm_pid, why, sizeof(why));
	return err < 0 ? fail(m, err, "%s", why) : err;
}

/*
 * A QEMU guest: what qemu_inspect() finds, refused before anything is
 * attached if loosetrace cannot move it. Returns the VM fd's number.
 */
static int identify_qemu(struct mig *m)
{
	char why[512];
	struct qmp q;
	int err;

	if (qmp_open(&q, m->req->vmm_sock, 10000))
		return fail(m, -EIO, "QMP socket %s: %s", m->req->vmm_sock,
			    q.err);
	err = qemu_inspect(&q, m->req->vm_pid, &m->qvm, why, sizeof(why));
	qmp_close(&q);
	if (err)
		return fail(m, err, "cannot move this QEMU guest: %s", why);
	err = vmfd_find(m->req->vm_pid, why, sizeof(why));
	return err < 0 ? fail(m, err, "%s", why) : err;
}

/* The migration's slots of a QEMU guest: its RAM backends, in order. */
static void qemu_layout(struct mig *m)
{
	uint64_t gfn = 0;
	uint32_t i;

	m->vm.nslots = m->qvm.nregions;
	for (i = 0; i < m->qvm.nregions; i++) {
		memset(&m->vm.slots[i], 0, sizeof(m->vm.slots[i]));
		m->vm.slots[i].id = i;
		m->vm.slots[i].base_gfn = gfn;
		m->vm.slots[i].npages = m->qvm.regions[i].size / WIRE_PAGE_SIZE;
		m->vm.slots[i].userspace_addr = m->qvm.regions[i].hva;
		gfn += m->vm.slots[i].npages;
	}
}

static int setup(struct mig *m)
{
	char why[256];
	uint32_t i;
	int vmfd, fdnum, err;

	m->pidfd = vmfd_pidfd_open(m->req->vm_pid);
	if (m->pidfd < 0)
		return fail(m, m->pidfd, "no process %u: %s", m->req->vm_pid,
			    strerror(-m->pidfd));
	m->qemu = !!(m->req->flags & CTL_MIG_QMP);
	fdnum = m->qemu ? identify_qemu(m) : identify_vmm(m);
	if (fdnum < 0)
		return fdnum;
	vmfd = vmfd_get(m->pidfd, fdnum, why, sizeof(why));
	if (vmfd < 0)
		return fail(m, vmfd, "%s", why);

	err = ipc_open(&m->ipc);
	if (err) {
		close(vmfd);
		return fail(m, err, "%s", m->ipc.err_msg);
	}
	m->ipc_open = 1;
	err = ipc_events_subscribe(&m->ipc);
	if (!err)
		err = ipc_attach(&m->ipc, vmfd, &m->vm_id);
	close(vmfd);	/* the module holds its own reference */
	if (err)
		return ipc_fail(m, err, "attach");
	err = ipc_vm_get(&m->ipc, m->vm_id, &m->vm);
	if (err)
		return ipc_fail(m, err, "reading the VM's memslots");
	if (m->qemu)
		qemu_layout(m);
	if (!m->vm.nslots)
		return fail(m, -EINVAL, "the VM has no memory");
	m->st->vcpus = m->vm.vcpus;
	m->st->mode = m->req->mode;
	if (!(m->req->flags & CTL_MIG_NO_RECONCILE))
		m->st->reconcile_threads = reconcile_threads();
	m->zero_hash = zero_page_hash();
	m->snap = malloc(WIRE_MAX_PAGES * WIRE_PAGE_SIZE);
	if (!m->snap)
		return fail(m, -ENOMEM, "out of memory");
	for (i = 0; i < m->vm.nslots; i++) {
		struct ipc_memslot *s = &m->vm.slots[i];

		err = guestmem_map_pid(m->req->vm_pid, s->userspace_addr,
				       s->npages * WIRE_PAGE_SIZE, 0,
				       (void **)&m->mem[i], why, sizeof(why));
		if (err)
			return fail(m, err, "%s", why);
		m->dirty[i] = calloc(bm_words(s->npages), 8);
		if (!m->dirty[i])
			return fail(m, -ENOMEM, "out of memory");
		if (m->st->reconcile_threads) {
			m->sent_hash[i] = calloc(s->npages, 8);
			if (!m->sent_hash[i])
				return fail(m, -ENOMEM, "out of memory");
		}
		m->st->guest_pages += s->npages;
	}
	return 0;
}

/* The module's figures of the trace for the summary, then its end. */
static void trace_stop(struct mig *m)
{
	struct ipc_stats s;

	if (!m->tracing)
		return;
	if (!ipc_stats(&m->ipc, m->vm_id, &s)) {
		m->st->trace_install_ns = s.v[LOOSETRACE_STAT_TRACE_INSTALL_NS];
		m->st->flush_ns_median = s.v[LOOSETRACE_STAT_FLUSH_NS_MEDIAN];
		m->st->flush_ns_max = s.v[LOOSETRACE_STAT_FLUSH_NS_MAX];
		m->st->deadline_kicks = s.v[LOOSETRACE_STAT_DEADLINE_KICKS];
		m->st->sync_flushes = s.v[LOOSETRACE_STAT_SYNC_FLUSHES];
		m->st->epochs = s.v[LOOSETRACE_STAT_EPOCHS];
	}
	ipc_trace_stop(&m->ipc, m->vm_id);
	m->tracing = 0;
}

static int vmm_pause(struct mig *m, char *why, size_t len)
{
	return m->qemu ? qemu_hook_pause(m->req->vmm_sock, why, len) :
			 vmmhook_pause(m->req->vmm_sock, why, len);
}

static int vmm_resume(struct mig *m, char *why, size_t len)
{
	return m->qemu ? qemu_hook_resume(m->req->vmm_sock, why, len) :
			 vmmhook_resume(m->req->vmm_sock, why, len);
}

/*
 * The paused VM's state blob: lt-vmm's vCPU state, or QEMU's migration
 * of everything but its shared RAM. QEMU's own migration turns dirty
 * logging on under the slots on its own terms: the trace ends first.
 */
static int vmm_save_state(struct mig *m, uint8_t **blob, size_t *len,
			  char *why, size_t why_len)
{
	if (!m->qemu)
		return vmmhook_save_state(m->req->vmm_sock, blob, len, why,
					  why_len);
	trace_stop(m);
	return qemu_hook_save_devices(m->req->vmm_sock, blob, len, why,
				      why_len);
}

static void teardown(struct mig *m)
{
	uint32_t i;
	char why[256];

	/* the guest runs on unthrottled, here or on the destination */
	converge_release(m->cv);
	if (m->paused && vmm_resume(m, why, sizeof(why)))
		fprintf(stderr, "loosetrace-agent: resuming the source VM failed: %s\n",
			why);
	trace_stop(m);
	if (m->vm_id)
		ipc_detach(&m->ipc, m->vm_id);
	if (m->ipc_open)
		ipc_close(&m->ipc);
	if (m->conn_open) {
		close(m->conn.fd);
		wire_conn_free(&m->conn);
	}
	for (i = 0; i < IPC_MAX_SLOTS; i++) {
		if (m->mem[i])
			guestmem_unmap(m->mem[i],
				       m->vm.slots[i].npages * WIRE_PAGE_SIZE);
		free(m->dirty[i]);
		free(m->sent_hash[i]);
	}
	if (m->pidfd >= 0)
		close(m->pidfd);
	free(m->snap);
}

/* Adds a round to the summary's list; the final one always gets in. */
static void log_round(struct mig *m, int64_t dirty, uint64_t rate,
		      uint64_t bytes, uint64_t ns, int final)
{
	struct ctl_migrate *st = m->st;
	struct ctl_round *r;

	if (st->nlog == CTL_ROUND_LOG && !final)
		return;
	r = &st->log[st->nlog < CTL_ROUND_LOG ? st->nlog++ : CTL_ROUND_LOG - 1];
	r->dirty_pages = dirty;
	r->dirty_rate = rate;
	r->bytes = bytes;
	r->ms = ns / 1000000;
	r->final = final;
}

/*
 * The dirty set stopped shrinking above the downtime target: switching
 * over would stop the guest for far longer than asked. The migration
 * fails instead, the source running on, and says by how much.
 */
static int cannot_converge(struct mig *m, const struct precopy_state *ps,
			   const struct precopy_policy *p, uint64_t dirty,
			   uint64_t prev)
{
	char why[CTL_REASON_LEN], scan[32] = "";

	converge_why(m->cv, m->req, why, sizeof(why));
	/*
	 * The reconcile scan is part of the downtime: say so, and say when
	 * it alone is over the target, which no throttle can mend.
	 */
	if (p->fixed_ms)
		snprintf(scan, sizeof(scan), " + ~%llu ms reconcile",
			 (unsigned long long)p->fixed_ms);
	if (p->fixed_ms >= p->downtime_ms)
		snprintf(why, sizeof(why),
			 "the reconcile scan alone is over the target (raise --downtime-ms, or --no-reconcile)");
	return fail(m, -EAGAIN,
		    "cannot converge within %u ms: the guest dirtied %llu pages while the previous %llu were sent (%.1f MB/s, link %.1f MB/s), a final round would take ~%llu ms%s; %s",
		    p->downtime_ms, (unsigned long long)dirty,
		    (unsigned long long)prev, ps->dirty_rate * 4096 / 1e6,
		    ps->rate_bps / 1e6, (unsigned long long)ps->final_ms, scan,
		    why);
}

static int precopy(struct mig *m)
{
	struct precopy_policy p = {
		.downtime_ms = m->req->downtime_ms ?: DEFAULT_DOWNTIME_MS,
		.max_rounds = m->req->max_rounds ?: DEFAULT_MAX_ROUNDS,
		.shrink_pct = PRECOPY_DEFAULT_SHRINK_PCT,
		.flat_rounds = PRECOPY_DEFAULT_FLAT_ROUNDS,
		.rate_bps = m->req->bandwidth_mbps * 125000ULL,
	};
	struct precopy_state ps = { 0 };
	struct precopy_round r;
	enum precopy_verdict v;
	uint64_t t0, t_prev = 0, tx0, prev_dirty = 0;
	uint32_t round;
	int64_t dirty;

	m->st->phase = MIG_PRECOPY;
	for (round = 1; ; round++) {
		dirty = check_alive(m);
		if (dirty < 0)
			return dirty;
		t0 = now_ns();
		tx0 = m->conn.bytes_tx;
		dirty = do_round(m, round, 0);
		if (dirty < 0)
			return dirty;
		r.dirty_pages = dirty;
		r.bytes = m->conn.bytes_tx - tx0;
		r.send_ns = now_ns() - t0;
		r.interval_ns = t_prev ? t0 - t_prev : 0;
		t_prev = t0;
		m->t_last_harvest = t0;
		p.fixed_ms = reconcile_estimate_ms(m);
		v = precopy_next(&ps, &p, &r);

		m->st->round = round;
		m->st->dirty_pages = dirty;
		m->st->dirty_rate = ps.dirty_rate;
		m->st->rate_bps = ps.rate_bps;
		m->st->est_final_pages = ps.final_pages;
		m->st->est_final_ms = ps.final_ms;
		/* the next round sends about what was dirtied meanwhile */
		m->st->eta_ms = ps.rate_bps ? (uint64_t)((double)ps.dirty_rate *
			r.send_ns / 1e9 * WIRE_PAGE_SIZE * 1000 / ps.rate_bps) : 0;
		log_round(m, dirty, ps.dirty_rate, r.bytes, r.send_ns, 0);
		v = converge_round(m->cv, &ps, &r, v);
		report(m);
		if (v != PRECOPY_CONTINUE) {
			precopy_reason(&ps, &p, v, m->st->stop_reason,
				       sizeof(m->st->stop_reason));
			if (v == PRECOPY_STALLED)
				return cannot_converge(m, &ps, &p, dirty,
						       prev_dirty);
			return 0;
		}
		prev_dirty = dirty;
	}
}

static int send_state(struct mig *m, const uint8_t *blob, size_t len)
{
	int err = send_chunked(m, WIRE_STATE, 0, blob, len);

	if (!err)
		m->st->state_bytes = len;
	return err;
}

static uint64_t source_digest(struct mig *m)
{
	uint64_t d = 0;
	uint32_t i;

	/* same fold as the destination: one digest over the slots */
	for (i = 0; i < m->vm.nslots; i++)
		d ^= wire_mem_digest(m->mem[i], m->vm.slots[i].npages) +
		     i * 0x9e3779b97f4a7c15ULL;
	return d;
}

/*
 * After RESUME went out the destination may be running the guest, unless
 * it said otherwise: restarting the source as well would run two copies.
 * Whatever else went wrong, the source VM stays paused and the reason says
 * so; the operator resumes it once sure the destination does not run.
 */
static int left_paused(struct mig *m, int err)
{
	size_t n = strlen(m->why);

	m->paused = 0;
	m->st->source_left_paused = 1;
	snprintf(m->why + n, m->why_len - n,
		 "; the destination may be running the guest, so the source VM is left paused");
	return err;
}

static int switchover(struct mig *m)
{
	struct wire_resume rs = { .flags = WIRE_RESUME_DIGEST };
	uint64_t t_pause, t_round, tx0, t_digest, digest;
	struct wire_done done;
	struct wire_hdr h;
	uint8_t *blob = NULL;
	char why[256];
	/* RESUME's payload, the digest to check included */
	uint8_t buf[WIRE_RESUME_MAX_LEN];
	size_t len;
	int64_t dirty;
	int err;

	m->st->phase = MIG_SWITCHOVER;
	/*
	 * Unthrottled just before the pause: a vCPU held back by CFS would
	 * answer it only in its next period. Teardown removes the cgroups.
	 */
	converge_unthrottle(m->cv);
	t_pause = now_ns();
	/*
	 * Counted as paused before asking: a pause that timed out may still
	 * have happened, and resuming a running VM does no harm.
	 */
	m->paused = 1;
	err = vmm_pause(m, why, sizeof(why));
	if (err)
		return fail(m, err, "pausing the VM: %s", why);
	t_round = now_ns();
	tx0 = m->conn.bytes_tx;
	dirty = do_round(m, m->st->round + 1, 1);
	if (dirty < 0)
		return dirty;
	m->st->round++;
	m->st->final_dirty_pages = dirty;
	log_round(m, dirty, dirty * 1000000000ULL /
		  ((t_round - m->t_last_harvest) ?: 1),
		  m->conn.bytes_tx - tx0, now_ns() - t_round, 1);
	err = vmm_save_state(m, &blob, &len, why, sizeof(why));
	if (err)
		return fail(m, err, "saving the VM's state: %s", why);
	/*
	 * The paused source does not change: its digest goes with RESUME, so
	 * that a destination whose memory differs refuses to run it.
	 */
	t_digest = now_ns();
	digest = source_digest(m);
	t_digest = now_ns() - t_digest;
	if (m->caps & WIRE_CAP_RESUME_CHECK) {
		rs.flags |= WIRE_RESUME_CHECK;
		rs.src_digest = digest;
	}
	err = send_state(m, blob, len);
	free(blob);
	/* a RESUME not sent whole is no RESUME: the destination waits on */
	if (!err)
		err = send_frame(m, WIRE_RESUME, 0, buf,
				 wire_put_resume(buf, &rs), NULL, 0);
	if (err)
		return err;
	m->conn.timeout_ms = DONE_TIMEOUT_MS;
	err = expect(m, WIRE_DONE, &h);
	if (err)
		return m->peer_refused ? err : left_paused(m, err);
	if (wire_get_done(m->conn.buf, h.len, &done))
		return left_paused(m, fail(m, -EBADMSG, "malformed DONE"));
	if (done.status)
		return fail(m, -(int)done.status, "destination could not resume: %s",
			    done.message);
	/* the verification digests are not part of the guest's downtime */
	m->st->switchover_ms = (now_ns() - t_pause - t_digest -
				done.digest_ns) / 1000000;
	snprintf(m->st->dest_message, sizeof(m->st->dest_message), "%s",
		 done.message);
	/* only a destination without the check can get here with a mismatch */
	if (!(done.flags & WIRE_RESUME_DIGEST) || done.digest != digest)
		return left_paused(m, fail(m, -EIO,
			    "destination memory differs from the source's at the pause (digest %016llx, source %016llx)",
			    (unsigned long long)done.digest,
			    (unsigned long long)digest));
	/* the guest runs on the destination now: this copy stays paused */
	m->paused = 0;
	m->st->phase = MIG_DONE;
	return 0;
}

int source_migrate(const struct ctl_req *req, int peer_timeout_ms,
		   source_progress_fn progress, void *arg,
		   struct ctl_migrate *out, char *why, size_t why_len)
{
	struct mig m = {
		.req = req, .progress = progress, .progress_arg = arg,
		.pidfd = -1, .st = out, .why = why, .why_len = why_len,
	};
	struct mig_impact imp = { 0 };	/* guest impact: mig_impact.h */
	int err;

	why[0] = '\0';
	memset(out, 0, sizeof(*out));
	m.t_start = now_ns();
	out->phase = MIG_CONNECT;
	err = setup(&m);
	if (!err)
		impact_start(&imp, req->vm_pid, out);
	if (!err)
		m.cv = converge_new(req, &imp, out);
	if (!err)
		err = peer_connect(&m);
	if (!err) {
		m.conn.timeout_ms = peer_timeout_ms;
		err = handshake(&m);
	}
	if (!err) {
		impact_mark(&imp, CTL_IMPACT_BEFORE);
		err = trace_start(&m);
		if (err)
			err = ipc_fail(&m, err, "trace start");
		else
			m.tracing = 1;
	}
	if (!err)
		err = precopy(&m);
	if (!err) {
		impact_mark(&imp, CTL_IMPACT_PRECOPY);
		err = switchover(&m);
		impact_mark(&imp, CTL_IMPACT_SWITCHOVER);
	}
	if (err && m.conn_open && err != -ECONNRESET && err != -EPIPE) {
		/* tell the destination why, without waiting long */
		m.conn.timeout_ms = 1000;
		wire_send_error(&m.conn, err, "%s", why);
	}
	teardown(&m);
	converge_free(m.cv);
	impact_stop(&imp, err && !out->source_left_paused);
	report(&m);
	return err;
}
