/*
 * Booting Linux: what the bzImage (core/bzimage.h) and PVH (core/pvh.h)
 * loaders share, and which loader a --kernel file needs. KVM-free.
 *
 * Where mpvm puts things for a Linux kernel (guest-physical; the rest of
 * the map is core/guest_abi.h and core/memmap.h):
 *
 *   0x0520-0x053f  the 64-bit boot GDT the bzImage protocol asks for
 *                  (__BOOT_CS = 0x10, __BOOT_DS = 0x18)
 *   0x7000-0x7fff  the bzImage zero page (struct boot_params), or the PVH
 *                  hvm_start_info with its module list and memory map
 *   0x20000-       the kernel command line
 *   kernel         bzImage: its protected-mode code at pref_address;
 *                  PVH: where the vmlinux program headers say
 *   initrd         page-aligned at the top of RAM below 4 GiB (and below the
 *                  kernel's initrd_addr_max), above the kernel
 */
#ifndef MPVM_CORE_LINUX_BOOT_H
#define MPVM_CORE_LINUX_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/bzimage.h"
#include "core/pvh.h"

#define LINUX_GDT_ADDR       0x0520u
#define LINUX_GDT_LIMIT      0x1fu
#define LINUX_BOOT_CS        0x10u
#define LINUX_BOOT_DS        0x18u
#define LINUX_INFO_ADDR      0x7000u
#define LINUX_INFO_SIZE      0x1000u
#define LINUX_CMDLINE_ADDR   0x20000u
#define LINUX_CMDLINE_AREA   0x10000u /* bytes, the NUL included */

/* The page at LINUX_INFO_ADDR holds either loader's boot information. */
_Static_assert(LINUX_INFO_SIZE >= BZ_ZERO_PAGE_SIZE, "the bzImage zero page fits the info page");

/*
 * The largest --kernel file mpvm reads: a vmlinux holds symbols and notes
 * that are never loaded, so the file may be larger than its load plan.
 */
#define KERNEL_FILE_MAX (1ull << 30)

enum kernel_kind {
	KERNEL_MULTIBOOT, /* an ELF with a multiboot (v1) header */
	KERNEL_BZIMAGE,   /* a Linux bzImage: the x86 boot protocol, 64-bit entry */
	KERNEL_PVH,       /* an ELF with a PVH entry note: an uncompressed vmlinux */
};

/*
 * Which loader img[0..len) needs: a bzImage has the boot sector signature
 * 0xaa55 at 0x1fe and "HdrS" at 0x202; an ELF with a Xen PHYS32_ENTRY note
 * is entered through PVH; any other ELF goes to the multiboot loader (which
 * explains what it lacks).
 */
enum kernel_kind kernel_detect(const uint8_t *img, size_t len);
const char *kernel_kind_name(enum kernel_kind k);

/* A Linux kernel's load plan, whichever protocol; built by linux_plan_*(). */
struct linux_plan {
	enum kernel_kind kind;  /* KERNEL_BZIMAGE or KERNEL_PVH */
	struct bzimage bz;
	struct pvh_kernel pvh;
	uint64_t kernel_end;    /* first byte above what the kernel needs */
	uint64_t initrd_addr, initrd_size;
};

/* Parses a bzImage or PVH kernel: 0, or -1 with a reason (without the file name). */
int linux_plan_kernel(const uint8_t *img, size_t len, uint64_t memory, struct linux_plan *p,
		      char *err, size_t errlen);
/* Places an initrd of `size` bytes: 0, or -1 with a reason. */
int linux_plan_initrd(struct linux_plan *p, uint64_t size, uint64_t memory,
		      char *err, size_t errlen);
/* Is the command line short enough for this kernel? 0, or -1 with a reason. */
int linux_check_cmdline(const struct linux_plan *p, const char *cmdline, char *err, size_t errlen);

/*
 * Where an initrd of `size` bytes goes: page-aligned as high as possible
 * below min(low RAM, max_addr + 1), above kernel_end. 0, or -1 with a
 * reason (without the file name) in err.
 */
int linux_place_initrd(uint64_t kernel_end, uint64_t size, uint64_t memory, uint64_t max_addr,
		       uint64_t *addr, char *err, size_t errlen);

/*
 * Everything about --kernel/--initrd/--cmdline that can be checked before
 * KVM is touched, whatever the kernel's kind: reads and parses the files.
 * -1 with "--kernel FILE: reason" (or --initrd, --cmdline) in err.
 */
int kernel_check_files(const char *kernel, const char *initrd, const char *cmdline,
		       uint64_t memory, char *err, size_t errlen);

#endif
