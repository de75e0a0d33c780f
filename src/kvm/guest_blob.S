/* The built-in guest (guest/, built as a flat binary) embedded into mpvm. */
	.section .rodata
	.balign 4096
	.globl mpvm_guest_image
mpvm_guest_image:
	.incbin GUEST_BIN
	.globl mpvm_guest_image_end
mpvm_guest_image_end:
	.section .note.GNU-stack,"",@progbits
