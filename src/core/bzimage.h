/*
 * Linux bzImage kernels through the x86 boot protocol (the kernel's
 * Documentation/arch/x86/boot.rst), 64-bit entry: mpvm is the boot loader
 * and BIOS both, so the real-mode setup code never runs. mpvm checks the
 * setup header, loads the protected-mode part at pref_address, fills the
 * zero page (struct boot_params: a copy of the setup header, the command
 * line and initrd pointers, the e820 map) and enters startup_64, at load
 * address + 0x200, in long mode with RSI = the zero page. KVM-free.
 */
#ifndef MPVM_CORE_BZIMAGE_H
#define MPVM_CORE_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The oldest protocol with the 64-bit entry flag (xloadflags, 2.12). */
#define BZ_MIN_VERSION 0x020c

struct bzimage {
	uint16_t version;       /* boot protocol, e.g. 0x020f = 2.15 */
	uint64_t setup_size;    /* bytes before the protected-mode code: (setup_sects + 1) * 512 */
	uint64_t kernel_size;   /* bytes of protected-mode code after it */
	uint64_t load_addr;     /* pref_address */
	uint64_t init_size;     /* bytes the kernel needs from load_addr to boot */
	uint32_t cmdline_max;   /* cmdline_size: longest command line, without the NUL */
	uint32_t initrd_max;    /* initrd_addr_max: highest address the initrd may use */
	size_t header_end;      /* end of the setup header in the file: 0x202 + byte at 0x201 */
};

/* The entry point of the 64-bit boot protocol, from the load address. */
#define BZ_ENTRY64_OFFSET 0x200

/* The zero page: struct boot_params, one 4 KiB page (zero-page.rst). */
#define BZ_ZERO_PAGE_SIZE 0x1000u

bool bzimage_is_bzimage(const uint8_t *img, size_t len);

/*
 * Checks the setup header of img[0..len) and plans the load into `memory`
 * bytes of RAM. 0, or -1 with a one-line reason (without the file name).
 */
int bzimage_parse(const uint8_t *img, size_t len, uint64_t memory, struct bzimage *bz,
		  char *err, size_t errlen);

struct bzimage_params {
	uint64_t memory;        /* RAM bytes (as --memory) */
	uint32_t cmdline_addr;
	uint64_t initrd_addr, initrd_size; /* size 0: no initrd */
	uint64_t rsdp_addr;     /* 0: no ACPI */
};

/*
 * Fills the zero page `zp` (BZ_ZERO_PAGE_SIZE bytes) for img (parsed into
 * bz) with the header copy and the parameters. Cannot fail once
 * bzimage_parse() succeeded.
 */
void bzimage_build_zero_page(const struct bzimage *bz, const uint8_t *img,
			     const struct bzimage_params *p, uint8_t *zp);

#endif
