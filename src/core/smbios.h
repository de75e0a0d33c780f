/*
 * SMBIOS 3.0 tables (DMTF DSP0134 3.0.0): the 64-bit entry point and the
 * structure table that describes the machine to an OS (Linux's DMI code,
 * dmidecode). Pure C, like acpi.c and mptable.c: the builder writes a byte
 * image into a caller's buffer, which the caller copies to a guest-physical
 * address or offers through fw_cfg.
 *
 * Image layout (also dmidecode's --dump-bin/--from-dump file format when
 * built for gpa 0):
 *
 *   +0   entry point, 24 bytes (§5.2.2), on a 16-byte boundary
 *   +32  structure table; the entry point's table address is gpa + 32
 *
 * Structures, in this order, handles 0, 1, 2, ...:
 *   type 0   BIOS Information            (one)
 *   type 1   System Information          (one)
 *   type 3   System Enclosure            (one)
 *   type 4   Processor Information       (one per socket, present or not)
 *   type 16  Physical Memory Array       (one)
 *   type 17  Memory Device               (one: all of RAM)
 *   type 19  Memory Array Mapped Address (one per RAM range: below 4 GiB, from 4 GiB)
 *   type 32  System Boot Information     (one)
 *   type 127 End-of-Table                (one)
 */
#ifndef MPVM_CORE_SMBIOS_H
#define MPVM_CORE_SMBIOS_H

#include <stddef.h>
#include <stdint.h>

#define SMBIOS_EP_LEN       24 /* the 3.0 entry point */
#define SMBIOS_TABLE_OFFSET 32 /* the structure table's offset in the image */
#define SMBIOS_MAX_SOCKETS  1024u

/* The structure types mpvm writes (§6.1.2, table 3). */
enum smbios_type {
	SMBIOS_BIOS = 0,
	SMBIOS_SYSTEM = 1,
	SMBIOS_CHASSIS = 3,
	SMBIOS_PROCESSOR = 4,
	SMBIOS_MEM_ARRAY = 16,
	SMBIOS_MEM_DEVICE = 17,
	SMBIOS_MEM_ARRAY_MAPPED = 19,
	SMBIOS_BOOT_INFO = 32,
	SMBIOS_END = 127,
};

/* Processor status byte (§7.5, offset 18h): bit 6 socket populated, bits 2:0 CPU status. */
#define SMBIOS_CPU_POPULATED_ENABLED  0x41
#define SMBIOS_CPU_POPULATED_DISABLED 0x43 /* "disabled by BIOS": a socket none of whose CPUs is present */

/*
 * The machine's shape. CPUs are numbered socket by socket, core by core,
 * thread by thread (CPU i is thread i % threads of core (i / threads) %
 * cores of socket i / (cores * threads)); the first `present` of the
 * sockets * cores * threads CPUs are there at boot, the rest may come later.
 * RAM is low_ram bytes from 0 and high_ram bytes from 4 GiB (memmap.h).
 */
struct smbios_shape {
	unsigned int sockets, cores, threads; /* sockets, cores per socket, threads per core */
	unsigned int present;                 /* 1 .. max_cpus */
	unsigned int max_cpus;                /* sockets * cores * threads */
	uint64_t low_ram, high_ram;           /* bytes */
	uint32_t cpu_signature;               /* CPUID.1:EAX, the processor ID's low half */
	uint32_t cpu_features;                /* CPUID.1:EDX, its high half */
};

/*
 * Writes the entry point at buf and the structure table at buf + 32, as
 * placed at guest-physical gpa (16-byte aligned). Returns the bytes used
 * (32 + the table's length), or -1 with a one-line reason in err: a shape
 * out of range, a buffer too small (saying how much it needs).
 */
long smbios_build(const struct smbios_shape *s, void *buf, size_t size, uint64_t gpa,
		  char *err, size_t errlen);

#endif
