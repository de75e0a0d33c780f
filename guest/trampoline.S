/*
 * AP trampoline: copied by the BSP to a page below 1 MiB; a STARTUP IPI with
 * vector V starts the AP here in real mode with CS = V << 8, IP = 0 (SDM vol.
 * 3A §8.4.4.2, §10.6.1). Nothing here may depend on where it was copied:
 * 16-bit code addresses its data block through DS = CS, 32-bit code through
 * ESI = the copy's linear base, and the BSP patches every linear address the
 * copy needs (GDT, far-jump targets, CR3) into that data block (TD_* in
 * guest.h) before it sends the SIPI.
 *
 * Registers carried across the mode switches:
 *   EBP = the CS we started with, ESI = linear base of this copy,
 *   EDI = initial APIC ID from CPUID.
 */
#include "guest.h"

#define TD(off) (tramp_data - tramp_start + (off))

	.text
	.code16
	.balign	16
	.globl	tramp_start
tramp_start:
	cli
	cld
	mov	%cs, %ax
	mov	%ax, %ds
	movzwl	%ax, %ebp
	mov	%ebp, %esi
	shl	$4, %esi

	/*
	 * Record the entry as early as possible, per initial APIC ID (CPUID
	 * leaf 1 EBX[31:24], or leaf 0xb EDX in x2APIC mode where IDs can be
	 * wider than 8 bits): the BSP checks it saw exactly one entry per SIPI
	 * sequence, and from which vector.
	 */
	cmpb	$0, TD(TD_X2APIC)
	jne	1f
	mov	$1, %eax
	cpuid
	shr	$24, %ebx
	mov	%ebx, %edi
	jmp	2f
1:	mov	$0xb, %eax
	xor	%ecx, %ecx
	cpuid
	mov	%edx, %edi
2:	cmp	$MAX_APIC_ID, %edi
	jae	3f
	mov	TD(TD_APREC_SEG), %ax
	mov	%ax, %es
	lock incl %es:APREC_ENTRIES(,%edi,4)
	mov	%bp, %es:APREC_CS(,%edi,2)
3:
	/* Protected mode (SDM §9.9.1): GDT, CR0.PE, far jump to 32-bit code. */
	lgdtl	TD(TD_GDTR)
	mov	%cr0, %eax
	and	$~(CR0_CD | CR0_NW), %eax	/* INIT leaves the caches disabled */
	or	$CR0_PE, %eax
	mov	%eax, %cr0
	ljmpl	*TD(TD_FAR32)

	.code32
	.globl	tramp_pm32
tramp_pm32:
	mov	$SEL_DATA32, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss

	/* IA-32e mode (SDM §9.8.5): PAE, CR3, EFER.LME, then CR0.PG. */
	mov	%cr4, %eax
	or	$CR4_PAE, %eax
	mov	%eax, %cr4
	mov	TD(TD_CR3)(%esi), %eax
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	mov	TD(TD_EFER)(%esi), %eax
	xor	%edx, %edx
	wrmsr
	mov	%cr0, %eax
	or	$CR0_PG, %eax
	mov	%eax, %cr0
	ljmp	*TD(TD_FAR64)(%esi)		/* compatibility mode -> 64-bit code */

	.code64
	.globl	tramp_lm64
tramp_lm64:
	mov	$SEL_DATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	xor	%eax, %eax
	mov	%eax, %fs
	mov	%eax, %gs
	mov	%esi, %esi			/* upper halves are undefined after the switch */
	mov	%edi, %edi
	mov	%ebp, %ebp

	/*
	 * Which CPU am I? Ask the local APIC rather than trust CPUID alone:
	 * the stack depends on it (ap_main compares the two). In x2APIC mode
	 * the APIC comes out of reset in xAPIC mode, so switch it first; after
	 * an INIT it is already in x2APIC mode and setting EXTD again is a
	 * no-op (SDM §10.12.5).
	 */
	cmpb	$0, TD(TD_X2APIC)(%rsi)
	jne	1f
	mov	TD(TD_APIC_BASE)(%rsi), %eax
	mov	0x20(%rax), %eax		/* xAPIC ID register, ID in 31:24 */
	shr	$24, %eax
	jmp	2f
1:	mov	$MSR_APIC_BASE, %ecx
	rdmsr
	or	$(APIC_BASE_EN | APIC_BASE_EXTD), %eax
	wrmsr
	mov	$MSR_X2APIC_ID, %ecx
	rdmsr
2:	cmp	$MAX_APIC_ID, %eax
	jae	park
	mov	ap_stack_top(,%rax,8), %rsp	/* absolute: the stacks are in the image's .stacks */
	test	%rsp, %rsp
	jz	park				/* not a CPU the BSP prepared for */
	mov	%edi, %esi			/* ap_main(lapic id, cpuid id, start cs) */
	mov	%eax, %edi
	mov	%ebp, %edx
	movabs	$ap_main, %rax			/* absolute: this code runs from a copy */
	call	*%rax
park:	cli
	hlt
	jmp	park

	.balign	8
	.globl	tramp_data
tramp_data:
	.space	TD_SIZE
	.globl	tramp_end
tramp_end:
