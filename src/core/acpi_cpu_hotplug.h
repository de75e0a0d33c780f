/*
 * QEMU's ACPI CPU hotplug interface (QEMU docs/specs/acpi_cpu_hotplug.rst,
 * the "modern" one), which mpvm offers so that OSes and firmware that know
 * it take mpvm's CPU hotplug unchanged: a 12-byte register block in I/O
 * space (devices/cpu_hotplug.c) and the DSDT's \_SB.CPUS container that
 * drives it (acpi_cpu_hotplug_aml() below, called by core/acpi.c), with
 * GPE 2 of GPE0 as the notification (devices/acpi_pm.c raises the SCI).
 *
 * Registers (little-endian), at ACPI_CPU_HOTPLUG_BASE, QEMU's ICH9 address:
 *   0x0 (dword)  write: CPU selector (0 .. maxcpus-1)
 *                read:  command data 2 (command 3: APIC ID bits 63:32, else 0)
 *   0x4 (byte)   read:  status of the selected CPU: bit 0 enabled, 1 insert
 *                       event pending, 2 remove event pending, 4 OSPM asked
 *                       firmware to eject
 *                write: bit 1 clears the insert event, 2 the remove event,
 *                       3 ejects the CPU, 4 hands the eject to firmware
 *   0x5 (byte)   write: command: 0 select the next CPU with an event,
 *                       1 next data write is the _OST event, 2 next data
 *                       write is the _OST status (and reports both),
 *                       3 data reads give the APIC ID
 *   0x8 (dword)  read:  command data (command 0: the selector; 3: APIC ID)
 *                write: command data (commands 1 and 2)
 * A selector that names no possible CPU makes every read 0 and every write
 * but the selector's own ignored.
 *
 * A guest without an AML interpreter (mpvm's built-in guest) can follow
 * the same protocol: poll GPE0_STS bit 2 (or take the SCI, IRQ 9), then
 * write command 0 and read status and data until no event is pending.
 */
#ifndef MPVM_CORE_ACPI_CPU_HOTPLUG_H
#define MPVM_CORE_ACPI_CPU_HOTPLUG_H

#include <stddef.h>
#include <stdint.h>

#include "core/guest_abi.h" /* the registers: the built-in guest drives them too */

#define ACPI_CPU_HOTPLUG_BASE MPVM_CPU_HOTPLUG_PORT
#define ACPI_CPU_HOTPLUG_LEN  MPVM_CPU_HOTPLUG_LEN

/* GPE0 bit for CPU hotplug events (QEMU's GPE.2); the DSDT's \_GPE._E02. */
#define ACPI_GPE_CPU_HOTPLUG MPVM_GPE_CPU_HOTPLUG

/* ACPI 6.3 §6.3.5 _OST source events and §5.6.6 Notify values used here. */
#define ACPI_NOTIFY_DEVICE_CHECK   1
#define ACPI_NOTIFY_EJECT_REQUEST  3
#define ACPI_OST_EJECT_EVENT       0x103

struct aml;
struct fw_topology;

/*
 * Emits, inside an open Scope (\_SB), Device (CPUS) with the register
 * block's OperationRegion and fields, the methods CSTA (_STA of CPU n),
 * CEJM (eject), COST (_OST), CTFY (Notify CPU n) and CSCN (the scan the
 * GPE runs), and one ACPI0007 Device Cxxx per possible CPU (t->maxcpus)
 * with _HID, _UID, _STA, _MAT (its MADT entry, Enabled), _EJ0 (not on the
 * boot CPU, which cannot be removed) and _OST.
 */
void acpi_cpu_hotplug_aml(struct aml *a, const struct fw_topology *t);

/* Emits Scope (\_GPE) { Method (_E02) { \_SB.CPUS.CSCN () } } at the top level. */
void acpi_cpu_hotplug_gpe_aml(struct aml *a);

#endif
