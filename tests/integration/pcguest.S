/*
 * A multiboot (v1) test guest for tests/integration/pc-devices.t,
 * assembled at test time (as --32, ld -m elf_i386). It checks the PC
 * platform devices from the guest's side: the 8042's status and
 * self-test, the ACPI PM timer and PM1_CNT.SCI_EN, the CMOS RTC (it prints
 * the date and time it reads) and CMOS RAM, the POST port; then it does
 * what ACTION says, which should end the VM:
 *   0  nothing: exit through mpvm's exit port (0x700) with status 0
 *   1  ACPI S5: PM1a_CNT = SLP_TYP 5 | SLP_EN (a word write, as ACPICA does)
 *   2  the reset control register: 0xcf9 = 0x02, then 0x06 (Linux's reboot=pci)
 *   3  the 8042's reset line: command 0xfe
 *   4  the 8042's output port: command 0xd1, data 0xfe (bit 0 clear)
 *   5  port 0x92 bit 0 (fast reset)
 *   6  ACPI S3 (SLP_TYP 1): ignored, so the guest goes on and exits with 0
 * If the guest is still running after its action, it says so and exits
 * with status 99; a failed check N exits with status 100 + N.
 */
	.ifndef ACTION
	.set ACTION, 0
	.endif
	.set MAGIC, 0x1badb002
	.set HDRFLAGS, 3

	.section .text
	.code32
	.globl _start
	.align 4
	.long MAGIC, HDRFLAGS, -(MAGIC + HDRFLAGS)

_start:
	mov $stack_top, %esp
	mov $s_hello, %esi
	call puts

	/* 8042: key lock off, input buffer empty; self-test gives 0x55. */
	mov $1, %ecx
	in $0x64, %al
	and $0x12, %al
	cmp $0x10, %al
	jne fail
	mov $2, %ecx
	mov $0xaa, %al
	out %al, $0x64
	call kbc_read
	cmp $0x55, %al
	jne fail
	mov $3, %ecx
	mov $0x20, %al            /* read the command byte: system flag set */
	out %al, $0x64
	call kbc_read
	test $0x04, %al
	jz fail
	mov $s_kbc, %esi
	call puts

	/* PM timer: 24 bits, moving forward. */
	mov $4, %ecx
	mov $0x608, %dx
	in %dx, %eax
	mov %eax, %ebx
	test $0xff000000, %eax
	jnz fail
	mov $5, %ecx
	mov $1000000, %edi
1:	in %dx, %eax
	cmp %eax, %ebx
	jne 2f
	dec %edi
	jnz 1b
	jmp fail
2:	sub %ebx, %eax
	and $0xffffff, %eax
	cmp $0x800000, %eax       /* forward, by less than half the wrap */
	jae fail
	mov $6, %ecx
	mov $0x604, %dx
	in %dx, %ax
	test $1, %al              /* SCI_EN */
	jz fail
	mov $s_pm, %esi
	call puts

	/* RTC: BCD and 24-hour as a BIOS leaves it, valid RAM and time. */
	mov $7, %ecx
	mov $0x0b, %al
	call cmos_read
	and $0x06, %al
	cmp $0x02, %al
	jne fail
	mov $8, %ecx
	mov $0x0d, %al
	call cmos_read
	cmp $0x80, %al
	jne fail
	mov $9, %ecx
	mov $1000000, %edi        /* wait for UIP clear, with a bound */
3:	mov $0x0a, %al
	call cmos_read
	test $0x80, %al
	jz 4f
	dec %edi
	jnz 3b
	jmp fail
4:	mov $s_rtc, %esi
	call puts
	mov $0x32, %al
	call cmos_hex
	mov $0x09, %al
	call cmos_hex
	mov $'-', %al
	call putc
	mov $0x08, %al
	call cmos_hex
	mov $'-', %al
	call putc
	mov $0x07, %al
	call cmos_hex
	mov $' ', %al
	call putc
	mov $0x04, %al
	call cmos_hex
	mov $':', %al
	call putc
	mov $0x02, %al
	call cmos_hex
	mov $':', %al
	call putc
	mov $0x00, %al
	call cmos_hex
	call nl

	/* CMOS RAM keeps a byte; the NMI mask bit does not change the index. */
	mov $10, %ecx
	mov $0x40, %al
	out %al, $0x70
	mov $0x5a, %al
	out %al, $0x71
	mov $0xc0, %al
	out %al, $0x70
	in $0x71, %al
	cmp $0x5a, %al
	jne fail
	mov $0x0d, %al            /* NMI back on */
	out %al, $0x70

	/* POST port: a write goes nowhere, a read floats. */
	mov $11, %ecx
	mov $0x42, %al
	out %al, $0x80
	in $0x80, %al
	cmp $0xff, %al
	jne fail

	mov $s_action, %esi
	call puts
	mov $ACTION, %eax
	call putd
	call nl

	.if ACTION == 1
	mov $0x604, %dx
	mov $(0x2000 | (5 << 10)), %ax
	out %ax, %dx
	.elseif ACTION == 2
	mov $0xcf9, %dx
	mov $0x02, %al
	out %al, %dx
	mov $0x06, %al
	out %al, %dx
	.elseif ACTION == 3
	mov $0xfe, %al
	out %al, $0x64
	.elseif ACTION == 4
	mov $0xd1, %al
	out %al, $0x64
	mov $0xfe, %al
	out %al, $0x60
	.elseif ACTION == 5
	in $0x92, %al
	or $1, %al
	out %al, $0x92
	.elseif ACTION == 6
	mov $0x604, %dx
	mov $(0x2000 | (1 << 10)), %ax
	out %ax, %dx
	.endif
	.if ACTION == 0 || ACTION == 6
	mov $s_bye, %esi
	call puts
	xor %eax, %eax
	mov $0x700, %dx
	out %al, %dx
	hlt
	.endif
	mov $s_still, %esi
	call puts
	mov $99, %al
	mov $0x700, %dx
	out %al, %dx
	hlt

kbc_read:	/* waits (bounded) for the 8042's output buffer, reads it into AL */
	push %edi
	mov $1000000, %edi
5:	in $0x64, %al
	test $1, %al
	jnz 6f
	dec %edi
	jnz 5b
	pop %edi
	jmp fail
6:	in $0x60, %al
	pop %edi
	ret
cmos_read:	/* AL = index; returns the register in AL */
	out %al, $0x70
	in $0x71, %al
	ret
cmos_hex:	/* AL = index; prints the register as two hex digits (BCD reads as decimal) */
	call cmos_read
	push %eax
	shr $4, %al
	call hexdigit
	pop %eax
	call hexdigit
	ret
hexdigit:
	and $0xf, %al
	add $'0', %al
	cmp $'9', %al
	jbe 7f
	add $('a' - '9' - 1), %al
7:	jmp putc

	.include "com1_print32.inc"

	.section .rodata
s_hello:	.asciz "pcguest: hello\n"
s_kbc:		.asciz "pcguest: 8042 ok\n"
s_pm:		.asciz "pcguest: PM timer and PM1_CNT ok\n"
s_rtc:		.asciz "pcguest: rtc "
s_action:	.asciz "pcguest: action "
s_bye:		.asciz "pcguest: exiting through the exit port\n"
s_still:	.asciz "pcguest: still running after the action\n"
s_fail:		.asciz "pcguest: FAIL check "

	.section .bss
	.align 16
com1_numbuf:	.space 16
		.space 4096
stack_top:
