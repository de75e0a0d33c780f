/*
 * Unit tests for src/core/acpi.c. The tables are parsed back from the raw
 * bytes with offsets taken from the ACPI 6.3 specification (not from the
 * builder's structs), following the pointers the way an OS does:
 * RSDP -> RSDT/XSDT -> FADT -> FACS/DSDT, and MADT. The DSDT's AML is
 * decoded by a small independent parser. One test also runs `iasl -d`
 * (acpica-tools) on every table and reads its output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/acpi.h"
#include "fw_topo.h"

#define GPA   0xe0000ull
#define BUFSZ 0x10000u

/* ---- little-endian readers and the checks every table shares -------- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

struct image {
	const uint8_t *buf;
	size_t len;                /* what acpi_build returned */
	uint64_t gpa;
};

/* The bytes at guest-physical address addr, which must lie in the image. */
static const uint8_t *at(const struct image *im, uint64_t addr, size_t len)
{
	assert_true(addr >= im->gpa);
	assert_true(addr - im->gpa + len <= im->len);
	return im->buf + (addr - im->gpa);
}

/* 5.2.6: signature, length, checksum and our OEM fields. Returns length. */
static uint32_t check_sdt(const struct image *im, uint64_t addr, const char *sig, uint8_t rev)
{
	const uint8_t *h = at(im, addr, 36);
	uint32_t len = rd32(h + 4);

	assert_memory_equal(h, sig, 4);
	assert_true(len >= 36);
	h = at(im, addr, len);
	assert_int_equal(h[8], rev);
	assert_int_equal(sum8(h, len), 0);
	assert_memory_equal(h + 10, "MPVM  ", 6);
	assert_memory_equal(h + 16, "MPVMVMM ", 8);
	assert_memory_equal(h + 28, "MPVM", 4);
	assert_int_equal(addr % 16, 0);
	return len;
}

/* Where the tables are, found by walking the pointers. */
struct tables {
	uint64_t rsdt, xsdt, fadt, facs, dsdt, madt;
	uint32_t dsdt_len, madt_len;
};

static void check_gas_io(const uint8_t *g, uint8_t width, uint8_t access, uint64_t port)
{
	assert_int_equal(g[0], 1);         /* system I/O */
	assert_int_equal(g[1], width);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], access);
	assert_int_equal(rd64(g + 4), port);
}

/* 5.2.9: the FADT fields mpvm's PM device relies on. */
static void check_fadt(const struct image *im, struct tables *t)
{
	const uint8_t *f;
	uint32_t flags;

	assert_int_equal(check_sdt(im, t->fadt, "FACP", 6), 276);
	f = at(im, t->fadt, 276);
	assert_int_equal(f[131], 3);                   /* FADT minor version */

	t->facs = rd32(f + 36);                        /* FIRMWARE_CTRL */
	assert_int_equal(rd64(f + 132), 0);            /* X_FIRMWARE_CTRL: one or the other */
	t->dsdt = rd32(f + 40);
	assert_int_equal(rd64(f + 140), t->dsdt);      /* X_DSDT */

	assert_int_equal(rd16(f + 46), 9);             /* SCI_INT */
	assert_int_equal(rd32(f + 48), 0);             /* SMI_CMD: always in ACPI mode */
	assert_int_equal(rd32(f + 56), 0x600);         /* PM1a_EVT_BLK */
	assert_int_equal(rd32(f + 60), 0);             /* PM1b_EVT_BLK */
	assert_int_equal(rd32(f + 64), 0x604);         /* PM1a_CNT_BLK */
	assert_int_equal(rd32(f + 68), 0);
	assert_int_equal(rd32(f + 76), 0x608);         /* PM_TMR_BLK */
	assert_int_equal(rd32(f + 80), 0x60c);         /* GPE0_BLK */
	assert_int_equal(rd32(f + 84), 0);             /* no GPE1_BLK */
	assert_int_equal(f[92], 4);                    /* GPE0_BLK_LEN: 2 status, 2 enable bytes */
	assert_int_equal(f[93], 0);
	assert_int_equal(f[88], 4);                    /* PM1_EVT_LEN */
	assert_int_equal(f[89], 2);                    /* PM1_CNT_LEN */
	assert_int_equal(f[91], 4);                    /* PM_TMR_LEN */
	assert_true(rd16(f + 109) & 0x2);              /* IAPC_BOOT_ARCH: 8042 */

	flags = rd32(f + 112);
	assert_true(flags & (1u << 0));                /* WBINVD */
	assert_true(flags & (1u << 2));                /* PROC_C1 */
	assert_true(flags & (1u << 5));                /* SLP_BUTTON: none */
	assert_true(flags & (1u << 10));               /* RESET_REG_SUP */
	assert_false(flags & (1u << 20));              /* not HW_REDUCED_ACPI */

	check_gas_io(f + 116, 8, 1, 0xcf9);            /* RESET_REG */
	assert_int_equal(f[128], 0x06);                /* RESET_VALUE */

	check_gas_io(f + 148, 32, 2, 0x600);           /* X_PM1a_EVT_BLK */
	check_gas_io(f + 172, 16, 2, 0x604);           /* X_PM1a_CNT_BLK */
	check_gas_io(f + 208, 32, 3, 0x608);           /* X_PM_TMR_BLK */
	assert_int_equal(rd64(f + 160 + 4), 0);        /* X_PM1b_EVT_BLK */
	assert_int_equal(rd64(f + 184 + 4), 0);        /* X_PM1b_CNT_BLK */
	check_gas_io(f + 220, 32, 1, 0x60c);           /* X_GPE0_BLK */
}

/* 5.2.10 */
static void check_facs(const struct image *im, uint64_t addr)
{
	const uint8_t *f = at(im, addr, 64);

	assert_int_equal(addr % 64, 0);
	assert_memory_equal(f, "FACS", 4);
	assert_int_equal(rd32(f + 4), 64);
	assert_int_equal(f[32], 2);                    /* version */
	assert_int_equal(rd32(f + 16), 0);             /* global lock free */
}

/*
 * RSDP -> RSDT/XSDT -> FADT -> FACS/DSDT, MADT. Also checks that no two
 * tables overlap and that all lie inside the image.
 */
static void walk(const struct image *im, struct tables *t)
{
	const uint8_t *r = at(im, im->gpa, 36);
	const uint8_t *rsdt, *xsdt;
	uint64_t start[7], end[7];
	int i, j;

	/* 5.2.5.3 */
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(sum8(r, 20), 0);
	assert_int_equal(sum8(r, 36), 0);
	assert_memory_equal(r + 9, "MPVM  ", 6);
	assert_int_equal(r[15], 2);
	assert_int_equal(rd32(r + 20), 36);
	t->rsdt = rd32(r + 16);
	t->xsdt = rd64(r + 24);

	/* 5.2.7 and 5.2.8: the same two tables, FADT and MADT, in both. */
	assert_int_equal(check_sdt(im, t->rsdt, "RSDT", 1), 36 + 2 * 4);
	assert_int_equal(check_sdt(im, t->xsdt, "XSDT", 1), 36 + 2 * 8);
	rsdt = at(im, t->rsdt, 44);
	xsdt = at(im, t->xsdt, 52);
	for (i = 0; i < 2; i++) {
		uint64_t p = rd32(rsdt + 36 + 4 * i);
		const uint8_t *sig = at(im, p, 4);

		assert_int_equal(rd64(xsdt + 36 + 8 * i), p);
		if (!memcmp(sig, "FACP", 4))
			t->fadt = p;
		else if (!memcmp(sig, "APIC", 4))
			t->madt = p;
		else
			fail_msg("RSDT entry %d has signature %.4s", i, (const char *)sig);
	}
	assert_true(t->fadt && t->madt);

	check_fadt(im, t);
	check_facs(im, t->facs);
	t->dsdt_len = check_sdt(im, t->dsdt, "DSDT", 2);
	t->madt_len = check_sdt(im, t->madt, "APIC", 5);

	start[0] = im->gpa;  end[0] = im->gpa + 36;
	start[1] = t->rsdt;  end[1] = t->rsdt + 44;
	start[2] = t->xsdt;  end[2] = t->xsdt + 52;
	start[3] = t->fadt;  end[3] = t->fadt + 276;
	start[4] = t->facs;  end[4] = t->facs + 64;
	start[5] = t->dsdt;  end[5] = t->dsdt + t->dsdt_len;
	start[6] = t->madt;  end[6] = t->madt + t->madt_len;
	for (i = 0; i < 7; i++)
		for (j = 0; j < i; j++)
			assert_true(end[i] <= start[j] || end[j] <= start[i]);
}

/* ---- an independent AML reader for the DSDT (ACPI 6.3 chapter 20) ---- */

struct rd {
	const uint8_t *p, *end;
};

static uint8_t rd_byte(struct rd *r)
{
	assert_true(r->p < r->end);
	return *r->p++;
}

static void rd_expect(struct rd *r, const void *bytes, size_t n)
{
	assert_true((size_t)(r->end - r->p) >= n);
	assert_memory_equal(r->p, bytes, n);
	r->p += n;
}

/* 20.2.4: returns where the package ends. */
static const uint8_t *rd_pkg(struct rd *r)
{
	const uint8_t *start = r->p;
	uint8_t lead = rd_byte(r);
	unsigned int n = lead >> 6, i;
	size_t len;

	if (n == 0) {
		len = lead & 0x3f;
	} else {
		assert_int_equal(lead & 0x30, 0);
		len = lead & 0x0f;
		for (i = 0; i < n; i++)
			len |= (size_t)rd_byte(r) << (4 + 8 * i);
	}
	assert_true(len <= (size_t)(r->end - start));
	return start + len;
}

static uint64_t rd_int(struct rd *r)
{
	uint8_t op = rd_byte(r);
	uint64_t v;

	switch (op) {
	case 0x00: return 0;
	case 0x01: return 1;
	case 0x0a: return rd_byte(r);
	case 0x0b: v = rd_byte(r); return v | (uint64_t)rd_byte(r) << 8;
	case 0x0c:
		assert_true(r->end - r->p >= 4);
		v = rd32(r->p);
		r->p += 4;
		return v;
	default:
		fail_msg("AML: 0x%02x is not an integer opcode", op);
	}
	return 0;
}

/*
 *   Name (\_S5, Package () { 5, 5, 0, 0 })
 *   Scope (\_SB) { Device (Cxxx) { Name (_HID, "ACPI0007") Name (_UID, i) } ... }
 */
static void check_dsdt_hotplug(struct rd *r, const struct fw_topology *topo);

static void check_dsdt(const struct image *im, const struct tables *t, const struct fw_topology *topo)
{
	unsigned int ncpus = topo->ncpus;
	const uint8_t *d = at(im, t->dsdt, t->dsdt_len);
	struct rd r = { d + 36, d + t->dsdt_len };
	const uint8_t *pkg_end, *scope_end, *dev_end;
	unsigned int i;

	rd_expect(&r, "\x08\\_S5_\x12", 7);
	pkg_end = rd_pkg(&r);
	assert_int_equal(rd_byte(&r), 4);
	assert_int_equal(rd_int(&r), ACPI_S5_SLP_TYP);
	assert_int_equal(rd_int(&r), ACPI_S5_SLP_TYP);
	assert_int_equal(rd_int(&r), 0);
	assert_int_equal(rd_int(&r), 0);
	assert_ptr_equal(r.p, pkg_end);

	rd_expect(&r, "\x10", 1);
	scope_end = rd_pkg(&r);
	rd_expect(&r, "\\_SB_", 5);
	if (topo->maxcpus > topo->ncpus) {
		check_dsdt_hotplug(&r, topo);
		return;
	}
	assert_ptr_equal(scope_end, r.end);   /* the scope ends the table */
	for (i = 0; r.p < scope_end; i++) {
		char name[5];

		snprintf(name, sizeof(name), "C%03X", i);
		rd_expect(&r, "\x5b\x82", 2);
		dev_end = rd_pkg(&r);
		rd_expect(&r, name, 4);
		rd_expect(&r, "\x08_HID\x0d" "ACPI0007", 15); /* with the NUL */
		rd_expect(&r, "\x08_UID", 5);
		assert_int_equal(rd_int(&r), i);
		assert_ptr_equal(r.p, dev_end);
	}
	assert_int_equal(i, ncpus);
}

/*
 * With CPU hotplug (QEMU's interface, core/acpi_cpu_hotplug.c):
 *   Scope (\_SB) { Device (CPUS) { _HID "ACPI0010", ..., Device (Cxxx) {...} per
 *   possible CPU } }  Scope (\_GPE) { Method (_E02) { \_SB.CPUS.CSCN () } }
 * The methods in between are checked by iasl (test_iasl_hotplug); here each
 * CPU's device: _HID, _UID, _STA calling CSTA (uid), _MAT (its MADT entry
 * with Enabled), _EJ0 (all but the boot CPU), _OST.
 */
static void check_dsdt_hotplug(struct rd *r, const struct fw_topology *topo)
{
	static const uint8_t gpe[] = "\x10\x1c\x5c_GPE\x14\x15_E02\x00\x5c\x2f\x03_SB_CPUSCSCN";
	const uint8_t *cpus_end, *dev_end, *p, *scope_end;
	struct rd d;
	unsigned int i;

	scope_end = r->end - (sizeof(gpe) - 1);
	assert_memory_equal(scope_end, gpe, sizeof(gpe) - 1);
	rd_expect(r, "\x5b\x82", 2);
	cpus_end = rd_pkg(r);
	assert_ptr_equal(cpus_end, scope_end);
	rd_expect(r, "CPUS\x08_HID\x0d" "ACPI0010", 18);
	p = r->p;
	for (i = 0; i < topo->maxcpus; i++) {
		char pat[32];
		const uint8_t *q;
		uint8_t mat[16];
		size_t n;

		snprintf(pat, sizeof(pat), "C%03X\x08_HID\x0d" "ACPI0007", i);
		q = memmem(p, (size_t)(cpus_end - p), pat, 4 + 1 + 4 + 1 + 9);
		if (!q)
			fail_msg("DSDT: no Device (C%03X) after the previous one", i);
		/* DeviceOp, then a PkgLength of 1 or 2 bytes, then the name */
		d.p = q[-3] == 0x5b && q[-2] == 0x82 ? q - 1 : q - 2;
		assert_true(d.p[-2] == 0x5b && d.p[-1] == 0x82);
		d.end = cpus_end;
		dev_end = rd_pkg(&d);
		assert_ptr_equal(d.p, q);
		d.end = dev_end;
		rd_expect(&d, pat, 4 + 1 + 4 + 1 + 9);
		rd_expect(&d, "\x08_UID", 5);
		assert_int_equal(rd_int(&d), i);
		rd_expect(&d, "\x14", 1);
		rd_pkg(&d);
		rd_expect(&d, "_STA\x00\xa4" "CSTA", 10);
		assert_int_equal(rd_int(&d), i);
		rd_expect(&d, "\x08_MAT\x11", 6);
		rd_pkg(&d);
		n = acpi_madt_cpu_entry(topo, i, 1, mat);
		assert_int_equal(rd_int(&d), n);
		rd_expect(&d, mat, n);
		assert_int_equal(mat[0], topo->apic_ids[i] >= 255 || i >= 255 ? 9 : 0);
		if (i != topo->boot_cpu) {
			rd_expect(&d, "\x14", 1);
			rd_pkg(&d);
			rd_expect(&d, "_EJ0\x01" "CEJM", 9);
			assert_int_equal(rd_int(&d), i);
		}
		rd_expect(&d, "\x14", 1);
		rd_pkg(&d);
		rd_expect(&d, "_OST\x03" "COST", 9);
		assert_int_equal(rd_int(&d), i);
		rd_expect(&d, "\x68\x69", 2);
		assert_ptr_equal(d.p, dev_end);
		p = dev_end;
	}
	assert_ptr_equal(p, cpus_end);    /* the last device ends the container */
}

/* ---- MADT (5.2.12) ---------------------------------------------------- */

struct madt_cpu {
	int x2;                    /* Local x2APIC structure (type 9) */
	uint32_t uid, apic_id;
	uint32_t flags;
};

static void check_madt(const struct image *im, const struct tables *t,
		       const struct fw_topology *topo, uint8_t ioapic_id)
{
	const uint8_t *m = at(im, t->madt, t->madt_len);
	unsigned int maxcpus = topo->maxcpus > topo->ncpus ? topo->maxcpus : topo->ncpus;
	struct madt_cpu *cpus = calloc(maxcpus, sizeof(*cpus));
	unsigned int ncpu = 0, nio = 0, niso = 0, nnmi = 0, nx2nmi = 0, i, v;
	int any_x2 = 0, after_cpus = 0;
	size_t off;

	assert_non_null(cpus);
	assert_int_equal(rd32(m + 36), 0xfee00000u);
	assert_int_equal(rd32(m + 40), 1);                /* PCAT_COMPAT */

	for (off = 44; off < t->madt_len; off += m[off + 1]) {
		const uint8_t *e = m + off;
		static const uint8_t len_of[11] = { 8, 12, 10, 0, 6, 0, 0, 0, 0, 16, 12 };

		assert_true(off + 2 <= t->madt_len);
		assert_true(e[0] < 11 && len_of[e[0]]);
		assert_int_equal(e[1], len_of[e[0]]);
		assert_true(off + e[1] <= t->madt_len);

		switch (e[0]) {
		case 0: /* 5.2.12.2 Processor Local APIC */
			assert_false(after_cpus);
			assert_true(ncpu < maxcpus);
			cpus[ncpu++] = (struct madt_cpu){ 0, e[2], e[3], rd32(e + 4) };
			break;
		case 9: /* 5.2.12.12 Processor Local x2APIC */
			assert_false(after_cpus);
			assert_true(ncpu < maxcpus);
			assert_int_equal(rd16(e + 2), 0);
			cpus[ncpu++] = (struct madt_cpu){ 1, rd32(e + 12), rd32(e + 4), rd32(e + 8) };
			any_x2 = 1;
			break;
		case 1: /* 5.2.12.3 I/O APIC */
			after_cpus = 1;
			nio++;
			assert_int_equal(e[2], ioapic_id);
			assert_int_equal(rd32(e + 4), 0xfec00000u);
			assert_int_equal(rd32(e + 8), 0);     /* GSI base */
			break;
		case 2: /* 5.2.12.5 Interrupt Source Override */
			after_cpus = 1;
			assert_int_equal(e[2], 0);            /* ISA */
			if (e[3] == 0) {
				assert_int_equal(rd32(e + 4), 2);
				assert_int_equal(rd16(e + 8), 0);
			} else if (e[3] == 9) {
				assert_int_equal(rd32(e + 4), 9);
				assert_int_equal(rd16(e + 8), 0x000d);
			} else {
				fail_msg("unexpected override of ISA IRQ %u", e[3]);
			}
			niso++;
			break;
		case 4: /* 5.2.12.7 Local APIC NMI */
			after_cpus = 1;
			nnmi++;
			assert_int_equal(e[2], 0xff);
			assert_int_equal(rd16(e + 3), 0x0005);
			assert_int_equal(e[5], 1);            /* LINT1 */
			break;
		case 10: /* 5.2.12.13 Local x2APIC NMI */
			after_cpus = 1;
			nx2nmi++;
			assert_int_equal(rd16(e + 2), 0x0005);
			assert_int_equal(rd32(e + 4), 0xffffffffu);
			assert_int_equal(e[8], 1);
			break;
		}
	}
	assert_int_equal(off, t->madt_len);
	assert_int_equal(ncpu, maxcpus);
	assert_int_equal(nio, 1);
	assert_int_equal(niso, 2);
	assert_int_equal(nnmi, 1);
	assert_int_equal(nx2nmi, any_x2 ? 1 : 0);

	/* 5.2.12.1: BSP first, then the others in vCPU order. */
	for (i = 0; i < ncpu; i++) {
		v = i == 0 ? topo->boot_cpu : (i <= topo->boot_cpu ? i - 1 : i);
		assert_int_equal(cpus[i].uid, v);
		assert_int_equal(cpus[i].apic_id, topo->apic_ids[v]);
		/* x2APIC exactly when the ID or the UID does not fit 8 bits */
		assert_int_equal(cpus[i].x2, topo->apic_ids[v] >= 255 || v >= 255);
		/* Present: Enabled (bit 0); possible: Online Capable (bit 1,
		 * ACPI 6.3 Table 5-47), never both. */
		assert_int_equal(cpus[i].flags, v < topo->ncpus ? 1 : 2);
	}
	free(cpus);
}

/* ---- building ----------------------------------------------------------- */

/* Builds into a poisoned 64 KiB buffer, checks everything, returns size. */
static long build_and_check(const struct fw_topology *t, uint64_t gpa, uint8_t *buf)
{
	struct image im;
	struct tables tb = { 0 };
	char err[256] = "";
	long n;
	size_t i;

	memset(buf, 0xa5, BUFSZ);
	n = acpi_build(t, buf, BUFSZ, gpa, err, sizeof(err));
	if (n < 0)
		fail_msg("acpi_build failed: %s", err);
	assert_true(n > 0 && n <= (long)BUFSZ);
	for (i = (size_t)n; i < BUFSZ; i++)
		assert_int_equal(buf[i], 0xa5);   /* nothing written past the end */

	im = (struct image){ buf, (size_t)n, gpa };
	walk(&im, &tb);
	check_dsdt(&im, &tb, t);
	check_madt(&im, &tb, t, t->ioapic_id);
	return n;
}

static void check_ncpus(unsigned int n, unsigned int boot)
{
	static uint8_t buf[BUFSZ];
	struct topo tp;

	make_topo(&tp, n, boot, 0, 1);
	build_and_check(&tp.t, GPA, buf);
}

static void test_1_cpu(void **state) { check_ncpus(1, 0); }
static void test_2_cpus(void **state) { check_ncpus(2, 0); check_ncpus(2, 1); }
static void test_8_cpus(void **state) { check_ncpus(8, 0); check_ncpus(8, 5); }
static void test_64_cpus(void **state) { check_ncpus(64, 63); }
/* 255 vCPUs: the last one has APIC ID 254, still a Local APIC entry. */
static void test_255_cpus(void **state) { check_ncpus(255, 0); check_ncpus(255, 254); }
/* 300 vCPUs: IDs 255..299 need x2APIC entries, and a BSP among them
 * must still come first. */
static void test_300_cpus(void **state) { check_ncpus(300, 0); check_ncpus(300, 299); }

static void test_1024_cpus_fit(void **state)
{
	static uint8_t buf[BUFSZ];
	struct topo tp;
	long n;

	check_ncpus(FW_MAX_CPUS, 17);
	/* The largest image: every entry an x2APIC one, 3-byte _UIDs. */
	make_topo(&tp, FW_MAX_CPUS, 0, 0x1000, 1);
	n = build_and_check(&tp.t, GPA, buf);
	assert_true(n <= (long)ACPI_MAX_SIZE);
}

static void test_sparse_apic_ids(void **state)
{
	static uint8_t buf[BUFSZ];
	struct topo tp;

	/* Odd IDs, as with two threads per core and one hidden: 1, 3, ... 399;
	 * the first 127 fit a Local APIC entry, the rest need x2APIC. */
	make_topo(&tp, 200, 3, 1, 2);
	build_and_check(&tp.t, GPA, buf);
}

static void test_small_id_large_uid(void **state)
{
	static uint8_t buf[BUFSZ];
	struct topo tp;
	unsigned int i;

	/* vCPU 299 has APIC ID 0: its UID does not fit a Local APIC entry. */
	make_topo(&tp, 300, 0, 0, 1);
	for (i = 0; i < 300; i++)
		tp.ids[i] = 299 - i;
	build_and_check(&tp.t, GPA, buf);
}

static void test_other_gpa(void **state)
{
	static uint8_t buf[BUFSZ];
	struct topo tp;

	/* 16- but not 64-byte aligned: the FACS must still be 64-aligned. */
	make_topo(&tp, 4, 0, 0, 1);
	build_and_check(&tp.t, 0x100010, buf);
	build_and_check(&tp.t, 0x100030, buf);
}

static void test_deterministic(void **state)
{
	static uint8_t a[BUFSZ], b[BUFSZ];
	struct topo tp;
	long na, nb;

	make_topo(&tp, 300, 5, 0, 1);
	na = build_and_check(&tp.t, GPA, a);
	nb = build_and_check(&tp.t, GPA, b);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, (size_t)na);
}

static void test_buffer_too_small(void **state)
{
	static const unsigned int counts[] = { 1, 8, 300 };
	static uint8_t full[BUFSZ];
	struct topo tp;
	char err[256];
	unsigned int c;
	size_t need, size;

	for (c = 0; c < 3; c++) {
		make_topo(&tp, counts[c], 0, 0, 1);
		need = (size_t)build_and_check(&tp.t, GPA, full);

		/* Every size below what is needed fails, without writing past
		 * the (exactly sized, so ASan sees overruns) buffer. */
		for (size = 0; size < need; size += (size < 64 || size + 64 > need) ? 1 : 61) {
			uint8_t *buf = malloc(size ? size : 1);

			assert_non_null(buf);
			err[0] = 0;
			assert_int_equal(acpi_build(&tp.t, buf, size, GPA, err, sizeof(err)), -1);
			assert_non_null(strstr(err, "need"));
			free(buf);
		}
		/* Exactly enough works and gives the same bytes. */
		{
			uint8_t *buf = malloc(need);

			assert_non_null(buf);
			assert_int_equal(acpi_build(&tp.t, buf, need, GPA, err, sizeof(err)),
					 (long)need);
			assert_memory_equal(buf, full, need);
			free(buf);
		}
	}
	/* No buffer at all. */
	assert_int_equal(acpi_build(&tp.t, NULL, 0, GPA, err, sizeof(err)), -1);
}

/* present of max vCPUs, the rest hot-pluggable; APIC IDs first, first + stride, ... */
static void make_hotplug(struct topo *tp, unsigned int present, unsigned int max,
			 unsigned int boot, uint32_t first, uint32_t stride)
{
	make_topo(tp, max, boot, first, stride);
	tp->t.ncpus = present;
	tp->t.maxcpus = max;
}

static void test_hotplug_tables(void **state)
{
	static uint8_t buf[BUFSZ];
	struct topo tp;

	make_hotplug(&tp, 1, 2, 0, 0, 1);
	build_and_check(&tp.t, GPA, buf);
	make_hotplug(&tp, 8, 16, 3, 0, 1);
	build_and_check(&tp.t, GPA, buf);
	/* gaps in the IDs (3 cores per socket), and x2APIC entries from 255 on */
	make_hotplug(&tp, 4, 300, 0, 0, 2);
	build_and_check(&tp.t, GPA, buf);
	/* maxcpus = ncpus is no hotplug: the plain DSDT */
	make_hotplug(&tp, 8, 8, 0, 0, 1);
	build_and_check(&tp.t, GPA, buf);
}

/* The hotplug DSDT takes ~120 bytes per possible CPU: 1024 do not fit the
 * 64 KiB ACPI area, and the error says which setting is too large. */
static void test_hotplug_too_large(void **state)
{
	static uint8_t buf[BUFSZ];
	struct topo tp;
	char err[256] = "";
	long n;

	make_hotplug(&tp, 2, FW_MAX_CPUS, 0, 0, 1);
	assert_int_equal(acpi_build(&tp.t, buf, BUFSZ, GPA, err, sizeof(err)), -1);
	if (!strstr(err, "maxcpus=1024") || !strstr(err, "hotplug"))
		fail_msg("unexpected error: %s", err);
	/* ...and about 400 do */
	make_hotplug(&tp, 2, 400, 0, 0, 1);
	n = build_and_check(&tp.t, GPA, buf);
	assert_true(n <= (long)BUFSZ);
}

static void test_hotplug_bad_maxcpus(void **state)
{
	static uint8_t buf[BUFSZ];
	struct topo tp;
	char err[256] = "";

	make_hotplug(&tp, 4, 8, 0, 0, 1);
	tp.t.maxcpus = 3;
	assert_int_equal(acpi_build(&tp.t, buf, BUFSZ, GPA, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "maxcpus 3"));
	/* APIC IDs of the possible CPUs must be unique too */
	make_hotplug(&tp, 4, 8, 0, 0, 1);
	tp.ids[7] = 2;
	assert_int_equal(acpi_build(&tp.t, buf, BUFSZ, GPA, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "same APIC ID"));
}

static void expect_error(const struct fw_topology *t, uint64_t gpa, const char *what)
{
	static uint8_t buf[BUFSZ];
	char err[256] = "";

	assert_int_equal(acpi_build(t, buf, BUFSZ, gpa, err, sizeof(err)), -1);
	if (!strstr(err, what))
		fail_msg("error \"%s\" does not mention \"%s\"", err, what);
	/* A NULL or empty err buffer is allowed. */
	assert_int_equal(acpi_build(t, buf, BUFSZ, gpa, NULL, 0), -1);
	assert_int_equal(acpi_build(t, buf, BUFSZ, gpa, err, 0), -1);
}

static void test_bad_input(void **state)
{
	struct topo tp;

	make_topo(&tp, 4, 0, 0, 1);
	tp.t.ncpus = 0;
	expect_error(&tp.t, GPA, "vCPUs");
	tp.t.ncpus = FW_MAX_CPUS + 1;
	expect_error(&tp.t, GPA, "vCPUs");
	tp.t.ncpus = 4;
	tp.t.boot_cpu = 4;
	expect_error(&tp.t, GPA, "boot");
	tp.t.boot_cpu = 0;
	tp.ids[3] = 1;
	expect_error(&tp.t, GPA, "same APIC ID");
	tp.ids[3] = 0xffffffffu;
	expect_error(&tp.t, GPA, "broadcast");
	tp.ids[3] = 3;
	expect_error(&tp.t, GPA + 8, "aligned");
	expect_error(&tp.t, 0xffffff00ull, "4 GiB");
	tp.t.apic_ids = NULL;
	expect_error(&tp.t, GPA, "topology");
	expect_error(NULL, GPA, "topology");
}

/* ---- iasl -d ------------------------------------------------------------ */

struct tmpdir {
	char path[256];
};

static int tmpdir_setup(void **state)
{
	struct tmpdir *d = calloc(1, sizeof(*d));
	const char *base = getenv("TMPDIR");

	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "%s/mpvm-acpi-XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(d->path)) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static void tmpdir_empty(const char *path)
{
	char file[512];
	struct dirent *e;
	DIR *dir = opendir(path);

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		unlink(file);
	}
	closedir(dir);
}

static int tmpdir_teardown(void **state)
{
	struct tmpdir *d = *state;

	tmpdir_empty(d->path);
	rmdir(d->path);
	free(d);
	return 0;
}

static void write_file(const char *dir, const char *name, const void *p, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The whole of dir/name as a NUL-terminated string (caller frees). */
static char *read_file(const char *dir, const char *name)
{
	char path[512];
	FILE *f;
	char *s;
	long len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("iasl produced no %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	s = malloc((size_t)len + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)len, f), (size_t)len);
	s[len] = 0;
	fclose(f);
	return s;
}

/*
 * Runs `iasl -d files...` in dir with its output in dir/iasl.log. iasl
 * exits 0 even after warnings, so the caller also reads the log.
 */
static void run_iasl_with(const char *dir, char *flag, char *const files[])
{
	char *argv[16] = { "iasl", flag };
	int i, status, fd;
	pid_t pid;

	for (i = 0; files[i]; i++)
		argv[2 + i] = files[i];
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (chdir(dir) || (fd = open("iasl.log", O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp("iasl", argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		fail_msg("cannot run iasl: is acpica-tools installed and iasl on PATH?");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *log = read_file(dir, "iasl.log");

		print_error("%s\n", log);
		free(log);
		fail_msg("iasl %s failed (status 0x%x)", flag, status);
	}
}

static void run_iasl(const char *dir, char *const files[])
{
	run_iasl_with(dir, "-d", files);
}

/* Fails if iasl's text says anything is wrong (bad checksum, bad AML...). */
static void check_clean(const char *dir, const char *name)
{
	static const char *const bad[] = {
		"Error", "ERROR", "error", "Warning", "WARNING", "warning",
		"Invalid", "invalid", "Incorrect", "incorrect", "Unknown", "****",
	};
	char *s = read_file(dir, name);
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strstr(s, bad[i])) {
			print_error("%s\n", s);
			free(s);
			fail_msg("iasl output %s contains \"%s\"", name, bad[i]);
		}
	free(s);
}

/*
 * apic.dsl lists processor entries as
 *   [02Fh 0047   1]                Local Apic ID : 01
 *   [828h 2088   4]          Processor x2Apic ID : 000000FF
 * in table order: one per vCPU, BSP first.
 */
static void check_apic_dsl(const char *dir, const struct fw_topology *t)
{
	static const char lapic[] = "Local Apic ID : ", x2apic[] = "Processor x2Apic ID : ";
	char *s = read_file(dir, "apic.dsl"), *p = s, *l, *x;
	unsigned int i = 0, v;
	int x2;

	for (;;) {
		l = strstr(p, lapic);
		x = strstr(p, x2apic);
		if (!l && !x)
			break;
		x2 = !l || (x && x < l);
		p = x2 ? x + strlen(x2apic) : l + strlen(lapic);

		assert_true(i < t->ncpus);
		v = i == 0 ? t->boot_cpu : (i <= t->boot_cpu ? i - 1 : i);
		assert_int_equal(strtoul(p, NULL, 16), t->apic_ids[v]);
		assert_int_equal(x2, t->apic_ids[v] >= 255 || v >= 255);
		i++;
	}
	assert_int_equal(i, t->ncpus);
	/* The I/O APIC and both overrides are there too. */
	assert_non_null(strstr(s, "I/O Apic ID : FE"));
	assert_non_null(strstr(s, "Address : FEC00000"));
	assert_non_null(strstr(s, "Local Apic Address : FEE00000"));
	free(s);
}

/*
 * dsdt.dsl has, per vCPU i, in order:
 *   Device (C00I)
 *   {
 *       Name (_HID, "ACPI0007" (and a comment))  // _HID: Hardware ID
 *       Name (_UID, 0x0I)  // _UID: Unique ID
 * with _UID written Zero, One or 0x.. by the disassembler.
 */
static void check_dsdt_dsl(const char *dir, unsigned int ncpus)
{
	char *s = read_file(dir, "dsdt.dsl"), *p = s, dev[32];
	unsigned int i;

	assert_non_null(strstr(s, "Name (\\_S5, Package (0x04)"));
	assert_non_null(strstr(s, "Scope (\\_SB)"));
	for (i = 0; i < ncpus; i++) {
		unsigned long uid;

		snprintf(dev, sizeof(dev), "Device (C%03X)", i);
		p = strstr(p, dev);
		if (!p)
			fail_msg("dsdt.dsl: no %s (in order)", dev);
		p = strstr(p, "Name (_HID, \"ACPI0007\"");
		assert_non_null(p);
		p = strstr(p, "Name (_UID, ");
		assert_non_null(p);
		p += strlen("Name (_UID, ");
		if (!strncmp(p, "Zero", 4))
			uid = 0;
		else if (!strncmp(p, "One", 3))
			uid = 1;
		else
			uid = strtoul(p, NULL, 16);
		assert_int_equal(uid, i);
	}
	/* ...and no more ACPI0007 devices than vCPUs. */
	assert_null(strstr(p, "ACPI0007"));
	free(s);
}

static void iasl_one(const char *dir, const struct fw_topology *t)
{
	static uint8_t buf[BUFSZ];
	static char *const files[] = {
		"rsdt.dat", "xsdt.dat", "facp.dat", "facs.dat", "dsdt.dat", "apic.dat", NULL,
	};
	struct image im;
	struct tables tb = { 0 };
	long n;
	int i;

	tmpdir_empty(dir);
	n = build_and_check(t, GPA, buf);
	im = (struct image){ buf, (size_t)n, GPA };
	walk(&im, &tb);

	/* iasl cannot disassemble a bare RSDP (no SDT header), so rsdp.dat is
	 * written for completeness but only checked by walk() above. */
	write_file(dir, "rsdp.dat", at(&im, GPA, 36), 36);
	write_file(dir, "rsdt.dat", at(&im, tb.rsdt, 44), 44);
	write_file(dir, "xsdt.dat", at(&im, tb.xsdt, 52), 52);
	write_file(dir, "facp.dat", at(&im, tb.fadt, 276), 276);
	write_file(dir, "facs.dat", at(&im, tb.facs, 64), 64);
	write_file(dir, "dsdt.dat", at(&im, tb.dsdt, tb.dsdt_len), tb.dsdt_len);
	write_file(dir, "apic.dat", at(&im, tb.madt, tb.madt_len), tb.madt_len);

	run_iasl(dir, files);
	check_clean(dir, "iasl.log");
	for (i = 0; files[i]; i++) {
		char dsl[16];

		snprintf(dsl, sizeof(dsl), "%.4s.dsl", files[i]);
		check_clean(dir, dsl);
	}
	check_apic_dsl(dir, t);
	check_dsdt_dsl(dir, t->ncpus);
}

static void test_iasl(void **state)
{
	const struct tmpdir *d = *state;
	struct topo tp;

	make_topo(&tp, 1, 0, 0, 1);
	iasl_one(d->path, &tp.t);
	make_topo(&tp, 8, 3, 0, 1);
	iasl_one(d->path, &tp.t);
	make_topo(&tp, 300, 270, 0, 1);
	iasl_one(d->path, &tp.t);
	make_topo(&tp, FW_MAX_CPUS, 0, 0x1000, 1);
	iasl_one(d->path, &tp.t);
}

static uint8_t *read_bin(const char *dir, const char *name, size_t *len)
{
	char path[512];
	uint8_t *p;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("iasl produced no %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	p = malloc((size_t)n);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

/*
 * The hotplug DSDT: iasl disassembles it cleanly into QEMU's interface
 * (the names and methods an OS looks for), then compiles its own
 * disassembly back, without errors, into the same AML byte for byte (the
 * header aside: iasl writes its own creator and checksum).
 */
static void iasl_hotplug_one(const char *dir, const struct fw_topology *t)
{
	static uint8_t buf[BUFSZ];
	static char *const dis[] = { "dsdt.dat", "apic.dat", NULL };
	static char *const comp[] = { "dsdt.dsl", NULL };
	static const char *const want[] = {
		"Device (CPUS)", "Name (_HID, \"ACPI0010\"", "Name (_CID, EisaId (\"PNP0A05\")",
		"Mutex (CPLK, 0x00)", "OperationRegion (PRST, SystemIO, 0x0CD8, 0x0C)",
		"Field (PRST, ByteAcc, NoLock, WriteAsZeros)", "Field (PRST, DWordAcc, NoLock, Preserve)",
		"CPEN,   1", "CINS,   1", "CRMV,   1", "CEJ0,   1", "CEJF,   1", "CCMD,   8",
		"CSEL,   32", "CDAT,   32",
		"Method (CSTA, 1, Serialized)", "Method (CEJM, 1, Serialized)",
		"Method (COST, 3, Serialized)", "Method (CTFY, 2, NotSerialized)",
		"Method (CSCN, 0, Serialized)", "Acquire (CPLK, 0xFFFF)", "Release (CPLK)",
		"Notify (C001, Arg1)", "CTFY (CDAT, One)", "CTFY (CDAT, 0x03)",
		"Scope (\\_GPE)", "Method (_E02, 0, NotSerialized)", "\\_SB.CPUS.CSCN ()",
		"Method (_STA, 0, NotSerialized)", "Return (CSTA (One))", "Name (_MAT, Buffer (",
		"CEJM (One)", "Method (_OST, 3, NotSerialized)", "COST (One, Arg0, Arg1)",
	};
	struct image im;
	struct tables tb = { 0 };
	uint8_t *aml;
	size_t len, i;
	char *dsl, *boot_dev, *next;
	long n;

	tmpdir_empty(dir);
	n = build_and_check(t, GPA, buf);
	im = (struct image){ buf, (size_t)n, GPA };
	walk(&im, &tb);
	write_file(dir, "dsdt.dat", at(&im, tb.dsdt, tb.dsdt_len), tb.dsdt_len);
	write_file(dir, "apic.dat", at(&im, tb.madt, tb.madt_len), tb.madt_len);
	run_iasl(dir, dis);
	check_clean(dir, "iasl.log");
	check_clean(dir, "dsdt.dsl");
	check_clean(dir, "apic.dsl");

	dsl = read_file(dir, "dsdt.dsl");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(dsl, want[i]))
			fail_msg("dsdt.dsl: no \"%s\"", want[i]);
	/* no _EJ0 in the boot CPU's device */
	{
		char dev[32];

		snprintf(dev, sizeof(dev), "Device (C%03X)", t->boot_cpu);
		boot_dev = strstr(dsl, dev);
		assert_non_null(boot_dev);
		next = strstr(boot_dev + 1, "Device (C");
		if (next)
			*next = 0;
		assert_null(strstr(boot_dev, "_EJ0"));
	}
	free(dsl);
	dsl = read_file(dir, "apic.dsl");
	assert_non_null(strstr(dsl, "Online Capable"));
	free(dsl);

	run_iasl_with(dir, "-oa", comp);  /* compile, no optimizations: dsdt.aml */
	dsl = read_file(dir, "iasl.log");
	if (!strstr(dsl, "Compilation successful. 0 Errors, 0 Warnings, 0 Remarks"))
		fail_msg("iasl -oa dsdt.dsl:\n%s", dsl);
	free(dsl);
	aml = read_bin(dir, "dsdt.aml", &len);
	assert_int_equal(len, tb.dsdt_len);
	assert_memory_equal(aml + 36, at(&im, tb.dsdt + 36, len - 36), len - 36);
	free(aml);
}

static void test_iasl_hotplug(void **state)
{
	const struct tmpdir *d = *state;
	struct topo tp;

	make_hotplug(&tp, 2, 4, 0, 0, 1);
	iasl_hotplug_one(d->path, &tp.t);
	make_hotplug(&tp, 8, 300, 5, 0, 1);
	iasl_hotplug_one(d->path, &tp.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_1_cpu),
		cmocka_unit_test(test_2_cpus),
		cmocka_unit_test(test_8_cpus),
		cmocka_unit_test(test_64_cpus),
		cmocka_unit_test(test_255_cpus),
		cmocka_unit_test(test_300_cpus),
		cmocka_unit_test(test_1024_cpus_fit),
		cmocka_unit_test(test_sparse_apic_ids),
		cmocka_unit_test(test_small_id_large_uid),
		cmocka_unit_test(test_other_gpa),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_buffer_too_small),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_hotplug_tables),
		cmocka_unit_test(test_hotplug_too_large),
		cmocka_unit_test(test_hotplug_bad_maxcpus),
		cmocka_unit_test_setup_teardown(test_iasl, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_iasl_hotplug, tmpdir_setup, tmpdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
