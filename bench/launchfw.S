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
 * KVMTOOL=1: the same image for kvmtool, `lkvm run -k FILE -c N`, which
 * loads a kernel that is not a bzImage as a flat binary at 0x10000 and
 * starts the BSP there in real mode (CS = DS = ES = SS = 0x1000, IP 0, SP
 * 0x8000; x86/kvm.c load_flat_binary), with the APs waiting for INIT-SIPI.
 * kvmtool has neither fw_cfg nor isa-debug-exit; the differences
 * (numbered as the steps above), and only they, are:
 *   1. the entry is the image's first byte, not its last 16: the same three
 *      instructions print "S" there;
 *   3. N = the enabled processor entries of kvmtool's MP table (x86/
 *      mptable.c: the floating pointer "_MP_" on a 16-byte boundary in
 *      0xf0000-0xfffff, after the table it points to; the processor entries
 *      come first); none found, or more than 255, prints "F";
 *   4. the SIPI vector is 0x11: the AP code sits 4 KiB into the image, at
 *      0x11000 (the BSP's entry holds 0x10000, and kvmtool puts nothing
 *      else in 0x10000-0x1ffff);
 *   5. the end, with "A", "T" or "F" printed as above, is kvmtool's reboot:
 *      the i8042 command 0xFE (system reset) on port 0x64 (hw/i8042.c ->
 *      kvm__reboot), the way it ends a Linux guest (reboot=k). lkvm then
 *      stops every vCPU and exits with status 0 whatever was printed: the
 *      markers tell success.
 *
 * Assembled by the Makefile: as --32 [--defsym BROADCAST=1] [--defsym
 * KVMTOOL=1], ld -m elf_i386 -Ttext=0xffff0000 (KVMTOOL: -Ttext=0x10000),
 * objcopy -O binary -j .text: exactly 64 KiB.
 */
	.set SIZE, 0x10000
	.set COM1, 0x3f8
	.set DEBUG_EXIT, 0xf4
	.set EXIT_OK, 0x10
	.set EXIT_TIMEOUT, 0x11
	.set EXIT_BADCOUNT, 0x12
	.set COUNTER, 0x600		/* RAM: APs checked in */
	.ifdef KVMTOOL
	.set AP_OFFSET, 0x1000
	.set SIPI_VECTOR, 0x11		/* 0x11000: AP_OFFSET into the image at 0x10000 */
	.set I8042_CMD, 0x64
	.set I8042_RESET, 0xfe
	.set BIOS_AREA, 0xf0000		/* where kvmtool's MP table is */
	.set MPF_SIG, 0x5f504d5f		/* "_MP_" */
	.else
	.set AP_OFFSET, 0
	.set SIPI_VECTOR, 0xf0		/* 0xf0000: the image's start, mirrored */
	.endif
	.set LAPIC, 0xfee00000
	.set LAPIC_ID, LAPIC + 0x20
	.set LAPIC_SVR, LAPIC + 0xf0
	.set LAPIC_ICR_LO, LAPIC + 0x300
	.set LAPIC_ICR_HI, LAPIC + 0x310
	.set ICR_INIT, 0x4500		/* INIT, level assert, physical */
	.set ICR_SIPI, 0x4600 + SIPI_VECTOR
	.set ICR_ALL_BUT_SELF, 0xc0000
	.set TIMEOUT_HI, 8		/* 8 << 32 TSC ticks */

/* The BSP's first instructions: the line "S" on COM1. */
	.macro print_s
	mov $COM1, %dx
	mov $'S', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	.endm

	.section .text
	.code16
image_start:
	.ifdef KVMTOOL
	.globl _start
_start:				/* kvmtool: 0x1000:0000, real mode */
	print_s
	jmp start16
	.org AP_OFFSET
	.endif
/* The APs: CS = SIPI_VECTOR << 8, IP = 0, real mode. */
ap_entry:
	xor %ax, %ax
	mov %ax, %ds
	lock incl COUNTER
1:	hlt
	jmp 1b

/* The BSP, from the reset vector: still CS base 0xffff0000 (kvmtool: 0x10000). */
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
	.ifdef KVMTOOL
	/* N from the MP table: find "_MP_" 16-byte aligned in the BIOS area */
	mov %eax, %es
	cld
	mov $BIOS_AREA, %edi
	mov $MPF_SIG, %eax
	mov $0x4000, %ecx		/* dwords in 0xf0000-0xfffff */
1:	repne scasl
	jne bad_count			/* no floating pointer: "F" */
	lea -4(%edi), %edx		/* the match: 16-byte aligned? */
	test $15, %edx
	jnz 1b
	mov (%edi), %esi		/* its physptr (offset 4): the table */
	lea 44(%esi), %esi		/* the first entry, past the header */
	xor %ebx, %ebx			/* EBX: enabled processors */
2:	cmpb $0, (%esi)			/* a processor entry (20 bytes)? */
	jne 3f
	testb $1, 3(%esi)		/* cpuflag: enabled */
	jz 4f
	inc %ebx
4:	add $20, %esi
	jmp 2b
3:
	.else
	/* N from fw_cfg */
	mov $0x510, %edx
	mov $5, %eax
	out %ax, %dx
	inc %edx
	in %dx, %al
	movzbl %al, %ebx
	in %dx, %al
	mov %al, %bh
	.endif
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
	.ifdef KVMTOOL
	mov $I8042_RESET, %al		/* kvmtool: reboot, i.e. exit (status 0) */
	out %al, $I8042_CMD
	.else
	mov $DEBUG_EXIT, %edx
	out %al, %dx
	.endif
1:	hlt				/* a VMM without the port: stop here */
	jmp 1b

	.ifndef KVMTOOL
	.code16
	.org SIZE - 16
	.globl _start
_start:
reset:				/* 0xfffffff0: CS base 0xffff0000, IP 0xfff0 */
	print_s
	jmp start16
	.endif
	.org SIZE
