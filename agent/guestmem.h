/* SPDX-License-Identifier: GPL-2.0 */
/* Mapping another process's guest memory into the agent. */
#ifndef LT_AGENT_GUESTMEM_H
#define LT_AGENT_GUESTMEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Maps @len bytes at @uaddr of process @pid's address space. */
int guestmem_map_pid(pid_t pid, uint64_t uaddr, uint64_t len, int writable,
		     void **out, char *why, size_t why_len);
/* Maps the first @len bytes of the file @file. */
int guestmem_map_path(const char *file, uint64_t len, int writable,
		      void **out, char *why, size_t why_len);
void guestmem_unmap(void *p, uint64_t len);
int guestmem_page_is_zero(const uint8_t *page);

#endif /* LT_AGENT_GUESTMEM_H */
