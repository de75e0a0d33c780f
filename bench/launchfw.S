/*
 * bench/launchfw.S: the flat SMP firmware image bench/launch times, a
 * 64 KiB raw image for `-bios`/`--bios` that runs unchanged under mpvm
 * (`mpvm run --bios FILE --cpus N --debug-exit`) and QEMU (`-M microvm` or
 * `-M pc`, `-bios FILE -smp N -device isa-debug-exit,iobase=0xf4,iosize=4`).
 * Written for speed: as few instructions and VM exits as starting N-1 APs
 * takes, no delays, no stack, no tables.
 *
 *   1. reset vector (0xfffffff0, real mode, CS base 0xffff0000): prints the
 *      line "S" on COM1 (0x3f8) with its first three instructions;
 *   2. a GDT in the ROM, 32-bit protected mode, flat;
 *   3. N = fw_cfg's CPU count (FW_CFG_NB_CPUS, selector 0x05 at 0x510, two
 *      bytes at 0x511, little-endian); N outside 1..255 prints "F" and exits
 *      with 0x12;
 *   4. the APs, through the xAPIC at 0xfee00000 (SVR enabled first):
 *        default image: for APIC ID 0, 1, 2, ... but the BSP's own, INIT,
 *        SIPI, SIPI to that ID (no delays: KVM needs none), then wait until
 *        that AP has checked in before the next, until N-1 have;
 *        BROADCAST=1: INIT, SIPI, SIPI to all-excluding-self, then wait
 *        until N-1 have checked in;
 *      the SIPI vector is 0xf0: an AP starts at 0xf0000 in real mode, the
 *      image's first bytes through the ROM's mirror below 1 MiB, increments
 *      the 32-bit counter at 0x600 with a locked add and halts forever;
 *   5. all checked in: prints the line "A" and writes EXIT_OK (0x10) to the
 *      isa-debug-exit port 0xf4: mpvm and QEMU both end with status
 *      (0x10 << 1) | 1 = 33. If they have not within about 2^35 TSC ticks
 *      (10-20 s), prints "T" and writes 0x11 (status 35).
 *
 * The APIC IDs are taken to be 0..N-1 (mpvm; QEMU with -smp N, one core
 * and thread per socket). No ICR delivery-status polling: each ICR write
 * is one exit and KVM delivers it before the write returns.
 *
 * Assembled by the Makefile: as --32 [--defsym BROADCAST=1], ld -m elf_i386
 * -Ttext=0xffff0000, objcopy -O binary -j .text: exactly 64 KiB.
 */
	.set SIZE, 0x10000
	.set COM1, 0x3f8
	.set DEBUG_EXIT, 0xf4
	.set EXIT_OK, 0x10
	.set EXIT_TIMEOUT, 0x11
	.set EXIT_BADCOUNT, 0x12
	.set COUNTER, 0x600		/* RAM: APs checked in */
	.set SIPI_VECTOR, 0xf0		/* 0xf0000: the image's start, mirrored */
	.set LAPIC, 0xfee00000
	.set LAPIC_ID, LAPIC + 0x20
	.set LAPIC_SVR, LAPIC + 0xf0
	.set LAPIC_ICR_LO, LAPIC + 0x300
	.set LAPIC_ICR_HI, LAPIC + 0x310
	.set ICR_INIT, 0x4500		/* INIT, level assert, physical */
	.set ICR_SIPI, 0x4600 + SIPI_VECTOR
	.set ICR_ALL_BUT_SELF, 0xc0000
	.set TIMEOUT_HI, 8		/* 8 << 32 TSC ticks */

	.section .text
	.code16
image_start:
/* The APs: CS = 0xf000, IP = 0, real mode. */
ap_entry:
	xor %ax, %ax
	mov %ax, %ds
	lock incl COUNTER
1:	hlt
	jmp 1b

/* The BSP, from the reset vector: still CS base 0xffff0000. */
start16:
	lgdtl %cs:(gdtr - image_start)
	mov %cr0, %eax
	or $1, %al
	mov %eax, %cr0
	ljmpl $0x08, $start32

	.align 8
gdt:	.quad 0
	.quad 0x00cf9b000000ffff	/* 0x08: 32-bit code, flat */
	.quad 0x00cf93000000ffff	/* 0x10: data, flat */
gdtr:	.word gdtr - gdt - 1
	.long gdt

	.code32
start32:
	mov $0x10, %eax
	mov %eax, %ds
	/* N from fw_cfg */
	mov $0x510, %edx
	mov $5, %eax
	out %ax, %dx
	inc %edx
	in %dx, %al
	movzbl %al, %ebx
	in %dx, %al
	mov %al, %bh
	lea -1(%ebx), %ecx		/* ECX: APs to start */
	cmp $254, %ecx
	ja bad_count
	movl $0, COUNTER
	test %ecx, %ecx
	jz all_in
	movl $0x1ff, LAPIC_SVR		/* software-enabled, spurious vector 0xff */
	rdtsc
	lea TIMEOUT_HI(%edx), %ebp	/* EBP: the deadline's high half */
	.ifdef BROADCAST
	movl $(ICR_ALL_BUT_SELF | ICR_INIT), LAPIC_ICR_LO
	movl $(ICR_ALL_BUT_SELF | ICR_SIPI), LAPIC_ICR_LO
	movl $(ICR_ALL_BUT_SELF | ICR_SIPI), LAPIC_ICR_LO
1:	cmp %ecx, COUNTER
	jae all_in
	pause
	rdtsc
	cmp %ebp, %edx
	jb 1b
	jmp timeout
	.else
	mov LAPIC_ID, %esi
	shr $24, %esi			/* ESI: the BSP's APIC ID */
	xor %edi, %edi			/* EDI: the next APIC ID */
	xor %ebx, %ebx			/* EBX: APs started */
next_ap:
	cmp %esi, %edi
	je 3f
	mov %edi, %eax
	shl $24, %eax
	mov %eax, LAPIC_ICR_HI
	movl $ICR_INIT, LAPIC_ICR_LO
	movl $ICR_SIPI, LAPIC_ICR_LO
	movl $ICR_SIPI, LAPIC_ICR_LO
	inc %ebx
2:	cmp %ebx, COUNTER
	jae 4f
	pause
	rdtsc
	cmp %ebp, %edx
	jb 2b
	jmp timeout
4:	cmp %ecx, %ebx			/* that AP is in: all of them? */
	jae all_in
3:	inc %edi
	jmp next_ap
	.endif

all_in:
	mov $COM1, %edx
	mov $'A', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	mov $EXIT_OK, %al
	jmp exit
timeout:
	mov $COM1, %edx
	mov $'T', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	mov $EXIT_TIMEOUT, %al
	jmp exit
bad_count:
	mov $COM1, %edx
	mov $'F', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	mov $EXIT_BADCOUNT, %al
exit:
	mov $DEBUG_EXIT, %edx
	out %al, %dx
1:	hlt				/* a VMM without the port: stop here */
	jmp 1b

	.code16
	.org SIZE - 16
	.globl _start
_start:
reset:				/* 0xfffffff0: CS base 0xffff0000, IP 0xfff0 */
	mov $COM1, %dx
	mov $'S', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	jmp start16
	.org SIZE
