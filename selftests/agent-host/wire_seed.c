// SPDX-License-Identifier: GPL-2.0
/* Writes valid migration streams into a directory: the fuzzer's seeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

int main(int argc, char **argv)
{
	uint8_t *src = calloc(MEM_PAGES, WIRE_PAGE_SIZE);
	char path[4096];
	int rounds;

	if (argc != 2 || !src)
		return 2;
	for (rounds = 1; rounds <= 3; rounds++) {
		struct stream s = { 0 };
		FILE *f;

		/* mostly zero pages: small seeds the fuzzer can mutate */
		memset(src + rounds * WIRE_PAGE_SIZE, rounds, 64);
		stream_migration(&s, src, rounds);
		snprintf(path, sizeof(path), "%s/migration-%d", argv[1], rounds);
		f = fopen(path, "w");
		if (!f || fwrite(s.buf, 1, s.len, f) != s.len || fclose(f))
			return 1;
		stream_free(&s);
	}
	free(src);
	return 0;
}
