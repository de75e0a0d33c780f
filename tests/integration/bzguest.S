/*
 * A bzImage test kernel for tests/integration/bzimage.t, assembled at test
 * time (as --64, objcopy -O binary): a boot sector and setup header as the
 * x86 boot protocol (Documentation/arch/x86/boot.rst) lays them out, and a
 * protected-mode part whose startup_64, at +0x200, prints on COM1 what the
 * 64-bit boot protocol gave it: CS, RIP, the zero page's command line, the
 * loader type, the RSDP address, the e820 map and the initrd (with its
 * first 8 bytes), then ends through mpvm's exit port (status 0).
 *
 * --defsym knobs: VERSION=V (protocol, default 0x020f), NO64=1 (clear
 * XLF_KERNEL_64).
 */
	.ifndef VERSION
	.set VERSION, 0x020f
	.endif
	.ifdef NO64
	.set XLF, 0
	.else
	.set XLF, 1
	.endif
	.set LOAD, 0x200000     /* pref_address: where the protected-mode part goes */
	.set COM1, 0x3f8
	.set EXIT_PORT, 0x700

	.section .text
	.code16
boot_sector:
	.org 0x1f1
	.byte 1                 /* setup_sects: the boot sector, then one sector */
	.word 0                 /* root_flags */
	.long 64                /* syssize: the 1 KiB protected-mode part, in 16-byte units */
	.word 0, 0, 0           /* ram_size, vid_mode, root_dev */
	.word 0xaa55            /* boot_flag */
	.byte 0xeb, 0x6a        /* jump; the header ends at 0x202 + 0x6a */
	.ascii "HdrS"
	.word VERSION
	.long 0                 /* realmode_swtch */
	.word 0, 0              /* start_sys_seg, kernel_version */
	.byte 0                 /* type_of_loader */
	.byte 1                 /* loadflags: LOADED_HIGH */
	.word 0                 /* setup_move_size */
	.long LOAD              /* code32_start */
	.long 0, 0              /* ramdisk_image, ramdisk_size */
	.long 0                 /* bootsect_kludge */
	.word 0                 /* heap_end_ptr */
	.byte 0, 0              /* ext_loader_ver, ext_loader_type */
	.long 0                 /* cmd_line_ptr */
	.long 0x7fffffff        /* initrd_addr_max */
	.long 0x200000          /* kernel_alignment */
	.byte 0, 0              /* relocatable_kernel, min_alignment */
	.word XLF               /* xloadflags */
	.long 255               /* cmdline_size */
	.long 0                 /* hardware_subarch */
	.quad 0                 /* hardware_subarch_data */
	.long 0, 0              /* payload_offset, payload_length */
	.quad 0                 /* setup_data */
	.quad LOAD              /* pref_address */
	.long 0x10000           /* init_size */
	.long 0, 0              /* handover_offset, kernel_info_offset */
hdr_end:
	.org 0x26c              /* fails to assemble if the header ran longer */

	.org 0x400              /* (setup_sects + 1) * 512: the protected-mode part */
pm_start:
	.code64
	.org 0x400 + 0x200      /* startup_64 */
startup_64:
	mov %rsi, %rbx          /* the zero page */
	mov $0x80000, %rsp
	lea s_cs(%rip), %rdi
	call puts
	xor %eax, %eax
	mov %cs, %ax
	mov %rax, %rdi
	call puthex_nl
	lea s_rip(%rip), %rdi
	call puts
	lea startup_64(%rip), %rdi
	call puthex_nl
	lea s_cmdline(%rip), %rdi
	call puts
	mov 0x228(%rbx), %edi   /* cmd_line_ptr */
	call puts
	call newline
	lea s_loader(%rip), %rdi
	call puts
	movzbl 0x210(%rbx), %edi /* type_of_loader */
	call puthex_nl
	lea s_rsdp(%rip), %rdi
	call puts
	mov 0x70(%rbx), %rdi    /* acpi_rsdp_addr */
	call puthex_nl
	lea s_initrd(%rip), %rdi
	call puts
	mov 0x218(%rbx), %edi   /* ramdisk_image */
	call puthex_sp
	mov 0x21c(%rbx), %edi   /* ramdisk_size */
	call puthex_sp
	mov 0x218(%rbx), %eax
	test %eax, %eax
	jz 1f
	mov (%rax), %rdi        /* its first 8 bytes, little-endian */
	call puthex
1:	call newline
	movzbl 0x1e8(%rbx), %r12d /* e820_entries */
	lea 0x2d0(%rbx), %r13
2:	test %r12d, %r12d
	jz 3f
	lea s_e820(%rip), %rdi
	call puts
	mov (%r13), %rdi
	call puthex_sp
	mov 8(%r13), %rdi
	call puthex_sp
	mov 16(%r13), %edi
	call puthex_nl
	add $20, %r13
	dec %r12d
	jmp 2b
3:	lea s_done(%rip), %rdi
	call puts
	mov $EXIT_PORT, %dx
	xor %eax, %eax
	out %al, %dx
4:	hlt
	jmp 4b

/* puts: the NUL-terminated string at %rdi to COM1. */
puts:	mov $COM1, %dx
5:	movb (%rdi), %al
	test %al, %al
	jz 6f
	out %al, %dx
	inc %rdi
	jmp 5b
6:	ret

newline:
	mov $COM1, %dx
	mov $'\n', %al
	out %al, %dx
	ret

/* puthex: %rdi as 16 hex digits; _sp adds a blank, _nl a newline. */
puthex:	mov $16, %ecx
	mov $COM1, %dx
7:	rol $4, %rdi
	mov %edi, %eax
	and $15, %eax
	add $'0', %al
	cmp $'9', %al
	jbe 8f
	add $('a' - '0' - 10), %al
8:	out %al, %dx
	dec %ecx
	jnz 7b
	ret
puthex_sp:
	call puthex
	mov $' ', %al
	out %al, %dx
	ret
puthex_nl:
	call puthex
	jmp newline

s_cs:      .asciz "bz: cs="
s_rip:     .asciz "bz: rip="
s_cmdline: .asciz "bz: cmdline="
s_loader:  .asciz "bz: type_of_loader="
s_rsdp:    .asciz "bz: acpi_rsdp_addr="
s_initrd:  .asciz "bz: initrd="
s_e820:    .asciz "bz: e820 "
s_done:    .asciz "bz: done\n"
	.org 0x800              /* the end: 0x400 of protected-mode code, as syssize says */
