/*
 * Unit tests of the MC146818A RTC and CMOS RAM (devices/rtc.c) on a fake
 * wall clock: dates in BCD and binary, 12- and 24-hour mode, the day of
 * the week, UIP's window, setting the time with and without SET, register
 * C's update flag, register D, the NMI mask bit and CMOS RAM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "devices/rtc.h"

#define NS 1000000000ll

static int64_t fake_now;

static int64_t fake_wall(void *opaque)
{
	(void)opaque;
	return fake_now;
}

static const struct rtc_ops ops = { .wall_ns = fake_wall };

static uint8_t rd(struct rtc *rtc, uint8_t index)
{
	uint32_t v = index;

	assert_int_equal(rtc_pio(rtc, RTC_PORT, true, &v, 1), 0);
	v = 0xdeadbeef;
	assert_int_equal(rtc_pio(rtc, RTC_PORT + 1, false, &v, 1), 0);
	assert_true(v <= 0xff);
	return (uint8_t)v;
}

static void wr(struct rtc *rtc, uint8_t index, uint8_t value)
{
	uint32_t v = index;

	assert_int_equal(rtc_pio(rtc, RTC_PORT, true, &v, 1), 0);
	v = value;
	assert_int_equal(rtc_pio(rtc, RTC_PORT + 1, true, &v, 1), 0);
}

struct date {
	int64_t epoch;
	int year, mon, mday, hour, min, sec, wday; /* wday 1-7, Sunday = 1 */
};

static const struct date dates[] = {
	{ 0, 1970, 1, 1, 0, 0, 0, 5 },
	{ 946684799, 1999, 12, 31, 23, 59, 59, 6 },
	{ 946684800, 2000, 1, 1, 0, 0, 0, 7 },
	{ 951825600, 2000, 2, 29, 12, 0, 0, 3 },
	{ 1709251198, 2024, 2, 29, 23, 59, 58, 5 },
	{ 2147483648ll, 2038, 1, 19, 3, 14, 8, 3 },
	{ 4107542400ll, 2100, 3, 1, 0, 0, 0, 2 },
	{ 1795352709, 2026, 11, 22, 13, 5, 9, 1 },
};

static int bcd(int v)
{
	return (v / 10) << 4 | v % 10;
}

static void expect_date(struct rtc *rtc, const struct date *d, bool binary)
{
	int (*enc)(int) = bcd;
	int hour12 = d->hour % 12 ? d->hour % 12 : 12;

	if (binary) {
		assert_int_equal(rd(rtc, RTC_SECONDS), d->sec);
		assert_int_equal(rd(rtc, RTC_MINUTES), d->min);
		assert_int_equal(rd(rtc, RTC_HOURS), d->hour);
		assert_int_equal(rd(rtc, RTC_DAY_OF_WEEK), d->wday);
		assert_int_equal(rd(rtc, RTC_DAY_OF_MONTH), d->mday);
		assert_int_equal(rd(rtc, RTC_MONTH), d->mon);
		assert_int_equal(rd(rtc, RTC_YEAR), d->year % 100);
		assert_int_equal(rd(rtc, RTC_CENTURY), d->year / 100);
		return;
	}
	assert_int_equal(rd(rtc, RTC_SECONDS), enc(d->sec));
	assert_int_equal(rd(rtc, RTC_MINUTES), enc(d->min));
	assert_int_equal(rd(rtc, RTC_HOURS), enc(d->hour));
	assert_int_equal(rd(rtc, RTC_DAY_OF_WEEK), enc(d->wday));
	assert_int_equal(rd(rtc, RTC_DAY_OF_MONTH), enc(d->mday));
	assert_int_equal(rd(rtc, RTC_MONTH), enc(d->mon));
	assert_int_equal(rd(rtc, RTC_YEAR), enc(d->year % 100));
	assert_int_equal(rd(rtc, RTC_CENTURY), enc(d->year / 100));
	/* 12-hour mode: 1-12, bit 7 for PM. */
	wr(rtc, RTC_REG_B, rd(rtc, RTC_REG_B) & ~RTC_B_24H);
	assert_int_equal(rd(rtc, RTC_HOURS), enc(hour12) | (d->hour >= 12 ? 0x80 : 0));
	wr(rtc, RTC_REG_B, rd(rtc, RTC_REG_B) | RTC_B_24H);
}

static void reads_host_time(void **state)
{
	struct rtc rtc;

	(void)state;
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		fake_now = dates[i].epoch * NS + 500000000; /* mid-second */
		rtc_init(&rtc, &ops, NULL);
		assert_int_equal(rd(&rtc, RTC_REG_B), RTC_B_24H); /* BCD, 24-hour */
		expect_date(&rtc, &dates[i], false);
		wr(&rtc, RTC_REG_B, RTC_B_24H | RTC_B_DM);
		expect_date(&rtc, &dates[i], true);
		rtc_destroy(&rtc);
	}
}

static void reset_registers(void **state)
{
	struct rtc rtc;
	uint32_t v = 0;

	(void)state;
	fake_now = 1000 * NS;
	rtc_init(&rtc, &ops, NULL);
	assert_int_equal(rd(&rtc, RTC_REG_A), RTC_A_DV_32K | RTC_A_RS_1024);
	assert_int_equal(rd(&rtc, RTC_REG_D), RTC_D_VRT); /* bit 6 clear: Linux's probe checks */
	wr(&rtc, RTC_REG_D, 0);
	assert_int_equal(rd(&rtc, RTC_REG_D), RTC_D_VRT);
	/* The index register is write-only. */
	assert_int_equal(rtc_pio(&rtc, RTC_PORT, false, &v, 1), 0);
	assert_int_equal(v, 0xff);
	rtc_destroy(&rtc);
}

static void uip_window(void **state)
{
	struct rtc rtc;
	uint8_t b;

	(void)state;
	fake_now = 1709251198 * NS;
	rtc_init(&rtc, &ops, NULL);
	/* UIP is set for the last 244 us before each second boundary. */
	fake_now = 1709251198 * NS + NS - RTC_UIP_NS - 1;
	assert_int_equal(rd(&rtc, RTC_REG_A) & RTC_A_UIP, 0);
	assert_int_equal(rd(&rtc, RTC_SECONDS), 0x58);
	fake_now += 1;
	assert_int_equal(rd(&rtc, RTC_REG_A) & RTC_A_UIP, RTC_A_UIP);
	assert_int_equal(rd(&rtc, RTC_SECONDS), 0x58);
	fake_now = 1709251199 * NS;
	assert_int_equal(rd(&rtc, RTC_REG_A) & RTC_A_UIP, 0);
	assert_int_equal(rd(&rtc, RTC_SECONDS), 0x59);
	/* Writes cannot set UIP; the other bits of A are kept. */
	wr(&rtc, RTC_REG_A, 0xff);
	assert_int_equal(rd(&rtc, RTC_REG_A), 0x7f);
	/* While SET is 1 there are no updates, so no UIP. */
	fake_now = 1709251199 * NS + NS - 1;
	b = rd(&rtc, RTC_REG_B);
	wr(&rtc, RTC_REG_B, b | RTC_B_SET);
	assert_int_equal(rd(&rtc, RTC_REG_A) & RTC_A_UIP, 0);
	rtc_destroy(&rtc);
}

static void set_time_with_set_bit(void **state)
{
	struct rtc rtc;

	(void)state;
	fake_now = 1709251198 * NS + 250000000; /* 2024-02-29 23:59:58.25 */
	rtc_init(&rtc, &ops, NULL);
	/* Linux's mc146818_set_time: SET, then the fields, then SET clear. */
	wr(&rtc, RTC_REG_B, RTC_B_24H | RTC_B_SET);
	fake_now += 5 * NS; /* the clock is stopped */
	assert_int_equal(rd(&rtc, RTC_SECONDS), 0x58);
	wr(&rtc, RTC_YEAR, 0x26);
	wr(&rtc, RTC_MONTH, 0x11);
	wr(&rtc, RTC_DAY_OF_MONTH, 0x22);
	wr(&rtc, RTC_HOURS, 0x13);
	wr(&rtc, RTC_MINUTES, 0x05);
	wr(&rtc, RTC_SECONDS, 0x09);
	wr(&rtc, RTC_CENTURY, 0x20);
	fake_now += 7 * NS;
	expect_date(&rtc, &dates[7], false);
	wr(&rtc, RTC_REG_B, RTC_B_24H);
	expect_date(&rtc, &dates[7], false);
	/* It runs again from the time written, with the host's sub-second phase. */
	fake_now += NS - 250000000 - 1;
	assert_int_equal(rd(&rtc, RTC_SECONDS), 0x09);
	fake_now += 1;
	assert_int_equal(rd(&rtc, RTC_SECONDS), 0x10);
	fake_now += 3600 * NS;
	assert_int_equal(rd(&rtc, RTC_HOURS), 0x14);
	assert_int_equal(rd(&rtc, RTC_MINUTES), 0x05);
	rtc_destroy(&rtc);
}

/* Jan 31 to Feb 15, month first (Linux's order): no Feb 31 in between. */
static void set_fields_in_any_order(void **state)
{
	struct rtc rtc;

	(void)state;
	fake_now = 949320000 * NS; /* 2000-01-31 12:00:00 */
	rtc_init(&rtc, &ops, NULL);
	assert_int_equal(rd(&rtc, RTC_DAY_OF_MONTH), 0x31);
	wr(&rtc, RTC_REG_B, RTC_B_24H | RTC_B_SET);
	wr(&rtc, RTC_MONTH, 0x02);
	assert_int_equal(rd(&rtc, RTC_MONTH), 0x02);
	assert_int_equal(rd(&rtc, RTC_DAY_OF_MONTH), 0x31); /* held as written */
	wr(&rtc, RTC_DAY_OF_MONTH, 0x15);
	wr(&rtc, RTC_REG_B, RTC_B_24H);
	assert_int_equal(rd(&rtc, RTC_MONTH), 0x02);
	assert_int_equal(rd(&rtc, RTC_DAY_OF_MONTH), 0x15);
	assert_int_equal(rd(&rtc, RTC_HOURS), 0x12);
	/* A date that does not exist is normalised once the clock runs. */
	wr(&rtc, RTC_REG_B, RTC_B_24H | RTC_B_SET);
	wr(&rtc, RTC_DAY_OF_MONTH, 0x30);
	assert_int_equal(rd(&rtc, RTC_DAY_OF_MONTH), 0x30);
	wr(&rtc, RTC_REG_B, RTC_B_24H);
	assert_int_equal(rd(&rtc, RTC_MONTH), 0x03);
	assert_int_equal(rd(&rtc, RTC_DAY_OF_MONTH), 0x01); /* 2000 is a leap year */
	rtc_destroy(&rtc);
}

static void set_time_running(void **state)
{
	struct rtc rtc;

	(void)state;
	fake_now = 0;
	rtc_init(&rtc, &ops, NULL);
	wr(&rtc, RTC_REG_B, RTC_B_24H | RTC_B_DM); /* binary */
	wr(&rtc, RTC_YEAR, 99);
	wr(&rtc, RTC_CENTURY, 19);
	wr(&rtc, RTC_MONTH, 12);
	wr(&rtc, RTC_DAY_OF_MONTH, 31);
	wr(&rtc, RTC_HOURS, 23);
	wr(&rtc, RTC_MINUTES, 59);
	wr(&rtc, RTC_SECONDS, 59);
	expect_date(&rtc, &dates[1], true);
	fake_now += NS; /* the year 2000 begins */
	expect_date(&rtc, &dates[2], true);
	/* 12-hour mode writes: 12 AM is hour 0, 1 PM is 13. */
	wr(&rtc, RTC_REG_B, RTC_B_DM);
	wr(&rtc, RTC_HOURS, 0x80 | 1);
	wr(&rtc, RTC_REG_B, RTC_B_DM | RTC_B_24H);
	assert_int_equal(rd(&rtc, RTC_HOURS), 13);
	wr(&rtc, RTC_REG_B, RTC_B_DM);
	wr(&rtc, RTC_HOURS, 12);
	wr(&rtc, RTC_REG_B, RTC_B_DM | RTC_B_24H);
	assert_int_equal(rd(&rtc, RTC_HOURS), 0);
	rtc_destroy(&rtc);
}

/*
 * Years far from now: a guest that writes century 0 or 99 moves the clock thousands of years, past what a nanosecond
 * offset holds (the fuzzer found that: signed overflow in write_time).
 */
static void far_years(void **state)
{
	struct rtc rtc;

	(void)state;
	fake_now = 1700000000ll * NS; /* 2023 */
	rtc_init(&rtc, &ops, NULL);
	wr(&rtc, RTC_REG_B, RTC_B_24H | RTC_B_DM);
	wr(&rtc, RTC_CENTURY, 0);
	assert_int_equal(rd(&rtc, RTC_CENTURY), 0);
	assert_int_equal(rd(&rtc, RTC_YEAR), 23);
	wr(&rtc, RTC_CENTURY, 99);
	assert_int_equal(rd(&rtc, RTC_CENTURY), 99);
	assert_int_equal(rd(&rtc, RTC_YEAR), 23);
	fake_now += 61 * NS; /* and it runs on */
	assert_int_equal(rd(&rtc, RTC_CENTURY), 99);
	wr(&rtc, RTC_CENTURY, 20);
	assert_int_equal(rd(&rtc, RTC_YEAR), 23);
	rtc_destroy(&rtc);
}

static void day_of_week_written(void **state)
{
	struct rtc rtc;

	(void)state;
	fake_now = 946684800 * NS; /* Saturday, 7 */
	rtc_init(&rtc, &ops, NULL);
	assert_int_equal(rd(&rtc, RTC_DAY_OF_WEEK), 7);
	/* A guest numbering Monday = 1 writes 6 on a Saturday and counts on. */
	wr(&rtc, RTC_DAY_OF_WEEK, 6);
	assert_int_equal(rd(&rtc, RTC_DAY_OF_WEEK), 6);
	fake_now += 86400 * NS;
	assert_int_equal(rd(&rtc, RTC_DAY_OF_WEEK), 7);
	fake_now += 86400 * NS;
	assert_int_equal(rd(&rtc, RTC_DAY_OF_WEEK), 1);
	/* The date itself does not move. */
	assert_int_equal(rd(&rtc, RTC_DAY_OF_MONTH), 0x03);
	rtc_destroy(&rtc);
}

static void register_c_update_flag(void **state)
{
	struct rtc rtc;

	(void)state;
	fake_now = 100 * NS + 1;
	rtc_init(&rtc, &ops, NULL);
	assert_int_equal(rd(&rtc, RTC_REG_C), 0);
	fake_now += NS;
	wr(&rtc, RTC_REG_B, RTC_B_24H | RTC_B_UIE);
	assert_int_equal(rd(&rtc, RTC_REG_C), RTC_C_IRQF | RTC_C_UF);
	assert_int_equal(rd(&rtc, RTC_REG_C), 0); /* the read cleared it */
	wr(&rtc, RTC_REG_B, RTC_B_24H);
	fake_now += NS;
	assert_int_equal(rd(&rtc, RTC_REG_C), RTC_C_UF);
	/* Setting SET clears UIE. */
	wr(&rtc, RTC_REG_B, RTC_B_24H | RTC_B_UIE | RTC_B_SET);
	assert_int_equal(rd(&rtc, RTC_REG_B), RTC_B_24H | RTC_B_SET);
	rtc_destroy(&rtc);
}

static void cmos_ram_and_nmi(void **state)
{
	struct rtc rtc;
	uint32_t v;

	(void)state;
	fake_now = 0;
	rtc_init(&rtc, &ops, NULL);
	for (unsigned int i = 0x0e; i < RTC_CMOS_SIZE; i++)
		if (i != RTC_CENTURY)
			wr(&rtc, (uint8_t)i, (uint8_t)(i * 7));
	for (unsigned int i = 0x0e; i < RTC_CMOS_SIZE; i++)
		if (i != RTC_CENTURY)
			assert_int_equal(rd(&rtc, (uint8_t)i), (uint8_t)(i * 7));
	/* The alarm registers are plain storage. */
	wr(&rtc, RTC_SECONDS_ALARM, 0x12);
	wr(&rtc, RTC_MINUTES_ALARM, 0x34);
	wr(&rtc, RTC_HOURS_ALARM, 0xc0);
	assert_int_equal(rd(&rtc, RTC_SECONDS_ALARM), 0x12);
	assert_int_equal(rd(&rtc, RTC_MINUTES_ALARM), 0x34);
	assert_int_equal(rd(&rtc, RTC_HOURS_ALARM), 0xc0);
	/* Bit 7 of the index is the NMI mask; bits 0-6 still select. */
	assert_false(rtc_nmi_masked(&rtc));
	v = 0x80 | 0x20;
	rtc_pio(&rtc, RTC_PORT, true, &v, 1);
	assert_true(rtc_nmi_masked(&rtc));
	rtc_pio(&rtc, RTC_PORT + 1, false, &v, 1);
	assert_int_equal(v, (uint8_t)(0x20 * 7));
	v = 0x20;
	rtc_pio(&rtc, RTC_PORT, true, &v, 1);
	assert_false(rtc_nmi_masked(&rtc));
	/* A word write: index in the low byte, data in the high one. */
	v = 0x5500 | 0x40;
	rtc_pio(&rtc, RTC_PORT, true, &v, 2);
	assert_int_equal(rd(&rtc, 0x40), 0x55);
	/* rtc_set_cmos never touches the clock or the registers. */
	rtc_set_cmos(&rtc, 0x41, 0x66);
	rtc_set_cmos(&rtc, RTC_REG_B, 0xff);
	rtc_set_cmos(&rtc, RTC_CENTURY, 0xff);
	assert_int_equal(rd(&rtc, 0x41), 0x66);
	assert_int_equal(rd(&rtc, RTC_REG_B), RTC_B_24H);
	assert_int_equal(rd(&rtc, RTC_CENTURY), 0x19);
	rtc_destroy(&rtc);
}

/*
 * Save, then load into another RTC: the same registers read back, the guest's
 * offset from the wall clock kept (an hour later it reads an hour later),
 * and a clock stopped with SET stays stopped at the held time.
 */
static void save_load(void **state)
{
	struct rtc a, b;
	struct rtc_state s, s2;

	(void)state;
	fake_now = 1795352709 * NS;
	rtc_init(&a, &ops, NULL);
	wr(&a, RTC_REG_B, RTC_B_24H | RTC_B_DM);
	wr(&a, RTC_YEAR, 31);                       /* the guest moves its clock 5 years on */
	wr(&a, 0x40, 0x5a);                         /* CMOS RAM */
	wr(&a, RTC_DAY_OF_WEEK, 3);
	rtc_save(&a, &s);
	rtc_init(&b, &ops, NULL);
	assert_int_equal(rtc_load(&b, &s, NULL, 0), 0);
	rtc_save(&b, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	for (uint8_t r = 0; r < 0x80; r++)
		if (r != RTC_REG_A && r != RTC_REG_C)   /* UIP and the flags are read-sensitive */
			assert_int_equal(rd(&b, r), rd(&a, r));
	fake_now += 3600 * NS;
	assert_int_equal(rd(&b, RTC_HOURS), rd(&a, RTC_HOURS));
	assert_int_equal(rd(&b, RTC_YEAR), 31);

	wr(&a, RTC_REG_B, RTC_B_24H | RTC_B_DM | RTC_B_SET);   /* stopped */
	wr(&a, RTC_MINUTES, 7);
	rtc_save(&a, &s);
	assert_int_equal(rtc_load(&b, &s, NULL, 0), 0);
	fake_now += 120 * NS;
	assert_int_equal(rd(&b, RTC_MINUTES), 7);
	assert_int_equal(rd(&b, RTC_SECONDS), rd(&a, RTC_SECONDS));
	wr(&b, RTC_REG_B, RTC_B_24H | RTC_B_DM);               /* and it runs from the held time */
	assert_int_equal(rd(&b, RTC_MINUTES), 7);
}

static void load_err(struct rtc_state s, const char *want)
{
	struct rtc r;
	struct rtc_state before, after;
	char err[128] = "";

	rtc_init(&r, &ops, NULL);
	wr(&r, 0x41, 0x99);
	rtc_save(&r, &before);
	assert_int_equal(rtc_load(&r, &s, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("reason \"%s\", want \"%s\"", err, want);
	rtc_save(&r, &after);
	assert_memory_equal(&before, &after, sizeof(before));
}

static void load_refuses(void **state)
{
	struct rtc r;
	struct rtc_state good;

	(void)state;
	fake_now = 1795352709 * NS;
	rtc_init(&r, &ops, NULL);
	rtc_save(&r, &good);
	{ struct rtc_state s = good; s.index = 0x80; load_err(s, "index 0x80"); }
	{ struct rtc_state s = good; s.wday_adjust = 7; load_err(s, "adjustment 7"); }
	{ struct rtc_state s = good; s.offset_sec = INT64_MIN; load_err(s, "offset"); }
	{ struct rtc_state s = good; s.held_mon = 256; load_err(s, "held time"); }
	{ struct rtc_state s = good; s.held_year = 30000; load_err(s, "held time"); }
	{ struct rtc_state s = good; s.pad[2] = 1; load_err(s, "padding"); }
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_host_time),
		cmocka_unit_test(reset_registers),
		cmocka_unit_test(uip_window),
		cmocka_unit_test(set_time_with_set_bit),
		cmocka_unit_test(set_fields_in_any_order),
		cmocka_unit_test(set_time_running),
		cmocka_unit_test(far_years),
		cmocka_unit_test(day_of_week_written),
		cmocka_unit_test(register_c_update_flag),
		cmocka_unit_test(cmos_ram_and_nmi),
		cmocka_unit_test(save_load),
		cmocka_unit_test(load_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
