#include "devices/pic.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"

#define CASCADE_IRQ 2 /* the slave's INT drives master IR2 on a PC */

/* One 8259A. Section numbers below are the 8259A data sheet's. */
struct chip {
	uint8_t irr;          /* interrupt request register */
	uint8_t isr;          /* in-service register */
	uint8_t imr;          /* interrupt mask register, OCW1 */
	uint8_t lines;        /* input levels, for edge detection */
	uint8_t elcr;         /* 1: level-triggered (ELCR, or ICW1 LTIM for all) */
	uint8_t elcr_mask;    /* ELCR bits that exist */
	uint8_t base;         /* ICW2: vector of IR0, bits 7:3 */
	uint8_t icw3;         /* master: IRs with slaves; slave: its ID */
	uint8_t lowest;       /* the IR with the lowest priority (rotation) */
	uint8_t init;         /* next ICW expected: 2, 3, 4, or 0 when done */
	bool ltim, sngl, ic4; /* ICW1 */
	bool aeoi, sfnm;      /* ICW4: auto-EOI, special fully nested mode */
	bool rotate_aeoi;     /* OCW2 R=1 with AEOI: rotate on each INTA */
	bool read_isr;        /* OCW3 RIS: a read of port 0 gives ISR, else IRR */
	bool poll;            /* OCW3 P: the next read of port 0 is a poll */
	bool smm;             /* OCW3 special mask mode */
};

struct pic {
	pthread_mutex_t lock;
	const struct pic_ops *ops;
	void *opaque;
	struct chip c[2];     /* master, slave */
	bool int_out;         /* the master's INT, as last computed */
};

struct pic *pic_create(const struct pic_ops *ops, void *opaque)
{
	struct pic *pic = calloc(1, sizeof(*pic));

	if (!pic)
		return NULL;
	pthread_mutex_init(&pic->lock, NULL);
	pic->ops = ops;
	pic->opaque = opaque;
	for (int i = 0; i < 2; i++) {
		struct chip *c = &pic->c[i];

		c->imr = 0xff;
		c->lowest = 7;
		c->ic4 = true;
	}
	pic->c[0].base = 0x08;
	pic->c[0].icw3 = 1 << CASCADE_IRQ;
	pic->c[1].base = 0x70;
	pic->c[1].icw3 = CASCADE_IRQ;
	/* PIIX: IRQ 0, 1, 2, 8 and 13 are always edge-triggered. */
	pic->c[0].elcr_mask = 0xf8;
	pic->c[1].elcr_mask = 0xde;
	return pic;
}

void pic_destroy(struct pic *pic)
{
	if (!pic)
		return;
	pthread_mutex_destroy(&pic->lock);
	free(pic);
}

static bool level_triggered(const struct chip *c, unsigned int ir)
{
	return c->ltim || (c->elcr >> ir & 1);
}

/*
 * Priority rank of IR `ir`: 0 the highest, 7 the lowest. Rotation (OCW2)
 * only moves which IR is lowest ("Automatic Rotation", "Specific Rotation").
 */
static unsigned int rank(const struct chip *c, unsigned int ir)
{
	return (ir - c->lowest - 1) & 7;
}

/* The highest-priority IR set in `bits`, or -1. */
static int highest(const struct chip *c, uint8_t bits)
{
	for (unsigned int r = 0; r < 8; r++) {
		unsigned int ir = (c->lowest + 1 + r) & 7;

		if (bits >> ir & 1)
			return (int)ir;
	}
	return -1;
}

/*
 * The IR this chip would raise INT for, or -1: the highest unmasked
 * request with a priority above every in-service level ("Priority
 * Resolver", "Fully Nested Mode"). In special mask mode a masked in-service
 * level stops blocking the others (OCW3 SMM). In special fully nested mode
 * a request on a cascade IR is not blocked by that IR's own in-service
 * bit, so that a higher slave IRQ can interrupt a lower one (ICW4 SFNM).
 */
static int chip_pending(const struct chip *c, bool master)
{
	int req = highest(c, c->irr & ~c->imr);
	uint8_t blocking = c->smm ? c->isr & ~c->imr : c->isr;

	if (req < 0)
		return -1;
	if (master && c->sfnm && (c->icw3 >> req & 1))
		blocking &= (uint8_t)~(1u << req);
	int svc = highest(c, blocking);

	if (svc >= 0 && rank(c, (unsigned int)req) >= rank(c, (unsigned int)svc))
		return -1;
	return req;
}

static void set_line(struct chip *c, unsigned int ir, bool level)
{
	uint8_t bit = (uint8_t)(1u << ir);

	if (level_triggered(c, ir)) {
		/* Level mode: the request is the line ("Edge and Level Triggered Modes"). */
		c->irr = level ? c->irr | bit : c->irr & ~bit;
	} else if (level && !(c->lines & bit)) {
		/*
		 * Edge mode: a rising edge latches the request. It stays
		 * latched if the line falls before INTA: VMMs pulse lines.
		 */
		c->irr |= bit;
	}
	c->lines = level ? c->lines | bit : c->lines & ~bit;
}

/* Recomputes the cascade and INT; true if INT rose (the VMM must be kicked). */
static bool update(struct pic *pic)
{
	bool was = pic->int_out;

	set_line(&pic->c[0], CASCADE_IRQ, chip_pending(&pic->c[1], false) >= 0);
	pic->int_out = chip_pending(&pic->c[0], true) >= 0;
	return pic->int_out && !was;
}

static void unlock_and_kick(struct pic *pic, bool kick, const char *log)
{
	pthread_mutex_unlock(&pic->lock);
	if (kick && pic->ops->kick)
		pic->ops->kick(pic->opaque);
	if (log && log[0] && pic->ops->log)
		pic->ops->log(pic->opaque, log);
}

void pic_set_irq(struct pic *pic, unsigned int irq, bool level)
{
	if (irq > 15)
		return;
	pthread_mutex_lock(&pic->lock);
	/* IR2 is wired to the slave's INT: no ISA device can drive it. */
	if (irq == CASCADE_IRQ && !pic->c[0].sngl) {
		pthread_mutex_unlock(&pic->lock);
		return;
	}
	set_line(&pic->c[irq >> 3], irq & 7, level);
	unlock_and_kick(pic, update(pic), NULL);
}

bool pic_has_interrupt(struct pic *pic)
{
	pthread_mutex_lock(&pic->lock);
	bool r = pic->int_out;
	pthread_mutex_unlock(&pic->lock);
	return r;
}

/*
 * One chip's part of INTA ("Interrupt Sequence"): the request moves from
 * IRR to ISR (not with AEOI, which ends it at once). Returns the IR, or 7
 * with nothing marked in service when no request is left: the spurious
 * IR7 a real 8259A answers if the request went away before INTA.
 */
static unsigned int chip_ack(struct chip *c, bool master)
{
	int ir = chip_pending(c, master);

	if (ir < 0)
		return 7;
	uint8_t bit = (uint8_t)(1u << ir);

	if (!level_triggered(c, (unsigned int)ir))
		c->irr &= ~bit;
	if (!c->aeoi)
		c->isr |= bit;
	else if (c->rotate_aeoi)
		c->lowest = (uint8_t)ir;
	return (unsigned int)ir;
}

int pic_ack(struct pic *pic)
{
	pthread_mutex_lock(&pic->lock);
	unsigned int ir = chip_ack(&pic->c[0], true);
	int vector;

	if (pic->c[0].icw3 >> ir & 1 && !pic->c[0].sngl) {
		vector = pic->c[1].base + (int)chip_ack(&pic->c[1], false);
		/*
		 * The slave's INT may stay high (another request, or AEOI);
		 * the master's edge-triggered IR2 must see it as a new one.
		 */
		pic->c[0].lines &= (uint8_t)~(1u << CASCADE_IRQ);
	} else {
		vector = pic->c[0].base + (int)ir;
	}
	unlock_and_kick(pic, update(pic), NULL);
	return vector;
}

/* OCW2 ("Operation Command Words", "End of Interrupt"): EOIs and rotation. */
static void ocw2(struct chip *c, uint8_t v)
{
	unsigned int level = v & 7;
	int top = highest(c, c->isr);

	switch (v >> 5) {
	case 0: c->rotate_aeoi = false; break;          /* clear rotate in AEOI mode */
	case 4: c->rotate_aeoi = true; break;           /* set rotate in AEOI mode */
	case 1:                                         /* non-specific EOI */
	case 5:                                         /* ... and rotate */
		if (top < 0)
			break;
		c->isr &= (uint8_t)~(1u << top);
		if (v >> 5 == 5)
			c->lowest = (uint8_t)top;
		break;
	case 3:                                         /* specific EOI */
	case 7:                                         /* ... and rotate */
		c->isr &= (uint8_t)~(1u << level);
		if (v >> 5 == 7)
			c->lowest = (uint8_t)level;
		break;
	case 6: c->lowest = (uint8_t)level; break;      /* set priority: `level` lowest */
	default: break;                                 /* 2: no operation */
	}
}

/* OCW3: "Reading the 8259A Status", "Poll Command", "Special Mask Mode". */
static void ocw3(struct chip *c, uint8_t v)
{
	if (v & 0x02)                  /* RR: RIS selects ISR or IRR */
		c->read_isr = v & 0x01;
	c->poll = v & 0x04;
	if (v & 0x40)                  /* ESMM: SMM sets or resets special mask */
		c->smm = v & 0x20;
}

/* ICW1 ("Initialization Command Words"): starts the init sequence. */
static void icw1(struct chip *c, uint8_t v, char *log, size_t logsz)
{
	c->ltim = v & 0x08;
	c->sngl = v & 0x02;
	c->ic4 = v & 0x01;
	c->init = 2;
	/*
	 * The data sheet's list: edge sense reset (a line already high must
	 * fall and rise again), IMR cleared, IR7 lowest, special mask off,
	 * status read set to IRR, and without IC4 the ICW4 functions zeroed.
	 * A re-initialised chip also forgets what it was servicing.
	 */
	c->irr = 0;
	for (unsigned int ir = 0; ir < 8; ir++)
		if (level_triggered(c, ir) && (c->lines >> ir & 1))
			c->irr |= (uint8_t)(1u << ir);
	c->isr = 0;
	c->imr = 0;
	c->lowest = 7;
	c->smm = false;
	c->read_isr = false;
	c->poll = false;
	c->rotate_aeoi = false;
	if (!c->ic4)
		c->aeoi = c->sfnm = false;
	/* Without ICW4 the chip is in 8080/8085 mode, which x86 cannot use. */
	if (!c->ic4)
		snprintf(log, logsz, "pic: ICW1 0x%02x without IC4: 8080/8085 mode is not modelled", v);
}

static void write_port(struct pic *pic, unsigned int chip, unsigned int a0, uint8_t v,
		       char *log, size_t logsz)
{
	struct chip *c = &pic->c[chip];

	if (!a0) {
		if (v & 0x10)
			icw1(c, v, log, logsz);
		else if (v & 0x08)
			ocw3(c, v);
		else
			ocw2(c, v);
		return;
	}
	switch (c->init) {
	case 2:
		c->base = v & 0xf8;    /* ICW2: T7-T3; 8086 mode fills in the IR */
		c->init = c->sngl ? (c->ic4 ? 4 : 0) : 3;
		break;
	case 3:
		c->icw3 = v;           /* master: slave bitmap; slave: ID in 2:0 */
		c->init = c->ic4 ? 4 : 0;
		break;
	case 4:
		/* ICW4: µPM (bit 0), AEOI (1), M/S and BUF (2-3, unused), SFNM (4). */
		c->aeoi = v & 0x02;
		c->sfnm = v & 0x10;
		c->init = 0;
		if (!(v & 0x01))
			snprintf(log, logsz, "pic: ICW4 0x%02x: 8080/8085 mode is not modelled", v);
		break;
	default:
		c->imr = v;            /* OCW1 */
		break;
	}
}

/* A read of A0=0: a pending poll (OCW3 P) acts as INTA and returns I and W2-W0. */
static uint8_t read_port(struct pic *pic, unsigned int chip, unsigned int a0)
{
	struct chip *c = &pic->c[chip];

	if (a0)
		return c->imr;
	if (c->poll) {
		int ir = chip_pending(c, chip == 0);

		c->poll = false;
		if (ir < 0)
			return 0;
		chip_ack(c, chip == 0);
		return (uint8_t)(0x80 | ir);
	}
	return c->read_isr ? c->isr : c->irr;
}

static uint8_t pio_byte(struct pic *pic, uint16_t port, bool is_write, uint8_t v,
			char *log, size_t logsz)
{
	if (port == 0x4d0 || port == 0x4d1) {
		struct chip *c = &pic->c[port & 1];

		/* ELCR (PIIX): bit n = 1 makes IRQ n level-triggered. */
		if (is_write) {
			c->elcr = v & c->elcr_mask;
			/* A level input's request is its line, from now on. */
			c->irr = (uint8_t)((c->irr & ~c->elcr) | (c->lines & c->elcr));
		}
		return c->elcr;
	}
	unsigned int chip = port >= 0xa0, a0 = port & 1;

	if ((port & ~1u) != 0x20 && (port & ~1u) != 0xa0)
		return 0xff;           /* a wide access ran past our ports */
	if (is_write) {
		write_port(pic, chip, a0, v, log, logsz);
		return 0;
	}
	return read_port(pic, chip, a0);
}

int pic_pio(void *opaque, uint16_t port, bool is_write,
	    uint32_t *data, unsigned int size)
{
	struct pic *pic = opaque;
	char log[96] = "";
	uint32_t out = 0;

	pthread_mutex_lock(&pic->lock);
	/* A wider access touches consecutive ports, as on an ISA bus. */
	for (unsigned int i = 0; i < size; i++) {
		uint16_t p = (uint16_t)(port + i);
		uint8_t b = pio_byte(pic, p, is_write, (uint8_t)(*data >> (8 * i)), log, sizeof(log));

		out |= (uint32_t)b << (8 * i);
	}
	if (!is_write)
		*data = out;
	unlock_and_kick(pic, update(pic), log);
	return 0;
}

void pic_save(struct pic *pic, struct pic_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&pic->lock);
	for (int i = 0; i < 2; i++) {
		const struct chip *c = &pic->c[i];
		struct pic_chip_state *o = &s->c[i];

		*o = (struct pic_chip_state){
			.irr = c->irr, .isr = c->isr, .imr = c->imr, .lines = c->lines, .elcr = c->elcr,
			.base = c->base, .icw3 = c->icw3, .lowest = c->lowest, .init = c->init, .ltim = c->ltim,
			.sngl = c->sngl, .ic4 = c->ic4, .aeoi = c->aeoi, .sfnm = c->sfnm,
			.rotate_aeoi = c->rotate_aeoi, .read_isr = c->read_isr, .poll = c->poll, .smm = c->smm,
		};
	}
	s->int_out = pic->int_out;
	pthread_mutex_unlock(&pic->lock);
}

/* A saved chip's registers into `c` (its ELCR mask, the board's, stays). */
static void chip_from_state(struct chip *c, const struct pic_chip_state *o)
{
	c->irr = o->irr;
	c->isr = o->isr;
	c->imr = o->imr;
	c->lines = o->lines;
	c->elcr = o->elcr;
	c->base = o->base;
	c->icw3 = o->icw3;
	c->lowest = o->lowest;
	c->init = o->init;
	c->ltim = o->ltim;
	c->sngl = o->sngl;
	c->ic4 = o->ic4;
	c->aeoi = o->aeoi;
	c->sfnm = o->sfnm;
	c->rotate_aeoi = o->rotate_aeoi;
	c->read_isr = o->read_isr;
	c->poll = o->poll;
	c->smm = o->smm;
}

int pic_load(struct pic *pic, const struct pic_state *s, char *err, size_t errlen)
{
	for (int i = 0; i < 2; i++) {
		const struct pic_chip_state *o = &s->c[i];

		if (o->lowest > 7 || (o->init != 0 && (o->init < 2 || o->init > 4)) || (o->base & 7) ||
		    (o->elcr & ~pic->c[i].elcr_mask) ||
		    (o->ltim | o->sngl | o->ic4 | o->aeoi | o->sfnm | o->rotate_aeoi | o->read_isr | o->poll |
		     o->smm) > 1)
			return errmsg(err, errlen, "PIC %s: a register or flag out of range", i ? "slave" : "master");
	}
	if (s->int_out > 1)
		return errmsg(err, errlen, "PIC: INT is neither 0 nor 1");
	pthread_mutex_lock(&pic->lock);
	for (int i = 0; i < 2; i++)
		chip_from_state(&pic->c[i], &s->c[i]);
	pic->int_out = s->int_out;
	pthread_mutex_unlock(&pic->lock);
	return 0;
}

bool pic_state_int(const struct pic_state *s)
{
	struct chip master = { .elcr_mask = 0 };

	chip_from_state(&master, &s->c[0]);
	return chip_pending(&master, true) >= 0;
}
