/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The peer protocol between two loosetrace agents: a versioned, framed
 * stream over TCP, every frame checksummed (CRC32C). The byte layout is
 * documented in Documentation/wire-protocol.rst; keep the two in step.
 *
 * This file has no I/O in the parsers: wire_parse_header() and the
 * wire_get_*() decoders take untrusted bytes and either fill a struct or
 * return -EBADMSG/-EPROTO. wire_send()/wire_recv() do the socket part.
 */
#ifndef LT_AGENT_WIRE_H
#define LT_AGENT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC		0x3157544cU	/* "LTW1" in byte order */
#define WIRE_FRAME_VERSION	1
#define WIRE_PROTO_MIN		1
#define WIRE_PROTO_MAX		1
#define WIRE_HDR_LEN		20
#define WIRE_PAGE_SIZE		4096
#define WIRE_MAX_PAGES		64		/* per PAGES frame */
#define WIRE_MAX_PAYLOAD	(WIRE_MAX_PAGES * WIRE_PAGE_SIZE + 64)
#define WIRE_MAX_SLOTS		64
#define WIRE_SOFTWARE_LEN	32
#define WIRE_REASON_MAX		256
#define WIRE_CHUNK		(256 * 1024)	/* bitmap and state chunks */

enum wire_type {
	WIRE_HELLO = 1,		/* source -> dest */
	WIRE_WELCOME,		/* dest -> source */
	WIRE_LAYOUT,		/* source -> dest */
	WIRE_LAYOUT_OK,		/* dest -> source */
	WIRE_ROUND,		/* source -> dest: a round begins */
	WIRE_BITMAP,		/* source -> dest: compacted bitmap chunk */
	WIRE_PAGES,		/* source -> dest: a run of pages */
	WIRE_ROUND_END,		/* source -> dest */
	WIRE_ROUND_ACK,		/* dest -> source */
	WIRE_STATE,		/* source -> dest: VMM state blob chunk */
	WIRE_RESUME,		/* source -> dest */
	WIRE_DONE,		/* dest -> source: resumed */
	WIRE_ERROR,		/* either way: the session ends */
	__WIRE_TYPE_MAX
};

/* frame header flags */
#define WIRE_F_ZERO		0x0001	/* PAGES: the run is all zero, no data */
#define WIRE_F_FINAL		0x0002	/* ROUND: the switchover round */
#define WIRE_F_KNOWN		(WIRE_F_ZERO | WIRE_F_FINAL)

/* capabilities exchanged in HELLO/WELCOME */
#define WIRE_CAP_ZERO_PAGES	(1ULL << 0)	/* WIRE_F_ZERO runs */
#define WIRE_CAP_RESUME_CHECK	(1ULL << 1)	/* WIRE_RESUME_CHECK */
#define WIRE_CAPS_SUPPORTED	(WIRE_CAP_ZERO_PAGES | WIRE_CAP_RESUME_CHECK)

struct wire_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t seq;
	uint32_t len;
	uint32_t crc;
};

struct wire_hello {
	uint32_t proto_min;
	uint32_t proto_max;
	uint64_t caps;
	char software[WIRE_SOFTWARE_LEN + 1];
};

struct wire_welcome {
	uint32_t proto;
	uint64_t caps;
	char software[WIRE_SOFTWARE_LEN + 1];
};

struct wire_slot {
	uint64_t base_gfn;
	uint64_t npages;
};

struct wire_layout {
	uint32_t page_size;
	uint32_t vcpus;
	uint32_t mode;
	uint32_t nslots;
	struct wire_slot slots[WIRE_MAX_SLOTS];
};

struct wire_round {
	uint32_t round;
	uint64_t epoch;
};

struct wire_chunk {		/* BITMAP and STATE */
	uint32_t slot;		/* BITMAP only */
	uint64_t total;
	uint64_t offset;
	const uint8_t *data;
	uint32_t len;
};

struct wire_pages {
	uint32_t slot;
	uint32_t count;
	uint64_t gfn;		/* guest frame of the first page */
	const uint8_t *data;	/* count pages, or NULL with WIRE_F_ZERO */
};

struct wire_round_end {
	uint32_t round;
	uint64_t pages;		/* dirty pages in the round's bitmap */
};

/* RESUME flags */
#define WIRE_RESUME_DIGEST	0x1	/* digest memory before resuming */
#define WIRE_RESUME_CHECK	0x2	/* resume only if it equals src_digest */

struct wire_resume {
	uint32_t flags;
	uint64_t src_digest;	/* with WIRE_RESUME_CHECK */
};
/* The most wire_put_resume() writes: flags, then the digest to check. */
#define WIRE_RESUME_MAX_LEN	12

struct wire_done {
	uint32_t status;	/* 0: resumed; else an errno */
	uint32_t flags;		/* WIRE_RESUME_DIGEST: digest is valid */
	uint64_t digest;	/* of all guest memory before the resume */
	uint64_t digest_ns;	/* time the digest took */
	char message[WIRE_REASON_MAX + 1];
};

struct wire_error {
	uint32_t code;		/* an errno value */
	char reason[WIRE_REASON_MAX + 1];
};

uint32_t wire_crc32c(uint32_t crc, const void *buf, size_t len);
/* Digest of guest memory: CRC32C of each page, folded in page order. */
uint64_t wire_mem_digest(const uint8_t *mem, uint64_t npages);

/* Header: validates magic, version, type, flags and length bound. */
int wire_parse_header(const uint8_t *buf, struct wire_hdr *hdr);
/* Checks the CRC over header and payload. */
int wire_check_crc(const uint8_t *hdr_bytes, const uint8_t *payload,
		   uint32_t len);
/* Builds a 20-byte header, CRC included, for @payload. */
void wire_build_header(uint8_t *out, uint8_t type, uint16_t flags,
		       uint32_t seq, const void *payload, uint32_t len);

/* Payload decoders: untrusted input, -EBADMSG on anything malformed. */
int wire_get_hello(const uint8_t *p, uint32_t len, struct wire_hello *m);
int wire_get_welcome(const uint8_t *p, uint32_t len, struct wire_welcome *m);
int wire_get_layout(const uint8_t *p, uint32_t len, struct wire_layout *m);
int wire_get_round(const uint8_t *p, uint32_t len, struct wire_round *m);
int wire_get_bitmap(const uint8_t *p, uint32_t len, struct wire_chunk *m);
int wire_get_state(const uint8_t *p, uint32_t len, struct wire_chunk *m);
int wire_get_pages(const uint8_t *p, uint32_t len, uint16_t flags,
		   struct wire_pages *m);
int wire_get_round_end(const uint8_t *p, uint32_t len,
		       struct wire_round_end *m);
int wire_get_resume(const uint8_t *p, uint32_t len, struct wire_resume *m);
int wire_get_done(const uint8_t *p, uint32_t len, struct wire_done *m);
int wire_get_error(const uint8_t *p, uint32_t len, struct wire_error *m);

/* Payload encoders: return the payload length written into @p. */
uint32_t wire_put_hello(uint8_t *p, const struct wire_hello *m);
uint32_t wire_put_welcome(uint8_t *p, const struct wire_welcome *m);
uint32_t wire_put_layout(uint8_t *p, const struct wire_layout *m);
uint32_t wire_put_round(uint8_t *p, const struct wire_round *m);
uint32_t wire_put_chunk_hdr(uint8_t *p, uint8_t type,
			    const struct wire_chunk *m);
uint32_t wire_put_pages_hdr(uint8_t *p, const struct wire_pages *m);
uint32_t wire_put_round_end(uint8_t *p, const struct wire_round_end *m);
uint32_t wire_put_resume(uint8_t *p, const struct wire_resume *m);
uint32_t wire_put_done(uint8_t *p, const struct wire_done *m);
uint32_t wire_put_error(uint8_t *p, const struct wire_error *m);

/* A connection: sequence numbers per direction, a receive buffer. */
struct wire_conn {
	int fd;
	uint32_t tx_seq;
	uint32_t rx_seq;
	int timeout_ms;		/* per header, payload or send */
	uint64_t bytes_tx;
	uint64_t bytes_rx;
	uint8_t *buf;		/* WIRE_MAX_PAYLOAD bytes */
};

int wire_conn_init(struct wire_conn *c, int fd, int timeout_ms);
void wire_conn_free(struct wire_conn *c);
/* Sends a frame whose payload is @head followed by @tail (may be NULL). */
int wire_send(struct wire_conn *c, uint8_t type, uint16_t flags,
	      const void *head, uint32_t head_len,
	      const void *tail, uint32_t tail_len);
/*
 * Receives one frame: header checked, payload in c->buf, CRC and
 * sequence verified. Returns 0, -ETIMEDOUT, -ECONNRESET (peer closed),
 * -EBADMSG/-EPROTO (bad frame) or another -errno.
 */
int wire_recv(struct wire_conn *c, struct wire_hdr *hdr);
int wire_send_error(struct wire_conn *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

const char *wire_type_name(uint8_t type);

#endif /* LT_AGENT_WIRE_H */
