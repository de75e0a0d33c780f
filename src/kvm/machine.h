/*
 * The PC mpvm builds: every device on the I/O port and MMIO buses, from one
 * table in machine.c that names each device's ranges. The vCPU loop finds
 * the device for an exit there (vm->pio, vm->mmio) and nowhere else.
 *
 * The devices: COM1 (16550A, IRQ 4), mpvm's exit port, fw_cfg, the ACPI
 * fixed hardware the FADT describes, the CMOS RTC, the 8042, the POST port
 * 0x80 and system control port 0x92, the local APIC page when the APIC is
 * off; with --kernel or --bios the PCI configuration ports (no devices,
 * and the reset control register at 0xcf9); --debug-exit and --pc-testdev
 * when asked; the PICs, the PIT and the IOAPIC when they are mpvm's
 * (vm->platform, from the irqchip); and the --bios image's ROM windows.
 *
 * The guest powering off (ACPI S5) stops the VM with VM_STOP_GUEST_EXIT
 * and status 0; the guest resetting the machine (0xcf9, the 8042's reset
 * line, port 0x92) stops it with VM_STOP_GUEST_RESET and status 0, or with
 * --reboot resets it in place (kvm/reset.c).
 */
#ifndef MPVM_KVM_MACHINE_H
#define MPVM_KVM_MACHINE_H

#include <stddef.h>

struct vm;

/*
 * Creates the devices and puts them on the buses; after the irqchip and
 * the boot code (which places a --bios image). -1 after printing why.
 */
int machine_create(struct vm *vm);
/* Sets GPE `gpe`'s status bit in the ACPI PM device (the SCI follows). Any thread. */
void machine_gpe_raise(struct vm *vm, unsigned int gpe);
void machine_destroy(struct vm *vm);

/*
 * --legacy-pc (multiboot kernels): what a PC BIOS leaves behind for
 * real-mode code: a real-mode IVT with EOI-and-IRET stubs, and the PICs
 * and PIT programmed (by the irqchip, whichever has them). Before
 * machine_create(); -1 after printing why.
 */
int machine_legacy_pc(struct vm *vm);

/*
 * The device models' state in a snapshot (kvm/snapshot.c), a section each:
 * COM1, RTC, ACPI PM, i8042, ports 0x80/0x92, fw_cfg, pc-testdev. -1 with the reason
 * in err (a load checks every section before it changes any device).
 */
struct snap_writer;
struct snap_file;
int machine_save(struct vm *vm, struct snap_writer *w, char *err, size_t errlen);
int machine_load(struct vm *vm, const struct snap_file *f, char *err, size_t errlen);

#endif
