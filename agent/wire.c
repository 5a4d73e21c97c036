// SPDX-License-Identifier: GPL-2.0
/*
 * Peer protocol framing, checksums and payload codecs. Everything that
 * reads bytes from the network goes through the bounds-checked readers
 * below; the libFuzzer target in selftests/agent-host drives them.
 */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "wire.h"

/* ---- CRC32C (Castagnoli), the checksum of iSCSI, ext4 and btrfs ---- */

static uint32_t crc_table[256];
static int crc_hw;

__attribute__((constructor)) static void crc_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ (c & 1 ? 0x82f63b78U : 0);
		crc_table[i] = c;
	}
	__builtin_cpu_init();
	crc_hw = __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2")))
static uint32_t crc_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc, w;

	while (len >= 8) {
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

uint32_t wire_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	if (crc_hw) {
		crc = crc_sse42(crc, p, len);
	} else {
		while (len--)
			crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	}
	return ~crc;
}

/* ---- little-endian helpers ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v);
	put32(p + 4, v >> 32);
}

static uint16_t get16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Copies a NUL-padded fixed field, refusing control characters. */
static int get_text(char *dst, const uint8_t *p, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len && p[i]; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return -EBADMSG;
		dst[i] = p[i];
	}
	dst[i] = '\0';
	for (; i < len; i++)
		if (p[i])
			return -EBADMSG;	/* padding must be zero */
	return 0;
}

static void put_text(uint8_t *p, const char *s, uint32_t len)
{
	size_t n = strnlen(s, len);

	memset(p, 0, len);
	memcpy(p, s, n);
}

/* ---- header ---- */

static const uint16_t allowed_flags[__WIRE_TYPE_MAX] = {
	[WIRE_PAGES] = WIRE_F_ZERO,
	[WIRE_ROUND] = WIRE_F_FINAL,
};

int wire_parse_header(const uint8_t *b, struct wire_hdr *h)
{
	if (get32(b) != WIRE_MAGIC)
		return -EBADMSG;
	h->version = b[4];
	h->type = b[5];
	h->flags = get16(b + 6);
	h->seq = get32(b + 8);
	h->len = get32(b + 12);
	h->crc = get32(b + 16);
	if (h->version != WIRE_FRAME_VERSION)
		return -EPROTO;
	if (h->type == 0 || h->type >= __WIRE_TYPE_MAX)
		return -EBADMSG;
	if (h->flags & ~allowed_flags[h->type])
		return -EBADMSG;
	if (h->len > WIRE_MAX_PAYLOAD)
		return -EBADMSG;
	return 0;
}

static uint32_t frame_crc(const uint8_t *hdr, const uint8_t *payload,
			  uint32_t len)
{
	uint32_t crc;

	crc = wire_crc32c(0, hdr, 16);
	return wire_crc32c(crc, payload, len);
}

int wire_check_crc(const uint8_t *hdr, const uint8_t *payload, uint32_t len)
{
	return frame_crc(hdr, payload, len) == get32(hdr + 16) ? 0 : -EBADMSG;
}

void wire_build_header(uint8_t *out, uint8_t type, uint16_t flags,
		       uint32_t seq, const void *payload, uint32_t len)
{
	put32(out, WIRE_MAGIC);
	out[4] = WIRE_FRAME_VERSION;
	out[5] = type;
	put16(out + 6, flags);
	put32(out + 8, seq);
	put32(out + 12, len);
	put32(out + 16, frame_crc(out, payload, len));
}

/* ---- payloads ---- */

#define HELLO_LEN	(4 + 4 + 8 + WIRE_SOFTWARE_LEN)
#define WELCOME_LEN	(4 + 4 + 8 + WIRE_SOFTWARE_LEN)
#define LAYOUT_HDR_LEN	16
#define LAYOUT_SLOT_LEN	16
#define ROUND_LEN	16
#define CHUNK_HDR_LEN	24
#define PAGES_HDR_LEN	16
#define ROUND_END_LEN	16
#define STATUS_HDR_LEN	4

int wire_get_hello(const uint8_t *p, uint32_t len, struct wire_hello *m)
{
	if (len != HELLO_LEN)
		return -EBADMSG;
	m->proto_min = get32(p);
	m->proto_max = get32(p + 4);
	m->caps = get64(p + 8);
	if (m->proto_min > m->proto_max)
		return -EBADMSG;
	return get_text(m->software, p + 16, WIRE_SOFTWARE_LEN);
}

uint32_t wire_put_hello(uint8_t *p, const struct wire_hello *m)
{
	put32(p, m->proto_min);
	put32(p + 4, m->proto_max);
	put64(p + 8, m->caps);
	put_text(p + 16, m->software, WIRE_SOFTWARE_LEN);
	return HELLO_LEN;
}

int wire_get_welcome(const uint8_t *p, uint32_t len, struct wire_welcome *m)
{
	if (len != WELCOME_LEN || get32(p + 4) != 0)
		return -EBADMSG;
	m->proto = get32(p);
	m->caps = get64(p + 8);
	return get_text(m->software, p + 16, WIRE_SOFTWARE_LEN);
}

uint32_t wire_put_welcome(uint8_t *p, const struct wire_welcome *m)
{
	put32(p, m->proto);
	put32(p + 4, 0);
	put64(p + 8, m->caps);
	put_text(p + 16, m->software, WIRE_SOFTWARE_LEN);
	return WELCOME_LEN;
}

int wire_get_layout(const uint8_t *p, uint32_t len, struct wire_layout *m)
{
	uint64_t end_prev = 0;
	uint32_t i;

	if (len < LAYOUT_HDR_LEN)
		return -EBADMSG;
	m->page_size = get32(p);
	m->vcpus = get32(p + 4);
	m->mode = get32(p + 8);
	m->nslots = get32(p + 12);
	if (m->nslots == 0 || m->nslots > WIRE_MAX_SLOTS ||
	    len != LAYOUT_HDR_LEN + m->nslots * LAYOUT_SLOT_LEN)
		return -EBADMSG;
	for (i = 0; i < m->nslots; i++) {
		const uint8_t *s = p + LAYOUT_HDR_LEN + i * LAYOUT_SLOT_LEN;

		m->slots[i].base_gfn = get64(s);
		m->slots[i].npages = get64(s + 8);
		/* non-empty, no wrap, sorted and not overlapping */
		if (!m->slots[i].npages ||
		    m->slots[i].base_gfn + m->slots[i].npages <
		    m->slots[i].base_gfn ||
		    (i && m->slots[i].base_gfn < end_prev))
			return -EBADMSG;
		end_prev = m->slots[i].base_gfn + m->slots[i].npages;
	}
	return 0;
}

uint32_t wire_put_layout(uint8_t *p, const struct wire_layout *m)
{
	uint32_t i;

	put32(p, m->page_size);
	put32(p + 4, m->vcpus);
	put32(p + 8, m->mode);
	put32(p + 12, m->nslots);
	for (i = 0; i < m->nslots; i++) {
		put64(p + LAYOUT_HDR_LEN + i * LAYOUT_SLOT_LEN,
		      m->slots[i].base_gfn);
		put64(p + LAYOUT_HDR_LEN + i * LAYOUT_SLOT_LEN + 8,
		      m->slots[i].npages);
	}
	return LAYOUT_HDR_LEN + m->nslots * LAYOUT_SLOT_LEN;
}

/* ROUND and ROUND_END: a u32, four zero bytes, a u64. */
static_assert(ROUND_LEN == ROUND_END_LEN, "one layout for both");
static int get_u32_u64(const uint8_t *p, uint32_t len, uint32_t *a,
		       uint64_t *b)
{
	if (len != ROUND_LEN || get32(p + 4) != 0)
		return -EBADMSG;
	*a = get32(p);
	*b = get64(p + 8);
	return 0;
}

static uint32_t put_u32_u64(uint8_t *p, uint32_t a, uint64_t b)
{
	put32(p, a);
	put32(p + 4, 0);
	put64(p + 8, b);
	return ROUND_LEN;
}

int wire_get_round(const uint8_t *p, uint32_t len, struct wire_round *m)
{
	return get_u32_u64(p, len, &m->round, &m->epoch);
}

uint32_t wire_put_round(uint8_t *p, const struct wire_round *m)
{
	return put_u32_u64(p, m->round, m->epoch);
}

static int get_chunk(const uint8_t *p, uint32_t len, struct wire_chunk *m)
{
	if (len < CHUNK_HDR_LEN || get32(p + 4) != 0)
		return -EBADMSG;
	m->slot = get32(p);
	m->total = get64(p + 8);
	m->offset = get64(p + 16);
	m->data = p + CHUNK_HDR_LEN;
	m->len = len - CHUNK_HDR_LEN;
	if (m->offset > m->total || m->len > m->total - m->offset)
		return -EBADMSG;
	return 0;
}

int wire_get_bitmap(const uint8_t *p, uint32_t len, struct wire_chunk *m)
{
	return get_chunk(p, len, m);
}

int wire_get_state(const uint8_t *p, uint32_t len, struct wire_chunk *m)
{
	int err = get_chunk(p, len, m);

	return err ? err : (m->slot ? -EBADMSG : 0);
}

uint32_t wire_put_chunk_hdr(uint8_t *p, uint8_t type,
			    const struct wire_chunk *m)
{
	put32(p, type == WIRE_BITMAP ? m->slot : 0);
	put32(p + 4, 0);
	put64(p + 8, m->total);
	put64(p + 16, m->offset);
	return CHUNK_HDR_LEN;
}

int wire_get_pages(const uint8_t *p, uint32_t len, uint16_t flags,
		   struct wire_pages *m)
{
	if (len < PAGES_HDR_LEN)
		return -EBADMSG;
	m->slot = get32(p);
	m->count = get32(p + 4);
	m->gfn = get64(p + 8);
	if (m->count == 0 || m->count > WIRE_MAX_PAGES)
		return -EBADMSG;
	if (flags & WIRE_F_ZERO) {
		if (len != PAGES_HDR_LEN)
			return -EBADMSG;
		m->data = NULL;
	} else {
		if (len != PAGES_HDR_LEN + m->count * WIRE_PAGE_SIZE)
			return -EBADMSG;
		m->data = p + PAGES_HDR_LEN;
	}
	return 0;
}

uint32_t wire_put_pages_hdr(uint8_t *p, const struct wire_pages *m)
{
	put32(p, m->slot);
	put32(p + 4, m->count);
	put64(p + 8, m->gfn);
	return PAGES_HDR_LEN;
}

int wire_get_round_end(const uint8_t *p, uint32_t len,
		       struct wire_round_end *m)
{
	return get_u32_u64(p, len, &m->round, &m->pages);
}

uint32_t wire_put_round_end(uint8_t *p, const struct wire_round_end *m)
{
	return put_u32_u64(p, m->round, m->pages);
}

/* A short text that ends the payload, not NUL-padded. */
static int get_tail_text(const uint8_t *p, uint32_t n, char *text)
{
	uint32_t i;

	if (n > WIRE_REASON_MAX)
		return -EBADMSG;
	/* printable only: the text ends up on a terminal */
	for (i = 0; i < n; i++)
		text[i] = p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i];
	text[n] = '\0';
	return 0;
}

/* ERROR: a u32 code and a text. */
static int get_status(const uint8_t *p, uint32_t len, uint32_t *code,
		      char *text)
{
	if (len < STATUS_HDR_LEN)
		return -EBADMSG;
	*code = get32(p);
	return get_tail_text(p + STATUS_HDR_LEN, len - STATUS_HDR_LEN, text);
}

static uint32_t put_status(uint8_t *p, uint32_t code, const char *text)
{
	size_t n = strnlen(text, WIRE_REASON_MAX);

	put32(p, code);
	memcpy(p + STATUS_HDR_LEN, text, n);
	return STATUS_HDR_LEN + n;
}

/* RESUME: flags, then with CHECK (which needs DIGEST) the source's digest. */
int wire_get_resume(const uint8_t *p, uint32_t len, struct wire_resume *m)
{
	if (len < 4)
		return -EBADMSG;
	m->flags = get32(p);
	m->src_digest = 0;
	if (m->flags & ~(WIRE_RESUME_DIGEST | WIRE_RESUME_CHECK))
		return -EBADMSG;
	if (!(m->flags & WIRE_RESUME_CHECK))
		return len == 4 ? 0 : -EBADMSG;
	if (len != 12 || !(m->flags & WIRE_RESUME_DIGEST))
		return -EBADMSG;
	m->src_digest = get64(p + 4);
	return 0;
}

/* Writes 4 bytes, or WIRE_RESUME_MAX_LEN with WIRE_RESUME_CHECK. */
uint32_t wire_put_resume(uint8_t *p, const struct wire_resume *m)
{
	put32(p, m->flags);
	if (!(m->flags & WIRE_RESUME_CHECK))
		return 4;
	put64(p + 4, m->src_digest);
	return 12;
}

#define DONE_HDR_LEN	24

/* DONE: status, flags, digest, digest_ns, then a text. */
int wire_get_done(const uint8_t *p, uint32_t len, struct wire_done *m)
{
	if (len < DONE_HDR_LEN)
		return -EBADMSG;
	m->status = get32(p);
	m->flags = get32(p + 4);
	m->digest = get64(p + 8);
	m->digest_ns = get64(p + 16);
	if (m->flags & ~WIRE_RESUME_DIGEST)
		return -EBADMSG;
	return get_tail_text(p + DONE_HDR_LEN, len - DONE_HDR_LEN, m->message);
}

uint32_t wire_put_done(uint8_t *p, const struct wire_done *m)
{
	size_t n = strnlen(m->message, WIRE_REASON_MAX);

	put32(p, m->status);
	put32(p + 4, m->flags);
	put64(p + 8, m->digest);
	put64(p + 16, m->digest_ns);
	memcpy(p + DONE_HDR_LEN, m->message, n);
	return DONE_HDR_LEN + n;
}

int wire_get_error(const uint8_t *p, uint32_t len, struct wire_error *m)
{
	int err = get_status(p, len, &m->code, m->reason);

	return err ? err : (m->code ? 0 : -EBADMSG);
}

uint32_t wire_put_error(uint8_t *p, const struct wire_error *m)
{
	return put_status(p, m->code, m->reason);
}

const char *wire_type_name(uint8_t type)
{
	static const char * const names[__WIRE_TYPE_MAX] = {
		[WIRE_HELLO] = "HELLO", [WIRE_WELCOME] = "WELCOME",
		[WIRE_LAYOUT] = "LAYOUT", [WIRE_LAYOUT_OK] = "LAYOUT_OK",
		[WIRE_ROUND] = "ROUND", [WIRE_BITMAP] = "BITMAP",
		[WIRE_PAGES] = "PAGES", [WIRE_ROUND_END] = "ROUND_END",
		[WIRE_ROUND_ACK] = "ROUND_ACK", [WIRE_STATE] = "STATE",
		[WIRE_RESUME] = "RESUME", [WIRE_DONE] = "DONE",
		[WIRE_ERROR] = "ERROR",
	};

	return type < __WIRE_TYPE_MAX && names[type] ? names[type] : "?";
}

/* ---- connection I/O ---- */

int wire_conn_init(struct wire_conn *c, int fd, int timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->timeout_ms = timeout_ms;
	c->buf = malloc(WIRE_MAX_PAYLOAD);
	return c->buf ? 0 : -ENOMEM;
}

void wire_conn_free(struct wire_conn *c)
{
	free(c->buf);
	c->buf = NULL;
}

static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n;

	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Time left of a deadline set @timeout_ms after @start: a peer trickling
 * a byte now and then must not hold the connection past it.
 */
static int left_ms(int64_t start, int timeout_ms)
{
	int64_t left;

	if (timeout_ms < 0)
		return -1;
	left = start + timeout_ms - mono_ms();
	return left > 0 ? (int)left : 0;
}

static int read_full(struct wire_conn *c, void *buf, size_t len)
{
	int64_t start = mono_ms();
	uint8_t *p = buf;
	ssize_t n;
	int err;

	while (len) {
		err = wait_fd(c->fd, POLLIN, left_ms(start, c->timeout_ms));
		if (err)
			return err;
		n = recv(c->fd, p, len, 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
		c->bytes_rx += n;
	}
	return 0;
}

static int write_full(struct wire_conn *c, struct iovec *iov, int cnt)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = cnt };
	int64_t start = mono_ms();
	ssize_t n;
	int err;

	while (mh.msg_iovlen) {
		err = wait_fd(c->fd, POLLOUT, left_ms(start, c->timeout_ms));
		if (err)
			return err;
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == EPIPE ? -ECONNRESET : -errno;
		}
		c->bytes_tx += n;
		while (mh.msg_iovlen && (size_t)n >= mh.msg_iov->iov_len) {
			n -= mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + n;
			mh.msg_iov->iov_len -= n;
		}
	}
	return 0;
}

int wire_send(struct wire_conn *c, uint8_t type, uint16_t flags,
	      const void *head, uint32_t head_len,
	      const void *tail, uint32_t tail_len)
{
	uint8_t hdr[WIRE_HDR_LEN];
	struct iovec iov[3];
	uint32_t crc;

	if ((uint64_t)head_len + tail_len > WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	put32(hdr, WIRE_MAGIC);
	hdr[4] = WIRE_FRAME_VERSION;
	hdr[5] = type;
	put16(hdr + 6, flags);
	put32(hdr + 8, c->tx_seq++);
	put32(hdr + 12, head_len + tail_len);
	crc = wire_crc32c(0, hdr, 16);
	crc = wire_crc32c(crc, head, head_len);
	crc = wire_crc32c(crc, tail, tail_len);
	put32(hdr + 16, crc);
	iov[0] = (struct iovec){ hdr, sizeof(hdr) };
	iov[1] = (struct iovec){ (void *)head, head_len };
	iov[2] = (struct iovec){ (void *)tail, tail_len };
	return write_full(c, iov, tail_len ? 3 : 2);
}

int wire_recv(struct wire_conn *c, struct wire_hdr *hdr)
{
	uint8_t hb[WIRE_HDR_LEN];
	int err;

	err = read_full(c, hb, sizeof(hb));
	if (err)
		return err;
	err = wire_parse_header(hb, hdr);
	if (err)
		return err;
	err = read_full(c, c->buf, hdr->len);
	if (err)
		return err;
	if (wire_check_crc(hb, c->buf, hdr->len))
		return -EBADMSG;
	/* a frame lost or replayed inside the stream is a broken stream */
	if (hdr->seq != c->rx_seq)
		return -EPROTO;
	c->rx_seq++;
	return 0;
}

int wire_send_error(struct wire_conn *c, int code, const char *fmt, ...)
{
	struct wire_error e = { .code = code > 0 ? code : -code };
	uint8_t p[STATUS_HDR_LEN + WIRE_REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.reason, sizeof(e.reason), fmt, ap);
	va_end(ap);
	if (!e.code)
		e.code = EPROTO;
	return wire_send(c, WIRE_ERROR, 0, p, wire_put_error(p, &e), NULL, 0);
}

uint64_t wire_mem_digest(const uint8_t *mem, uint64_t npages)
{
	uint64_t d = 0, i;

	/* per page, so that a differing page changes the digest for sure */
	for (i = 0; i < npages; i++) {
		d ^= wire_crc32c((uint32_t)i, mem + i * WIRE_PAGE_SIZE,
				 WIRE_PAGE_SIZE);
		d = (d << 13 | d >> 51) * 0x9e3779b97f4a7c15ULL;
	}
	return d;
}
