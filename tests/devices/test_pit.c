/*
 * Unit tests of devices/pit.c with a fake clock: every mode's OUT over
 * time, gates, IRQ 0 timing, latch and read-back commands, BCD, and
 * port 0x61.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "devices/pit.h"

static uint64_t now;                 /* the fake clock */
static unsigned int raises, lowers, rearms;
static bool line;

static uint64_t clock_ns(void *opaque) { return now; }

static void set_irq(void *opaque, unsigned int irq, bool level)
{
	assert_int_equal(irq, 0);
	/* Every report changes the level: a raise is always an edge. */
	assert_int_not_equal(level, line);
	line = level;
	if (level)
		raises++;
	else
		lowers++;
}

static void rearm(void *opaque) { rearms++; }

static const struct pit_ops ops = { .now_ns = clock_ns, .set_irq = set_irq, .rearm = rearm };

/* The time at which k input clocks have passed since t0. */
static uint64_t at(uint64_t t0, uint64_t k)
{
	return t0 + (k * 1000000000ull + PIT_HZ - 1) / PIT_HZ;
}

static void outb(struct pit *p, uint16_t port, uint8_t v)
{
	uint32_t d = v;

	assert_int_equal(pit_pio(p, port, true, &d, 1), 0);
}

static uint8_t inb(struct pit *p, uint16_t port)
{
	uint32_t d = 0xdeadbeef;

	assert_int_equal(pit_pio(p, port, false, &d, 1), 0);
	assert_true(d <= 0xff);
	return (uint8_t)d;
}

/* LSB, then MSB (two reads, in that order). */
static uint16_t inw(struct pit *p, uint16_t port)
{
	uint16_t lsb = inb(p, port);

	return (uint16_t)(lsb | inb(p, port) << 8);
}

/* Read-back of one channel's status byte only. */
static uint8_t status(struct pit *p, unsigned int ch)
{
	outb(p, 0x43, (uint8_t)(0xe0 | 2u << ch));
	return inb(p, (uint16_t)(0x40 + ch));
}

static bool out(struct pit *p, unsigned int ch) { return status(p, ch) >> 7; }

static struct pit *fresh(void)
{
	now = 1000000000ull;           /* not 0: catches a missing start time */
	raises = lowers = rearms = 0;
	line = false;
	return pit_create(&ops, NULL);
}

/* Programs `ch` with mode/BCD, LSB then MSB. */
static void program(struct pit *p, unsigned int ch, unsigned int mode, uint16_t count, bool bcd)
{
	outb(p, 0x43, (uint8_t)(ch << 6 | 3 << 4 | mode << 1 | bcd));
	outb(p, (uint16_t)(0x40 + ch), (uint8_t)count);
	outb(p, (uint16_t)(0x40 + ch), (uint8_t)(count >> 8));
}

/* OUT of channel 2 for each mode, clock by clock, gate raised at t0. */
static void modes_over_time(void **state)
{
	static const struct {
		unsigned int mode;
		uint16_t n;
		const char *before, *want;   /* OUT before the gate rises; OUT at e = 0, 1, ... */
	} cases[] = {
		{ 0, 6, "L", "LLLLLLHHHHHHHH" },
		{ 1, 6, "H", "LLLLLLHHHHHHHH" },
		{ 2, 6, "H", "HHHHHLHHHHHLHH" },
		{ 3, 6, "H", "HHHLLLHHHLLLHH" },
		{ 3, 5, "H", "HHHLLHHHLLHHHL" },
		{ 4, 6, "H", "HHHHHHLHHHHHHH" },
		{ 5, 6, "H", "HHHHHHLHHHHHHH" },
		{ 6, 4, "H", "HHHLHHHLHHHL" },   /* 6 is mode 2 */
		{ 7, 4, "H", "HHLLHHLLHHLL" },   /* 7 is mode 3 */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pit *p = fresh();

		program(p, 2, cases[i].mode, cases[i].n, false);
		assert_int_equal(out(p, 2), cases[i].before[0] == 'H');
		now += 12345;
		outb(p, 0x61, 0x01);             /* gate 2 high */
		uint64_t t0 = now;

		for (size_t k = 0; cases[i].want[k]; k++) {
			bool want = cases[i].want[k] == 'H';

			now = at(t0, k);
			if (out(p, 2) != want)
				fail_msg("mode %u n %u: OUT at clock %zu is %d, want %d",
					 cases[i].mode, cases[i].n, k, !want, want);
			assert_int_equal(inb(p, 0x61) >> 5 & 1, want);
		}
		assert_int_equal(raises + lowers, 0);    /* channel 2 is not IRQ 0 */
		pit_destroy(p);
	}
}

/* Mode 0 on channel 0: IRQ 0 rises once at terminal count. */
static void mode0_oneshot_irq(void **state)
{
	struct pit *p = fresh();

	program(p, 0, 0, 100, false);
	uint64_t t0 = now;

	assert_int_equal(rearms, 3);                  /* control word and both bytes */
	assert_int_equal(pit_next_irq_ns(p), at(t0, 100));
	pit_update(p, at(t0, 100) - 1);
	assert_int_equal(raises, 0);
	pit_update(p, at(t0, 100));
	assert_int_equal(raises, 1);
	assert_true(line);
	assert_int_equal(pit_next_irq_ns(p), UINT64_MAX);
	pit_update(p, at(t0, 100000));                /* wrapped past 0: still high, no edge */
	assert_int_equal(raises, 1);
	/* Linux's one-shot clockevent: reprogram; the control word drops OUT. */
	now = at(t0, 100000);
	outb(p, 0x43, 0x30);
	assert_false(line);
	outb(p, 0x40, 50);
	outb(p, 0x40, 0);
	assert_int_equal(pit_next_irq_ns(p), at(now, 50));
	pit_update(p, at(now, 60));
	assert_int_equal(raises, 2);
	/* Writing the LSB alone stops counting and drops OUT (mode 0). */
	now = at(now, 100);
	outb(p, 0x40, 10);
	assert_false(line);
	assert_int_equal(pit_next_irq_ns(p), UINT64_MAX);
	outb(p, 0x40, 0);
	assert_int_equal(pit_next_irq_ns(p), at(now, 10));
	pit_destroy(p);
}

/* Mode 4 (software strobe) on channel 0: IRQ 0 rises as the strobe ends, once. */
static void mode4_strobe_irq(void **state)
{
	struct pit *p = fresh();

	program(p, 0, 4, 20, false);
	uint64_t t0 = now;

	assert_int_equal(pit_next_irq_ns(p), at(t0, 21));
	pit_update(p, at(t0, 20));                   /* OUT low for this clock */
	assert_int_equal(raises, 0);
	pit_update(p, at(t0, 21));
	assert_int_equal(raises, 1);
	assert_int_equal(pit_next_irq_ns(p), UINT64_MAX);
	pit_update(p, at(t0, 70000));                /* the counter wraps: no second strobe */
	assert_int_equal(raises, 1);
	pit_destroy(p);
}

/* A vCPU whose clock read is older than the last update does not turn time back. */
static void stale_clock(void **state)
{
	struct pit *p = fresh();

	program(p, 0, 2, 10, false);
	uint64_t t0 = now;

	pit_update(p, at(t0, 10));
	assert_int_equal(raises, 1);
	now = at(t0, 9);                             /* OUT was low then */
	inb(p, 0x61);
	assert_int_equal(lowers, 0);
	assert_true(line);
	pit_destroy(p);
}

/* Periodic IRQ 0 in modes 2 and 3: one edge per divisor clocks, no drift. */
static void periodic_irq(void **state)
{
	static const struct { unsigned int mode; uint16_t div; uint64_t n; } cases[] = {
		{ 2, 1193, 1000 },   /* ~1000 Hz, Linux's PIT clockevent */
		{ 3, 1193, 1000 },
		{ 2, 0, 20 },        /* 0 is 65536: the BIOS's 18.2 Hz */
		{ 3, 0, 20 },        /* ...as --legacy-pc sets it: mode 3 (kvm/platform.c) */
		{ 3, 11932, 100 },   /* ~100 Hz */
		{ 2, 2, 500 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pit *p = fresh();
		uint64_t period = cases[i].div ? cases[i].div : 65536;

		program(p, 0, cases[i].mode, cases[i].div, false);
		uint64_t t0 = now;

		for (uint64_t k = 1; k <= cases[i].n; k++) {
			uint64_t t = pit_next_irq_ns(p);

			assert_int_equal(t, at(t0, k * period));
			pit_update(p, t - 1);                 /* not yet */
			assert_int_equal(raises, k - 1);
			pit_update(p, t);
			assert_int_equal(raises, k);
		}
		/* The VMM was late by ten periods: one edge, then on schedule. */
		uint64_t k = cases[i].n;
		pit_update(p, at(t0, (k + 10) * period));
		assert_int_equal(raises, k + 1);
		assert_int_equal(pit_next_irq_ns(p), at(t0, (k + 11) * period));
		pit_destroy(p);
	}
}

/* A new count in mode 2 takes over at the end of the current period. */
static void mode2_reload(void **state)
{
	struct pit *p = fresh();

	program(p, 0, 2, 1000, false);
	uint64_t t0 = now;

	now = at(t0, 300);
	outb(p, 0x40, 0xf4);                         /* 500 */
	outb(p, 0x40, 0x01);
	assert_int_equal(pit_next_irq_ns(p), at(t0, 1000));
	pit_update(p, at(t0, 1000));
	assert_int_equal(pit_next_irq_ns(p), at(t0, 1500));
	pit_update(p, at(t0, 1500));
	assert_int_equal(pit_next_irq_ns(p), at(t0, 2000));
	assert_int_equal(raises, 2);
	/* The count read back follows the new period. */
	now = at(t0, 2100);
	outb(p, 0x43, 0x00);
	assert_int_equal(inw(p, 0x40), 400);
	pit_destroy(p);
}

static void gates(void **state)
{
	struct pit *p = fresh();
	uint64_t t0;

	/* Mode 0: counting pauses while the gate is low. */
	outb(p, 0x61, 0x01);
	program(p, 2, 0, 10, false);
	t0 = now;
	now = at(t0, 4);
	outb(p, 0x61, 0x00);
	now = at(t0, 100);
	assert_false(out(p, 2));
	outb(p, 0x43, 0x80);
	assert_int_equal(inw(p, 0x42), 6);
	outb(p, 0x61, 0x01);
	t0 = now;
	now = at(t0, 5);
	assert_false(out(p, 2));
	now = at(t0, 6);
	assert_true(out(p, 2));
	/* Mode 2: gate low forces OUT high and stops; rising reloads. */
	program(p, 2, 2, 10, false);
	t0 = now;
	now = at(t0, 9);
	assert_false(out(p, 2));
	outb(p, 0x61, 0x00);
	assert_true(out(p, 2));
	now = at(t0, 50);
	outb(p, 0x61, 0x01);
	t0 = now;
	now = at(t0, 3);
	outb(p, 0x43, 0x80);
	assert_int_equal(inw(p, 0x42), 7);
	/* Mode 1: a second trigger restarts the one-shot. */
	program(p, 2, 1, 10, false);
	outb(p, 0x61, 0x00);
	outb(p, 0x61, 0x01);
	t0 = now;
	now = at(t0, 8);
	assert_false(out(p, 2));
	outb(p, 0x61, 0x00);
	outb(p, 0x61, 0x01);
	t0 = now;
	now = at(t0, 9);
	assert_false(out(p, 2));
	now = at(t0, 10);
	assert_true(out(p, 2));
	/* Without a count, a trigger starts nothing. */
	outb(p, 0x43, 0xb2);
	outb(p, 0x61, 0x00);
	outb(p, 0x61, 0x01);
	now = at(now, 5);
	assert_int_equal(status(p, 2), 0x80 | 0x40 | 0x32);
	/* Gate low does not stop mode 1. */
	program(p, 2, 1, 10, false);
	outb(p, 0x61, 0x00);
	outb(p, 0x61, 0x01);
	t0 = now;
	now = at(t0, 3);
	outb(p, 0x61, 0x00);
	now = at(t0, 9);
	assert_false(out(p, 2));
	now = at(t0, 10);
	assert_true(out(p, 2));
	pit_destroy(p);
}

/* Counter latch: the value at latch time, for each access mode. */
static void latch(void **state)
{
	static const struct { uint8_t rw; unsigned int reads; uint16_t want; } cases[] = {
		{ 3, 2, 0x1234 - 100 },
		{ 1, 1, (0x34 - 100) & 0xff },       /* LSB only: count 0x0034 */
		{ 2, 1, (0x1200 - 100) >> 8 },       /* MSB only: count 0x1200 */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pit *p = fresh();

		outb(p, 0x43, (uint8_t)(cases[i].rw << 4));  /* channel 0, mode 0 */
		if (cases[i].rw & 1)
			outb(p, 0x40, 0x34);
		if (cases[i].rw & 2)
			outb(p, 0x40, 0x12);
		uint64_t t0 = now;

		now = at(t0, 100);
		outb(p, 0x43, 0x00);                 /* latch channel 0 */
		now = at(t0, 150);
		outb(p, 0x43, 0x00);                 /* ignored: already latched */
		now = at(t0, 200);
		uint16_t v = inb(p, 0x40);
		if (cases[i].reads == 2)
			v |= (uint16_t)(inb(p, 0x40) << 8);
		assert_int_equal(v, cases[i].want & (cases[i].reads == 2 ? 0xffff : 0xff));
		/* Unlatched now: live reads. */
		now = at(t0, 300);
		v = inb(p, 0x40);
		if (cases[i].reads == 2)
			v |= (uint16_t)(inb(p, 0x40) << 8);
		uint16_t live = cases[i].rw == 3 ? 0x1234 - 300 : cases[i].rw == 1 ? (0x34 - 300 + 65536) & 0xff
			: ((0x1200 - 300) >> 8);
		assert_int_equal(v, live);
		pit_destroy(p);
	}
}

static void read_back(void **state)
{
	struct pit *p = fresh();

	outb(p, 0x43, 0x34);                         /* ch0 mode 2 */
	outb(p, 0x43, 0x76);                         /* ch1 mode 3 */
	outb(p, 0x43, 0xb0);                         /* ch2 mode 0 */
	/* Null count is set until a count is loaded. */
	assert_int_equal(status(p, 0), 0x80 | 0x40 | 0x34);
	assert_int_equal(status(p, 1), 0x80 | 0x40 | 0x36);
	assert_int_equal(status(p, 2), 0x00 | 0x40 | 0x30);
	outb(p, 0x40, 0x00); outb(p, 0x40, 0x10);    /* 0x1000 */
	outb(p, 0x42, 0x00); outb(p, 0x42, 0x20);
	assert_int_equal(status(p, 0), 0x80 | 0x34);
	/* Mode 1 without a trigger keeps null count. */
	outb(p, 0x43, 0xb2);
	outb(p, 0x42, 5); outb(p, 0x42, 0);
	assert_int_equal(status(p, 2), 0x80 | 0x40 | 0x32);
	/* Status and count of channels 0 and 1 at once: status first, then the count. */
	uint64_t t0 = now;
	now = at(t0, 16);
	outb(p, 0x43, 0xc6);
	now = at(t0, 99);
	assert_int_equal(inb(p, 0x40), 0x80 | 0x34);
	assert_int_equal(inw(p, 0x40), 0x1000 - 16);
	/* Channel 1 has no count: its count register, as written (none: 0). */
	assert_int_equal(inb(p, 0x41), 0x80 | 0x40 | 0x36);
	/* Count-only read-back of channel 0, then a status latch does not disturb it. */
	outb(p, 0x43, 0xd2);
	outb(p, 0x43, 0xe2);
	assert_int_equal(inb(p, 0x40), 0x80 | 0x34);
	assert_int_equal(inw(p, 0x40), 0x1000 - 99);
	assert_int_equal(inb(p, 0x43), 0xff);        /* the control register is write-only */
	pit_destroy(p);
}

static void bcd(void **state)
{
	static const struct { uint16_t count; uint64_t ticks; uint16_t want; } cases[] = {
		{ 0x1000, 1, 0x0999 },
		{ 0x0000, 1, 0x9999 },     /* 0 is 10000 in BCD */
		{ 0x0050, 51, 0x9999 },    /* wraps to 9999 */
		{ 0x1234, 234, 0x1000 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pit *p = fresh();

		program(p, 0, 0, cases[i].count, true);
		now = at(now, cases[i].ticks);
		outb(p, 0x43, 0x00);
		assert_int_equal(inw(p, 0x40), cases[i].want);
		pit_destroy(p);
	}
	/* BCD rate generator: 0x0100 is 100 clocks. */
	struct pit *p = fresh();
	program(p, 0, 2, 0x0100, true);
	assert_int_equal(pit_next_irq_ns(p), at(now, 100));
	pit_destroy(p);
}

static void port61(void **state)
{
	struct pit *p = fresh();

	outb(p, 0x61, 0xff);
	assert_int_equal(inb(p, 0x61) & 0xcf, 0x0f); /* bits 3:0 kept, 7:6 read 0 */
	/* The refresh bit toggles every 15.085 us. */
	now = (now / 15085 + 1) * 15085;
	uint8_t a = inb(p, 0x61) & 0x10;
	now += 15085;
	uint8_t b = inb(p, 0x61) & 0x10;
	now += 15085;
	assert_int_not_equal(a, b);
	assert_int_equal(inb(p, 0x61) & 0x10, a);
	/* Linux's calibration: gate on, mode 0 on channel 2, wait for OUT2. */
	outb(p, 0x61, 0x01);
	program(p, 2, 0, 0xffff, false);
	uint64_t t0 = now;
	now = at(t0, 0xfffe);
	assert_int_equal(inb(p, 0x61) & 0x20, 0);
	now = at(t0, 0xffff);
	assert_int_equal(inb(p, 0x61) & 0x20, 0x20);
	pit_destroy(p);
}

/* A wide access reaches consecutive ports; unprogrammed channels are silent. */
static void misc(void **state)
{
	struct pit *p = fresh();
	uint32_t d = 0x0200;                         /* 0x40 <- 0x00, 0x41 <- 0x02 */

	assert_int_equal(pit_next_irq_ns(p), UINT64_MAX);
	now += 1000000000ull;
	pit_update(p, now);
	assert_int_equal(raises + lowers, 0);
	outb(p, 0x43, 0x34);
	outb(p, 0x43, 0x54);                         /* ch1 mode 2 LSB only */
	assert_int_equal(pit_pio(p, 0x40, true, &d, 2), 0);
	assert_int_equal(pit_pio(p, 0x40, true, &d, 1), 0); /* ch0 MSB 0 */
	assert_int_equal(pit_next_irq_ns(p), at(now, 65536));
	outb(p, 0x43, 0x40);
	assert_int_equal(inb(p, 0x41), 2);
	d = 0;
	assert_int_equal(pit_pio(p, 0x43, false, &d, 2), 0);
	assert_int_equal(d, 0xffff);
	pit_destroy(p);
}

static struct pit *shared;
static int stop;

static void *reader(void *arg)
{
	uint32_t d;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		pit_pio(shared, 0x43, true, &(uint32_t){ 0x00 }, 1);
		pit_pio(shared, 0x40, false, &d, 1);
		pit_pio(shared, 0x40, false, &d, 1);
		pit_pio(shared, 0x61, false, &d, 1);
	}
	return NULL;
}

static uint64_t atomic_now;
static unsigned int tsan_raises;
static uint64_t tclock(void *opaque) { return __atomic_load_n(&atomic_now, __ATOMIC_RELAXED); }
static void tset_irq(void *opaque, unsigned int irq, bool level) { tsan_raises += level; }

/* Port reads from two vCPU threads while the timer thread updates. */
static void threads(void **state)
{
	static const struct pit_ops tops = { .now_ns = tclock, .set_irq = tset_irq };
	pthread_t th[2];

	shared = pit_create(&tops, NULL);
	pit_pio(shared, 0x43, true, &(uint32_t){ 0x34 }, 1);
	pit_pio(shared, 0x40, true, &(uint32_t){ 100 }, 1);
	pit_pio(shared, 0x40, true, &(uint32_t){ 0 }, 1);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, reader, NULL);
	for (int k = 0; k < 2000; k++) {
		uint64_t t = pit_next_irq_ns(shared);

		__atomic_store_n(&atomic_now, t, __ATOMIC_RELAXED);
		pit_update(shared, t);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(tsan_raises, 2000);
	pit_destroy(shared);
}

/* Saved mid-count: a PIT loaded from it on the same clock reads the same counts and fires at the same time. */
static void save_load(void **state)
{
	struct pit *p = fresh(), *q;
	struct pit_state s, s2;
	uint64_t t0 = now;
	char err[128] = "";

	(void)state;
	program(p, 0, 0, 1000, false);          /* mode 0: IRQ 0 at count 0 */
	program(p, 2, 3, 500, false);
	now = at(t0, 300);
	pit_update(p, now);
	pit_save(p, &s);
	q = pit_create(&ops, NULL);
	assert_int_equal(pit_load(q, &s, NULL, 0), 0);
	pit_save(q, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	now = at(t0, 600);
	assert_int_equal(inw(q, 0x40), inw(p, 0x40));
	assert_int_equal(pit_next_irq_ns(q), pit_next_irq_ns(p));
	s.ch[1].mode = 6;
	assert_int_equal(pit_load(q, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "PIT channel 1: a register or flag out of range");
	s.ch[1].mode = 0;
	s.port61 = 0x10;
	assert_int_equal(pit_load(q, &s, err, sizeof(err)), -1);
	pit_destroy(p);
	pit_destroy(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(modes_over_time),
		cmocka_unit_test(save_load),
		cmocka_unit_test(mode0_oneshot_irq),
		cmocka_unit_test(mode4_strobe_irq),
		cmocka_unit_test(stale_clock),
		cmocka_unit_test(periodic_irq),
		cmocka_unit_test(mode2_reload),
		cmocka_unit_test(gates),
		cmocka_unit_test(latch),
		cmocka_unit_test(read_back),
		cmocka_unit_test(bcd),
		cmocka_unit_test(port61),
		cmocka_unit_test(misc),
		cmocka_unit_test(threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
