/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few things the bitmap codec needs from its surroundings, so that
 * the same bitmap_codec.c builds inside loosetrace.ko and in userspace.
 */
#ifndef LOOSETRACE_CODEC_COMPAT_H
#define LOOSETRACE_CODEC_COMPAT_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/bitops.h>
#include <asm/byteorder.h>

#define lt_popcount64(x)	hweight64(x)
#else
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <errno.h>
#include <endian.h>

/* The compiler's own names for the <stdint.h> types. */
typedef __UINT8_TYPE__ u8;
typedef __UINT16_TYPE__ u16;
typedef __UINT32_TYPE__ u32;
typedef __UINT64_TYPE__ u64;

#define cpu_to_le16(x)		htole16(x)
#define cpu_to_le32(x)		htole32(x)
#define cpu_to_le64(x)		htole64(x)
#define le16_to_cpu(x)		le16toh(x)
#define le32_to_cpu(x)		le32toh(x)
#define le64_to_cpu(x)		le64toh(x)
#define lt_popcount64(x)	__builtin_popcountll(x)
#ifndef likely
#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)
#endif
#endif

/* Byte-order safe unaligned access; memcpy of a constant size is inlined. */
static inline u64 lt_get_le64(const void *p)
{
	u64 v;

	memcpy(&v, p, sizeof(v));
	return le64_to_cpu(v);
}

static inline u32 lt_get_le32(const void *p)
{
	u32 v;

	memcpy(&v, p, sizeof(v));
	return le32_to_cpu(v);
}

static inline void lt_put_le64(void *p, u64 v)
{
	v = cpu_to_le64(v);
	memcpy(p, &v, sizeof(v));
}

static inline void lt_put_le32(void *p, u32 v)
{
	v = cpu_to_le32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void lt_put_le16(void *p, u16 v)
{
	v = cpu_to_le16(v);
	memcpy(p, &v, sizeof(v));
}

static inline u16 lt_get_le16(const void *p)
{
	u16 v;

	memcpy(&v, p, sizeof(v));
	return le16_to_cpu(v);
}

#endif /* LOOSETRACE_CODEC_COMPAT_H */
