/*
 * Unit tests for src/core/aml.c, against the encodings of ACPI 6.3
 * chapter 20 written out by hand: NameStrings (NameSeg, DualNamePath,
 * MultiNamePath, the root prefix, '_' padding), the shortest integer
 * encodings, strings, PkgLength at the boundaries of its 1-, 2- and
 * 3-byte forms, Method flags, Buffer, and the sizing run (cap 0).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/aml.h"

static uint8_t buf[1 << 17];

static struct aml fresh(void)
{
	memset(buf, 0xa5, sizeof(buf));
	return (struct aml){ buf, sizeof(buf), 0 };
}

#define EXPECT(a, bytes) do { \
	assert_int_equal((a)->len, sizeof(bytes) - 1); \
	assert_memory_equal(buf, bytes, sizeof(bytes) - 1); \
} while (0)

static void names(void **state)
{
	struct aml a;

	a = fresh(); aml_name(&a, "CPUS"); EXPECT(&a, "CPUS");
	a = fresh(); aml_name(&a, "_S5"); EXPECT(&a, "_S5_");
	a = fresh(); aml_name(&a, "\\_SB"); EXPECT(&a, "\\_SB_");
	a = fresh(); aml_name(&a, "\\_SB.CPUS"); EXPECT(&a, "\\\x2e_SB_CPUS");
	a = fresh(); aml_name(&a, "\\_SB.CPUS.CSCN"); EXPECT(&a, "\\\x2f\x03_SB_CPUSCSCN");
	a = fresh(); aml_name(&a, "A.B"); EXPECT(&a, "\x2e" "A___B___");
}

static void integers_and_strings(void **state)
{
	struct aml a;

	a = fresh(); aml_integer(&a, 0); EXPECT(&a, "\x00");
	a = fresh(); aml_integer(&a, 1); EXPECT(&a, "\x01");
	a = fresh(); aml_integer(&a, 2); EXPECT(&a, "\x0a\x02");
	a = fresh(); aml_integer(&a, 0xff); EXPECT(&a, "\x0a\xff");
	a = fresh(); aml_integer(&a, 0x100); EXPECT(&a, "\x0b\x00\x01");
	a = fresh(); aml_integer(&a, 0x0cd8); EXPECT(&a, "\x0b\xd8\x0c");
	a = fresh(); aml_integer(&a, 0x10000); EXPECT(&a, "\x0c\x00\x00\x01\x00");
	a = fresh(); aml_integer(&a, 0x050ad041u); EXPECT(&a, "\x0c\x41\xd0\x0a\x05");
	a = fresh(); aml_string(&a, "ACPI0007"); EXPECT(&a, "\x0d" "ACPI0007\x00");
	a = fresh(); aml_name_int(&a, "_UID", 3); EXPECT(&a, "\x08_UID\x0a\x03");
	a = fresh(); aml_name_string(&a, "_HID", "X"); EXPECT(&a, "\x08_HID\x0dX\x00");
}

/* A body of n bytes in a scope: the PkgLength counts itself and the body. */
static void pkg_of(size_t n, const uint8_t *want, size_t want_len)
{
	struct aml a = fresh();
	size_t p;

	p = aml_open(&a);
	for (size_t i = 0; i < n; i++)
		aml_byte(&a, (uint8_t)i);
	aml_close(&a, p);
	assert_int_equal(a.len, n + want_len);
	assert_memory_equal(buf, want, want_len);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(buf[want_len + i], (uint8_t)i); /* the body slid up intact */
}

static void pkglength(void **state)
{
	pkg_of(0, (const uint8_t *)"\x01", 1);
	pkg_of(62, (const uint8_t *)"\x3f", 1);            /* 63: the largest 1-byte form */
	pkg_of(63, (const uint8_t *)"\x41\x04", 2);        /* 65 = 0x041: lead 0x40 | 1, then 0x04 */
	pkg_of(4093, (const uint8_t *)"\x4f\xff", 2);      /* 4095: the largest 2-byte form */
	pkg_of(4094, (const uint8_t *)"\x81\x00\x01", 3);  /* 4097 = 0x1001 */
}

static void methods_and_buffers(void **state)
{
	struct aml a = fresh();
	size_t m;

	m = aml_method(&a, "CSTA", 1, 1);
	aml_byte(&a, AML_RETURN_OP);
	aml_byte(&a, AML_ARG0_OP);
	aml_close(&a, m);
	EXPECT(&a, "\x14\x08" "CSTA\x09\xa4\x68");

	a = fresh();
	m = aml_method(&a, "_OST", 3, 0);
	aml_close(&a, m);
	EXPECT(&a, "\x14\x06_OST\x03");

	a = fresh();
	aml_buffer(&a, "\x00\x08\x01\x01\x01\x00\x00\x00", 8);
	EXPECT(&a, "\x11\x0b\x0a\x08\x00\x08\x01\x01\x01\x00\x00\x00");
}

/* With cap 0 nothing is written but every byte is counted: the sizing run. */
static void sizing_run(void **state)
{
	struct aml sized = { NULL, 0, 0 }, real = fresh();
	size_t p, q;

	for (int pass = 0; pass < 2; pass++) {
		struct aml *a = pass ? &real : &sized;

		aml_byte(a, AML_SCOPE_OP);
		p = aml_open(a);
		aml_name(a, "\\_SB");
		for (int i = 0; i < 40; i++) {
			q = aml_method(a, "M000", 2, 0);
			aml_integer(a, (uint32_t)i * 1000);
			aml_close(a, q);
		}
		aml_close(a, p);
	}
	assert_int_equal(sized.len, real.len);
	assert_int_equal(buf[0], AML_SCOPE_OP);
	assert_int_equal(buf[1] >> 6, 1);                 /* a 2-byte PkgLength */
	assert_int_equal((buf[1] & 0x0f) | buf[2] << 4, real.len - 1);
	assert_int_equal(buf[real.len], 0xa5);            /* nothing past the end */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(integers_and_strings),
		cmocka_unit_test(pkglength),
		cmocka_unit_test(methods_and_buffers),
		cmocka_unit_test(sizing_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
