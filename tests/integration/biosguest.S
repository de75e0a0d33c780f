/*
 * A raw firmware image for tests/integration/bios.t (mpvm run --bios),
 * written the way small SMP test images for QEMU's -bios are: no tables,
 * no BIOS services, everything from the reset vector on. Assembled at test
 * time: as --32, ld -m elf_i386 -Ttext=(4 GiB - SIZE), objcopy -O binary
 * -j .text, which gives exactly SIZE bytes.
 *
 * The BSP starts at the reset vector (0xfffffff0, CS base 0xffff0000),
 * far-jumps to f000:xxxx (the image's last 64 KiB through the mirror below
 * 1 MiB), enters 32-bit protected mode with its own GDT and checks:
 *   1  the image starts at 4 GiB - SIZE ("MPVM-ROM" there);
 *   2  its last min(SIZE, 128 KiB) read the same at 1 MiB - that;
 *   3  both views are read-only (writes vanish);
 *   4  (images under 128 KiB) 0xe0000 up to the mirror is RAM.
 * It prints whether the EBDA's first KiB has an RSDP and an MP floating
 * pointer (mpvm's tables, moved off 0xe0000-0xfffff), the CPU count
 * fw_cfg gives and the files it lists (mpvm's SMBIOS tables), copies a
 * real-mode trampoline from ROM to RAM at 0x8000 and starts every AP
 * with INIT, SIPI, SIPI sent to all-excluding-self through the local
 * APIC at 0xfee00000; each AP increments a counter once and
 * halts. The BSP waits (by the TSC, at most 2 s) until fw_cfg's count less
 * one have checked in, 20 ms more for strays, prints "bios: N cpus" and
 * ends with EXITVAL on EXITPORT; a failed check prints "bios: FAIL check K"
 * and ends with 100 + K on mpvm's exit port.
 *
 * --defsym knobs: SIZE (default 0x40000, a multiple of 64 KiB),
 * EXITPORT (default 0x700), EXITVAL (default 0).
 */
	.ifndef SIZE
	.set SIZE, 0x40000
	.endif
	.ifndef EXITPORT
	.set EXITPORT, 0x700
	.endif
	.ifndef EXITVAL
	.set EXITVAL, 0
	.endif
	.if SIZE >= 0x20000
	.set MIRROR, 0x20000
	.else
	.set MIRROR, SIZE
	.endif
	.set ROM_BASE, 0x100000000 - SIZE
	.set MIRROR_BASE, 0x100000 - MIRROR
	.set MIRROR_ROM, 0x100000000 - MIRROR

	/* RAM the image uses (ROM cannot hold variables) */
	.set STACK_TOP, 0x7000
	.set COUNTER, 0x7f00   /* APs that checked in */
	.set TSC_MHZ, 0x7f04
	.set EXPECTED, 0x7f08  /* fw_cfg's CPU count - 1 */
	.set DEADLINE, 0x7f0c  /* 64-bit TSC */
	.set com1_numbuf, 0x7f20 /* 16 bytes for putd (com1_print32.inc) */
	.set TRAMPOLINE, 0x8000 /* SIPI vector 0x08 */
	.set LAPIC, 0xfee00000

	.section .text
	.code16
image_start:
	.if SIZE == 0x10000
seg_f000:
	.endif
	.ascii "MPVM-ROM"
	.if SIZE > MIRROR
	.org SIZE - MIRROR
	.ascii "MIRROR!!"
	.endif
	.if SIZE > 0x10000
	.org SIZE - 0x10000
seg_f000:			/* offsets for CS = 0xf000 are from here: the last 64 KiB */
	.endif
start16:
	cli
	cld
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $STACK_TOP, %sp
	lgdtl %cs:(gdtr - seg_f000)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $start32

	.align 8
gdt:	.quad 0
	.quad 0x00cf9b000000ffff	/* 0x08: 32-bit code, flat */
	.quad 0x00cf93000000ffff	/* 0x10: data, flat */
gdtr:	.word gdtr - gdt - 1
	.long gdt

/* The AP trampoline, copied to TRAMPOLINE: real mode, CS = 0x0800, IP = 0. */
ap16_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	lock incl COUNTER
1:	hlt
	jmp 1b
ap16_end:

	.code32
start32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $STACK_TOP, %esp
	mov $s_hello, %esi
	call puts

	/* 1: the image at 4 GiB - SIZE */
	mov $1, %ecx
	cmpl $0x4d56504d, ROM_BASE	/* "MPVM" */
	jne fail
	cmpl $0x4d4f522d, ROM_BASE + 4	/* "-ROM" */
	jne fail
	mov $s_rom, %esi
	call puts
	mov $ROM_BASE, %eax
	call putx
	call nl

	/* 2: the mirror */
	mov $2, %ecx
	push %ecx
	mov $MIRROR_BASE, %esi
	mov $MIRROR_ROM, %edi
	mov $(MIRROR / 4), %ecx
	repe cmpsl
	pop %ecx
	jne fail
	mov $s_mirror, %esi
	call puts
	mov $MIRROR_BASE, %eax
	call putx
	mov $s_mirror2, %esi
	call puts

	/* 3: read-only, both views */
	mov $3, %ecx
	mov MIRROR_BASE, %eax
	notl MIRROR_BASE
	cmp MIRROR_BASE, %eax
	jne fail
	movb $0x55, MIRROR_BASE + 9
	cmpb $0x55, MIRROR_BASE + 9
	je fail
	mov MIRROR_ROM, %eax
	notl MIRROR_ROM
	cmp MIRROR_ROM, %eax
	jne fail
	mov ROM_BASE, %eax
	movl $0, ROM_BASE
	cmp ROM_BASE, %eax
	jne fail
	mov $s_ro, %esi
	call puts

	/* 4: below a mirror of less than 128 KiB, RAM */
	.if MIRROR < 0x20000
	mov $4, %ecx
	movl $0x12345678, 0xe0000
	cmpl $0x12345678, 0xe0000
	jne fail
	movl $0x9abcdef0, MIRROR_BASE - 4
	cmpl $0x9abcdef0, MIRROR_BASE - 4
	jne fail
	mov $s_ram, %esi
	call puts
	.endif

	/* mpvm's tables: an RSDP and an MP floating pointer in the EBDA's first KiB? */
	movzwl 0x40e, %ebx
	shl $4, %ebx
	mov $s_rsdp, %esi
	call puts
	mov $0x20445352, %eax		/* "RSD " */
	mov $0x20525450, %edx		/* "PTR " */
	call scan_ebda
	mov $s_mp, %esi
	call puts
	mov $0x5f504d5f, %eax		/* "_MP_" */
	mov $0x5f504d5f, %edx		/* (any 16 bytes with _MP_ twice is not a pointer; fine) */
	call scan_ebda4

	/* fw_cfg: the CPU count (key 0x0005, 16 bits) */
	mov $5, %eax
	mov $0x510, %dx
	out %ax, %dx
	mov $0x511, %dx
	xor %eax, %eax
	in %dx, %al
	mov %eax, %ebx
	in %dx, %al
	shl $8, %eax
	or %ebx, %eax
	mov $s_fwcfg, %esi
	call puts
	call putd
	call nl
	dec %eax
	mov %eax, EXPECTED

	/*
	 * fw_cfg's file directory (key 0x0019: a big-endian count, then 64-byte
	 * entries: size, key, reserved, name): "bios: fw_cfg file SIZE NAME"
	 * for each, then the first 5 bytes of file 0x0020 (mpvm's SMBIOS
	 * anchor, "_SM3_", as SeaBIOS reads it).
	 */
	pushal
	mov $0x19, %eax
	mov $0x510, %dx
	out %ax, %dx
	mov $0x511, %dx
	call in_be32
	mov %eax, %ecx
	mov $s_files, %esi
	call puts
	call putd
	call nl
	jecxz 4f
1:	call in_be32			/* size */
	mov %eax, %ebx
	call in_be32			/* key, reserved */
	mov $s_file, %esi
	call puts
	mov %ebx, %eax
	call putd
	mov $' ', %al
	call putc
	mov $56, %edi
2:	in %dx, %al
	test %al, %al
	jz 3f
	call putc
3:	dec %edi
	jnz 2b
	call nl
	loop 1b
	mov $0x20, %eax
	mov $0x510, %dx
	out %ax, %dx
	mov $0x511, %dx
	mov $s_file20, %esi
	call puts
	mov $5, %ecx
5:	in %dx, %al
	call putc
	loop 5b
	call nl
4:	popal

	/* The TSC's rate: CPUID 0x40000010 EAX (kHz) if there, else 2 GHz. */
	push %ebx
	mov $0x40000000, %eax
	cpuid
	mov $2000, %ecx
	cmp $0x40000010, %eax
	jb 1f
	mov $0x40000010, %eax
	cpuid
	xor %edx, %edx
	mov $1000, %ecx
	div %ecx
	mov %eax, %ecx
	test %ecx, %ecx
	jnz 1f
	mov $2000, %ecx
1:	mov %ecx, TSC_MHZ
	pop %ebx

	/* The APs: the trampoline to RAM, then INIT, SIPI, SIPI to all-excluding-self. */
	mov $ap16_start, %esi
	mov $TRAMPOLINE, %edi
	mov $(ap16_end - ap16_start), %ecx
	rep movsb
	movl $0, COUNTER
	orl $0x100, LAPIC + 0xf0		/* SVR: APIC software-enabled */
	movl $0, LAPIC + 0x310
	movl $0x000c4500, LAPIC + 0x300		/* INIT, assert, all excluding self */
	mov $10000, %eax
	call udelay
	movl $0x000c4600 + (TRAMPOLINE >> 12), LAPIC + 0x300	/* SIPI */
	mov $200, %eax
	call udelay
	movl $0x000c4600 + (TRAMPOLINE >> 12), LAPIC + 0x300	/* SIPI again */

	/* Wait for them: at most 2 s, then 20 ms more for any AP entering twice. */
	mov $2000000, %eax
	call deadline
2:	mov COUNTER, %eax
	cmp EXPECTED, %eax
	jae 3f
	pause
	call past_deadline
	jnc 2b
3:	mov $20000, %eax
	call udelay
	mov $s_cpus, %esi
	call puts
	mov COUNTER, %eax
	inc %eax
	call putd
	mov $s_cpus2, %esi
	call puts
	mov $5, %ecx
	dec %eax
	cmp EXPECTED, %eax
	jne fail

	mov $s_bye, %esi
	call puts
	mov $EXITPORT, %dx
	mov $EXITVAL, %eax
	out %eax, %dx
	cli
4:	hlt
	jmp 4b

/* scan_ebda: EBX = EBDA; a 16-byte aligned EAX:EDX signature in its first KiB? Prints yes/no. */
scan_ebda:
	push %ecx
	xor %ecx, %ecx
6:	cmp %eax, (%ebx,%ecx)
	jne 7f
	cmp %edx, 4(%ebx,%ecx)
	je 8f
7:	add $16, %ecx
	cmp $1024, %ecx
	jb 6b
	mov $s_no, %esi
	jmp 9f
8:	mov $s_yes, %esi
9:	call puts
	pop %ecx
	ret
/* scan_ebda4: the same for a 4-byte signature EAX. */
scan_ebda4:
	push %ecx
	xor %ecx, %ecx
6:	cmp %eax, (%ebx,%ecx)
	je 8f
	add $16, %ecx
	cmp $1024, %ecx
	jb 6b
	mov $s_no, %esi
	jmp 9f
8:	mov $s_yes, %esi
9:	call puts
	pop %ecx
	ret

/* deadline: DEADLINE = TSC + EAX microseconds. */
deadline:
	push %ebx
	push %ecx
	push %edx
	mull TSC_MHZ
	mov %eax, %ebx
	mov %edx, %ecx
	rdtsc
	add %ebx, %eax
	adc %ecx, %edx
	mov %eax, DEADLINE
	mov %edx, DEADLINE + 4
	pop %edx
	pop %ecx
	pop %ebx
	ret
/* past_deadline: CF = 1 once the TSC has reached DEADLINE. */
past_deadline:
	push %eax
	push %edx
	rdtsc
	sub DEADLINE, %eax
	sbb DEADLINE + 4, %edx
	cmc				/* TSC >= DEADLINE: no borrow, CF = 0; flip it */
	pop %edx
	pop %eax
	ret
in_be32: /* EAX = four bytes from fw_cfg's data port (DX), big-endian */
	push %ecx
	mov $4, %ecx
	xor %eax, %eax
1:	shl $8, %eax
	in %dx, %al
	loop 1b
	pop %ecx
	ret
udelay:	/* EAX microseconds */
	call deadline
1:	pause
	call past_deadline
	jnc 1b
	ret

	.include "com1_print32.inc"

s_hello:	.asciz "bios: hello from the reset vector\n"
s_rom:		.asciz "bios: image at "
s_mirror:	.asciz "bios: mirror at "
s_mirror2:	.asciz " matches\n"
s_ro:		.asciz "bios: rom read-only\n"
s_ram:		.asciz "bios: ram below the mirror\n"
s_rsdp:		.asciz "bios: rsdp in ebda "
s_mp:		.asciz "bios: mp floating pointer in ebda "
s_yes:		.asciz "yes\n"
s_no:		.asciz "no\n"
s_fwcfg:	.asciz "bios: fw_cfg cpus "
s_files:	.asciz "bios: fw_cfg files "
s_file:		.asciz "bios: fw_cfg file "
s_file20:	.asciz "bios: fw_cfg file 0x20 starts "
s_cpus:		.asciz "bios: "
s_cpus2:	.asciz " cpus\n"
s_bye:		.asciz "bios: done\n"
s_fail:		.asciz "bios: FAIL check "

	.code16
	.org SIZE - 16
	.globl _start
_start:
reset:				/* 0xfffffff0: CS base 0xffff0000, IP 0xfff0 */
	ljmp $0xf000, $(start16 - seg_f000)
	.org SIZE
