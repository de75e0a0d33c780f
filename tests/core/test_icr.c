/*
 * Unit tests of core/icr.c: each field of the Interrupt Command Register,
 * round trips for every delivery mode in both layouts, every error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/icr.h"

#define XAPIC  false
#define X2APIC true

static struct icr dec_ok(uint64_t v, bool x2)
{
	struct icr out;
	char err[128];

	if (icr_decode(v, x2, &out, err, sizeof(err)) != 0)
		fail_msg("decode 0x%016llx (%s): %s", (unsigned long long)v, x2 ? "x2APIC" : "xAPIC", err);
	assert_int_equal(out.esr, 0);
	assert_false(out.gp);
	return out;
}

/* Fails, with `want` in the reason; returns what was decoded. */
static struct icr dec_err(uint64_t v, bool x2, const char *want)
{
	struct icr out;
	char err[128] = "untouched";

	if (icr_decode(v, x2, &out, err, sizeof(err)) != -1)
		fail_msg("decode 0x%016llx (%s) succeeded, want \"%s\"", (unsigned long long)v,
			 x2 ? "x2APIC" : "xAPIC", want);
	if (!strstr(err, want))
		fail_msg("decode 0x%016llx: reason \"%s\", want \"%s\"", (unsigned long long)v, err, want);
	return out;
}

/* The SDM's own examples (§8.4.4.1) and what the built-in guest sends. */
static void known_values(void **state)
{
	struct icr d;

	(void)state;
	d = dec_ok(0x000C4500, XAPIC);             /* broadcast INIT to all APs */
	assert_int_equal(d.delivery, ICR_INIT);
	assert_int_equal(d.shorthand, ICR_ALL_EXCL_SELF);
	assert_true(d.level_assert);
	assert_false(d.level_trigger);
	assert_false(d.init_deassert);
	assert_false(d.logical);
	assert_int_equal(d.vector, 0);

	d = dec_ok(0x000C4608, XAPIC);             /* broadcast SIPI, vector 08 */
	assert_int_equal(d.delivery, ICR_STARTUP);
	assert_int_equal(d.vector, 0x08);
	assert_int_equal(d.shorthand, ICR_ALL_EXCL_SELF);

	d = dec_ok(0x0000000000008500ull | 3ull << 56, XAPIC); /* INIT de-assert to APIC 3 */
	assert_int_equal(d.delivery, ICR_INIT);
	assert_true(d.init_deassert);
	assert_true(d.level_trigger);
	assert_false(d.level_assert);
	assert_int_equal(d.dest, 3);

	d = dec_ok(0x0000000000004500ull | 3ull << 56, XAPIC); /* INIT assert, edge */
	assert_false(d.init_deassert);
	d = dec_ok(0x0000000000000500, XAPIC);     /* edge with level 0: still an INIT (KVM too) */
	assert_false(d.init_deassert);
	d = dec_ok(0x000000000000C500, XAPIC);     /* level trigger, assert: an INIT */
	assert_false(d.init_deassert);

	d = dec_ok(0x0000000700004040ull, X2APIC); /* x2APIC fixed 0x40 to APIC 7 */
	assert_int_equal(d.delivery, ICR_FIXED);
	assert_int_equal(d.vector, 0x40);
	assert_int_equal(d.dest, 7);
	assert_true(d.x2apic);
}

/* Each bit of the low 20 on its own changes exactly its field. */
static void single_bits(void **state)
{
	const uint64_t base = 0x30;   /* fixed, vector 0x30, physical, dest field */
	struct icr d0 = dec_ok(base, XAPIC), d;

	(void)state;
	assert_int_equal(d0.vector, 0x30);
	assert_int_equal(d0.delivery, ICR_FIXED);
	assert_false(d0.logical || d0.level_assert || d0.level_trigger);
	assert_int_equal(d0.shorthand, ICR_DEST_FIELD);
	assert_int_equal(d0.dest, 0);

	d = dec_ok(base | 1u << 8, XAPIC);
	assert_int_equal(d.delivery, ICR_LOWEST);
	d = dec_ok(base | 2u << 8, XAPIC);
	assert_int_equal(d.delivery, ICR_SMI);
	d = dec_ok(base | 4u << 8, XAPIC);
	assert_int_equal(d.delivery, ICR_NMI);
	d = dec_ok(base | 1u << 11, XAPIC);
	assert_true(d.logical);
	d = dec_ok(base | 1u << 14, XAPIC);
	assert_true(d.level_assert);
	d = dec_ok(base | 1u << 15, XAPIC);
	assert_true(d.level_trigger);
	assert_false(d.init_deassert);           /* only for INIT */
	d = dec_ok(base | 1u << 18, XAPIC);
	assert_int_equal(d.shorthand, ICR_SELF);
	d = dec_ok(base | 2u << 18, XAPIC);
	assert_int_equal(d.shorthand, ICR_ALL_INCL_SELF);
	d = dec_ok(base | 3u << 18, XAPIC);
	assert_int_equal(d.shorthand, ICR_ALL_EXCL_SELF);

	/* bit 12, delivery status: read-only in xAPIC, ignored by WRMSR in x2APIC */
	d = dec_ok(base | 1u << 12, XAPIC);
	assert_int_equal(d.vector, 0x30);
	assert_int_equal(d.delivery, ICR_FIXED);
	assert_int_equal(icr_encode(&d), base);
	d = dec_ok(base | 1u << 12, X2APIC);
	assert_int_equal(d.vector, 0x30);
	assert_int_equal(icr_encode(&d), base);
}

static void destination_field(void **state)
{
	struct icr d;

	(void)state;
	/* xAPIC: 63:56; 55:32 and the reserved low bits are ignored */
	d = dec_ok(0xab00000000000030ull, XAPIC);
	assert_int_equal(d.dest, 0xab);
	d = dec_ok(0x00ffffff00000030ull | 1ull << 13 | 3ull << 16 | 0xfffull << 20, XAPIC);
	assert_int_equal(d.dest, 0);
	assert_int_equal(d.vector, 0x30);
	d = dec_ok(0xff00000000000030ull, XAPIC);
	assert_int_equal(d.dest, 0xff);
	/* x2APIC: 63:32 */
	d = dec_ok(0x1234567800000030ull, X2APIC);
	assert_int_equal(d.dest, 0x12345678);
	d = dec_ok(0xffffffff00000030ull, X2APIC);
	assert_int_equal(d.dest, 0xffffffffu);
	d = dec_ok(0x0000010000000030ull, X2APIC);  /* APIC ID 256 */
	assert_int_equal(d.dest, 256);
	/* encoding an xAPIC ICR keeps only 8 destination bits */
	d.x2apic = false;
	d.dest = 0x1ab;
	assert_true(icr_encode(&d) == 0xab00000000000030ull);
}

static void check_round_trip(const struct icr *in)
{
	struct icr out;
	char err[128];
	uint64_t v = icr_encode(in);

	if (icr_decode(v, in->x2apic, &out, err, sizeof(err)) != 0)
		fail_msg("0x%016llx: %s", (unsigned long long)v, err);
	assert_int_equal(out.vector, in->vector);
	assert_int_equal(out.delivery, in->delivery);
	assert_int_equal(out.logical, in->logical);
	assert_int_equal(out.level_assert, in->level_assert);
	assert_int_equal(out.level_trigger, in->level_trigger);
	assert_int_equal(out.shorthand, in->shorthand);
	assert_int_equal(out.dest, in->dest);
	assert_int_equal(out.x2apic, in->x2apic);
	assert_int_equal(out.init_deassert, in->init_deassert);
	assert_true(icr_encode(&out) == v);
}

/* Every delivery mode x shorthand it may use x destination mode x layout. */
static void round_trips(void **state)
{
	static const struct {
		enum icr_delivery dm;
		uint8_t vector;
	} modes[] = {
		{ ICR_FIXED, 0x10 }, { ICR_FIXED, 0xff }, { ICR_LOWEST, 0x41 },
		{ ICR_SMI, 0 }, { ICR_NMI, 0 }, { ICR_NMI, 0x02 }, { ICR_INIT, 0 },
		{ ICR_STARTUP, 0x00 }, { ICR_STARTUP, 0x08 }, { ICR_STARTUP, 0x9f }, { ICR_STARTUP, 0xff },
	};
	static const uint32_t xdest[] = { 0, 1, 0x0f, 0x80, 0xfe, 0xff };
	static const uint32_t x2dest[] = { 0, 1, 0xff, 0x100, 0x10001, 0xfffffffe, 0xffffffff };
	unsigned n = 0;

	(void)state;
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
		for (int x2 = 0; x2 < 2; x2++)
			for (unsigned sh = 0; sh < 4; sh++)
				for (int logical = 0; logical < 2; logical++)
					for (int trig = 0; trig < 2; trig++) {
						const uint32_t *dests = x2 ? x2dest : xdest;
						size_t nd = x2 ? sizeof(x2dest) / 4 : sizeof(xdest) / 4;

						if (x2 && modes[m].dm == ICR_LOWEST)
							continue;
						if ((sh == ICR_SELF || sh == ICR_ALL_INCL_SELF) &&
						    modes[m].dm != ICR_FIXED)
							continue;
						for (size_t k = 0; k < nd; k++) {
							struct icr in = {
								.vector = modes[m].vector,
								.delivery = modes[m].dm,
								.logical = logical,
								.level_assert = true,
								.level_trigger = trig,
								.shorthand = sh,
								.dest = dests[k],
								.x2apic = x2,
							};
							check_round_trip(&in);
							n++;
						}
					}
	/* INIT level de-assert, with the shorthand software should use and without */
	for (int x2 = 0; x2 < 2; x2++)
		for (unsigned sh = 0; sh < 4; sh++) {
			struct icr in = { .delivery = ICR_INIT, .level_trigger = true,
					  .shorthand = sh, .dest = 5, .x2apic = x2,
					  .init_deassert = true };
			check_round_trip(&in);
			n++;
		}
	assert_true(n > 500);
}

/* icr_encode() makes an INIT de-assert out of init_deassert alone. */
static void encode_init_deassert(void **state)
{
	struct icr in = { .delivery = ICR_FIXED, .level_assert = true, .init_deassert = true,
			  .shorthand = ICR_ALL_INCL_SELF };

	(void)state;
	assert_true(icr_encode(&in) == 0x88500);
}

static void reserved_delivery_modes(void **state)
{
	struct icr d;

	(void)state;
	d = dec_err(0x330, XAPIC, "reserved delivery mode 3");
	assert_int_equal(d.delivery, 3);
	assert_int_equal(d.esr, 0);
	dec_err(0x730, XAPIC, "reserved delivery mode 7");
	dec_err(0x330, X2APIC, "reserved delivery mode 3");
	dec_err(0x730, X2APIC, "reserved delivery mode 7");
	assert_string_equal(icr_delivery_name((enum icr_delivery)3), "RESERVED");
	assert_string_equal(icr_delivery_name((enum icr_delivery)7), "RESERVED");
}

/* Fixed and lowest priority need a vector >= 16; ESR "send illegal vector". */
static void illegal_vectors(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 16; v++) {
		struct icr d = dec_err(v, XAPIC, "illegal vector");

		assert_int_equal(d.esr, APIC_ESR_SEND_ILLEGAL_VECTOR);
		assert_int_equal(d.esr, 0x20);
		assert_false(d.gp);
		d = dec_err(0x100 | v, XAPIC, "illegal vector");
		assert_int_equal(d.esr, 0x20);
		d = dec_err(v | 1ull << 32, X2APIC, "illegal vector");
		assert_int_equal(d.esr, 0x20);
	}
	dec_ok(16, XAPIC);
	dec_ok(0x110, XAPIC);
	dec_ok(16, X2APIC);
	/* the vector of NMI, SMI, INIT is ignored, a SIPI's is a page number */
	dec_ok(0x400, XAPIC);
	dec_ok(0x405, XAPIC);
	dec_ok(0x200, XAPIC);
	dec_ok(0x4500, XAPIC);
	dec_ok(0x4600, XAPIC);
	dec_ok(0x4601, X2APIC);
}

/* Table 10-3: "self" and "all including self" are for fixed delivery only. */
static void shorthand_rules(void **state)
{
	static const unsigned bad[] = { ICR_LOWEST, ICR_SMI, ICR_NMI, ICR_INIT, ICR_STARTUP };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 0x4000 | bad[i] << 8 | 0x30;

		dec_err(v | 1u << 18, XAPIC, "may not use the \"self\" shorthand");
		dec_err(v | 2u << 18, XAPIC, "may not use the \"all including self\" shorthand");
		dec_ok(v | 3u << 18, XAPIC);
		dec_ok(v, XAPIC);
		if (bad[i] != ICR_LOWEST) {
			dec_err(v | 1u << 18, X2APIC, "\"self\"");
			dec_ok(v | 3u << 18, X2APIC);
		}
	}
	dec_ok(0x44030, XAPIC);     /* fixed to self */
	dec_ok(0x84030, XAPIC);     /* fixed to all */
	dec_ok(0x44030, X2APIC);
	/* the INIT de-assert goes everywhere, and should say "all including self" */
	dec_ok(0x88500, XAPIC);
	dec_ok(0x48500, XAPIC);
}

/* x2APIC: reserved bits 13, 16-17, 20-31 make WRMSR #GP (§10.12.1.3). */
static void x2apic_reserved_bits(void **state)
{
	static const unsigned bits[] = { 13, 16, 17, 20, 21, 24, 28, 31 };

	(void)state;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		uint64_t v = 0x30 | 1ull << bits[i];
		struct icr d = dec_err(v, X2APIC, "reserved bits set");

		assert_true(d.gp);
		assert_int_equal(d.esr, 0);
		assert_int_equal(d.vector, 0x30);   /* fields still decoded */
		dec_ok(v, XAPIC);                    /* xAPIC ignores them */
	}
	dec_err(0x30 | 0xfffull << 20, X2APIC, "(0xfff00000)");
	/* #GP is checked first: a reserved bit and an illegal vector report #GP */
	assert_true(dec_err(0x05 | 1ull << 13, X2APIC, "#GP").gp);
	/* Figure 10-28 shows lowest priority reserved in the x2APIC ICR, but
	 * KVM sends it (§10.6.1: model specific), and so do we */
	dec_ok(0x130, X2APIC);
	dec_ok(0x130 | 3ull << 18, X2APIC);   /* all excluding self */
	dec_ok(0x130, XAPIC);
}

static void error_buffer(void **state)
{
	struct icr d;
	char small[8];

	(void)state;
	assert_int_equal(icr_decode(0x330, XAPIC, &d, NULL, 0), -1);
	assert_int_equal(icr_decode(0x330, XAPIC, &d, small, sizeof(small)), -1);
	assert_string_equal(small, "reserve");
	assert_int_equal(icr_decode(0x30, XAPIC, &d, small, sizeof(small)), 0);
	assert_string_equal(small, "");
	assert_int_equal(icr_decode(0x30, XAPIC, NULL, small, sizeof(small)), -1);
	assert_string_equal(small, "no outp");
}

static void names(void **state)
{
	(void)state;
	assert_string_equal(icr_delivery_name(ICR_FIXED), "FIXED");
	assert_string_equal(icr_delivery_name(ICR_LOWEST), "LOWEST");
	assert_string_equal(icr_delivery_name(ICR_SMI), "SMI");
	assert_string_equal(icr_delivery_name(ICR_NMI), "NMI");
	assert_string_equal(icr_delivery_name(ICR_INIT), "INIT");
	assert_string_equal(icr_delivery_name(ICR_STARTUP), "STARTUP");
	assert_string_equal(icr_shorthand_name(ICR_DEST_FIELD), "DEST");
	assert_string_equal(icr_shorthand_name(ICR_SELF), "SELF");
	assert_string_equal(icr_shorthand_name(ICR_ALL_INCL_SELF), "ALL_INCL_SELF");
	assert_string_equal(icr_shorthand_name(ICR_ALL_EXCL_SELF), "ALL_EXCL_SELF");
	assert_string_equal(icr_shorthand_name((enum icr_shorthand)4), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_values),
		cmocka_unit_test(single_bits),
		cmocka_unit_test(destination_field),
		cmocka_unit_test(round_trips),
		cmocka_unit_test(encode_init_deassert),
		cmocka_unit_test(reserved_delivery_modes),
		cmocka_unit_test(illegal_vectors),
		cmocka_unit_test(shorthand_rules),
		cmocka_unit_test(x2apic_reserved_bits),
		cmocka_unit_test(error_buffer),
		cmocka_unit_test(names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
