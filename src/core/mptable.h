/*
 * Intel MultiProcessor Specification 1.4 tables for mpvm guests: the MP
 * floating pointer structure and the MP configuration table after it,
 * built into a buffer the caller copies to a guest-physical address (mpvm
 * uses MPVM_MPTABLE_ADDR, 0xf0000, inside the BIOS area OSes scan).
 *
 * Interrupt routing described (the same wiring as the ACPI MADT):
 *   ISA IRQ 0 -> I/O APIC INTIN 2, ISA IRQ n -> INTIN n (n = 1, 3..15),
 *   IRQ 9 (the ACPI SCI) level-triggered active high, the rest as the ISA
 *   bus defines them (edge, active high);
 *   every local APIC: LINT0 ExtINT (the 8259), LINT1 NMI.
 * The IMCR bit is clear: the machine starts in virtual wire mode.
 */
#ifndef MPVM_CORE_MPTABLE_H
#define MPVM_CORE_MPTABLE_H

#include "core/firmware.h"

/* MP tables name APIC IDs in 8 bits and 0xff means "all local APICs". */
#define MPTABLE_MAX_APIC_ID 254u
#define MPTABLE_LAPIC_VERSION  0x14 /* integrated APIC, as KVM's local APIC */
#define MPTABLE_IOAPIC_VERSION 0x11 /* as KVM's I/O APIC */

/*
 * MP floating pointer structure at gpa (16 bytes, gpa 16-byte aligned),
 * config table right after. Returns bytes used or -1 with reason in err
 * (too small; an APIC ID > 254 cannot be described by an MP table).
 */
long mptable_build(const struct fw_topology *t, void *buf, size_t size, uint64_t gpa,
		   char *err, size_t errlen);

#endif
