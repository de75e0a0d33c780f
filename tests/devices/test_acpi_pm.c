/*
 * Unit tests of the ACPI fixed hardware (devices/acpi_pm.c) on a fake
 * monotonic clock: PM1_STS write-1-to-clear and TMR_STS, PM1_EN, PM1_CNT
 * (SCI_EN, SLP_TYP/SLP_EN and power off), the PM timer's rate, width and
 * wrap, and the access widths ACPICA and Linux use.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "devices/acpi_pm.h"

struct fake {
	uint64_t now_ns;
	int poweroffs;
	int ignored;
	unsigned int ignored_typ;
	int sci, sci_calls;
};

static uint64_t fake_now(void *opaque)
{
	return ((struct fake *)opaque)->now_ns;
}

static int fake_poweroff(void *opaque)
{
	((struct fake *)opaque)->poweroffs++;
	return -1;
}

static void fake_ignored(void *opaque, unsigned int typ)
{
	struct fake *f = opaque;

	f->ignored++;
	f->ignored_typ = typ;
}

static void fake_sci(void *opaque, int level)
{
	struct fake *f = opaque;

	f->sci = level;
	f->sci_calls++;
}

static const struct acpi_pm_ops ops = {
	.now_ns = fake_now, .poweroff = fake_poweroff, .sleep_ignored = fake_ignored,
	.set_sci = fake_sci,
};

static uint32_t in(struct acpi_pm *pm, uint16_t port, unsigned int size)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(acpi_pm_pio(pm, port, false, &v, size), 0);
	return v;
}

static int out(struct acpi_pm *pm, uint16_t port, uint32_t v, unsigned int size)
{
	return acpi_pm_pio(pm, port, true, &v, size);
}

#define STS ACPI_PM1_EVT_BLK
#define EN  (ACPI_PM1_EVT_BLK + 2)
#define CNT ACPI_PM1_CNT_BLK
#define TMR ACPI_PM_TMR_BLK
#define GPE_STS ACPI_GPE0_BLK
#define GPE_EN  (ACPI_GPE0_BLK + 2)

/* ns for n timer ticks, rounded up so that exactly n have passed. */
static uint64_t ticks_ns(uint64_t n)
{
	return (n * 1000000000ull + ACPI_PM_TIMER_HZ - 1) / ACPI_PM_TIMER_HZ;
}

static void reset_values(void **state)
{
	struct fake f = { .now_ns = 123456789 };
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, &ops, &f);
	assert_int_equal(in(&pm, STS, 2), 0);
	assert_int_equal(in(&pm, EN, 2), 0);
	assert_int_equal(in(&pm, CNT, 2), ACPI_PM1_SCI_EN);  /* always in ACPI mode */
	assert_int_equal(in(&pm, TMR, 4), 0);                /* counts from init */
	assert_int_equal(in(&pm, STS, 4), 0);                /* PM1_STS | PM1_EN << 16 */
	acpi_pm_destroy(&pm);
}

static void sci_en_reads_one(void **state)
{
	struct fake f = { 0 };
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, &ops, &f);
	assert_int_equal(out(&pm, CNT, 0, 2), 0);
	assert_int_equal(in(&pm, CNT, 2) & ACPI_PM1_SCI_EN, ACPI_PM1_SCI_EN);
	assert_int_equal(in(&pm, CNT, 1), ACPI_PM1_SCI_EN);
	/* BM_RLD and SLP_TYP are kept; GBL_RLS and SLP_EN read 0. */
	assert_int_equal(out(&pm, CNT, ACPI_PM1_BM_RLD | ACPI_PM1_GBL_RLS | (3u << 10), 2), 0);
	assert_int_equal(in(&pm, CNT, 2), ACPI_PM1_SCI_EN | ACPI_PM1_BM_RLD | (3u << 10));
	acpi_pm_destroy(&pm);
}

static void enable_bits(void **state)
{
	struct fake f = { 0 };
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, &ops, &f);
	out(&pm, EN, 0xffff, 2);
	assert_int_equal(in(&pm, EN, 2), ACPI_PM1_TMR_EN | ACPI_PM1_GBL_EN | ACPI_PM1_PWRBTN_EN |
			 ACPI_PM1_SLPBTN_EN | ACPI_PM1_RTC_EN | ACPI_PM1_PCIEXP_WAKE_DIS);
	/* A byte write touches its own byte only. */
	out(&pm, EN + 1, 0, 1);
	assert_int_equal(in(&pm, EN, 2), ACPI_PM1_TMR_EN | ACPI_PM1_GBL_EN);
	/* A dword write at the event block writes PM1_STS (low) and PM1_EN (high). */
	out(&pm, STS, (uint32_t)ACPI_PM1_PWRBTN_EN << 16, 4);
	assert_int_equal(in(&pm, EN, 2), ACPI_PM1_PWRBTN_EN);
	/* PM1_EN is not write-1-to-clear. */
	out(&pm, EN, ACPI_PM1_PWRBTN_EN, 2);
	assert_int_equal(in(&pm, EN, 2), ACPI_PM1_PWRBTN_EN);
	acpi_pm_destroy(&pm);
}

static void timer_status(void **state)
{
	struct fake f = { .now_ns = 5000 };
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, &ops, &f);
	/* TMR_STS sets when bit 23 of the timer changes (every 2^23 ticks). */
	f.now_ns = 5000 + ticks_ns((1u << 23) - 1);
	assert_int_equal(in(&pm, STS, 2), 0);
	f.now_ns = 5000 + ticks_ns(1u << 23);
	assert_int_equal(in(&pm, STS, 2), ACPI_PM1_TMR_STS);
	/* Writing 0 leaves it; writing 1 clears it. */
	out(&pm, STS, 0, 2);
	assert_int_equal(in(&pm, STS, 2), ACPI_PM1_TMR_STS);
	out(&pm, STS, ACPI_PM1_TMR_STS, 2);
	assert_int_equal(in(&pm, STS, 2), 0);
	/* ... until bit 23 changes again (it goes back to 0 at the wrap). */
	f.now_ns = 5000 + ticks_ns((1u << 24) - 1);
	assert_int_equal(in(&pm, STS, 2), 0);
	f.now_ns = 5000 + ticks_ns(1u << 24);
	assert_int_equal(in(&pm, STS, 2), ACPI_PM1_TMR_STS);
	/* All the other status bits read 0 and clearing them is harmless. */
	out(&pm, STS, 0xffff, 2);
	assert_int_equal(in(&pm, STS, 2), 0);
	acpi_pm_destroy(&pm);
}

static void timer_rate_and_wrap(void **state)
{
	static const struct {
		uint64_t ns;
		uint32_t count;
	} cases[] = {
		{ 0, 0 },
		{ 279, 0 },                      /* one tick is 279.365 ns */
		{ 280, 1 },
		{ 1000000, 3579 },               /* 1 ms */
		{ 1000000000, 3579545 },         /* 1 s */
		{ 4000000000ull, 14318180 },     /* still below 2^24 */
		{ 5000000000ull, (17897725u) & 0xffffff },   /* wrapped after 4.69 s */
		{ 3600000000000ull, (uint32_t)(3579545ull * 3600) & 0xffffff }, /* 1 h */
	};
	struct fake f = { .now_ns = 1000 };
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, &ops, &f);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f.now_ns = 1000 + cases[i].ns;
		assert_int_equal(in(&pm, TMR, 4), cases[i].count);
		assert_int_equal(acpi_pm_timer(&pm), cases[i].count);
		assert_int_equal(in(&pm, TMR, 4) >> 24, 0); /* 24 bits: the top byte reads 0 */
	}
	/* Narrow reads see the same count a byte or word at a time. */
	f.now_ns = 1000 + 1000000000;
	assert_int_equal(in(&pm, TMR, 2), 3579545 & 0xffff);
	assert_int_equal(in(&pm, TMR + 2, 1), (3579545 >> 16) & 0xff);
	assert_int_equal(in(&pm, TMR + 3, 1), 0);
	/* The timer is read-only. */
	out(&pm, TMR, 0, 4);
	assert_int_equal(in(&pm, TMR, 4), 3579545);
	acpi_pm_destroy(&pm);
}

static void timer_monotonic(void **state)
{
	struct fake f = { .now_ns = 0 };
	struct acpi_pm pm;
	uint32_t last = 0;

	(void)state;
	acpi_pm_init(&pm, &ops, &f);
	for (uint64_t ns = 0; ns < 4000000000ull; ns += 12345678) {
		uint32_t v;

		f.now_ns = ns;
		v = in(&pm, TMR, 4);
		assert_true(v >= last);
		last = v;
	}
	acpi_pm_destroy(&pm);
}

static void poweroff_s5(void **state)
{
	struct fake f = { 0 };
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, &ops, &f);
	/* ACPICA's order: SLP_TYP first, then SLP_TYP | SLP_EN, word writes. */
	assert_int_equal(out(&pm, CNT, ACPI_S5_SLP_TYP << 10, 2), 0);
	assert_int_equal(f.poweroffs, 0);
	assert_int_equal(out(&pm, CNT, (ACPI_S5_SLP_TYP << 10) | ACPI_PM1_SLP_EN, 2), -1);
	assert_int_equal(f.poweroffs, 1);
	assert_int_equal(f.ignored, 0);
	/* SLP_EN reads 0. */
	assert_int_equal(in(&pm, CNT, 2), ACPI_PM1_SCI_EN | (ACPI_S5_SLP_TYP << 10));
	/* One byte write to the high half does it too. */
	assert_int_equal(out(&pm, CNT + 1, ((ACPI_S5_SLP_TYP << 10) | ACPI_PM1_SLP_EN) >> 8, 1), -1);
	assert_int_equal(f.poweroffs, 2);
	acpi_pm_destroy(&pm);
}

static void other_sleep_types_ignored(void **state)
{
	struct fake f = { 0 };
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, &ops, &f);
	for (unsigned int typ = 0; typ < 8; typ++) {
		if (typ == ACPI_S5_SLP_TYP)
			continue;
		f.ignored = 0;
		assert_int_equal(out(&pm, CNT, (typ << 10) | ACPI_PM1_SLP_EN, 2), 0);
		assert_int_equal(f.ignored, 1);
		assert_int_equal(f.ignored_typ, typ);
	}
	assert_int_equal(f.poweroffs, 0);
	/* SLP_TYP 5 without SLP_EN is no power off. */
	assert_int_equal(out(&pm, CNT, ACPI_S5_SLP_TYP << 10, 2), 0);
	assert_int_equal(f.poweroffs, 0);
	acpi_pm_destroy(&pm);
}

static void outside_the_blocks(void **state)
{
	struct fake f = { 0 };
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, &ops, &f);
	/* A dword at PM1_CNT reaches 0x606-0x607, which no register has. */
	assert_int_equal(in(&pm, CNT, 4), 0xffff0000u | ACPI_PM1_SCI_EN);
	assert_int_equal(out(&pm, CNT, 0xffff0000u, 4), 0);
	assert_int_equal(in(&pm, CNT, 2), ACPI_PM1_SCI_EN);
	/* A dword at the timer's last byte reaches GPE0_STS, right after it;
	 * one at the GPE0 block's last byte: the three bytes past it float. */
	assert_int_equal(in(&pm, TMR + 3, 4), 0);
	assert_int_equal(in(&pm, ACPI_GPE0_BLK + 3, 4), 0xffffff00u);
	acpi_pm_destroy(&pm);
}

/* §4.8.4.1: a raised GPE sets its status bit; the SCI is asserted while an
 * enabled one is set, and each change of level is reported once. */
static void gpe_and_sci(void **state)
{
	struct fake f = { 0 };
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, &ops, &f);
	assert_int_equal(in(&pm, GPE_STS, 4), 0);
	acpi_pm_gpe_raise(&pm, 2);                       /* not enabled: no SCI */
	assert_int_equal(in(&pm, GPE_STS, 2), 0x4);
	assert_int_equal(f.sci_calls, 0);
	assert_int_equal(out(&pm, GPE_EN, 0x4, 2), 0);   /* enabling asserts it */
	assert_int_equal(f.sci, 1);
	assert_int_equal(f.sci_calls, 1);
	assert_int_equal(in(&pm, GPE_STS, 4), 0x00040004u);
	acpi_pm_gpe_raise(&pm, 2);                       /* already asserted */
	acpi_pm_gpe_raise(&pm, 5);                       /* set, not enabled */
	assert_int_equal(f.sci_calls, 1);
	assert_int_equal(in(&pm, GPE_STS, 1), 0x24);
	assert_int_equal(out(&pm, GPE_STS, 0x0, 2), 0);  /* writing 0 clears nothing */
	assert_int_equal(in(&pm, GPE_STS, 2), 0x24);
	assert_int_equal(out(&pm, GPE_STS, 0x4, 1), 0);  /* write 1 to clear: deasserted */
	assert_int_equal(f.sci, 0);
	assert_int_equal(f.sci_calls, 2);
	assert_int_equal(in(&pm, GPE_STS, 2), 0x20);
	/* GPE 13 in the high byte, through a byte access at GPE0_EN + 1 */
	acpi_pm_gpe_raise(&pm, 13);
	assert_int_equal(out(&pm, GPE_EN + 1, 0x20, 1), 0);
	assert_int_equal(in(&pm, GPE_EN, 2), 0x2004);
	assert_int_equal(f.sci, 1);
	assert_int_equal(out(&pm, GPE_EN, 0, 2), 0);     /* disabling deasserts */
	assert_int_equal(f.sci, 0);
	assert_int_equal(f.sci_calls, 4);
	acpi_pm_destroy(&pm);
}

/* A snapshot's state goes on in another instance on another clock: timer, TMR_STS, enables. */
static void save_load(void **state)
{
	struct fake f = { .now_ns = 5000 }, g = { .now_ns = 999999999999ull };
	struct acpi_pm pm, back;
	struct acpi_pm_state s, s2;

	(void)state;
	acpi_pm_init(&pm, &ops, &f);
	out(&pm, EN, ACPI_PM1_PWRBTN_EN | ACPI_PM1_RTC_EN, 2);
	out(&pm, CNT, 5u << ACPI_PM1_SLP_TYP_SHIFT | ACPI_PM1_BM_RLD, 2);
	acpi_pm_gpe_raise(&pm, 2);                  /* GPE 2 pending and enabled: the SCI asserted */
	acpi_pm_gpe_raise(&pm, 5);
	out(&pm, GPE_EN, 0x4, 2);
	f.now_ns += ticks_ns((1u << 23) + 12345);   /* bit 23 flipped: TMR_STS set */
	acpi_pm_save(&pm, &s);
	assert_int_equal(s.gpe0_sts, 0x24);
	assert_int_equal(s.gpe0_en, 0x4);
	assert_int_equal(s.ticks, (1u << 23) + 12345);
	acpi_pm_init(&back, &ops, &g);
	assert_int_equal(acpi_pm_load(&back, &s, NULL, 0), 0);
	assert_int_equal(in(&back, TMR, 4), in(&pm, TMR, 4));
	assert_int_equal(in(&back, STS, 2), ACPI_PM1_TMR_STS);
	assert_int_equal(in(&back, EN, 2), in(&pm, EN, 2));
	assert_int_equal(in(&back, CNT, 2), in(&pm, CNT, 2));
	assert_int_equal(in(&back, GPE_STS, 4), 0x00040024u);
	assert_int_equal(g.sci, 1);                  /* the restored GPE 2 asserts the SCI again */
	acpi_pm_save(&back, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	g.now_ns += ticks_ns(10);                    /* and it goes on counting from there */
	assert_int_equal(in(&back, TMR, 4), (1u << 23) + 12355);
	out(&back, STS, ACPI_PM1_TMR_STS, 2);
	assert_int_equal(in(&back, STS, 2), 0);
	acpi_pm_destroy(&pm);
	acpi_pm_destroy(&back);
}

static void load_err(const struct acpi_pm_state *s, const char *want)
{
	struct fake f = { .now_ns = 77 };
	struct acpi_pm pm;
	char err[128] = "";

	acpi_pm_init(&pm, &ops, &f);
	out(&pm, EN, ACPI_PM1_GBL_EN, 2);
	assert_int_equal(acpi_pm_load(&pm, s, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("reason \"%s\", want \"%s\"", err, want);
	assert_int_equal(in(&pm, EN, 2), ACPI_PM1_GBL_EN);  /* unchanged */
	assert_int_equal(in(&pm, TMR, 4), 0);
	acpi_pm_destroy(&pm);
}

static void load_refuses(void **state)
{
	(void)state;
	load_err(&(struct acpi_pm_state){ .pm1_sts = ACPI_PM1_WAK_STS }, "PM1_STS 0x8000");
	load_err(&(struct acpi_pm_state){ .pm1_en = 0x0002 }, "PM1_EN 0x2 has reserved bits");
	load_err(&(struct acpi_pm_state){ .pm1_cnt = ACPI_PM1_SLP_EN }, "PM1_CNT 0x2000");
	load_err(&(struct acpi_pm_state){ .ticks = 5, .tmr_sts_epoch = 1 }, "epoch is after its count");
	load_err(&(struct acpi_pm_state){ .ticks = UINT64_MAX }, "more than a century");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reset_values),
		cmocka_unit_test(sci_en_reads_one),
		cmocka_unit_test(enable_bits),
		cmocka_unit_test(timer_status),
		cmocka_unit_test(timer_rate_and_wrap),
		cmocka_unit_test(timer_monotonic),
		cmocka_unit_test(poweroff_s5),
		cmocka_unit_test(other_sleep_types_ignored),
		cmocka_unit_test(outside_the_blocks),
		cmocka_unit_test(save_load),
		cmocka_unit_test(load_refuses),
		cmocka_unit_test(gpe_and_sci),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
