/*
 * Unit tests of core/bzimage.c, core/pvh.c, core/linux_boot.c and
 * core/memmap.c: kernels crafted in memory, good and bad, and the zero page
 * and PVH start info they get.
 */
#include <elf.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bzimage.h"
#include "core/linux_boot.h"
#include "core/memmap.h"
#include "core/pvh.h"

#define MEM (256ull << 20)

static uint32_t g32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t g64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void p16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void p32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void p64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* ---- bzImage --------------------------------------------------------------- */

#define BZ_LEN (5 * 512 + 0x1000) /* 4 setup sectors + boot sector, then 4 KiB of "kernel" */

/* A bzImage of protocol 2.15 with a 64-bit entry, relocatable, pref_address 16 MiB. */
static uint8_t *make_bz(void)
{
	uint8_t *b = calloc(1, BZ_LEN);

	b[0x1f1] = 4;                    /* setup_sects */
	p32(b + 0x1f4, 0x100);           /* syssize: 4 KiB */
	p16(b + 0x1fe, 0xaa55);
	b[0x201] = 0x6a;                 /* header ends at 0x26c */
	memcpy(b + 0x202, "HdrS", 4);
	p16(b + 0x206, 0x020f);
	b[0x211] = 0x01;                 /* LOADED_HIGH */
	p32(b + 0x22c, 0x7fffffff);      /* initrd_addr_max */
	p32(b + 0x230, 0x200000);        /* kernel_alignment */
	b[0x234] = 1;                    /* relocatable */
	p16(b + 0x236, 0x3);             /* XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	p32(b + 0x238, 2047);            /* cmdline_size */
	p64(b + 0x258, 0x1000000);       /* pref_address */
	p32(b + 0x260, 0x800000);        /* init_size */
	memset(b + 5 * 512, 0xcc, 0x1000);
	return b;
}

static void bz_good(void **state)
{
	uint8_t *b = make_bz();
	struct bzimage bz;
	char err[256];

	(void)state;
	assert_int_equal(kernel_detect(b, BZ_LEN), KERNEL_BZIMAGE);
	assert_int_equal(bzimage_parse(b, BZ_LEN, MEM, &bz, err, sizeof(err)), 0);
	assert_int_equal(bz.version, 0x020f);
	assert_int_equal(bz.setup_size, 5 * 512);
	assert_int_equal(bz.kernel_size, 0x1000);
	assert_true(bz.load_addr == 0x1000000);
	assert_true(bz.init_size == 0x800000);
	assert_int_equal(bz.cmdline_max, 2047);
	assert_int_equal(bz.header_end, 0x26c);
	free(b);
}

/*
 * Every prefix of a bzImage is refused as truncated without reading past
 * it: each prefix is its own exact-size allocation, so AddressSanitizer
 * sees any read beyond (a 518-byte file once made bzimage_parse read the
 * version past the end).
 */
static void bz_every_prefix(void **state)
{
	uint8_t *b = make_bz();
	struct bzimage bz;
	char err[256];

	(void)state;
	for (size_t len = 0x1fe; len < 5 * 512 + 1; len++) {
		uint8_t *cut = malloc(len);

		memcpy(cut, b, len);
		assert_int_equal(bzimage_parse(cut, len, MEM, &bz, err, sizeof(err)), -1);
		if (len >= 0x206 && !strstr(err, "truncated"))
			fail_msg("a %zu-byte prefix: '%s' does not say truncated", len, err);
		free(cut);
	}
	free(b);
}

/* Each broken header gets its own reason. */
static void bz_errors(void **state)
{
	static const struct {
		unsigned int off, width;
		uint64_t val;
		const char *want;
	} cases[] = {
		{ 0x206, 2, 0x020a, "boot protocol 2.10 is too old" },
		{ 0x236, 2, 0x0002, "no 64-bit entry point" },
		{ 0x211, 1, 0x00, "a zImage" },
		{ 0x201, 1, 0x10, "setup header ends at 0x212" },
		{ 0x1f1, 1, 0x40, "truncated" },
		{ 0x260, 4, 0x20000000, "outside guest RAM" },
		{ 0x202, 1, 'X', "not a bzImage" },
		{ 0x1f4, 4, 0x101, "syssize says 4112 bytes" },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *b = make_bz();
		struct bzimage bz;

		memcpy(b + cases[i].off, &cases[i].val, cases[i].width);
		err[0] = '\0';
		assert_int_equal(bzimage_parse(b, BZ_LEN, MEM, &bz, err, sizeof(err)), -1);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
		free(b);
	}
}

/* A non-relocatable kernel must go where it asks; a relocatable one moves up. */
static void bz_relocation(void **state)
{
	uint8_t *b = make_bz();
	struct bzimage bz;
	char err[256];

	(void)state;
	p64(b + 0x258, 0x1234000); /* not 2 MiB aligned */
	assert_int_equal(bzimage_parse(b, BZ_LEN, MEM, &bz, err, sizeof(err)), 0);
	assert_true(bz.load_addr == 0x200000);
	b[0x234] = 0;
	assert_int_equal(bzimage_parse(b, BZ_LEN, MEM, &bz, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not relocatable"));
	free(b);
}

static void bz_zero_page(void **state)
{
	uint8_t *b = make_bz();
	uint8_t zp[LINUX_INFO_SIZE];
	struct bzimage bz;
	char err[256];
	struct bzimage_params p = {
		.memory = 5ull << 30, .cmdline_addr = LINUX_CMDLINE_ADDR,
		.initrd_addr = 0x7f000000, .initrd_size = 0x123456, .rsdp_addr = 0xe0000,
	};

	(void)state;
	assert_int_equal(bzimage_parse(b, BZ_LEN, p.memory, &bz, err, sizeof(err)), 0);
	bzimage_build_zero_page(&bz, b, &p, zp);
	assert_memory_equal(zp + 0x202, "HdrS", 4);       /* the header copied */
	assert_int_equal(zp[0x1f1], 4);
	assert_int_equal(zp[0x210], 0xff);                 /* type_of_loader */
	assert_int_equal(g32(zp + 0x228), LINUX_CMDLINE_ADDR);
	assert_int_equal(g32(zp + 0x218), 0x7f000000);
	assert_int_equal(g32(zp + 0x21c), 0x123456);
	assert_true(g64(zp + 0x070) == 0xe0000);
	assert_int_equal(zp[0x26c], 0);                    /* nothing after the header */
	/* e820: 5 entries, the last RAM from 4 GiB. */
	assert_int_equal(zp[0x1e8], 5);
	assert_true(g64(zp + 0x2d0 + 4 * 20) == 4ull << 30);
	assert_true(g64(zp + 0x2d0 + 4 * 20 + 8) == 2ull << 30);
	assert_int_equal(g32(zp + 0x2d0 + 4 * 20 + 16), MEMMAP_RAM);
	assert_int_equal(g32(zp + 0x2d0 + 1 * 20 + 16), MEMMAP_RESERVED);
	free(b);
}

/* ---- PVH ------------------------------------------------------------------- */

#define PVH_LEN 0x3000

/* An ELF64 vmlinux-like image: one segment at 16 MiB, an optional Xen note. */
static uint8_t *make_pvh(int note_bytes, uint64_t entry)
{
	uint8_t *b = calloc(1, PVH_LEN);
	Elf64_Ehdr e = { 0 };
	Elf64_Phdr ph[2] = { { 0 } };
	uint8_t *n = b + 0x800;

	memcpy(e.e_ident, ELFMAG, SELFMAG);
	e.e_ident[EI_CLASS] = ELFCLASS64;
	e.e_ident[EI_DATA] = ELFDATA2LSB;
	e.e_type = ET_EXEC;
	e.e_machine = EM_X86_64;
	e.e_entry = 0x1000000;             /* physical, as Linux's vmlinux has it */
	e.e_phoff = sizeof(e);
	e.e_phentsize = sizeof(Elf64_Phdr);
	e.e_phnum = note_bytes ? 2 : 1;
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1000, .p_vaddr = 0xffffffff81000000ull,
			      .p_paddr = 0x1000000, .p_filesz = 0x1000, .p_memsz = 0x5000 };
	ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x800, .p_filesz = 0x100 };
	memcpy(b, &e, sizeof(e));
	memcpy(b + sizeof(e), ph, sizeof(ph));
	/* First an unrelated note, then Xen's PHYS32_ENTRY. */
	p32(n, 4); p32(n + 4, 4); p32(n + 8, 3); memcpy(n + 12, "GNU", 4); p32(n + 16, 0x1234);
	n += 20;
	p32(n, 4); p32(n + 4, (uint32_t)note_bytes); p32(n + 8, XEN_ELFNOTE_PHYS32_ENTRY);
	memcpy(n + 12, "Xen", 4);
	memcpy(n + 16, &entry, 8);
	memset(b + 0x1000, 0x90, 0x1000);
	return b;
}

static void pvh_good(void **state)
{
	char err[256];

	(void)state;
	for (int bytes = 4; bytes <= 8; bytes += 4) {
		uint8_t *b = make_pvh(bytes, 0x1000850);
		struct pvh_kernel k;

		assert_int_equal(kernel_detect(b, PVH_LEN), KERNEL_PVH);
		assert_int_equal(pvh_parse(b, PVH_LEN, MEM, &k, err, sizeof(err)), 0);
		assert_int_equal(k.entry, 0x1000850);
		assert_int_equal(k.elf.nsegs, 1);
		assert_true(k.elf.end == 0x1005000);
		free(b);
	}
}

static void pvh_errors(void **state)
{
	uint8_t *b;
	struct pvh_kernel k;
	char err[256];

	(void)state;
	b = make_pvh(0, 0);               /* no note segment: the multiboot loader's case */
	assert_int_equal(kernel_detect(b, PVH_LEN), KERNEL_MULTIBOOT);
	assert_int_equal(pvh_parse(b, PVH_LEN, MEM, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no PVH entry note"));
	free(b);
	b = make_pvh(8, 0x9000000);       /* entry outside the kernel */
	assert_int_equal(pvh_parse(b, PVH_LEN, MEM, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "in no loadable segment"));
	free(b);
	b = make_pvh(8, 0x100000000ull);
	assert_int_equal(pvh_parse(b, PVH_LEN, MEM, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "above 4 GiB"));
	free(b);
	b = make_pvh(6, 0x1000850);       /* odd descriptor size */
	assert_int_equal(pvh_parse(b, PVH_LEN, MEM, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not 4 or 8"));
	free(b);
	b = make_pvh(8, 0x1000850);       /* a note running past its segment */
	p32(b + 0x800 + 4, 0x1000);
	assert_int_equal(pvh_parse(b, PVH_LEN, MEM, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "malformed ELF note"));
	free(b);
	b = make_pvh(8, 0x1000850);       /* truncated: the segment ends after the file */
	assert_int_equal(pvh_parse(b, 0x1800, MEM, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated"));
	free(b);
}

static void pvh_start_info(void **state)
{
	uint8_t buf[0x1000];
	struct pvh_params p = {
		.memory = MEM, .info_addr = LINUX_INFO_ADDR, .cmdline_addr = LINUX_CMDLINE_ADDR,
		.initrd_addr = 0xf000000, .initrd_size = 0x1000, .rsdp_addr = 0xe0000,
	};

	(void)state;
	pvh_build_start_info(&p, buf);
	assert_int_equal(g32(buf), HVM_START_MAGIC);
	assert_int_equal(g32(buf + 4), 1);
	assert_int_equal(g32(buf + 12), 1);
	assert_true(g64(buf + 16) == LINUX_INFO_ADDR + PVH_MODLIST_OFFSET);
	assert_true(g64(buf + 24) == LINUX_CMDLINE_ADDR);
	assert_true(g64(buf + 32) == 0xe0000);
	assert_true(g64(buf + 40) == LINUX_INFO_ADDR + PVH_MEMMAP_OFFSET);
	assert_int_equal(g32(buf + 48), 4);
	assert_true(g64(buf + PVH_MODLIST_OFFSET) == 0xf000000);
	assert_true(g64(buf + PVH_MODLIST_OFFSET + 8) == 0x1000);
	assert_true(g64(buf + PVH_MEMMAP_OFFSET + 3 * 24) == 0x100000);
	assert_true(g64(buf + PVH_MEMMAP_OFFSET + 3 * 24 + 8) == MEM - 0x100000);
	/* No initrd: no module list. */
	p.initrd_size = 0;
	pvh_build_start_info(&p, buf);
	assert_int_equal(g32(buf + 12), 0);
	assert_true(g64(buf + 16) == 0);
}

/* ---- shared ---------------------------------------------------------------- */

static void initrd_placement(void **state)
{
	uint64_t a;
	char err[256];

	(void)state;
	/* Top of RAM, page-aligned down. */
	assert_int_equal(linux_place_initrd(0x2000000, 0x1800, MEM, 0xffffffff, &a, err, sizeof(err)), 0);
	assert_true(a == MEM - 0x2000);
	/* initrd_addr_max caps it. */
	assert_int_equal(linux_place_initrd(0x2000000, 0x1000, MEM, 0x7ffffff, &a, err, sizeof(err)), 0);
	assert_true(a == 0x8000000 - 0x1000);
	/* Above 3 GiB of RAM it stays in low RAM. */
	assert_int_equal(linux_place_initrd(0x2000000, 0x1000, 8ull << 30, 0xffffffff, &a, err, sizeof(err)), 0);
	assert_true(a == (3ull << 30) - 0x1000);
	/* Too big for what is left above the kernel. */
	assert_int_equal(linux_place_initrd(0x2000000, MEM, MEM, 0xffffffff, &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "try a larger --memory"));
	assert_int_equal(linux_place_initrd(0x8000000, 0x7000000, MEM, 0xffffffff, &a, err, sizeof(err)), 0);
	assert_int_equal(linux_place_initrd(0x8000000, 0x8000001, MEM, 0xffffffff, &a, err, sizeof(err)), -1);
}

static void cmdline_limits(void **state)
{
	uint8_t *b = make_bz();
	struct linux_plan p;
	char err[256], line[4096];

	(void)state;
	assert_int_equal(linux_plan_kernel(b, BZ_LEN, MEM, &p, err, sizeof(err)), 0);
	memset(line, 'a', sizeof(line));
	line[2047] = '\0';
	assert_int_equal(linux_check_cmdline(&p, line, err, sizeof(err)), 0);
	line[2047] = 'a';
	line[2048] = '\0';
	assert_int_equal(linux_check_cmdline(&p, line, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cmdline_size"));
	free(b);
	b = make_pvh(8, 0x1000850);
	assert_int_equal(linux_plan_kernel(b, PVH_LEN, MEM, &p, err, sizeof(err)), 0);
	assert_int_equal(linux_check_cmdline(&p, line, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "COMMAND_LINE_SIZE"));
	free(b);
}

static void memmap_layout(void **state)
{
	struct memmap_entry m[MEMMAP_MAX_ENTRIES];
	char err[256];

	(void)state;
	assert_int_equal(memmap_build(MEM, m), 4);
	assert_true(m[0].addr == 0 && m[0].size == 0x9fc00 && m[0].type == MEMMAP_RAM);
	assert_true(m[2].addr == 0xe0000 && m[2].type == MEMMAP_RESERVED);
	assert_true(m[3].addr + m[3].size == MEM);
	assert_int_equal(memmap_check_load(0x100000, 0x1000, MEM, 0x100000, "k", err, sizeof(err)), 0);
	assert_int_equal(memmap_check_load(0xf0000, 0x20000, MEM, 0x8000, "k", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ACPI and MP tables"));
	assert_int_equal(memmap_check_load(MEM - 0x1000, 0x2000, MEM, 0x8000, "k", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "outside guest RAM"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bz_good),
		cmocka_unit_test(bz_errors),
		cmocka_unit_test(bz_every_prefix),
		cmocka_unit_test(bz_relocation),
		cmocka_unit_test(bz_zero_page),
		cmocka_unit_test(pvh_good),
		cmocka_unit_test(pvh_errors),
		cmocka_unit_test(pvh_start_info),
		cmocka_unit_test(initrd_placement),
		cmocka_unit_test(cmdline_limits),
		cmocka_unit_test(memmap_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
