/*
 * libFuzzer target: the in-memory kernel and firmware parsers of src/core.
 * The input is a --kernel file: kernel_detect() picks the loader, then every
 * parser sees the same bytes (each must refuse what is not its kind without
 * reading past the end), and what parses is planned further (zero page,
 * PVH start info, multiboot module, ELF notes). The input is copied into an
 * exact-size allocation so that AddressSanitizer sees any overread.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bios_image.h"
#include "core/bzimage.h"
#include "core/elf_image.h"
#include "core/linux_boot.h"
#include "core/multiboot.h"
#include "core/pvh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* --memory values: the default, the smallest and the largest allowed. */
static const uint64_t memories[] = { 256ull << 20, 16ull << 20, 1ull << 40 };

static void run_bzimage(const uint8_t *img, size_t len, uint64_t mem)
{
	struct bzimage bz;
	char err[256];

	if (bzimage_parse(img, len, mem, &bz, err, sizeof(err)) == 0) {
		static uint8_t zp[BZ_ZERO_PAGE_SIZE];
		struct bzimage_params p = {
			.memory = mem, .cmdline_addr = LINUX_CMDLINE_ADDR,
			.initrd_addr = 0x4000000, .initrd_size = 0x1000, .rsdp_addr = 0xe0000,
		};

		bzimage_build_zero_page(&bz, img, &p, zp);
	}
}

static void run_linux_plan(const uint8_t *img, size_t len, uint64_t mem)
{
	struct linux_plan *p = calloc(1, sizeof(*p));
	char err[256];

	if (!p)
		return;
	if (linux_plan_kernel(img, len, mem, p, err, sizeof(err)) == 0) {
		(void)linux_plan_initrd(p, 0x100000, mem, err, sizeof(err));
		(void)linux_check_cmdline(p, "console=ttyS0", err, sizeof(err));
		if (p->kind == KERNEL_PVH) {
			static uint8_t info[LINUX_INFO_SIZE];
			struct pvh_params pp = {
				.memory = mem, .info_addr = LINUX_INFO_ADDR,
				.cmdline_addr = LINUX_CMDLINE_ADDR,
				.initrd_addr = p->initrd_addr, .initrd_size = p->initrd_size,
				.rsdp_addr = 0xe0000,
			};

			pvh_build_start_info(&pp, info);
		}
	}
	free(p);
}

static void run_pvh(const uint8_t *img, size_t len, uint64_t mem)
{
	struct pvh_kernel *k = calloc(1, sizeof(*k));
	char err[256];

	if (!k)
		return;
	(void)pvh_parse(img, len, mem, k, err, sizeof(err));
	free(k);
}

static void run_multiboot(const uint8_t *img, size_t len, uint64_t mem)
{
	struct mb_kernel *k = calloc(1, sizeof(*k));
	char err[256];
	uint64_t addr;

	if (!k)
		return;
	if (mb_parse(img, len, mem, k, err, sizeof(err)) == 0)
		(void)mb_place_module(k, 0x10000, mem, &addr, err, sizeof(err));
	free(k);
}

static void run_elf(const uint8_t *img, size_t len, uint64_t mem)
{
	struct elf_image *e = calloc(1, sizeof(*e));
	char err[256];

	if (!e)
		return;
	if (elf_image_parse(img, len, mem, 0x8000, e, err, sizeof(err)) == 0) {
		const uint8_t *desc;
		uint32_t desclen;

		if (elf_image_find_note(img, len, PVH_NOTE_NAME, XEN_ELFNOTE_PHYS32_ENTRY,
					&desc, &desclen, err, sizeof(err)) == 1) {
			/* The descriptor lies inside the image: touch every byte. */
			volatile uint8_t sum = 0;

			for (uint32_t i = 0; i < desclen; i++)
				sum = (uint8_t)(sum + desc[i]);
			(void)sum;
		}
		(void)elf_image_find_note(img, len, "GNU", 3, &desc, &desclen, err, sizeof(err));
	}
	free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *img = malloc(size ? size : 1);
	char err[256];

	if (!img)
		return 0;
	memcpy(img, data, size);

	(void)kernel_detect(img, size);
	(void)kernel_kind_name(kernel_detect(img, size));
	(void)bzimage_is_bzimage(img, size);
	(void)elf_image_is_elf(img, size);
	(void)pvh_has_entry(img, size);
	for (size_t i = 0; i < sizeof(memories) / sizeof(memories[0]); i++) {
		run_bzimage(img, size, memories[i]);
		run_pvh(img, size, memories[i]);
		run_multiboot(img, size, memories[i]);
		run_elf(img, size, memories[i]);
		run_linux_plan(img, size, memories[i]);
	}
	/* --bios: the in-memory check is the size rule; also any 64-bit size. */
	struct bios_layout bl;
	uint64_t big = 0;

	(void)bios_image_layout(size, &bl, err, sizeof(err));
	memcpy(&big, img, size < sizeof(big) ? size : sizeof(big));
	(void)bios_image_layout(big, &bl, err, sizeof(err));
	(void)bios_image_layout(big, NULL, err, sizeof(err));
	free(img);
	return 0;
}
