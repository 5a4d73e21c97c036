/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Borrowing a VMM's KVM VM file descriptor: pidfd_open(2) on the VMM and
 * pidfd_getfd(2) on its VM fd (needs ptrace rights over it: root).
 */
#ifndef LT_AGENT_VMFD_H
#define LT_AGENT_VMFD_H

#include <stddef.h>
#include <sys/types.h>

int vmfd_pidfd_open(pid_t pid);
/* Finds the VM fd number in @pid's table ("anon_inode:kvm-vm"). */
int vmfd_find(pid_t pid, char *why, size_t why_len);
/* A copy, in our table, of fd number @fd_num of the process @pidfd. */
int vmfd_get(int pidfd, int fd_num, char *why, size_t why_len);
/* 1 if the process of @pidfd has exited. */
int vmfd_exited(int pidfd);

#endif /* LT_AGENT_VMFD_H */
