// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for everything of the agent that reads the network:
 * frame headers, checksums, every payload decoder, the compacted-bitmap
 * decoder behind BITMAP frames, and the destination state machine. The
 * input is a byte stream as a source would send; checksums are not
 * required to match (otherwise the fuzzer would rarely get past them),
 * but they are computed, and a real connection checks them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

static void decoders(const uint8_t *p, uint32_t len)
{
	union {
		struct wire_hello hello;
		struct wire_welcome welcome;
		struct wire_layout layout;
		struct wire_round round;
		struct wire_chunk chunk;
		struct wire_pages pages;
		struct wire_round_end end;
		struct wire_resume resume;
		struct wire_done done;
		struct wire_error error;
	} u;

	wire_get_hello(p, len, &u.hello);
	wire_get_welcome(p, len, &u.welcome);
	wire_get_layout(p, len, &u.layout);
	wire_get_round(p, len, &u.round);
	wire_get_bitmap(p, len, &u.chunk);
	wire_get_state(p, len, &u.chunk);
	wire_get_pages(p, len, 0, &u.pages);
	wire_get_pages(p, len, WIRE_F_ZERO, &u.pages);
	wire_get_round_end(p, len, &u.end);
	wire_get_resume(p, len, &u.resume);
	wire_get_done(p, len, &u.done);
	wire_get_error(p, len, &u.error);
}

/* libFuzzer's entry point, named by an asm label. */
int fuzz_one_input(const uint8_t *data, size_t size)
	__asm__("LLVMFuzzerTestOneInput");

int fuzz_one_input(const uint8_t *data, size_t size)
{
	static struct mem_target t;
	struct dest_target ops;
	struct dest_session s;
	struct dest_reply r;
	struct wire_hdr h;
	size_t off = 0;

	decoders(data, size > WIRE_MAX_PAYLOAD ? WIRE_MAX_PAYLOAD : size);
	mem_target_init(&t, &ops);
	dest_session_init(&s, &ops);
	while (size - off >= WIRE_HDR_LEN) {
		uint32_t len;

		if (wire_parse_header(data + off, &h))
			break;
		len = h.len;
		if (len > size - off - WIRE_HDR_LEN)
			break;
		wire_check_crc(data + off, data + off + WIRE_HDR_LEN, len);
		/* a copy of exactly len bytes: overreads hit the sanitizer */
		{
			uint8_t *p = malloc(len ? len : 1);

			memcpy(p, data + off + WIRE_HDR_LEN, len);
			h.len = len;
			if (dest_session_frame(&s, &h, p, &r)) {
				free(p);
				break;
			}
			free(p);
		}
		off += WIRE_HDR_LEN + len;
	}
	dest_session_free(&s);
	return 0;
}
