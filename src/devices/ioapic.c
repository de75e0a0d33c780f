#include "devices/ioapic.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"

/* Memory-mapped registers, offsets from the base (82093AA §3.1). */
#define IOREGSEL 0x00 /* bits 7:0 select the register IOWIN reaches */
#define IOWIN    0x10 /* the selected register, 32 bits */
#define IOEOI    0x40 /* version 0x20: writing a vector EOIs it here directly */

/* Indirect registers (82093AA §3.2). */
#define REG_ID    0x00 /* §3.2.1: ID in bits 27:24, R/W */
#define REG_VER   0x01 /* §3.2.2: RO, max entry in 23:16, version in 7:0 */
#define REG_ARB   0x02 /* §3.2.3: RO, arbitration ID in bits 27:24 */
#define REG_REDIR 0x10 /* §3.2.4: entry n is 0x10+2n (low), 0x11+2n (high) */

/* Redirection entry bits (82093AA §3.2.4). */
#define RTE_VECTOR      0xffull
#define RTE_DELIV_SHIFT 8
#define RTE_LOGICAL     (1ull << 11)
#define RTE_DELIV_STAT  (1ull << 12) /* RO: send pending; delivery is instant here, so 0 */
#define RTE_LOW_ACTIVE  (1ull << 13)
#define RTE_REMOTE_IRR  (1ull << 14) /* RO: a level interrupt was accepted, awaits EOI */
#define RTE_LEVEL       (1ull << 15)
#define RTE_MASKED      (1ull << 16)
#define RTE_RO          (RTE_DELIV_STAT | RTE_REMOTE_IRR)

struct ioapic {
	pthread_mutex_t lock;
	const struct ioapic_ops *ops;
	void *opaque;
	uint32_t id;      /* bits 27:24 of REG_ID */
	uint8_t regsel;
	uint32_t lines;   /* electrical level of each pin's input */
	uint64_t rte[IOAPIC_PINS];
	uint32_t sent[IOAPIC_PINS]; /* messages each pin has sent (wraps) */
};

/*
 * What a locked section decided to do; done after unlocking so that the
 * callbacks may re-enter the I/O APIC.
 */
struct actions {
	unsigned int n;
	struct ioapic_msg msg[IOAPIC_PINS];
	char log[96];
	int changed;          /* pin whose entry the guest wrote, or -1 */
	uint64_t rte;
};

struct ioapic *ioapic_create(uint8_t id, const struct ioapic_ops *ops, void *opaque)
{
	struct ioapic *io = calloc(1, sizeof(*io));

	if (!io)
		return NULL;
	pthread_mutex_init(&io->lock, NULL);
	io->ops = ops;
	io->opaque = opaque;
	io->id = (uint32_t)(id & 0xf) << 24;
	/* §3.2.4: after reset every entry is masked; the rest is undefined, so 0. */
	for (unsigned int i = 0; i < IOAPIC_PINS; i++)
		io->rte[i] = RTE_MASKED;
	return io;
}

void ioapic_destroy(struct ioapic *io)
{
	if (!io)
		return;
	pthread_mutex_destroy(&io->lock);
	free(io);
}

static void unlock_and_act(struct ioapic *io, struct actions *a)
{
	pthread_mutex_unlock(&io->lock);
	/* The new entry first: the VMM may route what it sends next from it. */
	if (a->changed >= 0 && io->ops->redirection_changed)
		io->ops->redirection_changed(io->opaque, (unsigned int)a->changed, a->rte);
	for (unsigned int i = 0; i < a->n; i++)
		io->ops->deliver(io->opaque, &a->msg[i]);
	if (a->log[0] && io->ops->log)
		io->ops->log(io->opaque, a->log);
}

static bool asserted(const struct ioapic *io, unsigned int pin)
{
	bool line = io->lines >> pin & 1;

	return line != !!(io->rte[pin] & RTE_LOW_ACTIVE);
}

/* SMI, NMI, INIT and ExtINT are edge-triggered whatever bit 15 says (§3.2.4). */
static bool level_mode(uint64_t rte)
{
	unsigned int dm = (rte >> RTE_DELIV_SHIFT) & 7;

	return (rte & RTE_LEVEL) && (dm == IOAPIC_FIXED || dm == IOAPIC_LOWEST);
}

struct ioapic_msg ioapic_rte_msg(uint64_t r)
{
	return (struct ioapic_msg){
		.vector = (uint8_t)(r & RTE_VECTOR),
		.delivery = (uint8_t)((r >> RTE_DELIV_SHIFT) & 7),
		.logical = r & RTE_LOGICAL,
		.level = level_mode(r),
		.dest = (uint32_t)(r >> 56) | (uint32_t)((r >> 49) & 0x7f) << 8,
	};
}

void ioapic_msg_to_msi(const struct ioapic_msg *m, uint64_t *address, uint32_t *data)
{
	/*
	 * Address (§10.11.1): 0xFEE in 31:20, destination ID in 19:12,
	 * RH (bit 3: lowest-priority redirection allowed) and DM (bit 2).
	 * Data (§10.11.2): trigger mode (15), level (14: asserted, for a
	 * level message), delivery mode (10:8), vector (7:0).
	 */
	*address = 0xfee00000u | (m->dest & 0xff) << 12 | ((m->dest >> 8) & 0x7f) << 5 |
		   (uint32_t)(m->delivery == IOAPIC_LOWEST) << 3 | (uint32_t)m->logical << 2;
	*data = (uint32_t)m->level << 15 | (uint32_t)m->level << 14 |
		(uint32_t)(m->delivery & 7) << 8 | m->vector;
}

static void send(struct ioapic *io, unsigned int pin, struct actions *a)
{
	struct ioapic_msg *m = &a->msg[a->n++];

	*m = ioapic_rte_msg(io->rte[pin]);
	io->sent[pin]++;
	/* The local APIC will EOI it; until then the pin cannot fire again. */
	if (m->level)
		io->rte[pin] |= RTE_REMOTE_IRR;
}

/* A level pin fires while it is asserted, unmasked and not awaiting EOI. */
static void service_level(struct ioapic *io, unsigned int pin, struct actions *a)
{
	uint64_t r = io->rte[pin];

	if (level_mode(r) && asserted(io, pin) && !(r & (RTE_MASKED | RTE_REMOTE_IRR)))
		send(io, pin, a);
}

static uint32_t read_reg(struct ioapic *io, uint8_t reg)
{
	switch (reg) {
	case REG_ID: return io->id;
	case REG_VER: return (IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
	/* The arbitration ID is loaded from the ID register (§3.2.3). */
	case REG_ARB: return io->id;
	}
	if (reg >= REG_REDIR && reg < REG_REDIR + 2 * IOAPIC_PINS) {
		uint64_t r = io->rte[(reg - REG_REDIR) / 2];

		return (uint32_t)(reg & 1 ? r >> 32 : r);
	}
	return 0; /* reserved registers read as 0 */
}

static void write_reg(struct ioapic *io, uint8_t reg, uint32_t v, struct actions *a)
{
	if (reg == REG_ID) {
		io->id = v & 0x0f000000;
		return;
	}
	if (reg < REG_REDIR || reg >= REG_REDIR + 2 * IOAPIC_PINS) {
		snprintf(a->log, sizeof(a->log), "ioapic: write 0x%x to read-only/reserved register 0x%x",
			 v, reg);
		return;
	}
	unsigned int pin = (reg - REG_REDIR) / 2;
	uint64_t old = io->rte[pin], r;

	if (reg & 1)
		r = (old & 0xffffffffull) | (uint64_t)v << 32;
	else
		r = (old & ~0xffffffffull) | v;
	r = (r & ~RTE_RO) | (old & RTE_RO);
	/* An edge pin has no EOI to wait for: a remote IRR left over would stick. */
	if (!level_mode(r))
		r &= ~RTE_REMOTE_IRR;
	io->rte[pin] = r;
	a->changed = (int)pin;
	a->rte = r;
	unsigned int dm = (r >> RTE_DELIV_SHIFT) & 7;
	if (dm == 3 || dm == 6)
		snprintf(a->log, sizeof(a->log), "ioapic: pin %u: reserved delivery mode %u", pin, dm);
	/* Unmasking (or re-arming) an asserted level pin delivers it now. */
	service_level(io, pin, a);
}

/*
 * Registers are 32 bits wide and the data sheet asks for 32-bit accesses;
 * narrower or wider ones act on the bytes of the 32-bit register they hit.
 */
void ioapic_mmio_read(struct ioapic *io, uint64_t offset, void *data, unsigned int len)
{
	uint64_t reg = offset & ~3ull, v = 0;

	pthread_mutex_lock(&io->lock);
	if (reg == IOREGSEL)
		v = io->regsel;
	else if (reg == IOWIN)
		v = read_reg(io, io->regsel);
	pthread_mutex_unlock(&io->lock);
	v >>= 8 * (offset & 3);
	memset(data, 0, len);
	memcpy(data, &v, len > 8 ? 8 : len);
}

void ioapic_mmio_write(struct ioapic *io, uint64_t offset, const void *data, unsigned int len)
{
	uint64_t reg = offset & ~3ull, in = 0;
	unsigned int shift = 8 * (offset & 3);
	struct actions a = { .n = 0, .changed = -1 };

	memcpy(&in, data, len > 8 ? 8 : len);
	uint32_t bytes = len >= 4 ? 0xffffffffu : ((1u << (8 * len)) - 1);
	uint32_t mask = bytes << shift, v = (uint32_t)(in << shift);

	pthread_mutex_lock(&io->lock);
	if (reg == IOREGSEL) {
		io->regsel = (uint8_t)((io->regsel & ~mask) | (v & mask));
	} else if (reg == IOWIN) {
		uint32_t cur = read_reg(io, io->regsel);

		write_reg(io, io->regsel, (cur & ~mask) | (v & mask), &a);
	} else if (reg == IOEOI) {
		/* Bits 7:0 are the vector, as with the LAPIC's directed EOI. */
		pthread_mutex_unlock(&io->lock);
		ioapic_eoi(io, (uint8_t)(in & 0xff));
		return;
	} else {
		snprintf(a.log, sizeof(a.log), "ioapic: write to unknown offset 0x%llx",
			 (unsigned long long)offset);
	}
	unlock_and_act(io, &a);
}

void ioapic_set_irq(struct ioapic *io, unsigned int pin, bool level)
{
	struct actions a = { .n = 0, .changed = -1 };

	if (pin >= IOAPIC_PINS)
		return;
	pthread_mutex_lock(&io->lock);
	bool was = asserted(io, pin);

	io->lines = (io->lines & ~(1u << pin)) | (uint32_t)level << pin;
	if (level_mode(io->rte[pin]))
		service_level(io, pin, &a);
	/* §3.2.4: an edge on a masked pin is ignored, not held pending. */
	else if (!was && asserted(io, pin) && !(io->rte[pin] & RTE_MASKED))
		send(io, pin, &a);
	unlock_and_act(io, &a);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	struct actions a = { .n = 0, .changed = -1 };

	pthread_mutex_lock(&io->lock);
	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t r = io->rte[pin];

		if ((r & RTE_VECTOR) != vector || !(r & RTE_REMOTE_IRR))
			continue;
		io->rte[pin] &= ~RTE_REMOTE_IRR;
		/* Still asserted: the source wants service again. */
		service_level(io, pin, &a);
	}
	unlock_and_act(io, &a);
}

uint32_t ioapic_awaiting_eoi(struct ioapic *io, uint8_t vector[IOAPIC_PINS],
			     uint32_t sent[IOAPIC_PINS])
{
	uint32_t pins = 0;

	pthread_mutex_lock(&io->lock);
	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++) {
		if (!(io->rte[pin] & RTE_REMOTE_IRR))
			continue;
		pins |= 1u << pin;
		vector[pin] = (uint8_t)(io->rte[pin] & RTE_VECTOR);
		sent[pin] = io->sent[pin];
	}
	pthread_mutex_unlock(&io->lock);
	return pins;
}

void ioapic_eoi_pin(struct ioapic *io, unsigned int pin, uint32_t sent)
{
	struct actions a = { .n = 0, .changed = -1 };

	if (pin >= IOAPIC_PINS)
		return;
	pthread_mutex_lock(&io->lock);
	if ((io->rte[pin] & RTE_REMOTE_IRR) && io->sent[pin] == sent) {
		io->rte[pin] &= ~RTE_REMOTE_IRR;
		service_level(io, pin, &a);
	}
	unlock_and_act(io, &a);
}

uint64_t ioapic_redirection(struct ioapic *io, unsigned int pin)
{
	uint64_t r = 0;

	if (pin >= IOAPIC_PINS)
		return 0;
	pthread_mutex_lock(&io->lock);
	r = io->rte[pin];
	pthread_mutex_unlock(&io->lock);
	return r;
}

void ioapic_save(struct ioapic *io, struct ioapic_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&io->lock);
	s->id = io->id;
	s->lines = io->lines;
	s->regsel = io->regsel;
	memcpy(s->rte, io->rte, sizeof(s->rte));
	memcpy(s->sent, io->sent, sizeof(s->sent));
	pthread_mutex_unlock(&io->lock);
}

int ioapic_load(struct ioapic *io, const struct ioapic_state *s, char *err, size_t errlen)
{
	if (s->id & ~0x0f000000u || s->lines >> IOAPIC_PINS) /* id: REG_ID, the ID in bits 27:24 */
		return errmsg(err, errlen, "IOAPIC: ID %u or input lines 0x%x out of range", s->id, s->lines);
	pthread_mutex_lock(&io->lock);
	io->id = s->id;
	io->lines = s->lines;
	io->regsel = s->regsel;
	memcpy(io->rte, s->rte, sizeof(io->rte));
	memcpy(io->sent, s->sent, sizeof(io->sent));
	pthread_mutex_unlock(&io->lock);
	return 0;
}
