// SPDX-License-Identifier: GPL-2.0
/*
 * Writes the fuzzer's seed corpus into a folder: encodings of every
 * workload at a small size, in the three input modes of fuzz_decode.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitmap_codec.h"
#include "forge.h"
#include "workloads.h"

#define PAGES	(65536 + 77)

static void put(const char *dir, const char *name, int mode,
		const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-%d", dir, name, mode);
	f = fopen(path, "wb");
	if (!f || fputc(mode, f) == EOF || fwrite(data, 1, len, f) != len ||
	    fclose(f)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	size_t cap = lt_bm_encoded_max(PAGES), nw = lt_bm_words(PAGES);
	uint64_t *bm = calloc(nw, 8);
	uint8_t *enc = malloc(cap), *pl;
	char name[64];
	long len, hl;
	int w;

	if (argc != 2 || !bm || !enc) {
		fprintf(stderr, "usage: fuzz_seed DIR\n");
		return 1;
	}
	for (w = 0; w < nr_workloads; w++) {
		workload_fill(&workloads[w], bm, PAGES, 0.01, w);
		len = lt_bm_encode((const u64 *)bm, PAGES, enc, cap);
		if (len < 0)
			return 1;
		snprintf(name, sizeof(name), "w%d", w);
		put(argv[1], name, 0, enc, len);
		/* Mode 1: three bytes of npages, then the payload. */
		hl = forge_hdr_len(enc);
		pl = malloc(len - hl + 3);
		pl[0] = PAGES & 0xff;
		pl[1] = (PAGES >> 8) & 0xff;
		pl[2] = (PAGES >> 16) & 0xff;
		memcpy(pl + 3, enc + hl, len - hl);
		put(argv[1], name, 1, pl, len - hl + 3);
		free(pl);
		if (w < 10)
			put(argv[1], name, 2, bm, 8192);
	}
	return 0;
}
