/*
 * Puts the built-in guest and the firmware tables into guest memory and
 * gives the BSP its entry state (the contract is core/guest_abi.h).
 */
#ifndef MPVM_KVM_BOOT_H
#define MPVM_KVM_BOOT_H

#include <stdbool.h>

struct vm;
struct vcpu;
struct kvm_regs;

/* -1 after printing why. */
int boot_builtin_guest(struct vm *vm);
/* BDA, boot GDT, ACPI and MP tables, for any guest (multiboot too). -1 after printing why. */
int boot_write_platform(struct vm *vm);

/*
 * The BSP's entry state: flat segments from the boot GDT, interrupts off,
 * and either 64-bit mode with the boot page tables (the built-in guest) or
 * 32-bit protected mode with paging off (multiboot); `r` its registers.
 */
int boot_enter_flat(struct vcpu *bsp, bool long_mode, const struct kvm_regs *r);

#endif
