// SPDX-License-Identifier: GPL-2.0
/*
 * Destination state machine: which frame may come when, and what each
 * must agree with. See dest_session.h and Documentation/wire-protocol.rst.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bitmap.h"
#include "dest_session.h"

#define AGENT_SOFTWARE	"loosetrace-agent " LT_VERSION

static int fail(struct dest_session *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct dest_session *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	s->phase = DEST_FAILED;
	return err;
}

void dest_session_init(struct dest_session *s, const struct dest_target *t)
{
	memset(s, 0, sizeof(*s));
	s->target = t;
	s->phase = DEST_HELLO;
}

static void round_reset(struct dest_session *s)
{
	uint32_t i;

	for (i = 0; i < s->layout.nslots; i++) {
		struct dest_slot *d = &s->slots[i];

		free(d->bm);
		d->bm = NULL;
		d->bm_total = 0;
		d->bm_got = 0;
		d->bm_ready = 0;
		d->ndirty = 0;
		d->nseen = 0;
		if (d->dirty)
			memset(d->dirty, 0, bm_words(d->npages) * 8);
		if (d->seen)
			memset(d->seen, 0, bm_words(d->npages) * 8);
	}
}

void dest_session_free(struct dest_session *s)
{
	uint32_t i;

	round_reset(s);
	for (i = 0; i < WIRE_MAX_SLOTS; i++) {
		free(s->slots[i].dirty);
		free(s->slots[i].seen);
		s->slots[i].dirty = NULL;
		s->slots[i].seen = NULL;
	}
	free(s->state);
	s->state = NULL;
}

static int on_hello(struct dest_session *s, const uint8_t *p, uint32_t len,
		    struct dest_reply *r)
{
	struct wire_welcome w = { 0 };
	struct wire_hello m;

	if (wire_get_hello(p, len, &m))
		return fail(s, -EBADMSG, "malformed HELLO");
	if (m.proto_min > WIRE_PROTO_MAX || m.proto_max < WIRE_PROTO_MIN)
		return fail(s, -EPROTONOSUPPORT,
			    "no common protocol version: peer speaks %u-%u, we speak %u-%u",
			    m.proto_min, m.proto_max, WIRE_PROTO_MIN,
			    WIRE_PROTO_MAX);
	s->proto = m.proto_max < WIRE_PROTO_MAX ? m.proto_max : WIRE_PROTO_MAX;
	s->caps = m.caps & WIRE_CAPS_SUPPORTED;
	snprintf(s->peer_software, sizeof(s->peer_software), "%s", m.software);
	w.proto = s->proto;
	w.caps = s->caps;
	snprintf(w.software, sizeof(w.software), "%s", AGENT_SOFTWARE);
	r->type = WIRE_WELCOME;
	r->len = wire_put_welcome(r->buf, &w);
	s->phase = DEST_LAYOUT;
	return 0;
}

static int on_layout(struct dest_session *s, const uint8_t *p, uint32_t len,
		     struct dest_reply *r)
{
	struct wire_layout *l = &s->layout;
	uint64_t total = 0;
	uint32_t i;
	int err;

	if (wire_get_layout(p, len, l)) {
		l->nslots = 0;
		return fail(s, -EBADMSG, "malformed LAYOUT");
	}
	if (l->page_size != WIRE_PAGE_SIZE) {
		l->nslots = 0;
		return fail(s, -EINVAL, "page size %u, this host uses %u",
			    l->page_size, (unsigned int)WIRE_PAGE_SIZE);
	}
	for (i = 0; i < l->nslots; i++)
		total += l->slots[i].npages;
	if (total > DEST_MAX_PAGES) {
		l->nslots = 0;
		return fail(s, -E2BIG, "layout of %llu pages is too large",
			    (unsigned long long)total);
	}
	/* the target compares with its own VM: before any page is written */
	err = s->target->layout(s->target->ctx, l, s->why, sizeof(s->why));
	if (err) {
		l->nslots = 0;
		s->phase = DEST_FAILED;
		return err;
	}
	for (i = 0; i < l->nslots; i++) {
		struct dest_slot *d = &s->slots[i];

		d->base_gfn = l->slots[i].base_gfn;
		d->npages = l->slots[i].npages;
		d->dirty = calloc(bm_words(d->npages), 8);
		d->seen = calloc(bm_words(d->npages), 8);
		if (!d->dirty || !d->seen)
			return fail(s, -ENOMEM, "out of memory for bitmaps");
	}
	r->type = WIRE_LAYOUT_OK;
	r->len = 0;
	s->phase = DEST_IDLE;
	return 0;
}

static int on_round(struct dest_session *s, const uint8_t *p, uint32_t len,
		    uint16_t flags)
{
	struct wire_round m;

	if (wire_get_round(p, len, &m))
		return fail(s, -EBADMSG, "malformed ROUND");
	if (s->final_round)
		return fail(s, -EPROTO, "ROUND after the final round");
	if (m.round != s->round + 1)
		return fail(s, -EPROTO, "round %u after round %u",
			    m.round, s->round);
	round_reset(s);
	s->round = m.round;
	s->final_round = !!(flags & WIRE_F_FINAL);
	s->phase = DEST_ROUND;
	return 0;
}

static int on_bitmap(struct dest_session *s, const uint8_t *p, uint32_t len)
{
	struct dest_slot *d;
	struct wire_chunk c;

	if (wire_get_bitmap(p, len, &c))
		return fail(s, -EBADMSG, "malformed BITMAP");
	if (c.slot >= s->layout.nslots)
		return fail(s, -EBADMSG, "BITMAP for slot %u of %u",
			    c.slot, s->layout.nslots);
	d = &s->slots[c.slot];
	if (d->bm_ready)
		return fail(s, -EPROTO, "second bitmap for slot %u", c.slot);
	/* a compacted bitmap is never much larger than the raw one */
	if (c.total > bm_words(d->npages) * 8 + d->npages / 512 + 4096)
		return fail(s, -EBADMSG, "bitmap of %llu bytes for %llu pages",
			    (unsigned long long)c.total,
			    (unsigned long long)d->npages);
	if (!d->bm) {
		if (c.offset)
			return fail(s, -EPROTO, "bitmap chunk out of order");
		d->bm = malloc(c.total ? c.total : 1);
		if (!d->bm)
			return fail(s, -ENOMEM, "out of memory");
		d->bm_total = c.total;
	}
	if (c.total != d->bm_total || c.offset != d->bm_got)
		return fail(s, -EPROTO, "bitmap chunk out of order");
	memcpy(d->bm + d->bm_got, c.data, c.len);
	d->bm_got += c.len;
	if (d->bm_got < d->bm_total)
		return 0;
	if (bm_decode(d->bm, d->bm_total, d->npages, d->dirty))
		return fail(s, -EBADMSG, "slot %u: corrupt compacted bitmap",
			    c.slot);
	d->bm_ready = 1;
	d->ndirty = bm_count(d->dirty, d->npages);
	s->stats.bitmap_bytes += d->bm_total;
	s->stats.bitmap_raw_bytes += bm_words(d->npages) * 8;
	free(d->bm);
	d->bm = NULL;
	return 0;
}

static int on_pages(struct dest_session *s, const uint8_t *p, uint32_t len,
		    uint16_t flags)
{
	struct wire_pages m;
	struct dest_slot *d;
	uint64_t off, i;
	int err;

	if (wire_get_pages(p, len, flags, &m))
		return fail(s, -EBADMSG, "malformed PAGES");
	if ((flags & WIRE_F_ZERO) && !(s->caps & WIRE_CAP_ZERO_PAGES))
		return fail(s, -EPROTO, "zero-page run without the capability");
	if (m.slot >= s->layout.nslots)
		return fail(s, -EBADMSG, "PAGES for slot %u of %u",
			    m.slot, s->layout.nslots);
	d = &s->slots[m.slot];
	if (!d->bm_ready)
		return fail(s, -EPROTO, "PAGES before slot %u's bitmap",
			    m.slot);
	if (m.gfn < d->base_gfn || m.gfn - d->base_gfn > d->npages ||
	    m.count > d->npages - (m.gfn - d->base_gfn))
		return fail(s, -EBADMSG, "pages %llu+%u outside slot %u",
			    (unsigned long long)m.gfn, m.count, m.slot);
	off = m.gfn - d->base_gfn;
	for (i = off; i < off + m.count; i++) {
		if (!bm_test(d->dirty, i))
			return fail(s, -EPROTO,
				    "page %llu is not in round %u's bitmap",
				    (unsigned long long)(d->base_gfn + i),
				    s->round);
		if (bm_test(d->seen, i))
			return fail(s, -EPROTO, "page %llu sent twice",
				    (unsigned long long)(d->base_gfn + i));
	}
	err = s->target->write(s->target->ctx, m.slot, m.gfn, m.count, m.data);
	if (err)
		return fail(s, err, "writing pages %llu+%u: %s",
			    (unsigned long long)m.gfn, m.count,
			    strerror(-err));
	for (i = off; i < off + m.count; i++)
		bm_set(d->seen, i);
	d->nseen += m.count;
	s->stats.pages += m.count;
	if (flags & WIRE_F_ZERO)
		s->stats.zero_pages += m.count;
	return 0;
}

static int on_round_end(struct dest_session *s, const uint8_t *p,
			uint32_t len, struct dest_reply *r)
{
	struct wire_round_end m;
	uint64_t dirty = 0;
	uint32_t i;

	if (wire_get_round_end(p, len, &m))
		return fail(s, -EBADMSG, "malformed ROUND_END");
	if (m.round != s->round)
		return fail(s, -EPROTO, "ROUND_END %u in round %u",
			    m.round, s->round);
	for (i = 0; i < s->layout.nslots; i++) {
		struct dest_slot *d = &s->slots[i];

		if (!d->bm_ready)
			return fail(s, -EPROTO, "round %u: no bitmap for slot %u",
				    s->round, i);
		/* every dirty page of the bitmap must have arrived */
		if (d->nseen != d->ndirty)
			return fail(s, -EPROTO,
				    "round %u slot %u: %llu of %llu dirty pages arrived",
				    s->round, i,
				    (unsigned long long)d->nseen,
				    (unsigned long long)d->ndirty);
		dirty += d->ndirty;
	}
	if (dirty != m.pages)
		return fail(s, -EPROTO, "round %u: source counts %llu pages, bitmaps %llu",
			    s->round, (unsigned long long)m.pages,
			    (unsigned long long)dirty);
	s->stats.rounds++;
	m.pages = dirty;
	r->type = WIRE_ROUND_ACK;
	r->len = wire_put_round_end(r->buf, &m);
	s->phase = DEST_IDLE;
	return 0;
}

static int on_state(struct dest_session *s, const uint8_t *p, uint32_t len)
{
	struct wire_chunk c;

	if (wire_get_state(p, len, &c))
		return fail(s, -EBADMSG, "malformed STATE");
	if (!s->final_round)
		return fail(s, -EPROTO, "STATE before the final round");
	if (c.total > DEST_STATE_MAX)
		return fail(s, -E2BIG, "state blob of %llu bytes",
			    (unsigned long long)c.total);
	if (!s->state) {
		if (c.offset)
			return fail(s, -EPROTO, "state chunk out of order");
		s->state = malloc(c.total ? c.total : 1);
		if (!s->state)
			return fail(s, -ENOMEM, "out of memory");
		s->state_total = c.total;
	}
	if (c.total != s->state_total || c.offset != s->state_got)
		return fail(s, -EPROTO, "state chunk out of order");
	memcpy(s->state + s->state_got, c.data, c.len);
	s->state_got += c.len;
	s->stats.state_bytes = s->state_got;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int on_resume(struct dest_session *s, const uint8_t *p, uint32_t len,
		     struct dest_reply *r)
{
	struct wire_done d = { 0 };
	struct wire_resume m;
	uint64_t t0;
	int err;

	if (wire_get_resume(p, len, &m))
		return fail(s, -EBADMSG, "malformed RESUME");
	if (!s->final_round || !s->state || s->state_got != s->state_total)
		return fail(s, -EPROTO, "RESUME before the final round and state");
	if ((m.flags & WIRE_RESUME_CHECK) && !(s->caps & WIRE_CAP_RESUME_CHECK))
		return fail(s, -EPROTO, "RESUME check without its capability");
	if (m.flags & WIRE_RESUME_DIGEST) {
		/* memory as it will run, before the guest touches it */
		t0 = now_ns();
		d.digest = s->target->digest(s->target->ctx);
		d.digest_ns = now_ns() - t0;
		d.flags = WIRE_RESUME_DIGEST;
	}
	/* never run a guest whose memory is not the source's */
	if ((m.flags & WIRE_RESUME_CHECK) && d.digest != m.src_digest)
		return fail(s, -EIO,
			    "memory differs from the source's at the pause (digest %016llx, source %016llx): not resumed",
			    (unsigned long long)d.digest,
			    (unsigned long long)m.src_digest);
	err = s->target->resume(s->target->ctx, s->state, s->state_total,
				s->why, sizeof(s->why));
	if (err) {
		s->phase = DEST_FAILED;
		return err;
	}
	snprintf(d.message, sizeof(d.message), "resumed after %u rounds",
		 s->stats.rounds);
	r->type = WIRE_DONE;
	r->len = wire_put_done(r->buf, &d);
	s->phase = DEST_DONE;
	return 0;
}

int dest_session_frame(struct dest_session *s, const struct wire_hdr *h,
		       const uint8_t *p, struct dest_reply *r)
{
	struct wire_error e;

	r->type = 0;
	r->len = 0;
	if (h->type == WIRE_ERROR) {
		if (wire_get_error(p, h->len, &e))
			return fail(s, -EBADMSG, "malformed ERROR");
		return fail(s, -ECONNABORTED, "source aborted: %s", e.reason);
	}
	switch (s->phase) {
	case DEST_HELLO:
		if (h->type == WIRE_HELLO)
			return on_hello(s, p, h->len, r);
		break;
	case DEST_LAYOUT:
		if (h->type == WIRE_LAYOUT)
			return on_layout(s, p, h->len, r);
		break;
	case DEST_IDLE:
		if (h->type == WIRE_ROUND)
			return on_round(s, p, h->len, h->flags);
		if (h->type == WIRE_STATE)
			return on_state(s, p, h->len);
		if (h->type == WIRE_RESUME)
			return on_resume(s, p, h->len, r);
		break;
	case DEST_ROUND:
		if (h->type == WIRE_BITMAP)
			return on_bitmap(s, p, h->len);
		if (h->type == WIRE_PAGES)
			return on_pages(s, p, h->len, h->flags);
		if (h->type == WIRE_ROUND_END)
			return on_round_end(s, p, h->len, r);
		break;
	case DEST_DONE:
	case DEST_FAILED:
		break;
	}
	return fail(s, -EPROTO, "unexpected %s frame", wire_type_name(h->type));
}
