/* Multiboot (v1) kernels (--kernel, --initrd). */
#ifndef MPVM_KVM_BOOT_MULTIBOOT_H
#define MPVM_KVM_BOOT_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

struct vm;

/*
 * Loads --kernel (and --initrd as its one module), writes the multiboot
 * information, the ACPI and MP tables, and gives the BSP the multiboot entry
 * state; img[0..len) is the --kernel file's contents. -1 after printing why.
 */
int boot_multiboot(struct vm *vm, const uint8_t *img, size_t len);

#endif
