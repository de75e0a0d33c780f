/*
 * Unit tests of core/apic_dest.c: physical and logical destinations in
 * xAPIC and x2APIC mode, shorthands, broadcasts, absent destinations,
 * software-disabled APICs, lowest priority, 1 to 4096 CPUs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/apic_dest.h"

static struct apic_cpu cpus[APIC_DEST_MAX_CPUS + 1];

/* n CPUs, APIC ID = index, enabled, flat DFR, LDR 0. */
static void reset_cpus(uint32_t n, bool x2apic)
{
	memset(cpus, 0, sizeof(cpus));
	for (uint32_t i = 0; i < n; i++) {
		cpus[i].apic_id = i;
		cpus[i].x2apic = x2apic;
		cpus[i].sw_enabled = true;
		cpus[i].dfr = APIC_DFR_FLAT;
	}
}

static struct icr ipi(enum icr_delivery dm, bool logical, uint32_t dest, bool x2apic)
{
	return (struct icr){ .vector = dm == ICR_FIXED || dm == ICR_LOWEST ? 0x40 : 0,
			     .delivery = dm, .logical = logical, .level_assert = true,
			     .shorthand = ICR_DEST_FIELD, .dest = dest, .x2apic = x2apic };
}

/* Resolves and checks the result is exactly the `nwant` indices in want[]. */
static void expect(const struct icr *icr, uint32_t sender, uint32_t n,
		   const uint32_t *want, int nwant)
{
	struct apic_dest_set set;
	int got = apic_dest_resolve(icr, sender, cpus, n, &set);
	int seen = 0;

	if (got != nwant)
		fail_msg("dest 0x%x %s %s: %d CPUs, want %d", icr->dest,
			 icr->logical ? "logical" : "physical", icr->x2apic ? "x2APIC" : "xAPIC",
			 got, nwant);
	for (uint32_t i = 0; i < APIC_DEST_MAX_CPUS; i++) {
		bool in = false;

		for (int k = 0; k < nwant; k++)
			in |= want[k] == i;
		if (apic_dest_has(&set, i) != in)
			fail_msg("dest 0x%x: CPU %u %s", icr->dest, i, in ? "missing" : "unexpected");
		seen += apic_dest_has(&set, i);
	}
	assert_int_equal(seen, nwant);
}

#define EXPECT(icr, sender, n, ...)                                              \
	do {                                                                     \
		const uint32_t w_[] = { __VA_ARGS__ };                           \
		expect(icr, sender, n, w_, (int)(sizeof(w_) / sizeof(w_[0])));   \
	} while (0)
#define EXPECT_NONE(icr, sender, n) expect(icr, sender, n, NULL, 0)

static void x2apic_ldr_derivation(void **state)
{
	(void)state;
	assert_int_equal(x2apic_ldr(0), 0x00000001);
	assert_int_equal(x2apic_ldr(1), 0x00000002);
	assert_int_equal(x2apic_ldr(0xf), 0x00008000);
	assert_int_equal(x2apic_ldr(0x10), 0x00010001);
	assert_int_equal(x2apic_ldr(0x123), 0x00120008);   /* cluster 0x12, member 3 */
	assert_int_equal(x2apic_ldr(0xfffff), 0xffff8000u);
	assert_int_equal(x2apic_ldr(0x100000), 0x00000001);   /* only ID[19:4] is the cluster */
}

static void dfr_models(void **state)
{
	(void)state;
	assert_int_equal(apic_dfr_model(0xffffffffu), APIC_DFR_FLAT);
	assert_int_equal(apic_dfr_model(0x0fffffffu), APIC_DFR_CLUSTER);
	assert_int_equal(apic_dfr_model(0x7fffffffu), APIC_DFR_INVALID);
	assert_int_equal(apic_dfr_model(0x1fffffffu), APIC_DFR_INVALID);
}

static void physical_xapic(void **state)
{
	struct icr i;

	(void)state;
	reset_cpus(8, false);
	i = ipi(ICR_FIXED, false, 3, false);
	EXPECT(&i, 0, 8, 3);
	i.dest = 0;
	EXPECT(&i, 0, 8, 0);                         /* to itself through the field */
	i.dest = 9;
	EXPECT_NONE(&i, 0, 8);                       /* absent */
	i.dest = 0xfe;
	EXPECT_NONE(&i, 0, 8);
	i.dest = 0xff;
	EXPECT(&i, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7);    /* broadcast */
	i.dest = 0x103;                              /* only 8 bits count */
	EXPECT(&i, 0, 8, 3);
	/* non-contiguous IDs: index != APIC ID */
	cpus[5].apic_id = 0x40;
	i.dest = 0x40;
	EXPECT(&i, 0, 8, 5);
	i.dest = 5;
	EXPECT_NONE(&i, 0, 8);
}

static void physical_x2apic_big_ids(void **state)
{
	static const uint32_t ids[] = { 0, 255, 256, 300, 0x12345, 0xfffffffe };
	struct icr i;

	(void)state;
	reset_cpus(6, true);
	for (uint32_t k = 0; k < 6; k++)
		cpus[k].apic_id = ids[k];
	i = ipi(ICR_FIXED, false, 300, true);
	EXPECT(&i, 0, 6, 3);
	i.dest = 256;
	EXPECT(&i, 0, 6, 2);
	i.dest = 0x12345;
	EXPECT(&i, 0, 6, 4);
	i.dest = 0xfffffffe;
	EXPECT(&i, 0, 6, 5);
	i.dest = 0xff;                               /* APIC ID 255, not a broadcast */
	EXPECT(&i, 0, 6, 1);
	i.dest = 301;
	EXPECT_NONE(&i, 0, 6);
	i.dest = 0xffffffff;
	EXPECT(&i, 0, 6, 0, 1, 2, 3, 4, 5);
	/* an xAPIC-format ICR reaches no ID above 255 */
	i = ipi(ICR_FIXED, false, 300 & 0xff, false);
	EXPECT_NONE(&i, 0, 6);
	i.dest = 0xff;                               /* but its broadcast reaches all */
	EXPECT(&i, 0, 6, 0, 1, 2, 3, 4, 5);
}

static void logical_flat(void **state)
{
	struct icr i;

	(void)state;
	reset_cpus(9, false);
	for (uint32_t k = 0; k < 8; k++)
		cpus[k].ldr = (1u << k) << 24;
	cpus[8].ldr = 0;                             /* LDR not set up yet */
	i = ipi(ICR_FIXED, true, 0x05, false);
	EXPECT(&i, 0, 9, 0, 2);
	i.dest = 0x80;
	EXPECT(&i, 0, 9, 7);
	i.dest = 0x00;
	EXPECT_NONE(&i, 0, 9);
	i.dest = 0x7f;
	EXPECT(&i, 0, 9, 0, 1, 2, 3, 4, 5, 6);
	i.dest = 0xff;                               /* broadcast, even LDR 0 */
	EXPECT(&i, 0, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8);
	/* two APICs sharing a bit both match; the LDR's low bits do not count */
	cpus[3].ldr = 0x01ffffff;
	i.dest = 0x01;
	EXPECT(&i, 0, 9, 0, 3);
	/* a DFR model other than flat/cluster matches nothing */
	cpus[0].dfr = APIC_DFR_INVALID;
	EXPECT(&i, 0, 9, 3);
	/* physical IDs are not logical IDs */
	i.logical = false;
	i.dest = 0x01;
	EXPECT(&i, 0, 9, 1);
}

static void logical_cluster(void **state)
{
	struct icr i;

	(void)state;
	/* 3 clusters (0, 1, 14) x 4 members: index = c * 4 + m */
	reset_cpus(12, false);
	for (uint32_t k = 0; k < 12; k++) {
		uint32_t c = k / 4 == 2 ? 14 : k / 4, m = k % 4;

		cpus[k].dfr = APIC_DFR_CLUSTER;
		cpus[k].ldr = (c << 4 | 1u << m) << 24;
	}
	i = ipi(ICR_FIXED, true, 0x13, false);       /* cluster 1, members 0 and 1 */
	EXPECT(&i, 0, 12, 4, 5);
	i.dest = 0x0f;                               /* all of cluster 0 */
	EXPECT(&i, 0, 12, 0, 1, 2, 3);
	i.dest = 0xe8;                               /* cluster 14, member 3 */
	EXPECT(&i, 0, 12, 11);
	i.dest = 0xf1;                               /* member 0 of every cluster */
	EXPECT(&i, 0, 12, 0, 4, 8);
	i.dest = 0xff;
	EXPECT(&i, 0, 12, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
	i.dest = 0x21;                               /* cluster 2: absent */
	EXPECT_NONE(&i, 0, 12);
	i.dest = 0x10;                               /* no member bits */
	EXPECT_NONE(&i, 0, 12);
	/* the same LDR read in the flat model means something else */
	cpus[4].dfr = APIC_DFR_FLAT;                 /* LDR 0x11: flat bits 0 and 4 */
	i.dest = 0x10;
	EXPECT(&i, 0, 12, 4);
}

static void logical_x2apic_cluster(void **state)
{
	struct icr i;

	(void)state;
	reset_cpus(48, true);                        /* clusters 0, 1, 2 */
	i = ipi(ICR_FIXED, true, 1u << 16 | 0x0005, true);
	EXPECT(&i, 0, 48, 16, 18);
	i.dest = 0x8000;                             /* cluster 0, member 15 */
	EXPECT(&i, 0, 48, 15);
	i.dest = 2u << 16 | 0xffff;
	EXPECT(&i, 0, 48, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47);
	i.dest = 0xffffu << 16 | 0x0001;             /* member 0 of every cluster */
	EXPECT(&i, 0, 48, 0, 16, 32);
	i.dest = 3u << 16 | 0x0001;                  /* cluster 3: absent */
	EXPECT_NONE(&i, 0, 48);
	i.dest = 1u << 16;                           /* no member bits */
	EXPECT_NONE(&i, 0, 48);
	i.dest = 0xffffffff;
	{
		struct apic_dest_set s;

		assert_int_equal(apic_dest_resolve(&i, 0, cpus, 48, &s), 48);
	}
	/* IDs above 255 */
	reset_cpus(4, true);
	cpus[0].apic_id = 0x100;                     /* cluster 0x10, member 0 */
	cpus[1].apic_id = 0x10f;                     /* cluster 0x10, member 15 */
	cpus[2].apic_id = 0x12345;                   /* cluster 0x1234, member 5 */
	cpus[3].apic_id = 0x5;                       /* cluster 0, member 5 */
	i.dest = 0x10u << 16 | 0x8001;
	EXPECT(&i, 0, 4, 0, 1);
	i.dest = 0x1234u << 16 | 0x0020;
	EXPECT(&i, 0, 4, 2);
	/* cpus[].ldr is ignored in x2APIC mode: the LDR is derived */
	cpus[2].ldr = 0xffffffff;
	EXPECT(&i, 0, 4, 2);
	i.dest = 0x0020;
	EXPECT(&i, 0, 4, 3);
}

/* Logical addressing does not cross xAPIC/x2APIC; physical and broadcast do. */
static void mixed_modes(void **state)
{
	struct icr i;

	(void)state;
	reset_cpus(2, false);
	cpus[0].ldr = 0x01000000;
	cpus[1].x2apic = true;                       /* x2APIC LDR 0x00000002 */
	i = ipi(ICR_FIXED, true, 0x03, false);
	EXPECT(&i, 0, 2, 0);
	i = ipi(ICR_FIXED, true, 0x03, true);
	EXPECT(&i, 0, 2, 1);
	i = ipi(ICR_FIXED, false, 1, false);
	EXPECT(&i, 0, 2, 1);
	i = ipi(ICR_FIXED, true, 0xff, false);
	EXPECT(&i, 0, 2, 0, 1);
}

/*
 * An I/O APIC or MSI message (no sending APIC) has an 8-bit destination
 * (15 bits with the extended ID) that each receiver reads in its own mode:
 * an x2APIC zero-extends it, so a logical one is cluster 0 (kvm-unit-tests'
 * ioapic test sends logical 0x0d to x2APIC IDs 0, 2 and 3).
 */
static void ioapic_messages(void **state)
{
	static const struct {
		bool logical;
		uint32_t dest;
		uint32_t want[4];
		int nwant;
	} x2[] = {
		{ true, 0x0d, { 0, 2, 3 }, 3 },        /* cluster 0, members 0, 2, 3 */
		{ true, 0x4000, { 14 }, 1 },           /* extended ID bit 14: member 14 */
		{ false, 17, { 17 }, 1 },
		{ false, 0x101, { 0 }, 0 },            /* 15-bit ID 257: nobody here */
	};
	struct apic_dest_set set;
	struct icr i;

	(void)state;
	for (size_t k = 0; k < sizeof(x2) / sizeof(x2[0]); k++) {
		reset_cpus(20, true);
		i = ipi(ICR_FIXED, x2[k].logical, x2[k].dest, false);
		expect(&i, APIC_DEST_NO_SENDER, 20, x2[k].want, x2[k].nwant);
		/* the ICR's own x2apic field plays no part */
		i.x2apic = true;
		expect(&i, APIC_DEST_NO_SENDER, 20, x2[k].want, x2[k].nwant);
	}
	/* 0xFF is still a broadcast to x2APICs, physical or logical */
	i = ipi(ICR_FIXED, false, 0xff, false);
	assert_int_equal(apic_dest_resolve(&i, APIC_DEST_NO_SENDER, cpus, 20, &set), 20);
	i.logical = true;
	assert_int_equal(apic_dest_resolve(&i, APIC_DEST_NO_SENDER, cpus, 20, &set), 20);
	/* from a local APIC the same xAPIC-format ICR reaches no x2APIC */
	reset_cpus(4, true);
	i = ipi(ICR_FIXED, true, 0x0d, false);
	EXPECT_NONE(&i, 1, 4);
	/* mixed: the xAPIC compares its LDR, the x2APIC its cluster-0 mask */
	reset_cpus(2, false);
	cpus[0].ldr = 0x01000000;
	cpus[1].x2apic = true;                       /* x2APIC LDR 0x00000002 */
	i = ipi(ICR_FIXED, true, 0x03, false);
	EXPECT(&i, APIC_DEST_NO_SENDER, 2, 0, 1);
	i.dest = 0x02;
	EXPECT(&i, APIC_DEST_NO_SENDER, 2, 1);
	/* xAPIC receivers: physical IDs are 8 bits */
	reset_cpus(4, false);
	i = ipi(ICR_FIXED, false, 0x102, false);
	EXPECT(&i, APIC_DEST_NO_SENDER, 4, 2);
}

static void shorthands(void **state)
{
	struct icr i;

	(void)state;
	reset_cpus(4, false);
	i = ipi(ICR_FIXED, false, 2, false);         /* the field is ignored */
	i.shorthand = ICR_SELF;
	EXPECT(&i, 1, 4, 1);
	EXPECT_NONE(&i, APIC_DEST_NO_SENDER, 4);
	i.shorthand = ICR_ALL_INCL_SELF;
	EXPECT(&i, 1, 4, 0, 1, 2, 3);
	i.shorthand = ICR_ALL_EXCL_SELF;
	EXPECT(&i, 1, 4, 0, 2, 3);
	EXPECT(&i, APIC_DEST_NO_SENDER, 4, 0, 1, 2, 3);
	EXPECT_NONE(&i, 0, 1);                       /* alone: nobody else */
	/* INIT and SIPI to all APs, as the SDM's BSP does */
	i = ipi(ICR_INIT, false, 0, false);
	i.shorthand = ICR_ALL_EXCL_SELF;
	EXPECT(&i, 0, 4, 1, 2, 3);
	i.delivery = ICR_STARTUP;
	i.vector = 0x08;
	EXPECT(&i, 0, 4, 1, 2, 3);
	/* the INIT level de-assert goes to every APIC whatever the ICR says */
	i = ipi(ICR_INIT, false, 3, false);
	i.level_assert = false;
	i.level_trigger = true;
	i.init_deassert = true;
	EXPECT(&i, 0, 4, 0, 1, 2, 3);
	i.shorthand = ICR_SELF;
	EXPECT(&i, 0, 4, 0, 1, 2, 3);
}

/* A software-disabled APIC takes INIT, SIPI, NMI, SMI but no fixed interrupt. */
static void software_disabled(void **state)
{
	static const enum icr_delivery takes[] = { ICR_INIT, ICR_STARTUP, ICR_NMI, ICR_SMI };
	struct icr i;

	(void)state;
	reset_cpus(4, false);
	cpus[2].sw_enabled = false;
	i = ipi(ICR_FIXED, false, 2, false);
	EXPECT_NONE(&i, 0, 4);
	i.dest = 0xff;
	EXPECT(&i, 0, 4, 0, 1, 3);
	i.shorthand = ICR_ALL_EXCL_SELF;
	EXPECT(&i, 0, 4, 1, 3);
	for (size_t k = 0; k < sizeof(takes) / sizeof(takes[0]); k++) {
		i = ipi(takes[k], false, 2, false);
		EXPECT(&i, 0, 4, 2);
		i.dest = 0xff;
		EXPECT(&i, 0, 4, 0, 1, 2, 3);
	}
}

static void lowest_priority(void **state)
{
	struct icr i;

	(void)state;
	reset_cpus(5, false);
	cpus[0].priority = 0x20;
	cpus[1].priority = 0x30;
	cpus[2].priority = 0x10;
	cpus[3].priority = 0x10;
	cpus[4].priority = 0x50;
	for (uint32_t k = 0; k < 5; k++)
		cpus[k].ldr = (1u << k) << 24;
	i = ipi(ICR_LOWEST, false, 0xff, false);
	EXPECT(&i, 0, 5, 2);                         /* lowest, tie 2/3 to index 2 */
	i = ipi(ICR_LOWEST, true, 0x13, false);      /* logical {0, 1, 4} */
	EXPECT(&i, 0, 5, 0);
	i.dest = 0x1a;                               /* {1, 3, 4} */
	EXPECT(&i, 0, 5, 3);
	i = ipi(ICR_LOWEST, false, 4, false);        /* physical: the only candidate */
	EXPECT(&i, 0, 5, 4);
	i.dest = 7;
	EXPECT_NONE(&i, 0, 5);
	/* disabled APICs take no part */
	cpus[2].sw_enabled = false;
	i.dest = 0xff;
	EXPECT(&i, 0, 5, 3);
	cpus[3].sw_enabled = false;
	EXPECT(&i, 0, 5, 0);
	/* all excluding self: the sender never takes it back */
	i.shorthand = ICR_ALL_EXCL_SELF;
	EXPECT(&i, 0, 5, 1);
	for (uint32_t k = 0; k < 5; k++)
		cpus[k].sw_enabled = false;
	EXPECT_NONE(&i, 0, 5);
	/* equal priorities: lowest index */
	reset_cpus(5, true);
	i = ipi(ICR_LOWEST, false, 0xffffffff, true);
	EXPECT(&i, 0, 5, 0);
	i.shorthand = ICR_ALL_EXCL_SELF;
	EXPECT(&i, 0, 5, 1);
}

/* 1..1024 CPUs: broadcast, all-excluding-self and physical IDs scale. */
static void many_cpus(void **state)
{
	static const uint32_t sizes[] = { 1, 2, 3, 15, 16, 17, 63, 64, 65, 255, 256, 257, 1000, 1024 };
	struct apic_dest_set s;
	struct icr i;

	(void)state;
	for (uint32_t n = 1; n <= 1024; n++) {
		uint32_t sender = n / 2;

		reset_cpus(n, n > 255);
		i = ipi(ICR_FIXED, false, n > 255 ? 0xffffffff : 0xff, n > 255);
		assert_int_equal(apic_dest_resolve(&i, sender, cpus, n, &s), (int)n);
		assert_true(apic_dest_has(&s, n - 1));
		assert_false(apic_dest_has(&s, n));
		i.shorthand = ICR_ALL_EXCL_SELF;
		assert_int_equal(apic_dest_resolve(&i, sender, cpus, n, &s), (int)n - 1);
		assert_false(apic_dest_has(&s, sender));
		i.shorthand = ICR_DEST_FIELD;
		i.dest = n - 1;
		assert_int_equal(apic_dest_resolve(&i, sender, cpus, n, &s), 1);
		assert_true(apic_dest_has(&s, n - 1));
	}
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint32_t n = sizes[k];

		reset_cpus(n, true);
		for (uint32_t id = 0; id < n; id++) {
			i = ipi(ICR_NMI, false, id, true);
			assert_int_equal(apic_dest_resolve(&i, 0, cpus, n, &s), 1);
			assert_true(apic_dest_has(&s, id));
			/* and logically: cluster id >> 4, member id & 15 */
			i = ipi(ICR_FIXED, true, (id >> 4) << 16 | 1u << (id & 15), true);
			assert_int_equal(apic_dest_resolve(&i, 0, cpus, n, &s), 1);
			assert_true(apic_dest_has(&s, id));
		}
		i = ipi(ICR_NMI, false, n, true);
		assert_int_equal(apic_dest_resolve(&i, 0, cpus, n, &s), 0);
	}
}

static void limits(void **state)
{
	struct apic_dest_set s;
	struct icr i = ipi(ICR_FIXED, false, 0xffffffff, true);

	(void)state;
	reset_cpus(APIC_DEST_MAX_CPUS, true);
	assert_int_equal(apic_dest_resolve(&i, 0, cpus, APIC_DEST_MAX_CPUS, &s), APIC_DEST_MAX_CPUS);
	assert_true(apic_dest_has(&s, APIC_DEST_MAX_CPUS - 1));
	assert_false(apic_dest_has(&s, APIC_DEST_MAX_CPUS));
	i.dest = 4095;
	assert_int_equal(apic_dest_resolve(&i, 0, cpus, APIC_DEST_MAX_CPUS, &s), 1);
	assert_true(apic_dest_has(&s, 4095));
	assert_int_equal(apic_dest_resolve(&i, 0, cpus, APIC_DEST_MAX_CPUS + 1, &s), -1);
	assert_int_equal(apic_dest_resolve(NULL, 0, cpus, 1, &s), -1);
	assert_int_equal(apic_dest_resolve(&i, 0, cpus, 1, NULL), -1);
	assert_int_equal(apic_dest_resolve(&i, 0, NULL, 1, &s), -1);
	assert_int_equal(apic_dest_resolve(&i, 0, NULL, 0, &s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(x2apic_ldr_derivation),
		cmocka_unit_test(dfr_models),
		cmocka_unit_test(physical_xapic),
		cmocka_unit_test(physical_x2apic_big_ids),
		cmocka_unit_test(logical_flat),
		cmocka_unit_test(logical_cluster),
		cmocka_unit_test(logical_x2apic_cluster),
		cmocka_unit_test(mixed_modes),
		cmocka_unit_test(ioapic_messages),
		cmocka_unit_test(shorthands),
		cmocka_unit_test(software_disabled),
		cmocka_unit_test(lowest_priority),
		cmocka_unit_test(many_cpus),
		cmocka_unit_test(limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
