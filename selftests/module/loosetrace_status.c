// SPDX-License-Identifier: GPL-2.0
/*
 * loosetrace-status: prints what the loaded loosetrace.ko reports about
 * itself. Exit status 0 when it answered, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "genl_status.h"

int main(void)
{
	struct lt_status st;
	int ret;

	ret = lt_status_get(&st);
	if (ret) {
		fprintf(stderr, "loosetrace-status: %s\n",
			ret == -ENOENT ? "the loosetrace module is not loaded" :
			strerror(-ret));
		return 1;
	}
	printf("module version:   %s\n", st.module_version);
	printf("protocol version: %u\n", st.proto_version);
	printf("kernel release:   %s\n", st.kernel_release);
	if (st.has_bitmap_version)
		printf("bitmap format:    %u\n", st.bitmap_version);
	printf("attached VMs:     %u\n", st.vm_count);
	return 0;
}
