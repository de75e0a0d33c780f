/*
 * Linux (or any kernel) through the PVH entry point: an uncompressed ELF
 * with a Xen note XEN_ELFNOTE_PHYS32_ENTRY (type 18) giving a 32-bit
 * physical entry point, entered in 32-bit protected mode, paging off, with
 * EBX = the physical address of a struct hvm_start_info (Xen's public
 * arch-x86/hvm/start_info.h, version 1: command line, modules, RSDP and a
 * memory map in e820 types). No decompression: where guest code is
 * emulated, that is most of a bzImage's boot time. KVM-free.
 */
#ifndef MPVM_CORE_PVH_H
#define MPVM_CORE_PVH_H

#include <stddef.h>
#include <stdint.h>

#include "core/elf_image.h"

#define PVH_NOTE_NAME "Xen"
#define XEN_ELFNOTE_PHYS32_ENTRY 18u
#define HVM_START_MAGIC 0x336ec578u

/* Layout of the start info page (at LINUX_INFO_ADDR). */
#define PVH_START_INFO_SIZE 56u
#define PVH_MODLIST_OFFSET  0x40u   /* one struct hvm_modlist_entry, 32 bytes */
#define PVH_MEMMAP_OFFSET   0x80u   /* struct hvm_memmap_table_entry[], 24 bytes each */

/*
 * Linux copies at most COMMAND_LINE_SIZE (2048 on x86) bytes of a PVH
 * command line and says nothing about the rest: refuse longer ones.
 */
#define PVH_CMDLINE_MAX 2047u

struct pvh_kernel {
	struct elf_image elf;
	uint32_t entry;         /* from the PHYS32_ENTRY note */
};

/* Does img have the PVH note? 1 yes, 0 no, -1 if its notes are malformed. */
int pvh_has_entry(const uint8_t *img, size_t len);

/* Checks img[0..len) and plans its load; 0, or -1 with a reason. */
int pvh_parse(const uint8_t *img, size_t len, uint64_t memory, struct pvh_kernel *k,
	      char *err, size_t errlen);

struct pvh_params {
	uint64_t memory;
	uint64_t info_addr;     /* guest-physical address of buf */
	uint64_t cmdline_addr;
	uint64_t initrd_addr, initrd_size; /* size 0: no module */
	uint64_t rsdp_addr;     /* 0: no ACPI */
};

/* Writes hvm_start_info, the module list and the memory map into buf (4 KiB). */
void pvh_build_start_info(const struct pvh_params *p, uint8_t *buf);

#endif
