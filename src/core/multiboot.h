/*
 * Multiboot (version 1) kernels: finds and checks the multiboot header,
 * reads the ELF32/ELF64 program headers and plans the load against mpvm's
 * guest-physical memory map, and builds the multiboot information
 * structure. KVM-free: the caller copies the planned bytes into guest RAM.
 *
 * Where things go (guest-physical; see core/guest_abi.h for the rest):
 *
 *   0x7000-0x7fff  the multiboot information structure, the module list,
 *                  the memory map, the boot loader name and the command line
 *   kernel         where its PT_LOAD program headers say (p_paddr)
 *   module         the --initrd file, page-aligned just above the kernel
 *
 * A kernel may use RAM from 0x8000 to 0x9fbff and from 1 MiB up; the page
 * below 0x8000 (IVT, BDA, boot GDT, the multiboot information), the EBDA and
 * 0xa0000-0xfffff (ACPI, MP and SMBIOS tables) are mpvm's.
 */
#ifndef MPVM_CORE_MULTIBOOT_H
#define MPVM_CORE_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/elf_image.h"

#define MB_HEADER_MAGIC      0x1badb002u
#define MB_BOOT_MAGIC        0x2badb002u /* EAX at entry */
#define MB_SEARCH_BYTES      8192u

/* Header flags (Multiboot 0.6.96 §3.1.2). */
#define MB_HF_PAGE_ALIGN     (1u << 0)
#define MB_HF_MEMORY_INFO    (1u << 1)
#define MB_HF_VIDEO_MODE     (1u << 2)
#define MB_HF_AOUT_KLUDGE    (1u << 16)

/* Information flags (§3.3). */
#define MB_INFO_MEMORY       (1u << 0)
#define MB_INFO_CMDLINE      (1u << 2)
#define MB_INFO_MODS         (1u << 3)
#define MB_INFO_MMAP         (1u << 6)
#define MB_INFO_LOADER_NAME  (1u << 9)

/* Where mpvm puts the information structure and what it points to. */
#define MB_INFO_ADDR         0x7000u
#define MB_INFO_AREA_END     0x8000u
#define MB_INFO_SIZE         0x78u
#define MB_MODS_ADDR         0x7078u  /* one module: 16 bytes */
#define MB_LOADER_NAME_ADDR  0x7088u  /* "mpvm", module string "initrd" after it */
#define MB_MOD_STRING_ADDR   0x7090u
#define MB_MMAP_ADDR         0x70a0u  /* up to MB_MMAP_MAX entries of 24 bytes */
#define MB_MMAP_MAX          8u
#define MB_CMDLINE_ADDR      0x7200u
#define MB_CMDLINE_MAX       (MB_INFO_AREA_END - MB_CMDLINE_ADDR) /* the NUL included */

struct mb_kernel {
	uint32_t header_offset;  /* of the multiboot header in the file */
	uint32_t header_flags;
	struct elf_image elf;    /* the load plan; elf.entry is below 4 GiB */
};

/*
 * Checks the multiboot header and the ELF image img[0..len) and plans its
 * load into a VM with `memory` bytes of RAM. Returns 0, or -1 with a
 * one-line reason in err (without the file name).
 */
int mb_parse(const uint8_t *img, size_t len, uint64_t memory, struct mb_kernel *k,
	     char *err, size_t errlen);

/* Where the module of `size` bytes goes: page-aligned above the kernel; -1 if it does not fit. */
int mb_place_module(const struct mb_kernel *k, uint64_t size, uint64_t memory, uint64_t *addr,
		    char *err, size_t errlen);

struct mb_info_params {
	uint64_t memory;          /* RAM bytes (as --memory) */
	const char *cmdline;      /* the full multiboot command line */
	int has_module;
	uint32_t mod_start, mod_end;
};

/*
 * Writes the information structure and everything it points to into buf,
 * which is guest-physical [MB_INFO_ADDR, MB_INFO_AREA_END). -1 with a reason
 * if the command line does not fit.
 */
int mb_build_info(const struct mb_info_params *p, uint8_t *buf, size_t buflen,
		  char *err, size_t errlen);

/*
 * Everything about --kernel/--initrd/--cmdline that can be checked before
 * KVM is touched: reads and parses the files. -1 with "FILE: reason" in err.
 */
int mb_check_files(const char *kernel, const char *initrd, const char *cmdline,
		   uint64_t memory, char *err, size_t errlen);
/* The same for a kernel already read: img[0..len) is the file `kernel`. */
int mb_check_image(const char *kernel, const uint8_t *img, size_t len, const char *initrd,
		   const char *cmdline, uint64_t memory, char *err, size_t errlen);

/* The multiboot command line: "KERNEL" or "KERNEL CMDLINE" (as GRUB passes it). malloc'd. */
char *mb_make_cmdline(const char *kernel, const char *cmdline);

#endif
