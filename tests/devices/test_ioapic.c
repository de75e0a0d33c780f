/*
 * Unit tests of devices/ioapic.c: the register window, read-only bits,
 * edge and level delivery, remote IRR and EOI, masking, polarity.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "devices/ioapic.h"

struct sink {
	unsigned int n, logs, changes;
	unsigned int changed_pin;
	uint64_t changed_rte;
	struct ioapic_msg last;
	struct ioapic *io;       /* set: deliver EOIs at once (re-entry test) */
};

static void deliver(void *opaque, const struct ioapic_msg *m)
{
	struct sink *s = opaque;

	s->n++;
	s->last = *m;
	if (s->io && s->n < 5)
		ioapic_eoi(s->io, m->vector);
}

static void log_msg(void *opaque, const char *msg)
{
	((struct sink *)opaque)->logs++;
}

static void changed(void *opaque, unsigned int pin, uint64_t rte)
{
	struct sink *s = opaque;

	s->changes++;
	s->changed_pin = pin;
	s->changed_rte = rte;
}

static const struct ioapic_ops ops = { .deliver = deliver, .log = log_msg,
				       .redirection_changed = changed };

static uint32_t rd(struct ioapic *io, uint8_t reg)
{
	uint32_t v;

	ioapic_mmio_write(io, 0x00, &reg, 1);
	ioapic_mmio_read(io, 0x10, &v, 4);
	return v;
}

static void wr(struct ioapic *io, uint8_t reg, uint32_t v)
{
	uint32_t sel = reg;

	ioapic_mmio_write(io, 0x00, &sel, 4);
	ioapic_mmio_write(io, 0x10, &v, 4);
}

static void set_rte(struct ioapic *io, unsigned int pin, uint64_t v)
{
	wr(io, (uint8_t)(0x11 + 2 * pin), (uint32_t)(v >> 32));
	wr(io, (uint8_t)(0x10 + 2 * pin), (uint32_t)v);
}

#define LEVEL   (1ull << 15)
#define MASKED  (1ull << 16)
#define LOWACT  (1ull << 13)
#define RIRR    (1ull << 14)

static int setup(void **state)
{
	static struct sink s;

	memset(&s, 0, sizeof(s));
	s.io = NULL;
	*state = &s;
	return 0;
}

static void id_version_arb(void **state)
{
	struct sink *s = *state;
	struct ioapic *io = ioapic_create(5, &ops, s);
	uint32_t sel;

	assert_int_equal(rd(io, 0x00), 5u << 24);
	assert_int_equal(rd(io, 0x01), 0x00170020);
	assert_int_equal(rd(io, 0x02), 5u << 24);
	wr(io, 0x00, 0xffffffff);               /* only bits 27:24 are writable */
	assert_int_equal(rd(io, 0x00), 0x0f000000);
	assert_int_equal(rd(io, 0x02), 0x0f000000);
	wr(io, 0x01, 0);                        /* version is read-only */
	assert_int_equal(rd(io, 0x01), 0x00170020);
	assert_int_equal(s->logs, 1);
	assert_int_equal(rd(io, 0x03), 0);      /* reserved */
	assert_int_equal(rd(io, 0x40), 0);      /* past entry 23 */
	ioapic_mmio_read(io, 0x00, &sel, 4);    /* IOREGSEL reads back */
	assert_int_equal(sel, 0x40);
	ioapic_destroy(io);
}

static void redirection_rw(void **state)
{
	struct sink *s = *state;
	struct ioapic *io = ioapic_create(0, &ops, s);

	/* Reset: every entry masked. */
	for (unsigned int p = 0; p < IOAPIC_PINS; p++)
		assert_int_equal(ioapic_redirection(io, p), MASKED);
	/* All bits but delivery status (12) and remote IRR (14) are writable. */
	set_rte(io, 23, 0xff000000ffffffffull);
	assert_int_equal(ioapic_redirection(io, 23), 0xff000000ffffffffull & ~(RIRR | 1ull << 12));
	assert_int_equal(rd(io, 0x10 + 46), (uint32_t)(0xffffffffull & ~(RIRR | 1ull << 12)));
	assert_int_equal(rd(io, 0x11 + 46), 0xff000000);
	/* A byte write to IOWIN changes only that byte. */
	uint8_t b = 0x42, sel = 0x10;
	ioapic_mmio_write(io, 0x00, &sel, 1);
	ioapic_mmio_write(io, 0x10, &b, 1);
	assert_int_equal(ioapic_redirection(io, 0), MASKED | 0x42);
	/* A byte read from IOWIN+1 gives bits 15:8. */
	uint8_t hi;
	ioapic_mmio_read(io, 0x11, &hi, 1);
	assert_int_equal(hi, 0x00);
	ioapic_mmio_read(io, 0x12, &hi, 1);
	assert_int_equal(hi, 0x01);
	ioapic_destroy(io);
}

static void edge_once_per_rising_edge(void **state)
{
	struct sink *s = *state;
	struct ioapic *io = ioapic_create(0, &ops, s);

	set_rte(io, 2, 0x0000000000000830ull | 3ull << 56); /* logical, vector 0x30, dest 3 */
	static const struct { bool level; unsigned int want; } seq[] = {
		{ true, 1 }, { true, 1 }, { false, 1 }, { false, 1 }, { true, 2 }, { false, 2 },
	};
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		ioapic_set_irq(io, 2, seq[i].level);
		assert_int_equal(s->n, seq[i].want);
	}
	assert_int_equal(s->last.vector, 0x30);
	assert_int_equal(s->last.delivery, IOAPIC_FIXED);
	assert_true(s->last.logical);
	assert_false(s->last.level);
	assert_int_equal(s->last.dest, 3);
	assert_int_equal(ioapic_redirection(io, 2) & RIRR, 0); /* edge: never remote IRR */
	ioapic_set_irq(io, 99, true);                          /* out of range: ignored */
	assert_int_equal(s->n, 2);
	ioapic_destroy(io);
}

static void level_remote_irr_eoi(void **state)
{
	struct sink *s = *state;
	struct ioapic *io = ioapic_create(0, &ops, s);

	set_rte(io, 9, LEVEL | 0x100 | 0x41 | 1ull << 56);  /* lowest priority, level */
	ioapic_set_irq(io, 9, true);
	assert_int_equal(s->n, 1);
	assert_true(s->last.level);
	assert_int_equal(s->last.delivery, IOAPIC_LOWEST);
	assert_true(ioapic_redirection(io, 9) & RIRR);
	ioapic_set_irq(io, 9, true);           /* still awaiting EOI: nothing */
	assert_int_equal(s->n, 1);
	ioapic_eoi(io, 0x40);                  /* other vector: nothing */
	assert_true(ioapic_redirection(io, 9) & RIRR);
	ioapic_eoi(io, 0x41);                  /* still asserted: delivered again */
	assert_int_equal(s->n, 2);
	assert_true(ioapic_redirection(io, 9) & RIRR);
	ioapic_set_irq(io, 9, false);
	ioapic_eoi(io, 0x41);                  /* deasserted: remote IRR clears, no message */
	assert_int_equal(s->n, 2);
	assert_false(ioapic_redirection(io, 9) & RIRR);
	/* Writing the entry does not clear remote IRR (RO) for a level pin... */
	ioapic_set_irq(io, 9, true);
	assert_int_equal(s->n, 3);
	set_rte(io, 9, LEVEL | 0x41 | 1ull << 56);
	assert_true(ioapic_redirection(io, 9) & RIRR);
	assert_int_equal(s->n, 3);
	/* ...but switching it to edge does. */
	set_rte(io, 9, 0x41);
	assert_false(ioapic_redirection(io, 9) & RIRR);
	ioapic_destroy(io);
}

static void eoi_register(void **state)
{
	struct sink *s = *state;
	struct ioapic *io = ioapic_create(0, &ops, s);
	uint32_t v = 0x55;

	set_rte(io, 4, LEVEL | 0x55);
	ioapic_set_irq(io, 4, true);
	assert_int_equal(s->n, 1);
	ioapic_mmio_write(io, 0x40, &v, 4);
	assert_int_equal(s->n, 2);              /* redelivered: still asserted */
	ioapic_set_irq(io, 4, false);
	ioapic_mmio_write(io, 0x40, &v, 4);
	assert_false(ioapic_redirection(io, 4) & RIRR);
	assert_int_equal(s->n, 2);
	ioapic_destroy(io);
}

static void masked_pins(void **state)
{
	struct sink *s = *state;
	struct ioapic *io = ioapic_create(0, &ops, s);

	/* Edge: an edge while masked is lost, unmasking does not deliver it. */
	set_rte(io, 1, MASKED | 0x31);
	ioapic_set_irq(io, 1, true);
	set_rte(io, 1, 0x31);
	assert_int_equal(s->n, 0);
	ioapic_set_irq(io, 1, false);
	ioapic_set_irq(io, 1, true);
	assert_int_equal(s->n, 1);
	/* Level: unmasking an asserted pin delivers it. */
	set_rte(io, 10, MASKED | LEVEL | 0x3a);
	ioapic_set_irq(io, 10, true);
	assert_int_equal(s->n, 1);
	set_rte(io, 10, LEVEL | 0x3a);
	assert_int_equal(s->n, 2);
	assert_int_equal(s->last.vector, 0x3a);
	/* Masked while awaiting EOI: the EOI clears remote IRR, no delivery. */
	set_rte(io, 10, MASKED | LEVEL | 0x3a);
	ioapic_eoi(io, 0x3a);
	assert_int_equal(s->n, 2);
	assert_false(ioapic_redirection(io, 10) & RIRR);
	ioapic_destroy(io);
}

static void polarity(void **state)
{
	struct sink *s = *state;
	struct ioapic *io = ioapic_create(0, &ops, s);

	/* Active-low edge: the falling edge delivers. */
	ioapic_set_irq(io, 5, true);            /* idle high, as with a pull-up */
	set_rte(io, 5, LOWACT | 0x45);
	assert_int_equal(s->n, 0);
	ioapic_set_irq(io, 5, false);
	assert_int_equal(s->n, 1);
	ioapic_set_irq(io, 5, true);
	assert_int_equal(s->n, 1);
	/* Active-low level: asserted while the line is 0. */
	ioapic_set_irq(io, 11, true);
	set_rte(io, 11, LOWACT | LEVEL | 0x4b);
	assert_int_equal(s->n, 1);
	ioapic_set_irq(io, 11, false);
	assert_int_equal(s->n, 2);
	assert_int_equal(s->last.vector, 0x4b);
	ioapic_set_irq(io, 11, true);
	ioapic_eoi(io, 0x4b);
	assert_int_equal(s->n, 2);
	/* Flipping an idle-low line's pin to active-low asserts it. */
	set_rte(io, 12, LEVEL | 0x4c);
	set_rte(io, 12, LOWACT | LEVEL | 0x4c);
	assert_int_equal(s->n, 3);
	ioapic_destroy(io);
}

/* Non-fixed modes are edge-only whatever the trigger bit (§3.2.4). */
static void delivery_modes(void **state)
{
	static const struct { uint8_t dm; bool level; } cases[] = {
		{ IOAPIC_FIXED, true }, { IOAPIC_LOWEST, true }, { IOAPIC_SMI, false },
		{ IOAPIC_NMI, false }, { IOAPIC_INIT, false }, { IOAPIC_EXTINT, false },
	};
	struct sink *s = *state;
	struct ioapic *io = ioapic_create(0, &ops, s);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s->n = 0;
		set_rte(io, 7, LEVEL | (uint64_t)cases[i].dm << 8 | 0x20 | 0x41ull << 49 | 0x12ull << 56);
		ioapic_set_irq(io, 7, true);
		assert_int_equal(s->n, 1);
		assert_int_equal(s->last.delivery, cases[i].dm);
		assert_int_equal(s->last.level, cases[i].level);
		assert_int_equal(s->last.dest, 0x4112);  /* extended dest ID bits 55:49 */
		assert_int_equal(!!(ioapic_redirection(io, 7) & RIRR), cases[i].level);
		ioapic_set_irq(io, 7, false);
		ioapic_eoi(io, 0x20);
	}
	s->logs = 0;
	set_rte(io, 7, MASKED | 3 << 8);            /* reserved mode: logged */
	assert_int_equal(s->logs, 1);
	ioapic_destroy(io);
}

/* deliver() may EOI at once (a LAPIC that handles it synchronously). */
static void reentrant_eoi(void **state)
{
	struct sink *s = *state;
	struct ioapic *io = ioapic_create(0, &ops, s);

	s->io = io;
	set_rte(io, 3, LEVEL | 0x33);
	ioapic_set_irq(io, 3, true);
	assert_int_equal(s->n, 5);   /* deliver EOIs four times, each redelivers */
	assert_true(ioapic_redirection(io, 3) & RIRR);
	ioapic_destroy(io);
}

/* Split mode: every entry write is reported, with the entry as it now is. */
static void redirection_changed(void **state)
{
	struct sink *s = *state;
	struct ioapic *io = ioapic_create(0, &ops, s);

	set_rte(io, 17, LEVEL | 0x51 | 2ull << 56);
	assert_int_equal(s->changes, 2);             /* two 32-bit halves */
	assert_int_equal(s->changed_pin, 17);
	assert_int_equal(s->changed_rte, LEVEL | 0x51 | 2ull << 56);
	ioapic_set_irq(io, 17, true);                /* remote IRR set: not a guest write */
	wr(io, 0x00, 0x01000000);                    /* the ID is no entry */
	ioapic_eoi(io, 0x51);
	assert_int_equal(s->changes, 2);
	ioapic_destroy(io);
}

/*
 * The level-triggered rules, step by step, as kvm-unit-tests' ioapic test
 * drives them through pc-testdev (82093AA §3.2.4; KVM's ioapic.c agrees):
 * a level pin sends while it is asserted, unmasked and its remote IRR is
 * clear; sending sets remote IRR; the EOI of its vector clears it and, the
 * line still asserted, sends again; so does a write that unmasks it. An
 * edge pin sends on a rising edge only, never from a write or an EOI.
 */
enum op { END, LINE, EOI, RTE, LOW }; /* END: the zeroed rest of a case */

struct step {
	enum op op;
	uint64_t arg;        /* LINE: level; EOI: vector; RTE: entry; LOW: bits 31:0 only */
	unsigned int n;      /* messages sent so far */
	bool rirr;           /* remote IRR afterwards */
};

#define PIN 14
#define MAX_STEPS 12

static const struct {
	const char *name;
	struct step steps[MAX_STEPS];
} level_cases[] = {
	{ "coalesce: the line drops and rises again before the EOI", {
		{ RTE, LEVEL | 0x98, 0, false }, { LINE, 1, 1, true },
		{ LINE, 0, 1, true }, { LINE, 1, 1, true }, { LINE, 0, 1, true },
		{ EOI, 0x98, 1, false } } },
	{ "sequential: handled and deasserted, then asserted again", {
		{ RTE, LEVEL | 0x99, 0, false }, { LINE, 1, 1, true }, { LINE, 0, 1, true },
		{ EOI, 0x99, 1, false }, { LINE, 1, 2, true }, { LINE, 0, 2, true },
		{ EOI, 0x99, 2, false } } },
	{ "retrigger: EOI while still asserted sends again", {
		{ RTE, LEVEL | 0x9a, 0, false }, { LINE, 1, 1, true }, { EOI, 0x9a, 2, true },
		{ LINE, 0, 2, true }, { EOI, 0x9a, 2, false } } },
	{ "retrigger with mask: the EOI of a masked pin sends nothing, unmasking does", {
		{ RTE, LEVEL | 0x83, 0, false }, { LINE, 1, 1, true },
		{ LOW, MASKED | LEVEL | 0x83, 1, true }, { EOI, 0x83, 1, false },
		{ LOW, LEVEL | 0x83, 2, true }, { LOW, MASKED | LEVEL | 0x83, 2, true },
		{ EOI, 0x83, 2, false }, { LINE, 0, 2, false }, { LOW, LEVEL | 0x83, 2, false } } },
	{ "unmasking an asserted level pin sends it", {
		{ RTE, MASKED | LEVEL | 0x82, 0, false }, { LINE, 1, 0, false },
		{ LOW, LEVEL | 0x82, 1, true }, { LINE, 0, 1, true }, { EOI, 0x82, 1, false } } },
	{ "rewriting the entry while remote IRR is set sends nothing", {
		{ RTE, LEVEL | 0x84, 0, false }, { LINE, 1, 1, true },
		{ RTE, LEVEL | 0x84 | 1ull << 56, 1, true },          /* new destination */
		{ LINE, 0, 1, true }, { EOI, 0x84, 1, false } } },
	{ "another vector's EOI leaves remote IRR alone", {
		{ RTE, LEVEL | 0x85, 0, false }, { LINE, 1, 1, true }, { EOI, 0x58, 1, true },
		{ EOI, 0x85, 2, true } } },
	{ "edge: rising edges only, whatever the writes and EOIs", {
		{ RTE, 0x81, 0, false }, { LINE, 1, 1, false }, { EOI, 0x81, 1, false },
		{ LOW, 0x81, 1, false }, { LINE, 0, 1, false }, { LINE, 1, 2, false } } },
	{ "edge while masked is lost; the next rising edge after unmasking sends", {
		{ RTE, MASKED | 0x81, 0, false }, { LINE, 1, 0, false }, { LINE, 0, 0, false },
		{ LOW, 0x81, 0, false }, { LINE, 1, 1, false } } },
	{ "level switched to edge drops remote IRR; back to level, still asserted: sends", {
		{ RTE, LEVEL | 0x86, 0, false }, { LINE, 1, 1, true }, { LOW, 0x86, 1, false },
		{ LOW, LEVEL | 0x86, 2, true } } },
};

static void level_rules(void **state)
{
	struct sink *s = *state;

	for (size_t c = 0; c < sizeof(level_cases) / sizeof(level_cases[0]); c++) {
		struct ioapic *io = ioapic_create(0, &ops, s);

		s->n = 0;
		for (size_t i = 0; i < MAX_STEPS; i++) {
			const struct step *st = &level_cases[c].steps[i];

			if (st->op == END)
				break;
			switch (st->op) {
			case END: break;
			case LINE: ioapic_set_irq(io, PIN, st->arg != 0); break;
			case EOI: ioapic_eoi(io, (uint8_t)st->arg); break;
			case RTE: set_rte(io, PIN, st->arg); break;
			case LOW: wr(io, 0x10 + 2 * PIN, (uint32_t)st->arg); break;
			}
			if (s->n != st->n || !!(ioapic_redirection(io, PIN) & RIRR) != st->rirr)
				fail_msg("%s, step %zu: %u messages, remote IRR %d; want %u, %d",
					 level_cases[c].name, i, s->n,
					 !!(ioapic_redirection(io, PIN) & RIRR), st->n, st->rirr);
		}
		ioapic_destroy(io);
	}
}

/*
 * The VMM's view of pins awaiting an EOI, and an EOI for one pin and one
 * message (split mode, when KVM does not report the local APIC's EOI).
 */
static void awaiting_eoi(void **state)
{
	struct sink *s = *state;
	struct ioapic *io = ioapic_create(0, &ops, s);
	uint8_t vec[IOAPIC_PINS];
	uint32_t sent[IOAPIC_PINS], first;

	assert_int_equal(ioapic_awaiting_eoi(io, vec, sent), 0);
	set_rte(io, 3, LEVEL | 0x33);
	set_rte(io, 4, LEVEL | 0x33);             /* same vector, other pin */
	set_rte(io, 5, 0x35);                     /* edge: never awaits */
	ioapic_set_irq(io, 3, true);
	ioapic_set_irq(io, 5, true);
	assert_int_equal(ioapic_awaiting_eoi(io, vec, sent), 1u << 3);
	assert_int_equal(vec[3], 0x33);
	first = sent[3];
	assert_int_equal(first, 1);
	ioapic_set_irq(io, 4, true);
	assert_int_equal(ioapic_awaiting_eoi(io, vec, sent), 1u << 3 | 1u << 4);
	/* A stale count (an older message) changes nothing. */
	ioapic_eoi_pin(io, 3, first - 1);
	assert_int_equal(s->n, 3);
	assert_true(ioapic_redirection(io, 3) & RIRR);
	/* The current one: remote IRR clears and, still asserted, pin 3 sends again; pin 4 waits. */
	ioapic_eoi_pin(io, 3, first);
	assert_int_equal(s->n, 4);
	assert_true(ioapic_redirection(io, 3) & RIRR);
	assert_true(ioapic_redirection(io, 4) & RIRR);
	assert_int_equal(ioapic_awaiting_eoi(io, vec, sent), 1u << 3 | 1u << 4);
	assert_int_equal(sent[3], first + 1);
	/* The EOI for the old message is now stale as well. */
	ioapic_eoi_pin(io, 3, first);
	assert_int_equal(s->n, 4);
	/* Deasserted: the EOI clears remote IRR and sends nothing. */
	ioapic_set_irq(io, 3, false);
	ioapic_eoi_pin(io, 3, first + 1);
	assert_false(ioapic_redirection(io, 3) & RIRR);
	assert_int_equal(s->n, 4);
	ioapic_eoi_pin(io, 99, 0);                /* out of range: ignored */
	ioapic_destroy(io);
}

/* Messages in the MSI format (SDM vol. 3A §10.11). */
static void msi_format(void **state)
{
	static const struct {
		uint64_t rte;
		uint64_t address;
		uint32_t data;
	} cases[] = {
		{ 0x30 | 3ull << 56, 0xfee03000, 0x0030 },                         /* fixed, edge, phys */
		{ 0x8831 | 0x0full << 56, 0xfee0f004, 0xc031 },                    /* fixed, logical, level */
		{ 0x8931 | 0x0full << 56, 0xfee0f00c, 0xc131 },                    /* lowest, logical, level */
		{ 0x0100 | 0x41 | 1ull << 11 | 0x80ull << 56, 0xfee8000c, 0x0141 }, /* lowest, logical: RH=1 */
		{ 0x0400 | LEVEL | 0xffull << 56, 0xfeeff000, 0x0400 },             /* NMI: edge always */
		{ 0x0700 | 0x02ull << 56 | 0x05ull << 49, 0xfee020a0, 0x0700 },    /* ExtINT, ext dest 5 */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ioapic_msg m = ioapic_rte_msg(cases[i].rte);
		uint64_t a;
		uint32_t d;

		ioapic_msg_to_msi(&m, &a, &d);
		if (a != cases[i].address || d != cases[i].data)
			fail_msg("rte 0x%016llx: address 0x%llx data 0x%x, want 0x%llx 0x%x",
				 (unsigned long long)cases[i].rte, (unsigned long long)a, d,
				 (unsigned long long)cases[i].address, cases[i].data);
	}
}

struct thr { struct ioapic *io; unsigned int pin; };

static void *toggle(void *p)
{
	struct thr *t = p;

	for (int i = 0; i < 2000; i++) {
		ioapic_set_irq(t->io, t->pin, true);
		ioapic_set_irq(t->io, t->pin, false);
		ioapic_eoi(t->io, 0x60);
	}
	return NULL;
}

static unsigned int count_calls;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static void count_deliver(void *opaque, const struct ioapic_msg *m)
{
	pthread_mutex_lock(&count_lock);
	count_calls++;
	pthread_mutex_unlock(&count_lock);
}

/* Edge pins driven from four threads: every rising edge is one message. */
static void threads(void **state)
{
	static const struct ioapic_ops cops = { .deliver = count_deliver };
	struct ioapic *io = ioapic_create(0, &cops, NULL);
	pthread_t th[4];
	struct thr t[4];

	for (unsigned int i = 0; i < 4; i++)
		set_rte(io, i, 0x60 + i);
	for (unsigned int i = 0; i < 4; i++) {
		t[i] = (struct thr){ io, i };
		pthread_create(&th[i], NULL, toggle, &t[i]);
	}
	for (unsigned int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(count_calls, 4 * 2000);
	ioapic_destroy(io);
}

/* Saved with a level interrupt awaiting its EOI: the loaded IOAPIC has the same table and takes the EOI. */
static void save_load(void **state)
{
	struct sink *s = *state;
	struct ioapic *io = ioapic_create(3, &ops, s), *b = ioapic_create(0, &ops, s);
	struct ioapic_state st, st2;
	char err[128] = "";

	set_rte(io, 5, 0x45 | 1ull << 15 | 2ull << 56);  /* level, vector 0x45, to APIC 2 */
	ioapic_set_irq(io, 5, true);
	assert_int_equal(s->n, 1);
	ioapic_save(io, &st);
	assert_int_equal(ioapic_load(b, &st, NULL, 0), 0);
	ioapic_save(b, &st2);
	assert_memory_equal(&st, &st2, sizeof(st));
	assert_int_equal(s->n, 1);                        /* nothing delivered by the load */
	assert_int_equal(rd(b, 0x00), 3u << 24);
	assert_true(ioapic_redirection(b, 5) & RIRR);
	ioapic_eoi(b, 0x45);                              /* the line is still up: it fires again */
	assert_int_equal(s->n, 2);
	st.id = 16u << 24;
	assert_int_equal(ioapic_load(b, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "IOAPIC: ID"));
	ioapic_destroy(io);
	ioapic_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(id_version_arb, setup),
		cmocka_unit_test_setup(save_load, setup),
		cmocka_unit_test_setup(redirection_rw, setup),
		cmocka_unit_test_setup(edge_once_per_rising_edge, setup),
		cmocka_unit_test_setup(level_remote_irr_eoi, setup),
		cmocka_unit_test_setup(eoi_register, setup),
		cmocka_unit_test_setup(masked_pins, setup),
		cmocka_unit_test_setup(polarity, setup),
		cmocka_unit_test_setup(delivery_modes, setup),
		cmocka_unit_test_setup(reentrant_eoi, setup),
		cmocka_unit_test_setup(redirection_changed, setup),
		cmocka_unit_test_setup(level_rules, setup),
		cmocka_unit_test_setup(awaiting_eoi, setup),
		cmocka_unit_test(msi_format),
		cmocka_unit_test(threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
