/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hand-made encodings for the codec's tests and fuzzers: a header with a
 * valid checksum in front of any payload, so that the payload's own rules
 * are what gets tested.
 */
#ifndef LT_CODEC_FORGE_H
#define LT_CODEC_FORGE_H

#include <stddef.h>
#include <stdint.h>

/* LEB128 of @v at @p; returns its length. */
size_t forge_varint(uint8_t *p, uint32_t v);

/*
 * Length of the header of a well-formed encoding @enc: magic, version,
 * two varints and the checksum when there is a payload (no checks: the
 * codec has those).
 */
size_t forge_hdr_len(const uint8_t *enc);

/*
 * Writes at @out a header for @npages pages and @plen payload bytes with
 * its checksum, then the payload (which may already sit inside @out).
 * Returns the total length; @out needs LOOSETRACE_BITMAP_HDR_MAX + @plen.
 */
size_t forge(uint8_t *out, uint32_t npages, const uint8_t *payload,
	     uint32_t plen);

#endif /* LT_CODEC_FORGE_H */
