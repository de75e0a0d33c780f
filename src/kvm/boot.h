/*
 * Puts the built-in guest and the firmware tables into guest memory and
 * gives the BSP its entry state (the contract is core/guest_abi.h).
 */
#ifndef MPVM_KVM_BOOT_H
#define MPVM_KVM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct kvm_regs;

/* -1 after printing why. */
int boot_builtin_guest(struct vm *vm);
/* BDA, boot GDT, ACPI and MP tables, for any guest (multiboot too). -1 after printing why. */
int boot_write_platform(struct vm *vm);
/*
 * The ACPI tables (RSDP first) at acpi_addr and the MP table (floating
 * pointer first) at mp_addr, 64 KiB each, in low RAM, as --no-acpi and
 * --no-mptable say. -1 after printing why.
 */
int boot_write_tables_at(struct vm *vm, uint64_t acpi_addr, uint64_t mp_addr);

/*
 * SMBIOS 3.0 tables (boot_smbios.c): boot_smbios_place() writes them at
 * MPVM_SMBIOS_ADDR for guests mpvm boots itself (a VM with more sockets
 * than fit there gets a note and none); boot_smbios_fw_cfg() offers them to
 * a --bios image as fw_cfg files. -1 after printing why.
 */
struct fw_cfg;
int boot_smbios_place(struct vm *vm);
int boot_smbios_fw_cfg(struct vm *vm, struct fw_cfg *f);

/*
 * --bios FILE (boot_bios.c), in two steps. boot_bios_map(), with guest RAM
 * and before the interrupt controllers and vCPUs exist: maps the image
 * read-only just below 4 GiB and its last 128 KiB at 0xe0000-0xfffff (vm.c
 * leaves that window out of low RAM). KVM takes a memory slot much faster
 * then: once the in-kernel irqchip and vCPUs exist, each slot change here
 * took 3-9 ms (perf trace) against 0.3 ms before them. boot_bios(), once
 * the vCPUs exist: the ACPI and MP tables at the top of low RAM, the BSP
 * at the reset vector. -1 after printing why.
 */
int boot_bios_map(struct vm *vm);
int boot_bios(struct vm *vm);
/* Frees the image's host memory (vm_destroy). */
void bios_unmap(struct vm *vm);

/*
 * The BSP's entry state: flat segments from the boot GDT, interrupts off,
 * and either 64-bit mode with the boot page tables (the built-in guest) or
 * 32-bit protected mode with paging off (multiboot); `r` its registers.
 */
int boot_enter_flat(struct vcpu *bsp, bool long_mode, const struct kvm_regs *r);
/* Linux's 64-bit entry state, its boot GDT written at LINUX_GDT_ADDR (core/linux_boot.h). */
int boot_enter_linux64(struct vm *vm, struct vcpu *bsp, const struct kvm_regs *r);

/* A whole input file (at most max bytes), or NULL after printing "mpvm: OPT PATH: why". */
uint8_t *boot_read_file(const char *opt, const char *path, uint64_t max, size_t *len);

/*
 * --kernel FILE (boot_linux.c): a bzImage, a PVH vmlinux or a multiboot
 * kernel, whichever the file is. -1 after printing why.
 */
int boot_kernel(struct vm *vm);

#endif
