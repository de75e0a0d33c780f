/*
 * A multiboot (v1) test guest for tests/integration/multiboot.t, assembled
 * at test time (as --32 or as --64 with .code32, then ld -m elf_i386 or
 * elf_x86_64: one source, an ELF32 and an ELF64 kernel). It checks the
 * multiboot entry state, prints on COM1 what it was given (command line,
 * memory, module, fw_cfg items) and ends through isa-debug-exit.
 *
 * --defsym knobs: BADSUM=1 (wrong checksum), NOHDR=1 (no header),
 * HDRFLAGS=N (header flags), EXITPORT=P (debug-exit port, default 0xf4),
 * EXITVAL=V (value written there, default 0x15: mpvm exits (V<<1)|1 = 43).
 */
	.ifndef HDRFLAGS
	.set HDRFLAGS, 3
	.endif
	.ifndef EXITPORT
	.set EXITPORT, 0xf4
	.endif
	.ifndef EXITVAL
	.set EXITVAL, 0x15
	.endif
	.set MAGIC, 0x1badb002
	.ifdef BADSUM
	.set SUM, -(MAGIC + HDRFLAGS) + 1
	.else
	.set SUM, -(MAGIC + HDRFLAGS)
	.endif

	.section .text
	.code32
	.globl _start
	.align 4
	.ifndef NOHDR
	.long MAGIC, HDRFLAGS, SUM
	.endif

_start:
	mov $stack_top, %esp
	mov %eax, %edi
	mov %ebx, %ebp
	mov $s_hello, %esi
	call puts
	mov $1, %ecx
	cmp $0x2badb002, %edi
	jne fail
	mov $2, %ecx
	mov %cs, %ax
	cmp $0x18, %ax
	jne fail
	mov $3, %ecx
	mov %ds, %ax
	cmp $0x10, %ax
	jne fail
	mov %ss, %ax
	cmp $0x10, %ax
	jne fail
	mov $4, %ecx
	mov %cr0, %eax
	test $0x80000000, %eax    /* paging off */
	jnz fail
	test $1, %eax             /* protected mode */
	jz fail
	mov $5, %ecx
	pushf
	pop %eax
	test $0x200, %eax         /* IF = 0 */
	jnz fail
	mov $6, %ecx
	cmpl $0, bss_word         /* the bss is zero */
	jne fail
	mov $s_entry, %esi
	call puts

	/* The multiboot information */
	mov $s_flags, %esi
	call puts
	mov 0(%ebp), %eax
	call putx
	call nl
	mov $s_cmdline, %esi
	call puts
	mov 16(%ebp), %esi
	call puts
	mov $s_upper, %esi
	call puts
	mov 8(%ebp), %eax
	call putd
	call nl
	testl $8, 0(%ebp)
	jz 1f
	mov $s_module, %esi
	call puts
	mov 24(%ebp), %ebx        /* mods_addr */
	mov 0(%ebx), %esi         /* start */
	mov 4(%ebx), %edx         /* end */
2:	cmp %edx, %esi
	jae 3f
	movzbl (%esi), %eax
	call putc
	inc %esi
	jmp 2b
3:	call nl
1:	mov $s_mmap, %esi
	call puts
	mov 44(%ebp), %eax
	mov $24, %ecx
	xor %edx, %edx
	div %ecx
	call putd
	call nl

	/* fw_cfg */
	mov $s_sig, %esi
	call puts
	xor %eax, %eax
	call fwsel
	mov $4, %ecx
4:	call fwbyte
	call putc
	loop 4b
	call nl
	mov $s_cpus, %esi
	call puts
	mov $5, %eax
	call fwsel
	call fwbyte
	mov %eax, %ebx
	call fwbyte
	shl $8, %eax
	or %ebx, %eax
	call putd
	call nl
	mov $s_ram, %esi
	call puts
	mov $3, %eax
	call fwsel
	call fw32
	mov %eax, %ebx
	call fw32
	mov %eax, %edx
	mov %ebx, %eax
	shrd $20, %edx, %eax
	call putd
	call nl

	mov $s_x2apic, %esi
	call puts
	push %ebx
	mov $1, %eax
	cpuid
	mov %ecx, %eax
	shr $21, %eax
	and $1, %eax
	call putd
	call nl
	pop %ebx

	mov $s_bye, %esi
	call puts
	mov $EXITPORT, %dx
	mov $EXITVAL, %eax
	out %eax, %dx
	hlt

fwsel:	push %edx
	mov $0x510, %dx
	out %ax, %dx
	pop %edx
	ret
fwbyte:	push %edx
	mov $0x511, %dx
	xor %eax, %eax
	in %dx, %al
	pop %edx
	ret
fw32:	push %ebx
	push %ecx
	xor %ebx, %ebx
	xor %ecx, %ecx
5:	call fwbyte
	shl %cl, %eax
	or %eax, %ebx
	add $8, %ecx
	cmp $32, %ecx
	jne 5b
	mov %ebx, %eax
	pop %ecx
	pop %ebx
	ret

	.include "com1_print32.inc"

	.section .rodata
s_hello:	.asciz "mbguest: hello\n"
s_entry:	.asciz "mbguest: entry state ok (EAX=0x2badb002, CS=0x18, DS=SS=0x10, CR0.PE=1, CR0.PG=0, IF=0, bss zero)\n"
s_flags:	.asciz "mbguest: info flags "
s_cmdline:	.asciz "mbguest: cmdline '"
s_upper:	.asciz "'\nmbguest: mem_upper KiB "
s_module:	.asciz "mbguest: module "
s_mmap:		.asciz "mbguest: mmap entries "
s_sig:		.asciz "mbguest: fw_cfg signature "
s_cpus:		.asciz "mbguest: fw_cfg cpus "
s_ram:		.asciz "mbguest: fw_cfg ram MiB "
s_x2apic:	.asciz "mbguest: cpuid x2apic "
s_bye:		.asciz "mbguest: exiting through the debug-exit port\n"
s_fail:		.asciz "mbguest: FAIL check "

	.section .bss
	.align 16
bss_word:	.long 0
com1_numbuf:	.space 16
		.space 4096
stack_top:
