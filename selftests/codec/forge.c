// SPDX-License-Identifier: GPL-2.0
/* Hand-made encodings for the codec's tests and fuzzers (see forge.h). */
#include <endian.h>
#include <string.h>

#include <linux/loosetrace_bitmap.h>

#include "bitmap_codec.h"
#include "forge.h"

size_t forge_varint(uint8_t *p, uint32_t v)
{
	size_t n = 0;

	for (; v >= 0x80; v >>= 7)
		p[n++] = (uint8_t)(v | 0x80);
	p[n++] = (uint8_t)v;
	return n;
}

size_t forge_hdr_len(const uint8_t *enc)
{
	size_t n = 3;
	uint32_t plen = 0, shift = 0;

	while (enc[n++] & 0x80)
		;
	do {
		plen |= (uint32_t)(enc[n] & 0x7f) << shift;
		shift += 7;
	} while (enc[n++] & 0x80);
	return n + (plen ? 4 : 0);
}

size_t forge(uint8_t *out, uint32_t npages, const uint8_t *payload,
	     uint32_t plen)
{
	uint8_t hdr[LOOSETRACE_BITMAP_HDR_MAX];
	uint32_t sum = htole32(lt_bm_checksum(payload, plen, npages));
	size_t n;

	hdr[0] = LOOSETRACE_BITMAP_MAGIC & 0xff;
	hdr[1] = LOOSETRACE_BITMAP_MAGIC >> 8;
	hdr[2] = LOOSETRACE_BITMAP_VERSION;
	n = 3 + forge_varint(hdr + 3, npages);
	n += forge_varint(hdr + n, plen);
	if (plen) {
		memcpy(hdr + n, &sum, 4);
		n += 4;
		memmove(out + n, payload, plen);
	}
	memcpy(out, hdr, n);
	return n + plen;
}
