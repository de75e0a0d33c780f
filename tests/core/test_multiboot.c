/* Unit tests of core/multiboot.c: images crafted in memory, good and bad. */
#include <elf.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/multiboot.h"

#define MEM (256ull << 20)
#define IMG_SIZE 0x3000

struct img {
	uint8_t b[IMG_SIZE];
	size_t len;
};

/* The multiboot header goes at file offset 0x1000, the start of the one segment's data. */
static void put_header(uint8_t *p, uint32_t flags, int good_sum)
{
	uint32_t w[3] = { MB_HEADER_MAGIC, flags, (uint32_t)-(MB_HEADER_MAGIC + flags) + (good_sum ? 0 : 1) };

	memcpy(p, w, sizeof(w));
}

static void make32(struct img *im, uint32_t paddr, uint32_t filesz, uint32_t memsz, uint32_t entry)
{
	Elf32_Ehdr e = { 0 };
	Elf32_Phdr ph = { 0 };

	memset(im, 0, sizeof(*im));
	memcpy(e.e_ident, ELFMAG, SELFMAG);
	e.e_ident[EI_CLASS] = ELFCLASS32;
	e.e_ident[EI_DATA] = ELFDATA2LSB;
	e.e_ident[EI_VERSION] = EV_CURRENT;
	e.e_type = ET_EXEC;
	e.e_machine = EM_386;
	e.e_version = EV_CURRENT;
	e.e_entry = entry;
	e.e_phoff = sizeof(e);
	e.e_ehsize = sizeof(e);
	e.e_phentsize = sizeof(ph);
	e.e_phnum = 1;
	ph.p_type = PT_LOAD;
	ph.p_offset = 0x1000;
	ph.p_vaddr = ph.p_paddr = paddr;
	ph.p_filesz = filesz;
	ph.p_memsz = memsz;
	memcpy(im->b, &e, sizeof(e));
	memcpy(im->b + sizeof(e), &ph, sizeof(ph));
	put_header(im->b + 0x1000, 0x3, 1);
	im->len = 0x1000 + filesz;
}

static void make64(struct img *im, uint64_t paddr, uint64_t vaddr, uint64_t filesz, uint64_t memsz,
		   uint64_t entry)
{
	Elf64_Ehdr e = { 0 };
	Elf64_Phdr ph = { 0 };

	memset(im, 0, sizeof(*im));
	memcpy(e.e_ident, ELFMAG, SELFMAG);
	e.e_ident[EI_CLASS] = ELFCLASS64;
	e.e_ident[EI_DATA] = ELFDATA2LSB;
	e.e_ident[EI_VERSION] = EV_CURRENT;
	e.e_type = ET_EXEC;
	e.e_machine = EM_X86_64;
	e.e_version = EV_CURRENT;
	e.e_entry = entry;
	e.e_phoff = sizeof(e);
	e.e_ehsize = sizeof(e);
	e.e_phentsize = sizeof(ph);
	e.e_phnum = 1;
	ph.p_type = PT_LOAD;
	ph.p_offset = 0x1000;
	ph.p_vaddr = vaddr;
	ph.p_paddr = paddr;
	ph.p_filesz = filesz;
	ph.p_memsz = memsz;
	memcpy(im->b, &e, sizeof(e));
	memcpy(im->b + sizeof(e), &ph, sizeof(ph));
	put_header(im->b + 0x1000, 0, 1);
	im->len = 0x1000 + filesz;
}

static char err[256];

static void expect_error(const struct img *im, uint64_t mem, const char *want)
{
	struct mb_kernel k;

	err[0] = '\0';
	assert_int_equal(mb_parse(im->b, im->len, mem, &k, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static void good_elf32(void **state)
{
	struct img im;
	struct mb_kernel k;

	(void)state;
	make32(&im, 0x400000, 0x2000, 0x5000, 0x400010);
	assert_int_equal(mb_parse(im.b, im.len, MEM, &k, err, sizeof(err)), 0);
	assert_int_equal(k.elf.cls, 32);
	assert_int_equal(k.header_offset, 0x1000);
	assert_int_equal(k.header_flags, 3);
	assert_int_equal(k.elf.entry, 0x400010);
	assert_int_equal(k.elf.nsegs, 1);
	assert_true(k.elf.seg[0].paddr == 0x400000 && k.elf.seg[0].offset == 0x1000);
	assert_true(k.elf.seg[0].filesz == 0x2000 && k.elf.seg[0].memsz == 0x5000);
	assert_true(k.elf.end == 0x405000);
}

static void good_elf64_entry_virtual(void **state)
{
	struct img im;
	struct mb_kernel k;

	(void)state;
	/* Linked high, loaded at 2 MiB: the entry becomes physical. */
	make64(&im, 0x200000, 0xffffffff80200000ull, 0x1000, 0x1000, 0xffffffff80200040ull);
	assert_int_equal(mb_parse(im.b, im.len, MEM, &k, err, sizeof(err)), 0);
	assert_int_equal(k.elf.cls, 64);
	assert_int_equal(k.elf.entry, 0x200040);
}

static void low_free_window_ok(void **state)
{
	struct img im;
	struct mb_kernel k;

	(void)state;
	make32(&im, 0x8000, 0x1000, 0x1000, 0x8000); /* where kvm-unit-tests' realmode.flat goes */
	assert_int_equal(mb_parse(im.b, im.len, MEM, &k, err, sizeof(err)), 0);
}

static void not_elf(void **state)
{
	struct img im;

	(void)state;
	memset(&im, 0, sizeof(im));
	strcpy((char *)im.b, "#!/bin/sh\necho hello\n");
	im.len = 100;
	expect_error(&im, MEM, "not an ELF file");
	im.b[0] = 'M';
	im.b[1] = 'Z';
	expect_error(&im, MEM, "PE/EFI");
	put_header(im.b + 8, 0, 1);
	expect_error(&im, MEM, "it has a multiboot header");
}

static void no_header(void **state)
{
	struct img im;

	(void)state;
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	memset(im.b + 0x1000, 0, 12);
	expect_error(&im, MEM, "no multiboot header (magic 0x1badb002");
}

static void header_past_8k(void **state)
{
	struct img im;

	(void)state;
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	memset(im.b + 0x1000, 0, 12);
	put_header(im.b + 0x2000, 0, 1); /* offset 8192: one byte too far */
	expect_error(&im, MEM, "in the first 8192 bytes");
}

static void header_misaligned(void **state)
{
	struct img im;

	(void)state;
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	memset(im.b + 0x1000, 0, 12);
	put_header(im.b + 0x1002, 0, 1);
	expect_error(&im, MEM, "no multiboot header");
}

static void bad_checksum(void **state)
{
	struct img im;

	(void)state;
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	put_header(im.b + 0x1000, 0, 0);
	expect_error(&im, MEM, "bad checksum");
}

static void unsupported_flags(void **state)
{
	struct img im;

	(void)state;
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	put_header(im.b + 0x1000, MB_HF_VIDEO_MODE, 1);
	expect_error(&im, MEM, "video mode");
	put_header(im.b + 0x1000, MB_HF_AOUT_KLUDGE, 1);
	expect_error(&im, MEM, "a.out");
	put_header(im.b + 0x1000, 1u << 5, 1);
	expect_error(&im, MEM, "required bits 0x20 unknown");
	put_header(im.b + 0x1000, 1u << 20, 1); /* optional bits: fine */
	{
		struct mb_kernel k;

		assert_int_equal(mb_parse(im.b, im.len, MEM, &k, err, sizeof(err)), 0);
	}
}

static void truncated(void **state)
{
	struct img im;

	(void)state;
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	im.len = 0x2000; /* the segment's data ends at 0x3000 */
	expect_error(&im, MEM, "truncated: segment 0");
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	im.len = 10;
	expect_error(&im, MEM, "too short");
}

static void segment_outside_ram(void **state)
{
	struct img im;

	(void)state;
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	expect_error(&im, 4ull << 20, "is outside guest RAM");
	make32(&im, 0xfffff000u, 0x1000, 0x1000, 0xfffff000u);
	expect_error(&im, MEM, "segment 0 at 0xfffff000-0x100000000 is outside guest RAM");
}

static void segment_over_mpvm_areas(void **state)
{
	struct img im;

	(void)state;
	make32(&im, 0x1000, 0x1000, 0x1000, 0x1000);
	expect_error(&im, MEM, "overlaps mpvm's low memory");
	make32(&im, 0x9f000, 0x1000, 0x1000, 0x9f000);
	expect_error(&im, MEM, "overlaps mpvm's EBDA, ACPI and MP tables");
	make32(&im, 0xf0000, 0x1000, 0x20000, 0xf0000);
	expect_error(&im, MEM, "overlaps mpvm's EBDA");
}

static void bad_elf_fields(void **state)
{
	struct img im;

	(void)state;
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	im.b[EI_CLASS] = 7;
	expect_error(&im, MEM, "ELF class 7");
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	im.b[EI_DATA] = ELFDATA2MSB;
	expect_error(&im, MEM, "not little-endian");
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	((Elf32_Ehdr *)im.b)->e_machine = EM_ARM;
	expect_error(&im, MEM, "not x86");
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	((Elf32_Ehdr *)im.b)->e_type = ET_DYN;
	expect_error(&im, MEM, "not an executable");
	make32(&im, 0x400000, 0x2000, 0x2000, 0x500000);
	expect_error(&im, MEM, "entry point 0x500000 is in no loadable segment");
	make32(&im, 0x400000, 0x2000, 0x1000, 0x400000);
	expect_error(&im, MEM, "file size 0x2000 above its memory size 0x1000");
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	((Elf32_Ehdr *)im.b)->e_phoff = 0x10000;
	expect_error(&im, MEM, "truncated: the 1 ELF program headers");
}

static void module_placement(void **state)
{
	struct img im;
	struct mb_kernel k;
	uint64_t a;

	(void)state;
	make32(&im, 0x400000, 0x2000, 0x2345, 0x400000);
	assert_int_equal(mb_parse(im.b, im.len, MEM, &k, err, sizeof(err)), 0);
	assert_int_equal(mb_place_module(&k, 100, MEM, &a, err, sizeof(err)), 0);
	assert_true(a == 0x403000);
	assert_int_equal(mb_place_module(&k, MEM, MEM, &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "do not fit"));
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static void info_structure(void **state)
{
	static uint8_t buf[MB_INFO_AREA_END - MB_INFO_ADDR];
	struct mb_info_params p = {
		.memory = 5ull << 30, .cmdline = "k.elf a=1",
		.has_module = 1, .mod_start = 0x500000, .mod_end = 0x500100,
	};
	const uint8_t *mm;
	uint32_t mmlen;

	(void)state;
	assert_int_equal(mb_build_info(&p, buf, sizeof(buf), err, sizeof(err)), 0);
	assert_int_equal(rd32(buf), MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MMAP |
			 MB_INFO_LOADER_NAME);
	assert_int_equal(rd32(buf + 4), 639);
	assert_int_equal(rd32(buf + 8), ((3u << 30) - 0x100000) >> 10);
	assert_int_equal(rd32(buf + 16), MB_CMDLINE_ADDR);
	assert_string_equal((char *)buf + (MB_CMDLINE_ADDR - MB_INFO_ADDR), "k.elf a=1");
	assert_int_equal(rd32(buf + 20), 1);
	assert_int_equal(rd32(buf + 24), MB_MODS_ADDR);
	assert_int_equal(rd32(buf + (MB_MODS_ADDR - MB_INFO_ADDR)), 0x500000);
	assert_int_equal(rd32(buf + (MB_MODS_ADDR - MB_INFO_ADDR) + 4), 0x500100);
	assert_string_equal((char *)buf + (rd32(buf + 64) - MB_INFO_ADDR), "mpvm");
	mmlen = rd32(buf + 44);
	assert_int_equal(mmlen, 5 * 24);
	assert_int_equal(rd32(buf + 48), MB_MMAP_ADDR);
	mm = buf + (MB_MMAP_ADDR - MB_INFO_ADDR);
	/* 0-EBDA RAM, EBDA reserved, ACPI/MP reserved, 1M-3G RAM, 4G-6G RAM */
	assert_true(rd64(mm + 4) == 0 && rd64(mm + 12) == 0x9fc00 && rd32(mm + 20) == 1);
	assert_true(rd64(mm + 24 + 4) == 0x9fc00 && rd32(mm + 24 + 20) == 2);
	assert_true(rd64(mm + 48 + 4) == 0xe0000 && rd64(mm + 48 + 12) == 0x20000 && rd32(mm + 48 + 20) == 2);
	assert_true(rd64(mm + 72 + 4) == 0x100000 && rd64(mm + 72 + 12) == (3ull << 30) - 0x100000);
	assert_true(rd64(mm + 96 + 4) == 4ull << 30 && rd64(mm + 96 + 12) == 2ull << 30 &&
		    rd32(mm + 96 + 20) == 1);
	for (uint32_t off = 0; off < mmlen; off += 24)
		assert_int_equal(rd32(mm + off), 20);
	assert_true(MB_MMAP_ADDR + MB_MMAP_MAX * 24 <= MB_CMDLINE_ADDR);
}

static void info_without_module_and_long_cmdline(void **state)
{
	static uint8_t buf[MB_INFO_AREA_END - MB_INFO_ADDR];
	char *longline = malloc(MB_CMDLINE_MAX + 1);
	struct mb_info_params p = { .memory = MEM, .cmdline = "k" };

	(void)state;
	assert_int_equal(mb_build_info(&p, buf, sizeof(buf), err, sizeof(err)), 0);
	assert_int_equal(rd32(buf) & MB_INFO_MODS, 0);
	assert_int_equal(rd32(buf + 44), 4 * 24); /* no RAM above 4 GiB */
	memset(longline, 'x', MB_CMDLINE_MAX);
	longline[MB_CMDLINE_MAX] = '\0';
	p.cmdline = longline;
	assert_int_equal(mb_build_info(&p, buf, sizeof(buf), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "at most"));
	free(longline);
}

static void cmdline_and_files(void **state)
{
	char *s = mb_make_cmdline("x86/smptest.flat", "");
	char path[] = "/tmp/mpvm-test-mbXXXXXX";
	struct img im;
	int fd;

	(void)state;
	assert_string_equal(s, "x86/smptest.flat");
	free(s);
	s = mb_make_cmdline("k", "ipi  x");
	assert_string_equal(s, "k ipi  x");
	free(s);

	assert_int_equal(mb_check_files("/nonexistent/k", NULL, "", MEM, err, sizeof(err)), -1);
	assert_string_equal(err, "--kernel /nonexistent/k: No such file or directory");
	make32(&im, 0x400000, 0x2000, 0x2000, 0x400000);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, im.b, im.len), (ssize_t)im.len);
	close(fd);
	assert_int_equal(mb_check_files(path, NULL, "", MEM, err, sizeof(err)), 0);
	assert_int_equal(mb_check_files(path, "/nonexistent/i", "", MEM, err, sizeof(err)), -1);
	assert_string_equal(err, "--initrd /nonexistent/i: No such file or directory");
	assert_int_equal(mb_check_files(path, NULL, "", 2ull << 20, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is outside guest RAM"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_elf32),
		cmocka_unit_test(good_elf64_entry_virtual),
		cmocka_unit_test(low_free_window_ok),
		cmocka_unit_test(not_elf),
		cmocka_unit_test(no_header),
		cmocka_unit_test(header_past_8k),
		cmocka_unit_test(header_misaligned),
		cmocka_unit_test(bad_checksum),
		cmocka_unit_test(unsupported_flags),
		cmocka_unit_test(truncated),
		cmocka_unit_test(segment_outside_ram),
		cmocka_unit_test(segment_over_mpvm_areas),
		cmocka_unit_test(bad_elf_fields),
		cmocka_unit_test(module_placement),
		cmocka_unit_test(info_structure),
		cmocka_unit_test(info_without_module_and_long_cmdline),
		cmocka_unit_test(cmdline_and_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
