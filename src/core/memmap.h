/*
 * mpvm's guest-physical memory map, the one every guest is told about
 * (multiboot mmap, Linux e820 table, PVH memmap): RAM from 0 up to 3 GiB,
 * the rest from 4 GiB, with the BIOS-era holes a PC has below 1 MiB.
 *
 *   0x0-0x9fbff            RAM (IVT, BDA, mpvm's boot data, free memory)
 *   0x9fc00-0x9ffff        reserved: the EBDA
 *   0xa0000-0xdffff        a hole (legacy VGA and option ROM space)
 *   0xe0000-0xfffff        reserved: ACPI tables, the MP table and the SMBIOS tables
 *   0x100000-low end       RAM
 *   4 GiB-                 RAM above the PCI hole, if --memory > 3 GiB
 *
 * KVM-free; the KVM side (kvm/vm.c) maps memory the same way.
 */
#ifndef MPVM_CORE_MEMMAP_H
#define MPVM_CORE_MEMMAP_H

#include <stddef.h>
#include <stdint.h>

#define MEMMAP_LOW_RAM_MAX   (3ull << 30)
#define MEMMAP_HIGH_RAM_BASE (4ull << 30)

/* Entry types: the e820 numbering (ACPI 6.x §15, "Address Range Types"). */
enum memmap_type {
	MEMMAP_RAM = 1,
	MEMMAP_RESERVED = 2,
};

struct memmap_entry {
	uint64_t addr, size;
	uint32_t type;
};

#define MEMMAP_MAX_ENTRIES 5

/* RAM below the PCI hole for `memory` bytes of RAM. */
uint64_t memmap_low_ram(uint64_t memory);

/* Fills out[] (MEMMAP_MAX_ENTRIES) in address order; returns the count. */
unsigned int memmap_build(uint64_t memory, struct memmap_entry *out);

/*
 * Is [a, a+len) RAM a loaded image may occupy: not mpvm's low memory below
 * `low_free`, not the EBDA/table area, and inside guest RAM? 0, or -1 with
 * a one-line reason naming `what` in err.
 */
int memmap_check_load(uint64_t a, uint64_t len, uint64_t memory, uint64_t low_free,
		      const char *what, char *err, size_t errlen);

#endif
