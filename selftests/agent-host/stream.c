// SPDX-License-Identifier: GPL-2.0
/* Peer protocol streams and an in-memory destination for tests. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bitmap.h"
#include "stream.h"

void stream_frame(struct stream *s, uint8_t type, uint16_t flags,
		  const void *payload, uint32_t len)
{
	if (s->len + WIRE_HDR_LEN + len > s->cap) {
		s->cap = (s->len + WIRE_HDR_LEN + len) * 2;
		s->buf = realloc(s->buf, s->cap);
		if (!s->buf)
			abort();
	}
	wire_build_header(s->buf + s->len, type, flags, s->seq++, payload, len);
	memcpy(s->buf + s->len + WIRE_HDR_LEN, payload, len);
	s->len += WIRE_HDR_LEN + len;
}

void stream_free(struct stream *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static int page_zero(const uint8_t *p)
{
	int i;

	for (i = 0; i < WIRE_PAGE_SIZE; i++)
		if (p[i])
			return 0;
	return 1;
}

static void round_frames(struct stream *s, const uint8_t *src, int r,
			 int final)
{
	uint8_t *p = malloc(WIRE_MAX_PAYLOAD);
	struct wire_round rd = { .round = r, .epoch = r + 10 };
	struct wire_round_end re = { .round = r };
	uint64_t words[(MEM_SLOT_PAGES + 63) / 64];
	struct wire_chunk c = { 0 };
	struct wire_pages pg;
	uint8_t *enc;
	uint32_t slot, n;
	uint64_t i;
	long len;

	stream_frame(s, WIRE_ROUND, final ? WIRE_F_FINAL : 0, p,
		     wire_put_round(p, &rd));
	for (slot = 0; slot < MEM_SLOTS; slot++) {
		memset(words, 0, sizeof(words));
		for (i = 0; i < MEM_SLOT_PAGES; i++)
			if (i % r == 0 || final) {
				bm_set(words, i);
				re.pages++;
			}
		len = bm_encode(words, MEM_SLOT_PAGES, &enc);
		if (len < 0)
			abort();
		c.slot = slot;
		c.total = len;
		c.offset = 0;
		n = wire_put_chunk_hdr(p, WIRE_BITMAP, &c);
		memcpy(p + n, enc, len);
		stream_frame(s, WIRE_BITMAP, 0, p, n + len);
		free(enc);
		for (i = 0; i < MEM_SLOT_PAGES; i++) {
			const uint8_t *page;

			if (!bm_test(words, i))
				continue;
			page = src + (slot * MEM_SLOT_PAGES + i) * WIRE_PAGE_SIZE;
			pg.slot = slot;
			pg.count = 1;
			pg.gfn = slot * 0x1000 + i;
			n = wire_put_pages_hdr(p, &pg);
			if (page_zero(page)) {
				stream_frame(s, WIRE_PAGES, WIRE_F_ZERO, p, n);
				continue;
			}
			memcpy(p + n, page, WIRE_PAGE_SIZE);
			stream_frame(s, WIRE_PAGES, 0, p, n + WIRE_PAGE_SIZE);
		}
	}
	stream_frame(s, WIRE_ROUND_END, 0, p, wire_put_round_end(p, &re));
	free(p);
}

void stream_migration(struct stream *s, const uint8_t *src, int rounds)
{
	struct wire_resume rs = { .flags = WIRE_RESUME_DIGEST };

	stream_migration_resume(s, src, rounds, WIRE_CAP_ZERO_PAGES, &rs);
}

void stream_migration_resume(struct stream *s, const uint8_t *src,
			     int rounds, uint64_t caps,
			     const struct wire_resume *rs)
{
	struct wire_hello h = { .proto_min = 1, .proto_max = 1,
				.caps = caps, .software = "selftest" };
	struct wire_layout l = {
		.page_size = WIRE_PAGE_SIZE, .vcpus = 2, .nslots = MEM_SLOTS,
		.slots = { { 0, MEM_SLOT_PAGES }, { 0x1000, MEM_SLOT_PAGES } },
	};
	struct wire_chunk c = { .total = 100 };
	uint8_t p[512];
	uint32_t n;
	int r;

	stream_frame(s, WIRE_HELLO, 0, p, wire_put_hello(p, &h));
	stream_frame(s, WIRE_LAYOUT, 0, p, wire_put_layout(p, &l));
	for (r = 1; r <= rounds; r++)
		round_frames(s, src, r, r == rounds);
	n = wire_put_chunk_hdr(p, WIRE_STATE, &c);
	memset(p + n, 0xab, 100);
	stream_frame(s, WIRE_STATE, 0, p, n + 100);
	stream_frame(s, WIRE_RESUME, 0, p, wire_put_resume(p, rs));
}

static int mt_layout(void *ctx, const struct wire_layout *l, char *why,
		     size_t why_len)
{
	struct mem_target *t = ctx;
	uint32_t i;

	if (t->refuse_layout || l->nslots != MEM_SLOTS)
		goto refuse;
	for (i = 0; i < l->nslots; i++)
		if (l->slots[i].npages != MEM_SLOT_PAGES)
			goto refuse;
	/* like the agent's target: slots in file order, wherever their gfns */
	for (i = 0; i < l->nslots; i++)
		t->base_gfn[i] = l->slots[i].base_gfn;
	return 0;
refuse:
	strncpy(why, "memory size differs", why_len - 1);
	return -EINVAL;
}

static int mt_write(void *ctx, uint32_t slot, uint64_t gfn, uint32_t count,
		    const uint8_t *data)
{
	struct mem_target *t = ctx;
	uint64_t off;

	/* the session must never let a page outside the slot through */
	if (slot >= MEM_SLOTS || gfn < t->base_gfn[slot] ||
	    gfn - t->base_gfn[slot] + count > MEM_SLOT_PAGES)
		abort();
	off = slot * MEM_SLOT_PAGES + (gfn - t->base_gfn[slot]);
	if (data)
		memcpy(t->mem + off * WIRE_PAGE_SIZE, data,
		       count * WIRE_PAGE_SIZE);
	else
		memset(t->mem + off * WIRE_PAGE_SIZE, 0, count * WIRE_PAGE_SIZE);
	t->writes += count;
	return 0;
}

static uint64_t mt_digest(void *ctx)
{
	struct mem_target *t = ctx;

	return wire_mem_digest(t->mem, MEM_PAGES);
}

static int mt_resume(void *ctx, const uint8_t *state, size_t len, char *why,
		     size_t why_len)
{
	struct mem_target *t = ctx;

	t->resumed = 1;
	t->state_len = len;
	return 0;
}

void mem_target_init(struct mem_target *t, struct dest_target *ops)
{
	memset(t, 0, sizeof(*t));
	ops->ctx = t;
	ops->layout = mt_layout;
	ops->write = mt_write;
	ops->digest = mt_digest;
	ops->resume = mt_resume;
}

int stream_feed(struct dest_session *s, const uint8_t *buf, size_t len,
		int check_crc, struct dest_reply *r)
{
	struct wire_hdr h;
	size_t off = 0;
	int err;

	while (len - off >= WIRE_HDR_LEN) {
		err = wire_parse_header(buf + off, &h);
		if (err)
			return err;
		if (h.len > len - off - WIRE_HDR_LEN)
			return -EMSGSIZE;
		if (check_crc &&
		    wire_check_crc(buf + off, buf + off + WIRE_HDR_LEN, h.len))
			return -EBADMSG;
		err = dest_session_frame(s, &h, buf + off + WIRE_HDR_LEN, r);
		if (err)
			return err;
		off += WIRE_HDR_LEN + h.len;
	}
	return 0;
}
