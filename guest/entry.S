/*
 * BSP entry, GDT, interrupt stubs, stacks.
 *
 * mpvm enters the first byte of the image (guest.ld puts .text.entry first)
 * in 64-bit mode with the boot GDT and RSI = struct mpvm_boot_info.
 */
#include "guest.h"

	.section .text.entry, "ax"
	.code64
	.globl	_start
_start:
	cli
	lea	bsp_stack_top(%rip), %rsp
	mov	%rsi, %rbx			/* boot info, kept for bsp_main */

	/* mpvm loads only the flat binary: .bss is ours to clear. */
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	shr	$3, %rcx
	xor	%eax, %eax
	rep stosq

	/* Our own GDT (the boot one at 0x500 has no 32-bit data segment). */
	lgdt	gdt_ptr(%rip)
	mov	$SEL_DATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%eax, %fs
	mov	%eax, %gs
	pushq	$SEL_CODE64			/* reload CS through a far return */
	lea	1f(%rip), %rax
	pushq	%rax
	lretq
1:
	mov	%rbx, %rdi
	call	bsp_main
2:	cli
	hlt
	jmp	2b

/*
 * Interrupt stubs: one per vector, 16 bytes apart (idt.c computes their
 * addresses). Each pushes a dummy error code where the CPU pushes none, so
 * every frame looks the same, then the vector.
 */
	.text
	.balign	16
	.globl	isr_stubs
isr_stubs:
	.set	vec, 0
	.rept	256
	.balign	16
	.if !(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
	pushq	$0
	.endif
	pushq	$vec
	jmp	isr_common
	.set	vec, vec + 1
	.endr

isr_common:
	push	%rax
	push	%rcx
	push	%rdx
	push	%rbx
	push	%rbp
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, %rdi			/* struct int_frame * (16-byte aligned) */
	cld
	call	interrupt_handler
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rbp
	pop	%rbx
	pop	%rdx
	pop	%rcx
	pop	%rax
	add	$16, %rsp			/* vector, error code */
	iretq

/*
 * Flat segments; the accessed bits are preset so loading a selector never
 * has to write the descriptor.
 */
	.section .rodata
	.balign	16
	.globl	gdt, gdt_end
gdt:
	.quad	0
	.quad	0x00af9b000000ffff		/* 0x08: 64-bit code */
	.quad	0x00cf93000000ffff		/* 0x10: data */
	.quad	0x00cf9b000000ffff		/* 0x18: 32-bit code */
	.quad	0x00cf93000000ffff		/* 0x20: 32-bit data */
gdt_end:
	.balign	8
gdt_ptr:
	.word	gdt_end - gdt - 1
	.quad	gdt

/*
 * Stacks are not cleared (nothing needs them zeroed), so they sit in their
 * own NOBITS section after .bss. The BSP's comes first so that it is always
 * inside guest RAM; AP i (CPU index i) uses ap_stacks + (i + 1) * STACK_SIZE.
 */
	.section .stacks, "aw", @nobits
	.balign	4096
	.space	BSP_STACK_SIZE
bsp_stack_top:
	.globl	ap_stacks
ap_stacks:
	.space	MAX_CPUS * STACK_SIZE
