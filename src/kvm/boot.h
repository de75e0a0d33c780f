/*
 * Puts the built-in guest and the firmware tables into guest memory and
 * gives the BSP its entry state (the contract is core/guest_abi.h).
 */
#ifndef MPVM_KVM_BOOT_H
#define MPVM_KVM_BOOT_H

struct vm;

/* -1 after printing why. */
int boot_builtin_guest(struct vm *vm);
/* BDA, boot GDT, ACPI and MP tables, for any guest (multiboot too). -1 after printing why. */
int boot_write_platform(struct vm *vm);

#endif
