#include "core/bzimage.h"

#include <string.h>

#include "core/errmsg.h"
#include "core/guest_abi.h"
#include "core/memmap.h"

/*
 * Setup header fields, as offsets in the file and in the zero page alike
 * (boot.rst, "The Real-Mode Kernel Header"; zero-page.rst for the rest).
 */
#define BZ_SETUP_SECTS     0x1f1 /* u8: 512-byte setup sectors; 0 means 4 */
#define BZ_SYSSIZE         0x1f4 /* u32: protected-mode code in 16-byte units (2.04+) */
#define BZ_BOOT_FLAG       0x1fe /* u16: 0xaa55 */
#define BZ_JUMP_LEN        0x201 /* u8: the header ends at 0x202 + this */
#define BZ_HEADER          0x202 /* "HdrS" */
#define BZ_VERSION         0x206 /* u16 */
#define BZ_TYPE_OF_LOADER  0x210 /* u8: 0xff = a loader with no assigned id */
#define BZ_LOADFLAGS       0x211 /* u8 */
#define BZ_RAMDISK_IMAGE   0x218 /* u32 */
#define BZ_RAMDISK_SIZE    0x21c /* u32 */
#define BZ_CMD_LINE_PTR    0x228 /* u32 */
#define BZ_INITRD_ADDR_MAX 0x22c /* u32 */
#define BZ_KERNEL_ALIGN    0x230 /* u32 */
#define BZ_RELOCATABLE     0x234 /* u8 */
#define BZ_XLOADFLAGS      0x236 /* u16 */
#define BZ_CMDLINE_SIZE    0x238 /* u32 */
#define BZ_PREF_ADDRESS    0x258 /* u64 */
#define BZ_INIT_SIZE       0x260 /* u32 */
#define BZ_HEADER_MIN_END  0x264 /* what protocol 2.12 has, init_size included */

/* struct boot_params outside the setup header. */
#define ZP_ACPI_RSDP_ADDR  0x070 /* u64, protocol 2.14 */
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE  0x0c4
#define ZP_E820_ENTRIES    0x1e8 /* u8 */
#define ZP_E820_TABLE      0x2d0 /* 128 entries of {u64 addr, u64 size, u32 type} */
#define ZP_E820_MAX        128

#define LOADFLAG_LOADED_HIGH 0x01 /* protected-mode code at 1 MiB or up */
#define XLF_KERNEL_64      0x0001 /* has the 64-bit entry at +0x200 */

static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

bool bzimage_is_bzimage(const uint8_t *img, size_t len)
{
	return len >= BZ_HEADER + 4 && get16(img + BZ_BOOT_FLAG) == 0xaa55 &&
	       !memcmp(img + BZ_HEADER, "HdrS", 4);
}

int bzimage_parse(const uint8_t *img, size_t len, uint64_t memory, struct bzimage *bz,
		  char *err, size_t errlen)
{
	unsigned int sects;
	uint32_t align;

	*bz = (struct bzimage){ 0 };
	if (!bzimage_is_bzimage(img, len))
		return errmsg(err, errlen, "not a bzImage (no boot signature 0xaa55 at 0x1fe and "
			       "\"HdrS\" at 0x202)");
	/*
	 * The setup code (at least two sectors, past every header field read
	 * below) must be in the file before any of it is read.
	 */
	sects = img[BZ_SETUP_SECTS] ? img[BZ_SETUP_SECTS] : 4;
	bz->setup_size = (uint64_t)(sects + 1) * 512;
	if (len <= bz->setup_size)
		return errmsg(err, errlen, "truncated: %zu bytes, but the setup code alone takes %llu",
			       len, (unsigned long long)bz->setup_size);
	_Static_assert(BZ_HEADER_MIN_END < 2 * 512, "the header lies in the setup code");
	bz->version = get16(img + BZ_VERSION);
	if (bz->version < BZ_MIN_VERSION)
		return errmsg(err, errlen, "boot protocol %u.%02u is too old: mpvm enters the "
			       "64-bit entry point, which needs protocol 2.12 or later",
			       bz->version >> 8, bz->version & 0xff);
	bz->header_end = BZ_HEADER + img[BZ_JUMP_LEN];
	if (bz->header_end < BZ_HEADER_MIN_END || bz->header_end > 0x1000)
		return errmsg(err, errlen, "setup header ends at 0x%zx (byte 0x201 = 0x%x): not "
			       "the length protocol %u.%02u has", bz->header_end, img[BZ_JUMP_LEN],
			       bz->version >> 8, bz->version & 0xff);
	if (len < bz->header_end)
		return errmsg(err, errlen, "truncated: %zu bytes, but the setup header ends at 0x%zx",
			       len, bz->header_end);
	if (!(get16(img + BZ_XLOADFLAGS) & XLF_KERNEL_64))
		return errmsg(err, errlen, "no 64-bit entry point (xloadflags bit 0 clear): a "
			       "32-bit kernel, which mpvm does not boot");
	if (!(img[BZ_LOADFLAGS] & LOADFLAG_LOADED_HIGH))
		return errmsg(err, errlen, "a zImage (loadflags bit 0 clear: loaded at 0x10000); "
			       "mpvm boots bzImages");
	bz->kernel_size = len - bz->setup_size;
	if ((uint64_t)get32(img + BZ_SYSSIZE) * 16 > bz->kernel_size)
		return errmsg(err, errlen, "truncated: the setup header's syssize says %llu bytes of "
			       "protected-mode code, the file has %llu",
			       (unsigned long long)get32(img + BZ_SYSSIZE) * 16,
			       (unsigned long long)bz->kernel_size);
	bz->load_addr = get64(img + BZ_PREF_ADDRESS);
	bz->init_size = get32(img + BZ_INIT_SIZE);
	bz->cmdline_max = get32(img + BZ_CMDLINE_SIZE);
	bz->initrd_max = get32(img + BZ_INITRD_ADDR_MAX);
	align = get32(img + BZ_KERNEL_ALIGN);
	if (bz->init_size < bz->kernel_size)
		bz->init_size = bz->kernel_size;
	if (bz->load_addr < MPVM_GUEST_LOAD_ADDR || (align && (bz->load_addr & (align - 1)))) {
		/* Only a relocatable kernel may go elsewhere than it asks. */
		if (!img[BZ_RELOCATABLE])
			return errmsg(err, errlen, "pref_address 0x%llx is below 1 MiB or not aligned "
				       "to kernel_alignment 0x%x, and the kernel is not relocatable",
				       (unsigned long long)bz->load_addr, align);
		bz->load_addr = align > MPVM_GUEST_LOAD_ADDR ? align : MPVM_GUEST_LOAD_ADDR;
	}
	return memmap_check_load(bz->load_addr, bz->init_size, memory, MPVM_GUEST_LOAD_ADDR,
				 "the kernel (pref_address + init_size)", err, errlen);
}

void bzimage_build_zero_page(const struct bzimage *bz, const uint8_t *img,
			     const struct bzimage_params *p, uint8_t *zp)
{
	struct memmap_entry map[MEMMAP_MAX_ENTRIES];
	unsigned int n = memmap_build(p->memory, map);

	memset(zp, 0, BZ_ZERO_PAGE_SIZE);
	/* The setup header, as the kernel's own setup code would have left it. */
	memcpy(zp + BZ_SETUP_SECTS, img + BZ_SETUP_SECTS, bz->header_end - BZ_SETUP_SECTS);
	zp[BZ_TYPE_OF_LOADER] = 0xff;
	put32(zp + BZ_CMD_LINE_PTR, p->cmdline_addr);
	put32(zp + BZ_RAMDISK_IMAGE, (uint32_t)p->initrd_addr);
	put32(zp + BZ_RAMDISK_SIZE, (uint32_t)p->initrd_size);
	put32(zp + ZP_EXT_RAMDISK_IMAGE, (uint32_t)(p->initrd_addr >> 32));
	put32(zp + ZP_EXT_RAMDISK_SIZE, (uint32_t)(p->initrd_size >> 32));
	/* Older kernels than 2.14 ignore it and scan 0xe0000-0xfffff, where it also is. */
	put64(zp + ZP_ACPI_RSDP_ADDR, p->rsdp_addr);
	zp[ZP_E820_ENTRIES] = (uint8_t)n;
	for (unsigned int i = 0; i < n && i < ZP_E820_MAX; i++) {
		uint8_t *e = zp + ZP_E820_TABLE + i * 20;

		put64(e, map[i].addr);
		put64(e + 8, map[i].size);
		put32(e + 16, map[i].type);
	}
}
