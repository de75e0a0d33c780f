/*
 * Unit tests for src/core/mptable.c: the MP floating pointer structure and
 * configuration table are parsed back from raw bytes with the offsets of
 * the Intel MultiProcessor Specification 1.4, chapter 4.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/mptable.h"
#include "fw_topo.h"

#define GPA   0xf0000ull
#define BUFSZ 0x10000u
#define SIG   TEST_CPU_SIGNATURE
#define FEAT  TEST_CPU_FEATURES
#define IOAPIC_ID TEST_IOAPIC_ID

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/*
 * Parses buf[0..len) as placed at gpa and checks every field and entry.
 */
static void check_mptable(const uint8_t *buf, size_t len, uint64_t gpa,
			  const struct fw_topology *t)
{
	const uint8_t *f = buf, *h, *e;
	unsigned int count, i, ncpu = 0, nbus = 0, nio = 0, nint = 0, nlint = 0;
	unsigned int last_type = 0, bsps = 0;
	int irq_seen[16] = { 0 };
	uint16_t base_len;
	uint64_t cfg;

	/* 4.1, table 4-1: the floating pointer structure */
	assert_true(len >= 16);
	assert_int_equal(gpa % 16, 0);
	assert_memory_equal(f, "_MP_", 4);
	assert_int_equal(f[8], 1);                 /* length in paragraphs */
	assert_int_equal(f[9], 4);                 /* spec rev 1.4 */
	assert_int_equal(sum8(f, 16), 0);
	assert_int_equal(f[11], 0);                /* config table present */
	assert_int_equal(f[12], 0);                /* no IMCR: virtual wire */
	assert_int_equal(f[13] | f[14] | f[15], 0);
	cfg = rd32(f + 4);
	assert_true(cfg >= gpa + 16);
	assert_true(cfg - gpa + 44 <= len);

	/* 4.2, table 4-2: the configuration table header */
	h = buf + (cfg - gpa);
	assert_memory_equal(h, "PCMP", 4);
	base_len = rd16(h + 4);
	assert_int_equal(cfg - gpa + base_len, len);   /* nothing else follows */
	assert_int_equal(h[6], 4);
	assert_int_equal(sum8(h, base_len), 0);
	assert_memory_equal(h + 8, "MPVM    ", 8);
	assert_memory_equal(h + 16, "MPVM VMM    ", 12);
	assert_int_equal(rd32(h + 28), 0);         /* no OEM table */
	assert_int_equal(rd16(h + 32), 0);
	count = rd16(h + 34);
	assert_int_equal(rd32(h + 36), 0xfee00000u);
	assert_int_equal(rd16(h + 40), 0);         /* no extended entries */
	assert_int_equal(h[42], 0);                /* ...whose checksum is 0 */

	/* 4.3: entries, sorted by type (table 4-3) */
	e = h + 44;
	for (i = 0; i < count; i++) {
		unsigned int size = e[0] == 0 ? 20 : 8;

		assert_true(e[0] <= 4);
		assert_true(e[0] >= last_type);
		last_type = e[0];
		assert_true(e + size <= h + base_len);
		switch (e[0]) {
		case 0: /* 4.3.1, table 4-4: processors in vCPU order */
			assert_true(ncpu < t->ncpus);
			assert_int_equal(e[1], t->apic_ids[ncpu]);
			assert_int_equal(e[2], 0x14);
			assert_int_equal(e[3] & 1, 1);                 /* EN */
			assert_int_equal(!!(e[3] & 2), ncpu == t->boot_cpu); /* BP */
			assert_int_equal(e[3] & ~3, 0);
			bsps += !!(e[3] & 2);
			assert_int_equal(rd32(e + 4), SIG);
			assert_int_equal(rd32(e + 8), FEAT);
			assert_int_equal(rd32(e + 12) | rd32(e + 16), 0);
			ncpu++;
			break;
		case 1: /* 4.3.2, table 4-7 */
			nbus++;
			assert_int_equal(e[1], 0);
			assert_memory_equal(e + 2, "ISA   ", 6);
			break;
		case 2: /* 4.3.3, table 4-9 */
			nio++;
			assert_int_equal(e[1], IOAPIC_ID);
			assert_int_equal(e[2], 0x11);
			assert_int_equal(e[3], 1);                     /* EN */
			assert_int_equal(rd32(e + 4), 0xfec00000u);
			break;
		case 3: /* 4.3.4, table 4-10: ISA IRQ -> I/O APIC pin */
			nint++;
			assert_int_equal(e[1], 0);                     /* INT */
			assert_int_equal(e[4], 0);                     /* ISA bus */
			assert_true(e[5] < 16 && e[5] != 2);
			assert_false(irq_seen[e[5]]);
			irq_seen[e[5]] = 1;
			assert_int_equal(e[6], IOAPIC_ID);
			assert_int_equal(e[7], e[5] == 0 ? 2 : e[5]);
			/* SCI level/high as in the MADT; the rest as ISA says */
			assert_int_equal(rd16(e + 2), e[5] == 9 ? 0x000d : 0);
			break;
		case 4: /* 4.3.5, table 4-12: ExtINT on LINT0, NMI on LINT1 */
			assert_int_equal(e[1], nlint == 0 ? 3 : 1);
			assert_int_equal(rd16(e + 2), 0);
			assert_int_equal(e[4], 0);
			assert_int_equal(e[5], 0);
			assert_int_equal(e[6], 0xff);                  /* all LAPICs */
			assert_int_equal(e[7], nlint);
			nlint++;
			break;
		}
		e += size;
	}
	assert_ptr_equal(e, h + base_len);
	assert_int_equal(ncpu, t->ncpus);
	assert_int_equal(bsps, 1);
	assert_int_equal(nbus, 1);
	assert_int_equal(nio, 1);
	assert_int_equal(nint, 15);
	assert_int_equal(nlint, 2);
}

static long build_and_check(const struct fw_topology *t, uint64_t gpa, uint8_t *buf)
{
	char err[256] = "";
	long n;
	size_t i;

	memset(buf, 0xa5, BUFSZ);
	n = mptable_build(t, buf, BUFSZ, gpa, err, sizeof(err));
	if (n < 0)
		fail_msg("mptable_build failed: %s", err);
	assert_true(n > 0 && n <= (long)BUFSZ);
	for (i = (size_t)n; i < BUFSZ; i++)
		assert_int_equal(buf[i], 0xa5);   /* nothing written past the end */
	check_mptable(buf, (size_t)n, gpa, t);
	return n;
}

static void check_ncpus(unsigned int n, unsigned int boot)
{
	static uint8_t buf[BUFSZ];
	struct topo tp;
	long len;

	make_topo(&tp, n, boot, 0, 1);
	len = build_and_check(&tp.t, GPA, buf);
	/* 16 + 44 + 20 per CPU + bus, I/O APIC, 15 + 2 interrupt entries */
	assert_int_equal(len, 16 + 44 + 20 * n + 8 * 19);
}

static void test_1_cpu(void **state) { check_ncpus(1, 0); }
static void test_2_cpus(void **state) { check_ncpus(2, 0); check_ncpus(2, 1); }
static void test_8_cpus(void **state) { check_ncpus(8, 0); check_ncpus(8, 6); }
static void test_64_cpus(void **state) { check_ncpus(64, 31); }
/* IDs 0..254: the most an MP table can describe. */
static void test_255_cpus(void **state) { check_ncpus(255, 0); check_ncpus(255, 254); }

static void test_sparse_apic_ids(void **state)
{
	static uint8_t buf[BUFSZ];
	struct topo tp;

	make_topo(&tp, 100, 7, 2, 2);   /* 2, 4, ... 200 */
	build_and_check(&tp.t, GPA, buf);
	make_topo(&tp, 1, 0, 254, 1);   /* a lone CPU with the top ID */
	build_and_check(&tp.t, GPA, buf);
}

static void test_other_gpa(void **state)
{
	static uint8_t buf[BUFSZ];
	struct topo tp;

	make_topo(&tp, 4, 0, 0, 1);
	build_and_check(&tp.t, 0x9fc00, buf);   /* e.g. in the EBDA */
}

static void expect_error(const struct fw_topology *t, uint64_t gpa, const char *what)
{
	static uint8_t buf[BUFSZ];
	char err[256] = "";

	assert_int_equal(mptable_build(t, buf, BUFSZ, gpa, err, sizeof(err)), -1);
	if (!strstr(err, what))
		fail_msg("error \"%s\" does not mention \"%s\"", err, what);
	assert_int_equal(mptable_build(t, buf, BUFSZ, gpa, NULL, 0), -1);
}

/* An APIC ID above 254 cannot be put in an 8-bit MP table field. */
static void test_apic_id_too_big(void **state)
{
	struct topo tp;

	make_topo(&tp, 300, 0, 0, 1);
	expect_error(&tp.t, GPA, "APIC ID 255");
	make_topo(&tp, 256, 0, 0, 1);
	expect_error(&tp.t, GPA, "APIC ID 255");
	make_topo(&tp, 4, 0, 0, 1);
	tp.ids[2] = 1000;
	expect_error(&tp.t, GPA, "vCPU 2 has APIC ID 1000");
	tp.ids[2] = 255;
	expect_error(&tp.t, GPA, "0-254");
}

static void test_bad_input(void **state)
{
	struct topo tp;

	make_topo(&tp, 4, 0, 0, 1);
	tp.t.boot_cpu = 4;
	expect_error(&tp.t, GPA, "boot");
	tp.t.boot_cpu = 0;
	tp.ids[1] = 0;
	expect_error(&tp.t, GPA, "same APIC ID");
	tp.ids[1] = 1;
	tp.t.ncpus = 0;
	expect_error(&tp.t, GPA, "vCPUs");
	tp.t.ncpus = 4;
	expect_error(&tp.t, GPA + 4, "aligned");
	expect_error(&tp.t, 0xffffff00ull, "4 GiB");
	expect_error(NULL, GPA, "topology");
}

static void test_buffer_too_small(void **state)
{
	static uint8_t full[BUFSZ];
	struct topo tp;
	char err[256];
	size_t need, size;
	uint8_t *buf;

	make_topo(&tp, 16, 3, 0, 1);
	need = (size_t)build_and_check(&tp.t, GPA, full);
	/* Every smaller, exactly sized buffer fails without an overrun. */
	for (size = 0; size < need; size++) {
		buf = malloc(size ? size : 1);
		assert_non_null(buf);
		err[0] = 0;
		assert_int_equal(mptable_build(&tp.t, buf, size, GPA, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "need"));
		free(buf);
	}
	buf = malloc(need);
	assert_non_null(buf);
	assert_int_equal(mptable_build(&tp.t, buf, need, GPA, err, sizeof(err)), (long)need);
	assert_memory_equal(buf, full, need);
	free(buf);
	assert_int_equal(mptable_build(&tp.t, NULL, 0, GPA, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_1_cpu),
		cmocka_unit_test(test_2_cpus),
		cmocka_unit_test(test_8_cpus),
		cmocka_unit_test(test_64_cpus),
		cmocka_unit_test(test_255_cpus),
		cmocka_unit_test(test_sparse_apic_ids),
		cmocka_unit_test(test_other_gpa),
		cmocka_unit_test(test_apic_id_too_big),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_buffer_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
