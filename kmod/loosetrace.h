/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared by the files of loosetrace.ko.
 */
#ifndef _LOOSETRACE_H
#define _LOOSETRACE_H

#define LOOSETRACE_VERSION "0.1.0"

int loosetrace_genl_init(void);
void loosetrace_genl_exit(void);

#endif /* _LOOSETRACE_H */
