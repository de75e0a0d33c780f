/*
 * ACPI tables for mpvm guests (ACPI 6.3 layouts): RSDP, RSDT, XSDT, FADT,
 * FACS, DSDT and MADT, built into one buffer the caller copies to a
 * guest-physical address (mpvm uses MPVM_ACPI_ADDR, 0xe0000, where OSes
 * scan for the RSDP).
 *
 * The fixed hardware the FADT describes (the VMM's PM device must match):
 *   PM1a_EVT_BLK  ACPI_PM_BASE + 0, 4 bytes: PM1 status (16), PM1 enable (16)
 *   PM1a_CNT_BLK  ACPI_PM_BASE + 4, 2 bytes: SCI_EN must read as 1 (there
 *                 is no SMI command port: the machine is always in ACPI mode)
 *   PM_TMR_BLK    ACPI_PM_BASE + 8, 4 bytes: 3.579545 MHz timer, 24 bits
 *                 significant (TMR_VAL_EXT is not set)
 *   GPE0_BLK      ACPI_PM_BASE + 12, 4 bytes: GPE0_STS (16 bits), GPE0_EN (16);
 *                 GPE 2 signals CPU hotplug (core/acpi_cpu_hotplug.h)
 *   RESET_REG     I/O port 0xcf9, write ACPI_RESET_VALUE to reset
 *   SCI           ISA IRQ ACPI_SCI_IRQ = GSI 9, level-triggered, active high
 *   CENTURY       CMOS RTC register ACPI_RTC_CENTURY (0x32, the IBM AT location)
 * The FADT gives the FACS in FIRMWARE_CTRL only (ACPI 5.2.9: it and
 * X_FIRMWARE_CTRL must not both be set) and the DSDT in both DSDT and X_DSDT.
 * Sleeping: the DSDT's \_S5 package gives SLP_TYP ACPI_S5_SLP_TYP, so a
 * guest powers off by writing (ACPI_S5_SLP_TYP << 10) | SLP_EN (1 << 13)
 * to PM1a_CNT.
 */
#ifndef MPVM_CORE_ACPI_H
#define MPVM_CORE_ACPI_H

#include "core/firmware.h"
#include "core/guest_abi.h"

#define ACPI_PM_BASE      0x600 /* PM1a_EVT_BLK 0x600 (4 bytes), PM1a_CNT_BLK 0x604 (2), PM_TMR_BLK 0x608 (4) */
#define ACPI_PM1_EVT_BLK  (ACPI_PM_BASE + 0)
#define ACPI_PM1_CNT_BLK  (ACPI_PM_BASE + 4)
#define ACPI_PM_TMR_BLK   (ACPI_PM_BASE + 8)
#define ACPI_GPE0_BLK     MPVM_GPE0_PORT /* ACPI_PM_BASE + 12 */
#define ACPI_GPE0_BLK_LEN 4    /* 2 bytes of status, 2 of enable: GPEs 0-15 */
_Static_assert(ACPI_GPE0_BLK == ACPI_PM_BASE + 12, "GPE0 follows the PM timer");
#define ACPI_SCI_IRQ      9
#define ACPI_S5_SLP_TYP   5    /* SLP_TYP value the DSDT's \_S5 gives */
#define ACPI_RESET_PORT   0xcf9
#define ACPI_RESET_VALUE  0x06 /* "hard reset" in the PIIX/ICH 0xcf9 register */
#define ACPI_RTC_CENTURY  0x32 /* CMOS index of the RTC's century register */

/* Largest image acpi_build() makes without CPU hotplug (1024 vCPUs); fits
 * the 64 KiB window. With hotplug each possible CPU takes about 120 bytes
 * of AML, and acpi_build() says when maxcpus does not fit the buffer. */
#define ACPI_MAX_SIZE     (48u * 1024)

/*
 * Build RSDP (at gpa, first), then RSDT, XSDT, FADT, FACS, DSDT, MADT after
 * it in buf. gpa must be 16-byte aligned and the tables must end below
 * 4 GiB (the RSDT and FADT hold 32-bit pointers). Bytes of buf past the
 * returned size are not touched.
 * Returns bytes used, or -1 with a one-line reason in err (e.g. buffer too
 * small).
 */
long acpi_build(const struct fw_topology *t, void *buf, size_t size, uint64_t gpa,
		char *err, size_t errlen);

/*
 * vCPU i's MADT processor structure (Local APIC, or Local x2APIC where the
 * APIC ID or UID does not fit 8 bits) with the given flags, into out;
 * returns its length (8 or 16). Also the _MAT of the hotplug interface.
 */
size_t acpi_madt_cpu_entry(const struct fw_topology *t, unsigned int i, uint32_t flags,
			   uint8_t out[16]);

#endif
