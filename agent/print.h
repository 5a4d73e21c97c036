/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One print layer for agentctl, two outputs: "key: value" lines for
 * people, JSON for scripts (-j). Commands describe what they print once.
 */
#ifndef LT_AGENT_PRINT_H
#define LT_AGENT_PRINT_H

#include <stdint.h>

void pr_init(int json);
void pr_open(const char *key);		/* an object; NULL at the top */
void pr_close(void);
void pr_array_open(const char *key);
void pr_array_close(void);
void pr_u64(const char *key, uint64_t v);
void pr_str(const char *key, const char *s);
/* human: v with a unit and a precision; JSON: the bare number */
void pr_float(const char *key, double v, const char *unit);
void pr_bool(const char *key, int v);

#endif /* LT_AGENT_PRINT_H */
