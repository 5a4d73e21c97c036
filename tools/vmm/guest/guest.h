/* SPDX-License-Identifier: GPL-2.0 */
/* Symbols shared by the guest's C code and its entry.S. */
#ifndef LTVMM_GUEST_H
#define LTVMM_GUEST_H

#include <stdint.h>

/* entry.S: the 32 exception stubs, in vector order. */
extern const uint64_t ltg_exc_stubs[32];
void ltg_irq_entry(void);
void ltg_spurious_entry(void);

/* guest.c: called from entry.S. */
void ltg_main(uint32_t id);
void ltg_exception(uint64_t *frame, uint64_t vec);

#endif /* LTVMM_GUEST_H */
