// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory of another process, mapped into the agent: the memslot's
 * userspace address in the VMM is looked up in /proc/<pid>/maps and the
 * backing object opened through /proc/<pid>/map_files (root only), so any
 * VMM whose guest memory is a shared file mapping (a memfd, tmpfs, shm)
 * works, and the agent reads pages without copying them through the VMM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "guestmem.h"

int guestmem_map_pid(pid_t pid, uint64_t uaddr, uint64_t len, int writable,
		     void **out, char *why, size_t why_len)
{
	uint64_t start, end, off;
	char line[512], path[96];
	int found = 0, fd;
	FILE *f;
	void *p;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f) {
		snprintf(why, why_len, "cannot read %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char perms[8];

		unsigned long long a, b, o;

		if (sscanf(line, "%llx-%llx %7s %llx", &a, &b, perms, &o) != 4)
			continue;
		start = a;
		end = b;
		off = o;
		if (uaddr < start || uaddr >= end)
			continue;
		if (uaddr + len > end || perms[3] != 's') {
			snprintf(why, why_len,
				 "guest memory at 0x%llx is not one shared file mapping in process %d",
				 (unsigned long long)uaddr, (int)pid);
			fclose(f);
			return -EINVAL;
		}
		found = 1;
		break;
	}
	fclose(f);
	if (!found) {
		snprintf(why, why_len, "no mapping at 0x%llx in process %d",
			 (unsigned long long)uaddr, (int)pid);
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx",
		 (int)pid, (unsigned long long)start, (unsigned long long)end);
	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "cannot open %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	p = mmap(NULL, len, PROT_READ | (writable ? PROT_WRITE : 0),
		 MAP_SHARED, fd, off + (uaddr - start));
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(why, why_len, "cannot map guest memory: %s",
			 strerror(errno));
		return -errno;
	}
	*out = p;
	return 0;
}

int guestmem_map_path(const char *file, uint64_t len, int writable,
		      void **out, char *why, size_t why_len)
{
	off_t size;
	void *p;
	int fd;

	fd = open(file, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "cannot open guest memory %s: %s",
			 file, strerror(errno));
		return -errno;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size < 0 || (uint64_t)size < len) {
		snprintf(why, why_len, "guest memory %s holds %lld bytes, %llu needed",
			 file, (long long)size, (unsigned long long)len);
		close(fd);
		return -EINVAL;
	}
	p = mmap(NULL, len, PROT_READ | (writable ? PROT_WRITE : 0),
		 MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(why, why_len, "cannot map guest memory %s: %s", file,
			 strerror(errno));
		return -errno;
	}
	*out = p;
	return 0;
}

void guestmem_unmap(void *p, uint64_t len)
{
	if (p)
		munmap(p, len);
}

int guestmem_page_is_zero(const uint8_t *page)
{
	const uint64_t *w = (const uint64_t *)page;
	uint64_t acc = 0;
	int i;

	for (i = 0; i < 4096 / 8; i += 4)
		acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3];
	return acc == 0;
}
