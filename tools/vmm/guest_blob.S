/* SPDX-License-Identifier: GPL-2.0 */
/* The flat guest image, built from guest/ and embedded in the library. */
	.section .rodata, "a"
	.balign	16
	.globl	ltvmm_guest_image
	.globl	ltvmm_guest_image_end
ltvmm_guest_image:
	.incbin	"guest.bin"
ltvmm_guest_image_end:
	.section .note.GNU-stack, "", @progbits
