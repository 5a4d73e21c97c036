// SPDX-License-Identifier: GPL-2.0
/* Getting hold of a VMM's KVM VM file descriptor. See vmfd.h. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "vmfd.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

int vmfd_pidfd_open(pid_t pid)
{
	int fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

int vmfd_find(pid_t pid, char *why, size_t why_len)
{
	char dir[64], path[128], link[64];
	struct dirent *de;
	int found = -ENOENT;
	ssize_t n;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d) {
		found = -errno;
		snprintf(why, why_len, "cannot list %s: %s", dir,
			 strerror(errno));
		return found;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strcmp(link, "anon_inode:kvm-vm")) {
			found = atoi(de->d_name);
			break;
		}
	}
	closedir(d);
	if (found < 0)
		snprintf(why, why_len, "process %d has no KVM VM open",
			 (int)pid);
	return found;
}

int vmfd_get(int pidfd, int fd_num, char *why, size_t why_len)
{
	int fd = syscall(SYS_pidfd_getfd, pidfd, fd_num, 0);

	if (fd < 0) {
		fd = -errno;
		snprintf(why, why_len, "pidfd_getfd of the VMM's fd %d: %s",
			 fd_num, strerror(errno));
	}
	return fd;
}

int vmfd_exited(int pidfd)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	/* a pidfd turns readable when its process exits */
	return poll(&pfd, 1, 0) > 0;
}
