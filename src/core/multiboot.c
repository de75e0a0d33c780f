/* Multiboot (v1) kernel images: header, ELF program headers, load plan, info structure. */
#include "core/multiboot.h"

#include "core/errmsg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/guest_abi.h"
#include "core/input_file.h"
#include "core/memmap.h"

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static int find_header(const uint8_t *img, size_t len, struct mb_kernel *k, char *err, size_t errlen)
{
	size_t limit = len < MB_SEARCH_BYTES ? len : MB_SEARCH_BYTES;

	for (size_t off = 0; off + 12 <= limit; off += 4) {
		uint32_t magic = get32(img + off), flags, sum;

		if (magic != MB_HEADER_MAGIC)
			continue;
		flags = get32(img + off + 4);
		sum = get32(img + off + 8);
		if ((uint32_t)(magic + flags + sum) != 0)
			return errmsg(err, errlen, "multiboot header at offset 0x%zx: bad checksum "
				       "(magic + flags + checksum = 0x%x, must be 0)", off,
				       (uint32_t)(magic + flags + sum));
		if (flags & MB_HF_VIDEO_MODE)
			return errmsg(err, errlen, "multiboot header flags 0x%x ask for a video mode "
				       "(bit 2); mpvm has no graphics", flags);
		if (flags & MB_HF_AOUT_KLUDGE)
			return errmsg(err, errlen, "multiboot header flags 0x%x ask for the a.out "
				       "kludge (bit 16, load addresses in the header); mpvm loads ELF "
				       "program headers only", flags);
		if (flags & 0xfff8u)
			return errmsg(err, errlen, "multiboot header flags 0x%x: required bits "
				       "0x%x unknown to mpvm", flags, flags & 0xfff8u);
		k->header_offset = (uint32_t)off;
		k->header_flags = flags;
		return 0;
	}
	if (len < 12)
		return errmsg(err, errlen, "too short (%zu bytes) for a multiboot kernel", len);
	return errmsg(err, errlen, "no multiboot header (magic 0x1badb002, 4-byte aligned) "
		       "in the first %u bytes: not a multiboot kernel", MB_SEARCH_BYTES);
}

int mb_parse(const uint8_t *img, size_t len, uint64_t memory, struct mb_kernel *k,
	     char *err, size_t errlen)
{
	*k = (struct mb_kernel){ 0 };
	if (!elf_image_is_elf(img, len)) {
		if (find_header(img, len, k, err, errlen) == 0)
			return errmsg(err, errlen, "not an ELF file (it has a multiboot header, but "
				       "mpvm loads only ELF32/ELF64 multiboot kernels)");
		if (len >= 2 && img[0] == 'M' && img[1] == 'Z')
			return errmsg(err, errlen, "not an ELF file (a PE/EFI image?); mpvm loads "
				       "ELF32/ELF64 multiboot kernels");
		return errmsg(err, errlen, "not an ELF file (no \\x7fELF at its start); mpvm "
			       "loads ELF32/ELF64 multiboot kernels");
	}
	if (find_header(img, len, k, err, errlen))
		return -1;
	/* [0, MPVM_GUEST_LOW_FREE) holds the multiboot information: not for the kernel. */
	if (elf_image_parse(img, len, memory, MPVM_GUEST_LOW_FREE, &k->elf, err, errlen))
		return -1;
	if (k->elf.entry > 0xffffffffull)
		return errmsg(err, errlen, "entry point 0x%llx is above 4 GiB; multiboot enters "
			       "in 32-bit mode", (unsigned long long)k->elf.entry);
	return 0;
}

int mb_place_module(const struct mb_kernel *k, uint64_t size, uint64_t memory, uint64_t *addr,
		    char *err, size_t errlen)
{
	uint64_t a = (k->elf.end + 0xfff) & ~0xfffull;

	if (a < MPVM_GUEST_LOAD_ADDR)
		a = MPVM_GUEST_LOAD_ADDR;
	if (a + size > memmap_low_ram(memory) || a + size > 0xffffffffull)
		return errmsg(err, errlen, "%llu bytes do not fit in RAM below %llu MiB above the "
			       "kernel (at 0x%llx); try a larger --memory", (unsigned long long)size,
			       (unsigned long long)(memmap_low_ram(memory) >> 20), (unsigned long long)a);
	*addr = a;
	return 0;
}

static size_t mmap_entry(uint8_t *p, uint64_t base, uint64_t len, uint32_t type)
{
	put32(p, 20);
	put64(p + 4, base);
	put64(p + 12, len);
	put32(p + 20, type);
	return 24;
}

int mb_build_info(const struct mb_info_params *p, uint8_t *buf, size_t buflen,
		  char *err, size_t errlen)
{
	uint64_t low = memmap_low_ram(p->memory);
	size_t cmdlen = strlen(p->cmdline);
	uint8_t *info = buf;
	uint8_t *mm = buf + (MB_MMAP_ADDR - MB_INFO_ADDR);
	size_t mmlen = 0;
	uint32_t flags = MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MMAP | MB_INFO_LOADER_NAME;
	struct memmap_entry map[MEMMAP_MAX_ENTRIES];
	unsigned int nmap = memmap_build(p->memory, map);

	if (buflen < MB_INFO_AREA_END - MB_INFO_ADDR)
		return errmsg(err, errlen, "buffer too small for the multiboot information");
	if (cmdlen >= MB_CMDLINE_MAX)
		return errmsg(err, errlen, "multiboot command line of %zu bytes (the kernel's file "
			       "name, a blank and --cmdline): at most %u", cmdlen, MB_CMDLINE_MAX - 1);
	memset(buf, 0, MB_INFO_AREA_END - MB_INFO_ADDR);

	/* Lower memory: 0 to the EBDA; upper memory: 1 MiB to the end of low RAM. */
	put32(info + 4, MPVM_EBDA_ADDR >> 10);
	put32(info + 8, (uint32_t)((low - MPVM_GUEST_LOAD_ADDR) >> 10));
	put32(info + 12, 0xffffffffu); /* boot_device: none */
	put32(info + 16, MB_CMDLINE_ADDR);
	memcpy(buf + (MB_CMDLINE_ADDR - MB_INFO_ADDR), p->cmdline, cmdlen + 1);
	if (p->has_module) {
		uint8_t *mod = buf + (MB_MODS_ADDR - MB_INFO_ADDR);

		flags |= MB_INFO_MODS;
		put32(info + 20, 1);
		put32(info + 24, MB_MODS_ADDR);
		put32(mod, p->mod_start);
		put32(mod + 4, p->mod_end);
		put32(mod + 8, MB_MOD_STRING_ADDR);
		memcpy(buf + (MB_MOD_STRING_ADDR - MB_INFO_ADDR), "initrd", 7);
	}
	for (unsigned int i = 0; i < nmap; i++)
		mmlen += mmap_entry(mm + mmlen, map[i].addr, map[i].size, map[i].type);
	put32(info + 44, (uint32_t)mmlen);
	put32(info + 48, MB_MMAP_ADDR);
	memcpy(buf + (MB_LOADER_NAME_ADDR - MB_INFO_ADDR), "mpvm", 5);
	put32(info + 64, MB_LOADER_NAME_ADDR);
	put32(info, flags);
	return 0;
}

char *mb_make_cmdline(const char *kernel, const char *cmdline)
{
	size_t n = strlen(kernel) + strlen(cmdline) + 2;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, *cmdline ? "%s %s" : "%s", kernel, cmdline);
	return s;
}

int mb_check_image(const char *kernel, const uint8_t *img, size_t len, const char *initrd,
		   const char *cmdline, uint64_t memory, char *err, size_t errlen)
{
	struct mb_kernel k;
	char why[256];
	char *full;
	size_t n;

	if (mb_parse(img, len, memory, &k, why, sizeof(why)))
		return errmsg(err, errlen, "--kernel %s: %s", kernel, why);
	if (initrd) {
		uint64_t addr, size;

		if (input_file_size(initrd, memory, &size, why, sizeof(why)) ||
		    mb_place_module(&k, size, memory, &addr, why, sizeof(why)))
			return errmsg(err, errlen, "--initrd %s: %s", initrd, why);
	}
	full = mb_make_cmdline(kernel, cmdline);
	if (!full)
		return errmsg(err, errlen, "out of memory");
	n = strlen(full);
	free(full);
	if (n >= MB_CMDLINE_MAX)
		return errmsg(err, errlen, "--cmdline: the multiboot command line (the kernel's file "
			       "name, a blank and --cmdline) has %zu bytes; at most %u", n,
			       MB_CMDLINE_MAX - 1);
	return 0;
}

int mb_check_files(const char *kernel, const char *initrd, const char *cmdline,
		   uint64_t memory, char *err, size_t errlen)
{
	char why[256];
	size_t len;
	uint8_t *img = input_file_read(kernel, memory, &len, why, sizeof(why));
	int ret;

	if (!img)
		return errmsg(err, errlen, "--kernel %s: %s", kernel, why);
	ret = mb_check_image(kernel, img, len, initrd, cmdline, memory, err, errlen);
	free(img);
	return ret;
}
