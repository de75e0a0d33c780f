/*
 * The PC platform devices a PC operating system expects besides the
 * interrupt controllers and the PIT (platform.h) and COM1, wired to the
 * VM: the ACPI fixed hardware the FADT describes (devices/acpi_pm.h), the
 * CMOS RTC (devices/rtc.h), the 8042 keyboard controller
 * (devices/i8042.h), the POST port 0x80 and system control port 0x92
 * (devices/pc_misc.h), and the reset control register at 0xcf9 on the
 * PCI configuration ports (devices/pci_nodev.h), when those are there.
 *
 * The guest powering off (ACPI S5) stops the VM with VM_STOP_GUEST_EXIT
 * and status 0; the guest resetting the machine (0xcf9, the 8042's reset
 * line, port 0x92) stops it with VM_STOP_GUEST_RESET and status 0.
 */
#ifndef MPVM_KVM_PC_DEVICES_H
#define MPVM_KVM_PC_DEVICES_H

struct vm;

/*
 * Creates the devices and claims their ports on vm->pio; call after
 * vm_setup_fw_devices() (it hooks the reset register into vm->pci).
 * -1 after printing why.
 */
int vm_setup_pc_devices(struct vm *vm);
void vm_destroy_pc_devices(struct vm *vm);

#endif
