/* Unit tests of core/cpuid.c: APIC ID and topology in every leaf that carries them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/cpuid.h"
#include "core/guest_abi.h"

/* A small Intel-like "supported CPUID": max leaf 0x1f, caches in leaf 4, KVM leaves. */
static size_t base_leaves(struct cpuid_leaf *l)
{
	size_t n = 0;

	l[n++] = (struct cpuid_leaf){ .function = 0, .eax = 0x1f, .ebx = 0x756e6547 /* "Genu" */ };
	l[n++] = (struct cpuid_leaf){ .function = 1, .eax = 0x806c1, .ebx = 0xff3f0800, .edx = 0x178bfbff };
	l[n++] = (struct cpuid_leaf){ .function = 4, .index = 0, .flags = 1, .eax = 0x1c004121 }; /* L1d */
	l[n++] = (struct cpuid_leaf){ .function = 4, .index = 1, .flags = 1, .eax = 0x1c004122 }; /* L1i */
	l[n++] = (struct cpuid_leaf){ .function = 4, .index = 2, .flags = 1, .eax = 0x1c004143 }; /* L2 */
	l[n++] = (struct cpuid_leaf){ .function = 4, .index = 3, .flags = 1, .eax = 0x1c03c163 }; /* L3 */
	l[n++] = (struct cpuid_leaf){ .function = 4, .index = 4, .flags = 1, .eax = 0 };          /* end */
	l[n++] = (struct cpuid_leaf){ .function = 0xb, .index = 0, .flags = 1, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 9 };
	l[n++] = (struct cpuid_leaf){ .function = 0x1f, .index = 0, .flags = 1, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 9 };
	l[n++] = (struct cpuid_leaf){ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b };
	l[n++] = (struct cpuid_leaf){ .function = 0x40000001, .eax = 0x01000000 };
	return n;
}

static void apply(struct cpuid_table *t, struct cpuid_leaf *buf, size_t cap, uint32_t apic_id, unsigned int n)
{
	*t = (struct cpuid_table){ .leaf = buf, .cap = cap };
	t->len = base_leaves(buf);
	assert_int_equal(cpuid_apply_topology(t, &(struct cpuid_topology){
		.apic_id = apic_id, .cores = n, .threads = 1, .tsc_khz = 2100000, .apic_bus_khz = 1000000 }), 0);
}

static void core_bits(void **state)
{
	(void)state;
	assert_int_equal(cpuid_core_bits(1), 0);
	assert_int_equal(cpuid_core_bits(2), 1);
	assert_int_equal(cpuid_core_bits(3), 2);
	assert_int_equal(cpuid_core_bits(8), 3);
	assert_int_equal(cpuid_core_bits(64), 6);
	assert_int_equal(cpuid_core_bits(65), 7);
	assert_int_equal(cpuid_core_bits(1024), 10);
}

static void leaf1_apic_id_and_count(void **state)
{
	struct cpuid_leaf buf[32];
	struct cpuid_table t;
	struct cpuid_leaf *l;

	(void)state;
	apply(&t, buf, 32, 5, 8);
	l = cpuid_find(&t, 1, 0);
	assert_non_null(l);
	assert_int_equal(l->ebx >> 24, 5);
	assert_int_equal((l->ebx >> 16) & 0xff, 8);
	assert_int_equal(l->ebx & 0xffff, 0x0800); /* brand index and CLFLUSH size kept */
	assert_true(l->edx & (1u << 28));          /* HTT: the count is valid */

	apply(&t, buf, 32, 0, 1);
	l = cpuid_find(&t, 1, 0);
	assert_int_equal(l->ebx >> 24, 0);
	assert_false(l->edx & (1u << 28));

	/* 6 CPUs: 8 addressable IDs (a power of two). */
	apply(&t, buf, 32, 3, 6);
	assert_int_equal((cpuid_find(&t, 1, 0)->ebx >> 16) & 0xff, 8);
}

static void extended_topology(void **state)
{
	struct cpuid_leaf buf[32];
	struct cpuid_table t;

	(void)state;
	apply(&t, buf, 32, 300, 1024);
	for (uint32_t f = 0xb; f <= 0x1f; f += 0x1f - 0xb) {
		struct cpuid_leaf *smt = cpuid_find(&t, f, 0);
		struct cpuid_leaf *core = cpuid_find(&t, f, 1);
		struct cpuid_leaf *end = cpuid_find(&t, f, 2);

		assert_non_null(smt);
		assert_non_null(core);
		assert_non_null(end);
		assert_int_equal(smt->eax, 0);
		assert_int_equal(smt->ebx, 1);
		assert_int_equal(smt->ecx, 0x100);
		assert_int_equal(smt->edx, 300);
		assert_int_equal(core->eax, 10);
		assert_int_equal(core->ebx, 1024);
		assert_int_equal(core->ecx, 0x201);
		assert_int_equal(core->edx, 300);
		assert_int_equal((end->ecx >> 8) & 0xff, 0);
		assert_int_equal(end->edx, 300);
		assert_null(cpuid_find(&t, f, 3));
	}
	/* The full x2APIC ID does not fit leaf 1's 8 bits: the low byte is kept. */
	assert_int_equal(cpuid_find(&t, 1, 0)->ebx >> 24, 300 & 0xff);
}

static void cache_sharing(void **state)
{
	struct cpuid_leaf buf[32];
	struct cpuid_table t;

	(void)state;
	apply(&t, buf, 32, 2, 4);
	for (uint32_t i = 0; i < 4; i++) {
		uint32_t eax = cpuid_find(&t, 4, i)->eax;
		uint32_t level = (eax >> 5) & 7;

		assert_int_equal(eax >> 26, 3);                               /* 4 cores */
		assert_int_equal((eax >> 14) & 0xfff, level == 3 ? 3 : 0);    /* L3 shared by all */
		assert_int_equal(eax & 0x3fff, buf[2 + i].eax & 0x3fff);      /* rest kept */
	}
	assert_int_equal(cpuid_find(&t, 4, 4)->eax, 0);
}

/* 2 sockets x 3 cores x 2 threads: thread field 1 bit, core field 2 bits (IDs with gaps). */
static void smt_topology(void **state)
{
	struct cpuid_leaf buf[32];
	struct cpuid_table t = { .leaf = buf, .cap = 32 };
	struct cpuid_leaf *l;

	(void)state;
	t.len = base_leaves(buf);
	assert_int_equal(cpuid_apply_topology(&t, &(struct cpuid_topology){
		.apic_id = 13, .cores = 3, .threads = 2 }), 0); /* socket 1, core 2, thread 1 */
	l = cpuid_find(&t, 0xb, 0);
	assert_int_equal(l->eax, 1);  /* shift past the thread field */
	assert_int_equal(l->ebx, 2);  /* threads per core */
	assert_int_equal(l->edx, 13);
	l = cpuid_find(&t, 0xb, 1);
	assert_int_equal(l->eax, 3);  /* shift to the package number */
	assert_int_equal(l->ebx, 6);  /* logical processors per package */
	l = cpuid_find(&t, 1, 0);
	assert_int_equal((l->ebx >> 16) & 0xff, 8); /* addressable IDs per package: 2^3 */
	assert_true(l->edx & (1u << 28));
	for (uint32_t i = 0; i < 4; i++) {
		uint32_t eax = cpuid_find(&t, 4, i)->eax;
		uint32_t level = (eax >> 5) & 7;

		assert_int_equal(eax >> 26, 3);                            /* core IDs 0-3 addressable */
		assert_int_equal((eax >> 14) & 0xfff, level == 3 ? 7 : 1); /* L1/L2: the core's 2 threads */
	}
}

static void timing_leaf(void **state)
{
	struct cpuid_leaf buf[32];
	struct cpuid_table t;
	struct cpuid_leaf *l;

	(void)state;
	apply(&t, buf, 32, 0, 2);
	assert_int_equal(cpuid_find(&t, 0x40000000, 0)->eax, MPVM_CPUID_TIMING_LEAF);
	l = cpuid_find(&t, MPVM_CPUID_TIMING_LEAF, 0);
	assert_non_null(l);
	assert_int_equal(l->eax, 2100000);
	assert_int_equal(l->ebx, 1000000);
}

static void no_room(void **state)
{
	struct cpuid_leaf buf[32];
	struct cpuid_table t = { .leaf = buf, .cap = 0 };

	(void)state;
	t.len = base_leaves(buf);
	t.cap = t.len; /* no room for the added leaves */
	assert_int_equal(cpuid_apply_topology(&t, &(struct cpuid_topology){ .apic_id = 1, .cores = 2, .threads = 1 }), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(core_bits),
		cmocka_unit_test(leaf1_apic_id_and_count),
		cmocka_unit_test(extended_topology),
		cmocka_unit_test(cache_sharing),
		cmocka_unit_test(smt_topology),
		cmocka_unit_test(timing_leaf),
		cmocka_unit_test(no_room),
	};

	return cmocka_run_group_tests_name("cpuid", tests, NULL, NULL);
}
