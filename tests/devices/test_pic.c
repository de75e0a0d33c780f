/*
 * Unit tests of devices/pic.c: the init sequence, masks, priorities and
 * rotation, every EOI form, auto-EOI, the cascade, spurious IRQ 7/15,
 * ELCR level mode, poll mode, special mask and special fully nested modes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "devices/pic.h"

struct sink { unsigned int kicks, logs; };

static void kick(void *opaque) { ((struct sink *)opaque)->kicks++; }
static void log_msg(void *opaque, const char *msg) { ((struct sink *)opaque)->logs++; }
static const struct pic_ops ops = { .kick = kick, .log = log_msg };

static struct sink sink;

static void out(struct pic *p, uint16_t port, uint8_t v)
{
	uint32_t d = v;

	assert_int_equal(pic_pio(p, port, true, &d, 1), 0);
}

static uint8_t in(struct pic *p, uint16_t port)
{
	uint32_t d = 0xdeadbeef;

	assert_int_equal(pic_pio(p, port, false, &d, 1), 0);
	assert_true(d <= 0xff);
	return (uint8_t)d;
}

/* What Linux's init_8259A does: vectors 0x20 and 0x28, cascade on IR2. */
static struct pic *linux_init(uint8_t icw4)
{
	struct pic *p = pic_create(&ops, &sink);

	memset(&sink, 0, sizeof(sink));
	out(p, 0x20, 0x11); out(p, 0x21, 0x20); out(p, 0x21, 0x04); out(p, 0x21, icw4);
	out(p, 0xa0, 0x11); out(p, 0xa1, 0x28); out(p, 0xa1, 0x02); out(p, 0xa1, icw4);
	return p;
}

/* Raises and lowers an edge IRQ. */
static void pulse(struct pic *p, unsigned int irq)
{
	pic_set_irq(p, irq, true);
	pic_set_irq(p, irq, false);
}

#define ISR(p, port) (out(p, port, 0x0b), in(p, port))
#define IRR(p, port) (out(p, port, 0x0a), in(p, port))

static void reset_state(void **state)
{
	struct pic *p = pic_create(&ops, &sink);

	memset(&sink, 0, sizeof(sink));
	assert_int_equal(in(p, 0x21), 0xff);        /* everything masked */
	assert_int_equal(in(p, 0xa1), 0xff);
	pulse(p, 0);
	assert_false(pic_has_interrupt(p));
	out(p, 0x21, 0xfe);
	assert_true(pic_has_interrupt(p));
	assert_int_equal(pic_ack(p), 0x08);          /* BIOS vector base */
	out(p, 0x20, 0x20);
	out(p, 0x21, 0xfb); out(p, 0xa1, 0xfe);
	pulse(p, 8);
	assert_int_equal(pic_ack(p), 0x70);
	pic_destroy(p);
}

/*
 * --legacy-pc in split and user mode (kvm/platform.c): the init sequence a
 * PC BIOS sends, vectors 0x08 and 0x70, then only IRQ 0 and the cascade
 * unmasked. The timer tick is vector 0x08; a slave IRQ stays masked.
 */
static void bios_setup(void **state)
{
	static const struct { uint16_t port; uint8_t value; } seq[] = {
		{ 0x20, 0x11 }, { 0x21, 0x08 }, { 0x21, 0x04 }, { 0x21, 0x01 },
		{ 0xa0, 0x11 }, { 0xa1, 0x70 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
		{ 0x21, 0xfa }, { 0xa1, 0xff },
	};
	struct pic *p = linux_init(0x01);            /* whatever came before */

	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		out(p, seq[i].port, seq[i].value);
	assert_int_equal(in(p, 0x21), 0xfa);
	assert_int_equal(in(p, 0xa1), 0xff);
	assert_int_equal(sink.logs, 0);
	pulse(p, 11);                                /* masked on the slave */
	assert_false(pic_has_interrupt(p));
	pulse(p, 0);
	assert_true(pic_has_interrupt(p));
	assert_int_equal(pic_ack(p), 0x08);
	out(p, 0x20, 0x20);                          /* the IVT stub's EOI */
	assert_int_equal(ISR(p, 0x20), 0);
	out(p, 0xa1, 0xf7);                          /* unmask IRQ 11: the slave's IR3 */
	assert_true(pic_has_interrupt(p));           /* its edge is still in IRR */
	assert_int_equal(pic_ack(p), 0x73);
	pic_destroy(p);
}

/* Which write after ICW1 becomes IMR, for each ICW1 form. */
static void init_sequence(void **state)
{
	static const struct {
		uint8_t icw1;
		uint8_t icw[3];      /* ICW2 onwards */
		unsigned int n;
		bool logs;
	} cases[] = {
		{ 0x11, { 0x48, 0x04, 0x01 }, 3, false },  /* cascade, ICW4 */
		{ 0x13, { 0x48, 0x01 }, 2, false },        /* single, ICW4 */
		{ 0x10, { 0x48, 0x04 }, 2, true },         /* cascade, no ICW4 (8080 mode: logged) */
		{ 0x12, { 0x48 }, 1, true },               /* single, no ICW4 */
		{ 0x19, { 0x4f, 0x04, 0x01 }, 3, false },  /* LTIM: all level; ICW2 bits 2:0 ignored */
		{ 0x11, { 0x48, 0x04, 0x00 }, 3, true },   /* ICW4 8080 mode: logged */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pic *p = linux_init(0x01);

		out(p, 0x21, 0x55);
		out(p, 0x20, cases[i].icw1);
		assert_int_equal(in(p, 0x21), 0x00);     /* ICW1 clears IMR */
		for (unsigned int k = 0; k < cases[i].n; k++)
			out(p, 0x21, cases[i].icw[k]);
		assert_int_equal(in(p, 0x21), 0x00);     /* no ICW became IMR */
		out(p, 0x21, 0xaa);
		assert_int_equal(in(p, 0x21), 0xaa);     /* OCW1 */
		assert_int_equal(sink.logs, cases[i].logs);
		/* ICW2 set the base: IR4 -> 0x4c. */
		out(p, 0x21, 0x00);
		pulse(p, 4);
		if (cases[i].icw1 & 0x08) {              /* level: gone with the line */
			assert_false(pic_has_interrupt(p));
			pic_set_irq(p, 4, true);
		}
		assert_int_equal(pic_ack(p), 0x4c);
		pic_destroy(p);
	}
}

static void masks(void **state)
{
	struct pic *p = linux_init(0x01);

	out(p, 0x21, 0xff);
	pulse(p, 1);
	assert_false(pic_has_interrupt(p));
	assert_int_equal(IRR(p, 0x20), 0x02);        /* masked requests stay in IRR */
	assert_int_equal(sink.kicks, 0);
	out(p, 0x21, 0xfd);
	assert_true(pic_has_interrupt(p));
	assert_int_equal(sink.kicks, 1);
	assert_int_equal(pic_ack(p), 0x21);
	assert_false(pic_has_interrupt(p));
	/* Slave IRQ masked on the slave, then on the master's IR2. */
	out(p, 0xa1, 0xff);
	pulse(p, 11);
	assert_false(pic_has_interrupt(p));
	out(p, 0xa1, 0x00);
	out(p, 0x20, 0x20);
	out(p, 0x21, 0x04);
	assert_false(pic_has_interrupt(p));
	out(p, 0x21, 0x00);
	assert_int_equal(pic_ack(p), 0x2b);
	pic_destroy(p);
}

/* Fully nested priorities, then after rotation commands. */
static void priorities(void **state)
{
	static const struct {
		uint8_t ocw2;                  /* 0: none */
		uint8_t reqs;                  /* IRs raised together */
		int order[9];                  /* expected ack order, -1 ends */
	} cases[] = {
		{ 0x00, 0xff, { 0, 1, 2, 3, 4, 5, 6, 7, -1 } },
		{ 0xc3, 0xff, { 4, 5, 6, 7, 0, 1, 2, 3, -1 } },  /* set priority: IR3 lowest */
		{ 0xc7, 0x81, { 0, 7, -1 } },
		{ 0xc0, 0x81, { 7, 0, -1 } },                    /* IR0 lowest: 7 first */
		{ 0xe5, 0x31, { 0, 4, 5, -1 } },                 /* rotate on specific EOI 5: 6 is highest */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pic *p = linux_init(0x01);

		out(p, 0xa1, 0xff);
		if (cases[i].ocw2)
			out(p, 0x20, cases[i].ocw2);
		for (unsigned int ir = 0; ir < 8; ir++)
			if (cases[i].reqs >> ir & 1 && ir != 2)
				pulse(p, ir);
		for (int k = 0; cases[i].order[k] >= 0; k++) {
			if (cases[i].order[k] == 2)
				continue;    /* IR2 is the cascade */
			assert_true(pic_has_interrupt(p));
			assert_int_equal(pic_ack(p), 0x20 + cases[i].order[k]);
			out(p, 0x20, 0x60 | (uint8_t)cases[i].order[k]); /* specific EOI */
		}
		assert_false(pic_has_interrupt(p));
		pic_destroy(p);
	}
}

/* A lower request waits for EOI; a higher one nests. */
static void nesting(void **state)
{
	struct pic *p = linux_init(0x01);

	pulse(p, 4);
	assert_int_equal(pic_ack(p), 0x24);
	pulse(p, 6);
	assert_false(pic_has_interrupt(p));
	pulse(p, 3);
	assert_true(pic_has_interrupt(p));
	assert_int_equal(pic_ack(p), 0x23);
	assert_int_equal(ISR(p, 0x20), 0x18);
	out(p, 0x20, 0x20);                          /* non-specific: clears IR3 */
	assert_int_equal(ISR(p, 0x20), 0x10);
	assert_false(pic_has_interrupt(p));
	out(p, 0x20, 0x20);
	assert_int_equal(ISR(p, 0x20), 0x00);
	assert_true(pic_has_interrupt(p));
	assert_int_equal(pic_ack(p), 0x26);
	pic_destroy(p);
}

static void eoi_variants(void **state)
{
	static const struct {
		uint8_t ocw2;
		uint8_t isr_after;       /* ISR was 0x0a (IR1, IR3) */
		uint8_t first;           /* first IR acked of all-8 requests afterwards */
	} cases[] = {
		{ 0x20, 0x08, 0 },       /* non-specific: the highest, IR1 */
		{ 0x63, 0x02, 0 },       /* specific IR3 */
		{ 0xa0, 0x08, 2 },       /* rotate on non-specific: IR1 lowest -> IR2 first */
		{ 0xe3, 0x02, 4 },       /* rotate on specific IR3 */
		{ 0x40, 0x0a, 0 },       /* no operation */
		{ 0x61, 0x08, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pic *p = linux_init(0x01);

		pulse(p, 3);
		assert_int_equal(pic_ack(p), 0x23);
		pulse(p, 1);
		assert_int_equal(pic_ack(p), 0x21);
		assert_int_equal(ISR(p, 0x20), 0x0a);
		out(p, 0x20, cases[i].ocw2);
		assert_int_equal(ISR(p, 0x20), cases[i].isr_after);
		out(p, 0x20, 0x61);
		out(p, 0x20, 0x63);
		out(p, 0xa1, 0xff);
		for (unsigned int ir = 0; ir < 8; ir++)
			if (ir != 2)
				pulse(p, ir);
		int want = cases[i].first == 2 ? 3 : cases[i].first;  /* IR2 has no request */
		assert_int_equal(pic_ack(p), 0x20 + want);
		pic_destroy(p);
	}
}

static void auto_eoi(void **state)
{
	struct pic *p = linux_init(0x03);            /* ICW4: 8086, AEOI */

	pulse(p, 5);
	assert_int_equal(pic_ack(p), 0x25);
	assert_int_equal(ISR(p, 0x20), 0);
	pulse(p, 6);                                 /* nothing in service: delivered */
	assert_true(pic_has_interrupt(p));
	assert_int_equal(pic_ack(p), 0x26);
	/* Rotate in AEOI mode: each acked IR becomes the lowest. */
	out(p, 0x20, 0x80);
	pulse(p, 0); pulse(p, 1);
	assert_int_equal(pic_ack(p), 0x20);
	pulse(p, 0);
	assert_int_equal(pic_ack(p), 0x21);          /* IR0 is lowest now */
	assert_int_equal(pic_ack(p), 0x20);
	out(p, 0x20, 0x00);                          /* clear rotate in AEOI */
	pulse(p, 0); pulse(p, 1);
	assert_int_equal(pic_ack(p), 0x21);          /* rotation stays where it was */
	pic_destroy(p);
}

static void cascade(void **state)
{
	struct pic *p = linux_init(0x01);

	pulse(p, 10);
	assert_int_equal(sink.kicks, 1);
	assert_true(pic_has_interrupt(p));
	assert_int_equal(pic_ack(p), 0x2a);
	assert_int_equal(ISR(p, 0x20), 0x04);
	assert_int_equal(ISR(p, 0xa0), 0x04);
	pulse(p, 9);                                 /* higher slave IRQ: master IR2 busy */
	assert_false(pic_has_interrupt(p));
	out(p, 0xa0, 0x20);
	out(p, 0x20, 0x20);
	assert_true(pic_has_interrupt(p));
	assert_int_equal(pic_ack(p), 0x29);
	pic_set_irq(p, 2, true);                     /* IR2 is not an input */
	out(p, 0xa0, 0x20);
	out(p, 0x20, 0x20);
	assert_false(pic_has_interrupt(p));
	/* Two slave requests with slave AEOI: the second is not lost. */
	out(p, 0xa0, 0x11); out(p, 0xa1, 0x28); out(p, 0xa1, 0x02); out(p, 0xa1, 0x03);
	pulse(p, 12); pulse(p, 13);
	assert_int_equal(pic_ack(p), 0x2c);
	out(p, 0x20, 0x20);
	assert_true(pic_has_interrupt(p));
	assert_int_equal(pic_ack(p), 0x2d);
	pic_destroy(p);
}

/* Special fully nested: a higher slave IRQ interrupts a lower one. */
static void special_fully_nested(void **state)
{
	for (int sfnm = 0; sfnm < 2; sfnm++) {
		struct pic *p = linux_init(0x01);

		out(p, 0x20, 0x11); out(p, 0x21, 0x20); out(p, 0x21, 0x04);
		out(p, 0x21, sfnm ? 0x11 : 0x01);
		pulse(p, 12);
		assert_int_equal(pic_ack(p), 0x2c);
		pulse(p, 9);
		assert_int_equal(pic_has_interrupt(p), sfnm);
		pulse(p, 14);                        /* lower than the one in service: never */
		if (sfnm) {
			assert_int_equal(pic_ack(p), 0x29);
			out(p, 0xa0, 0x20);
			assert_false(pic_has_interrupt(p));
		}
		pulse(p, 5);                         /* below IR2 in service: waits */
		assert_int_equal(pic_has_interrupt(p), false);
		pic_destroy(p);
	}
}

static void spurious(void **state)
{
	struct pic *p = linux_init(0x01);

	/* Nothing pending at INTA: IR7 without ISR. */
	assert_int_equal(pic_ack(p), 0x27);
	assert_int_equal(ISR(p, 0x20), 0);
	/* A level IRQ that went away before INTA: master IR7. */
	out(p, 0x4d0, 0x20);
	pic_set_irq(p, 5, true);
	assert_true(pic_has_interrupt(p));
	pic_set_irq(p, 5, false);
	assert_false(pic_has_interrupt(p));
	assert_int_equal(pic_ack(p), 0x27);
	/* A slave request masked after the master latched IR2: slave IR7 (IRQ 15). */
	pulse(p, 11);
	assert_true(pic_has_interrupt(p));
	out(p, 0xa1, 0x08);
	assert_int_equal(pic_ack(p), 0x2f);
	assert_int_equal(ISR(p, 0xa0), 0);
	assert_int_equal(ISR(p, 0x20), 0x04);        /* the master did see IR2 */
	pic_destroy(p);
}

static void elcr_level(void **state)
{
	struct pic *p = linux_init(0x01);

	out(p, 0x4d0, 0xff);
	assert_int_equal(in(p, 0x4d0), 0xf8);        /* IRQ 0-2 are always edge */
	out(p, 0x4d1, 0xff);
	assert_int_equal(in(p, 0x4d1), 0xde);        /* so are IRQ 8 and 13 */
	pic_set_irq(p, 10, true);
	assert_int_equal(pic_ack(p), 0x2a);
	out(p, 0xa0, 0x20);
	out(p, 0x20, 0x20);
	assert_true(pic_has_interrupt(p));           /* still high: again */
	assert_int_equal(pic_ack(p), 0x2a);
	pic_set_irq(p, 10, false);
	out(p, 0xa0, 0x20);
	out(p, 0x20, 0x20);
	assert_false(pic_has_interrupt(p));
	/* The same on an edge line: one interrupt. */
	pic_set_irq(p, 1, true);
	assert_int_equal(pic_ack(p), 0x21);
	out(p, 0x20, 0x20);
	assert_false(pic_has_interrupt(p));
	/* Switching a high line to level makes it a request. */
	out(p, 0x4d0, 0x02);                         /* bit 1 does not exist */
	assert_false(pic_has_interrupt(p));
	pic_set_irq(p, 3, true);                     /* edge: latched */
	assert_int_equal(pic_ack(p), 0x23);
	out(p, 0x20, 0x20);
	out(p, 0x4d0, 0x08);
	assert_true(pic_has_interrupt(p));
	pic_destroy(p);
}

static void poll_mode(void **state)
{
	struct pic *p = linux_init(0x01);

	out(p, 0x20, 0x0c);
	assert_int_equal(in(p, 0x20), 0x00);         /* no request */
	pulse(p, 6);
	pulse(p, 3);
	out(p, 0x20, 0x0c);
	assert_int_equal(in(p, 0x20), 0x83);         /* I=1, IR3; acts as INTA */
	assert_int_equal(in(p, 0x20), 0x40);         /* one read only: IRR again */
	assert_int_equal(ISR(p, 0x20), 0x08);
	out(p, 0x20, 0x20);
	out(p, 0x20, 0x0c);
	assert_int_equal(in(p, 0x20), 0x86);
	pic_destroy(p);
}

static void special_mask(void **state)
{
	struct pic *p = linux_init(0x01);

	pulse(p, 3);
	assert_int_equal(pic_ack(p), 0x23);
	pulse(p, 5);
	assert_false(pic_has_interrupt(p));
	out(p, 0x21, 0x08);                          /* mask the level in service */
	out(p, 0x20, 0x68);                          /* ESMM+SMM: special mask on */
	assert_true(pic_has_interrupt(p));
	assert_int_equal(pic_ack(p), 0x25);
	out(p, 0x20, 0x48);                          /* special mask off */
	out(p, 0x20, 0x65);                          /* ISR: IR3 (masked) left */
	assert_int_equal(ISR(p, 0x20), 0x08);
	pulse(p, 6);
	assert_false(pic_has_interrupt(p));          /* IR3 in service blocks again */
	out(p, 0x20, 0x28);                          /* SMM without ESMM: no effect */
	assert_false(pic_has_interrupt(p));
	out(p, 0x20, 0x68);
	assert_true(pic_has_interrupt(p));
	assert_int_equal(pic_ack(p), 0x26);
	pic_destroy(p);
}

/* A 16-bit access reaches two consecutive ports; past the chip, 0xff. */
static void wide_access(void **state)
{
	struct pic *p = linux_init(0x01);
	uint32_t d = 0x5a0b;                         /* OCW3 read ISR, then IMR 0x5a */

	assert_int_equal(pic_pio(p, 0x20, true, &d, 2), 0);
	assert_int_equal(in(p, 0x21), 0x5a);
	d = 0;
	assert_int_equal(pic_pio(p, 0x21, false, &d, 2), 0);
	assert_int_equal(d, 0xff5a);
	pic_destroy(p);
}

static struct pic *shared;
static int done;

static void *source(void *arg)
{
	unsigned int irq = *(unsigned int *)arg;

	for (int i = 0; i < 5000; i++)
		pulse(shared, irq);
	return NULL;
}

static unsigned int count_kicks;
static void count_kick(void *opaque) { __atomic_fetch_add(&count_kicks, 1, __ATOMIC_RELAXED); }

/* Two devices pulse IRQs while a vCPU acks and EOIs: no lost or invented IRQ. */
static void threads(void **state)
{
	static const struct pic_ops tops = { .kick = count_kick };
	static unsigned int irqs[2] = { 3, 12 };
	unsigned int acked[256] = { 0 };
	pthread_t th[2];

	shared = pic_create(&tops, NULL);
	uint32_t d = 0;
	pic_pio(shared, 0x21, true, &d, 1);
	pic_pio(shared, 0xa1, true, &d, 1);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, source, &irqs[i]);
	for (int spins = 0; !__atomic_load_n(&done, __ATOMIC_RELAXED) || pic_has_interrupt(shared); spins++) {
		if (pic_has_interrupt(shared)) {
			int v = pic_ack(shared);

			acked[v & 0xff]++;
			d = 0x20;
			if (v >= 0x70)
				pic_pio(shared, 0xa0, true, &d, 1);
			pic_pio(shared, 0x20, true, &d, 1);
		}
		if (spins == 1000) {
			for (int i = 0; i < 2; i++)
				pthread_join(th[i], NULL);
			__atomic_store_n(&done, 1, __ATOMIC_RELAXED);
		}
	}
	/* Edges coalesce while pending, but each source got through at least once. */
	assert_true(acked[0x0b] >= 1 && acked[0x0b] <= 5000);
	assert_true(acked[0x74] >= 1 && acked[0x74] <= 5000);
	assert_int_equal(acked[0x0f] + acked[0x77], 0);  /* edges never vanish: no spurious */
	assert_true(count_kicks >= 1);
	pic_destroy(shared);
}

/* Saved with an IRQ in service and another pending: another PIC pair loaded from it goes on the same way. */
static void save_load(void **state)
{
	struct pic *p = linux_init(0x01), *q = pic_create(&ops, &sink);
	struct pic_state s, s2;
	char err[128] = "";

	(void)state;
	out(p, 0x21, 0xf8);                    /* IRQ 0, 1, 2 unmasked */
	pulse(p, 0);
	assert_int_equal(pic_ack(p), 0x20);    /* IRQ 0 in service */
	pulse(p, 1);                           /* IRQ 1 waits behind it */
	pic_save(p, &s);
	assert_int_equal(pic_load(q, &s, NULL, 0), 0);
	pic_save(q, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	assert_int_equal(ISR(q, 0x20), 0x01);
	assert_int_equal(IRR(q, 0x20), 0x02);
	assert_false(pic_has_interrupt(q));    /* IRQ 0's priority holds IRQ 1 off ... */
	out(q, 0x20, 0x20);                    /* ... until its EOI */
	assert_true(pic_has_interrupt(q));
	assert_int_equal(pic_ack(q), 0x21);
	s.c[1].lowest = 8;
	assert_int_equal(pic_load(q, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "PIC slave: a register or flag out of range");
	s.c[1].lowest = 7;
	s.c[0].base = 0x21;
	assert_int_equal(pic_load(q, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "PIC master: a register or flag out of range");
	pic_destroy(p);
	pic_destroy(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reset_state),
		cmocka_unit_test(save_load),
		cmocka_unit_test(bios_setup),
		cmocka_unit_test(init_sequence),
		cmocka_unit_test(masks),
		cmocka_unit_test(priorities),
		cmocka_unit_test(nesting),
		cmocka_unit_test(eoi_variants),
		cmocka_unit_test(auto_eoi),
		cmocka_unit_test(cascade),
		cmocka_unit_test(special_fully_nested),
		cmocka_unit_test(spurious),
		cmocka_unit_test(elcr_level),
		cmocka_unit_test(poll_mode),
		cmocka_unit_test(special_mask),
		cmocka_unit_test(wide_access),
		cmocka_unit_test(threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
