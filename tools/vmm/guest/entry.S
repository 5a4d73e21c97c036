/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest entry and interrupt stubs. The VMM starts every vCPU here in
 * 64-bit mode with paging on, RSP at the top of its own stack, RDI = its
 * vCPU id and interrupts off.
 */
	.code64
	.section .text.entry, "ax"
	.globl _start
_start:
	call	ltg_main
1:	cli
	hlt
	jmp	1b

/*
 * Exceptions 0-31: pass the vector and the frame to C, which reports the
 * fault through an I/O port and never returns.
 */
	.text
	.macro	exc_stub vec
exc_stub_\vec:
	mov	$\vec, %esi
	jmp	exc_common
	.endm

	.altmacro
	.set	vec, 0
	.rept	32
	exc_stub %vec
	.set	vec, vec + 1
	.endr

exc_common:
	mov	%rsp, %rdi
	and	$~0xf, %rsp
	call	ltg_exception
2:	cli
	hlt
	jmp	2b

/*
 * Timer and doorbell: their only job is to end a HLT. Acknowledge the
 * x2APIC (EOI MSR 0x80b) and return; the C loop that halted re-reads
 * the control block.
 */
	.globl	ltg_irq_entry
ltg_irq_entry:
	push	%rax
	push	%rcx
	push	%rdx
	mov	$0x80b, %ecx
	xor	%eax, %eax
	xor	%edx, %edx
	wrmsr
	pop	%rdx
	pop	%rcx
	pop	%rax
	iretq

	/* A spurious interrupt takes no EOI. */
	.globl	ltg_spurious_entry
ltg_spurious_entry:
	iretq

	.section .rodata
	.balign	8
	.globl	ltg_exc_stubs
	.macro	exc_addr vec
	.quad	exc_stub_\vec
	.endm
ltg_exc_stubs:
	.set	vec, 0
	.rept	32
	exc_addr %vec
	.set	vec, vec + 1
	.endr

	.section .note.GNU-stack, "", @progbits
