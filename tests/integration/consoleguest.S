/*
 * An interrupt-driven echo guest for tests/integration/console.t: a
 * multiboot (v1) kernel, assembled at test time (as --64, ld -m
 * elf_x86_64). From the 32-bit multiboot entry it goes to long mode (some
 * hosts' KVM cannot emulate a 32-bit IRET), then drives COM1 the way
 * Linux's 8250 driver does once a port is open: FIFOs with trigger level
 * 8, MCR = DTR | RTS | OUT2, IER.ERBFI always and IER.ETBEI while it has
 * bytes to send, one handler for IRQ 4 that loops on IIR until it shows no
 * interrupt, IRQ 4 routed by the IOAPIC (edge, active high) to this CPU,
 * the 8259s masked.
 *
 * It prints "echo: ready" (polled), then sends back every byte it receives
 * with a-z made upper case, until it receives EOT (0x04): then it drops
 * the rest, finishes sending and writes 42 to mpvm's exit port. When its
 * 4 KiB ring is full it clears IER.ERBFI until the ring is half empty (its
 * flow control, which leaves input waiting in mpvm). An unexpected
 * exception writes 99.
 */
	.set MAGIC, 0x1badb002
	.set FLAGS, 3
	.set COM1, 0x3f8
	.set EXIT_PORT, 0x700
	.set LAPIC, 0xfee00000
	.set IOAPIC, 0xfec00000
	.set VECTOR, 0x24
	.set RING_SIZE, 4096

	.section .text
	.code32
	.globl _start
	.align 4
	.long MAGIC, FLAGS, -(MAGIC + FLAGS)

_start:
	mov $stack_top, %esp
	/* Identity map 0-1 GiB and 3-4 GiB (the APICs) with 2 MiB pages. */
	movl $pdpt + 3, pml4
	movl $pd0 + 3, pdpt
	movl $pd3 + 3, pdpt + 3 * 8
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax                  /* present, writable, 2 MiB */
	mov %eax, pd0(, %ecx, 8)
	add $0xc0000000 + 0x18, %eax    /* 3 GiB up, uncached */
	mov %eax, pd3(, %ecx, 8)
	inc %ecx
	cmp $512, %ecx
	jne 1b
	mov %cr4, %eax
	or $0x20, %eax                  /* PAE */
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx           /* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	ljmp $0x08, $start64            /* mpvm's boot GDT: 0x08 is 64-bit code */

	.code64
start64:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $stack_top, %rsp
	call setup_idt
	lidt idtr(%rip)
	mov $0xff, %al                  /* both 8259s masked: the IOAPIC delivers */
	out %al, $0x21
	out %al, $0xa1
	mov $LAPIC, %rbx
	movl $0x1ff, 0xf0(%rbx)         /* SVR: APIC on, spurious vector 0xff */
	movl $0x10000, 0x350(%rbx)      /* LVT LINT0 masked */
	mov 0x20(%rbx), %eax            /* our APIC ID, in bits 31:24 */
	mov $IOAPIC, %rbx
	movl $0x19, (%rbx)              /* redirection entry 4, high: destination */
	mov %eax, 0x10(%rbx)
	movl $0x18, (%rbx)              /* low: fixed, physical, edge, high, unmasked */
	movl $VECTOR, 0x10(%rbx)

	mov $COM1 + 3, %dx              /* LCR: 8N1 */
	mov $0x03, %al
	out %al, %dx
	mov $COM1 + 2, %dx              /* FCR: FIFOs on and cleared, trigger level 8 */
	mov $0x87, %al
	out %al, %dx
	lea s_ready(%rip), %rsi
	call puts
	mov $COM1 + 4, %dx              /* MCR: DTR, RTS, OUT2 */
	mov $0x0b, %al
	out %al, %dx
	movb $0x01, ier(%rip)           /* IER: received data */
	call write_ier
	sti

main_loop:
	cli
	mov head(%rip), %ecx
	cmp tail(%rip), %ecx
	jne 1f
	cmpb $0, quit(%rip)
	jne done
	jmp 2f
1:	testb $0x02, ier(%rip)          /* bytes to send: let THRE interrupts come */
	jnz 2f
	orb $0x02, ier(%rip)
	call write_ier
2:	sti
	hlt
	jmp main_loop

done:
	mov $EXIT_PORT, %dx
	mov $42, %al
	out %al, %dx
	hlt

write_ier:
	push %rax
	push %rdx
	mov $COM1 + 1, %dx
	mov ier(%rip), %al
	out %al, %dx
	pop %rdx
	pop %rax
	ret

/* Polled output of the string at RSI. */
puts:	lodsb
	test %al, %al
	jz 2f
	mov %al, %ah
	mov $COM1 + 5, %dx
1:	in %dx, %al
	test $0x20, %al
	jz 1b
	mov %ah, %al
	mov $COM1, %dx
	out %al, %dx
	jmp puts
2:	ret

irq4:
	push %rax
	push %rbx
	push %rcx
	push %rdx
next:
	mov $COM1 + 2, %dx              /* IIR */
	in %dx, %al
	test $0x01, %al
	jnz eoi
	and $0x0e, %al
	cmp $0x02, %al
	je tx
	cmp $0x06, %al
	je line_status
	test %al, %al
	je modem_status
rx:	mov $COM1 + 5, %dx              /* data available or timeout: read while LSR.DR */
	in %dx, %al
	test $0x01, %al
	jz next
	mov head(%rip), %ecx
	sub tail(%rip), %ecx
	cmp $RING_SIZE, %ecx
	jae rx_full
	mov $COM1, %dx
	in %dx, %al
	cmpb $0, quit(%rip)             /* after EOT: read and drop */
	jne rx
	cmp $0x04, %al
	jne 1f
	movb $1, quit(%rip)
	jmp rx
1:	cmp $'a', %al
	jb 2f
	cmp $'z', %al
	ja 2f
	sub $0x20, %al
2:	mov head(%rip), %ecx
	and $RING_SIZE - 1, %ecx
	lea ring(%rip), %rbx
	mov %al, (%rbx, %rcx)
	incl head(%rip)
	jmp rx
rx_full:
	andb $~0x01, ier(%rip)          /* no room: stop taking input for now */
	call write_ier
	jmp next
tx:	mov $16, %ebx                   /* THR empty: up to a FIFO's worth */
1:	mov tail(%rip), %ecx
	cmp head(%rip), %ecx
	je tx_empty
	and $RING_SIZE - 1, %ecx
	lea ring(%rip), %rdx
	mov (%rdx, %rcx), %al
	mov $COM1, %dx
	out %al, %dx
	incl tail(%rip)
	dec %ebx
	jnz 1b
	jmp tx_room
tx_empty:
	andb $~0x02, ier(%rip)
	call write_ier
tx_room:
	testb $0x01, ier(%rip)
	jnz next
	mov head(%rip), %ecx
	sub tail(%rip), %ecx
	cmp $RING_SIZE / 2, %ecx
	ja next
	orb $0x01, ier(%rip)            /* room again: input back on */
	call write_ier
	jmp next
line_status:
	mov $COM1 + 5, %dx
	in %dx, %al
	jmp next
modem_status:
	mov $COM1 + 6, %dx
	in %dx, %al
	jmp next
eoi:	mov $LAPIC, %rax
	movl $0, 0xb0(%rax)
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	iretq

spurious:
	iretq

unexpected:
	mov $EXIT_PORT, %dx
	mov $99, %al
	out %al, %dx
	hlt

/* 256 interrupt gates (64-bit, CS 0x08): IRQ 4's vector, the spurious one, the rest unexpected. */
setup_idt:
	lea idt(%rip), %rdi
	xor %ecx, %ecx
1:	lea unexpected(%rip), %rax
	cmp $VECTOR, %ecx
	jne 2f
	lea irq4(%rip), %rax
2:	cmp $0xff, %ecx
	jne 3f
	lea spurious(%rip), %rax
3:	mov %ax, (%rdi)
	movw $0x08, 2(%rdi)
	movw $0x8e00, 4(%rdi)
	shr $16, %rax
	mov %ax, 6(%rdi)
	shr $16, %rax
	mov %eax, 8(%rdi)
	movl $0, 12(%rdi)
	add $16, %rdi
	inc %ecx
	cmp $256, %ecx
	jne 1b
	ret

	.section .data
	.align 8
idtr:	.word 256 * 16 - 1
	.quad idt
s_ready:
	.asciz "echo: ready\n"

	.section .bss
	.align 4096
pml4:	.space 4096
pdpt:	.space 4096
pd0:	.space 4096
pd3:	.space 4096
idt:	.space 256 * 16
ring:	.space RING_SIZE
head:	.space 4
tail:	.space 4
ier:	.space 1
quit:	.space 1
	.align 16
	.space 4096
stack_top:
