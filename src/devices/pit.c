#include "devices/pit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"

/*
 * Section names are the 8254 data sheet's. Each counter is kept as "ticks
 * elapsed since the count was loaded", e(t) = base + clocks since start_ns
 * while the counter runs; the output and the count are functions of e, so
 * nothing happens between guest accesses and pit_update() calls.
 *
 * Simplified: a count is loaded at the write, not at the next CLK pulse
 * (one 838 ns clock early), and mode 3's count sequence for odd counts is
 * approximated (its output timing is exact).
 */
struct channel {
	uint8_t ctrl;        /* control word bits 5:0 (RW, M, BCD), for status */
	uint8_t mode;        /* 0-5 (6 and 7 are 2 and 3) */
	uint8_t rw;          /* 1: LSB only, 2: MSB only, 3: LSB then MSB */
	bool bcd;
	bool gate;
	uint16_t cr;         /* count register, as written */
	uint32_t n;          /* the count being counted: 1-65536 (BCD: 1-10000) */
	uint32_t reload;     /* modes 1, 2, 3, 5: count for the next reload */
	bool pending;        /* modes 2, 3: `reload` takes over at e == switch_e */
	int64_t switch_e;
	bool loaded;         /* a count was written since the control word */
	bool counting;       /* the count is in the counting element */
	bool null_count;     /* status bit 6: count written but not yet loaded */
	bool write_msb, read_msb;  /* RW=3 byte flip-flops */
	uint64_t start_ns;
	int64_t base;
	int64_t last_e;      /* channel 0: e at the last IRQ sync */
	bool count_latched, status_latched, latch_msb;
	uint16_t latch;
	uint8_t status;
};

struct pit {
	pthread_mutex_t lock;
	pthread_mutex_t irq_lock;  /* orders set_irq/rearm calls; taken before lock */
	const struct pit_ops *ops;
	void *opaque;
	struct channel ch[3];
	uint8_t port61;            /* bits 3:0 as written */
	uint64_t last_ns;          /* latest time seen: time never runs backwards */
	bool irq_level;            /* IRQ 0 as last reported */
};

/* What a locked section decided: IRQ 0 levels to report, in order. */
struct actions {
	unsigned int n;
	bool level[3];
	bool rearm;
};

struct pit *pit_create(const struct pit_ops *ops, void *opaque)
{
	struct pit *pit = calloc(1, sizeof(*pit));

	if (!pit)
		return NULL;
	pthread_mutex_init(&pit->lock, NULL);
	pthread_mutex_init(&pit->irq_lock, NULL);
	pit->ops = ops;
	pit->opaque = opaque;
	for (int i = 0; i < 3; i++) {
		pit->ch[i].rw = 3;
		pit->ch[i].gate = i < 2;
	}
	return pit;
}

void pit_destroy(struct pit *pit)
{
	if (!pit)
		return;
	pthread_mutex_destroy(&pit->irq_lock);
	pthread_mutex_destroy(&pit->lock);
	free(pit);
}

/* Whole input clocks between two times. */
static int64_t clocks(uint64_t from, uint64_t to)
{
	if (to <= from)
		return 0;
	return (int64_t)((unsigned __int128)(to - from) * PIT_HZ / 1000000000u);
}

/* The first time at which `k` clocks have passed since `from`. */
static uint64_t clocks_to_ns(uint64_t from, int64_t k)
{
	if (k <= 0)
		return from;
	return from + (uint64_t)(((unsigned __int128)k * 1000000000u + PIT_HZ - 1) / PIT_HZ);
}

/*
 * GATE (Table "Gate Pin Operations Summary"): low suspends counting in
 * modes 0, 2, 3 and 4; in modes 1 and 5 it only triggers.
 */
static bool running(const struct channel *c)
{
	return c->counting && (c->gate || c->mode == 1 || c->mode == 5);
}

static int64_t elapsed(const struct channel *c, uint64_t now)
{
	return c->base + (running(c) ? clocks(c->start_ns, now) : 0);
}

static void start(struct channel *c, uint32_t n, uint64_t now)
{
	c->n = n;
	c->counting = true;
	c->null_count = false;
	c->pending = false;
	c->start_ns = now;
	c->base = 0;
	c->last_e = 0;
}

/* Modes 2 and 3: a count written while counting takes over at the period's end. */
static void normalize(struct channel *c, uint64_t now)
{
	if (c->pending && elapsed(c, now) >= c->switch_e) {
		c->base -= c->switch_e;
		c->last_e -= c->switch_e;
		c->n = c->reload;
		c->pending = false;
		c->null_count = false;
	}
}

#define NEVER INT64_MAX

/*
 * The first e > after at which OUT rises, or NEVER. `after` is negative
 * only just after a mode 2/3 count took over at e = 0, which was a reload.
 */
static int64_t next_rise(const struct channel *c, int64_t after)
{
	int64_t n = c->n, p;

	if (!c->counting)
		return NEVER;
	switch (c->mode) {
	case 0: case 1: p = n; break;        /* OUT goes high at terminal count */
	case 4: case 5: p = n + 1; break;    /* the one-clock low strobe ends */
	default: return after < 0 ? 0 : (after / n + 1) * n; /* 2, 3: every reload */
	}
	return p > after ? p : NEVER;
}

/* OUT at `now` (the mode descriptions, "Mode 0" ... "Mode 5"). */
static bool output(const struct channel *c, uint64_t now)
{
	int64_t e = elapsed(c, now), n = c->n;

	if (!c->counting)
		return c->mode != 0;  /* mode 0 starts low, the others high */
	switch (c->mode) {
	case 0: case 1: return e >= n;
	case 2: return !c->gate || e % n != n - 1;       /* low for one clock at count 1 */
	case 3: return !c->gate || e % n < (n + 1) / 2;  /* high the (larger) first half */
	default: return e != n;                          /* 4, 5: low for one clock at 0 */
	}
}

/* The counting element's value, in the counter's own format. */
static uint16_t count_value(const struct channel *c, uint64_t now)
{
	int64_t e = elapsed(c, now), n = c->n, m = c->bcd ? 10000 : 65536, v;

	if (!c->counting)
		return c->cr;
	switch (c->mode) {
	case 2: v = n - e % n; break;
	case 3: {
		/* Counts down by two each half; an odd count's halves are approximated. */
		int64_t ph = e % n, high = (n + 1) / 2;

		v = (n & ~1) - 2 * (ph < high ? ph : ph - high);
		break;
	}
	default: v = ((n - e % m) % m + m) % m; break;  /* wraps after 0 and keeps counting */
	}
	v %= m;
	if (c->bcd)
		v = (v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10;
	return (uint16_t)v;
}

/* The count register as a count: 0 is the largest (65536, BCD 10000). */
static uint32_t cr_count(const struct channel *c)
{
	uint32_t v = c->cr;

	if (c->bcd)
		v = (v >> 12 & 0xf) * 1000 + (v >> 8 & 0xf) * 100 + (v >> 4 & 0xf) * 10 + (v & 0xf);
	return v ? v : (c->bcd ? 10000 : 65536);
}

/*
 * Callers read their clocks before taking the lock, so a thread can arrive
 * with a time older than one already acted on; it acts at the newer time.
 */
static uint64_t monotonic(struct pit *pit, uint64_t now)
{
	if (now < pit->last_ns)
		return pit->last_ns;
	pit->last_ns = now;
	return now;
}

/* Channel 0's output to IRQ 0: one raise for each rising edge since the last sync. */
static void sync_irq(struct pit *pit, uint64_t now, struct actions *a)
{
	struct channel *c = &pit->ch[0];
	int64_t e, rise;

	normalize(c, now);
	e = elapsed(c, now);
	rise = next_rise(c, c->last_e);
	if (c->counting && e > c->last_e)
		c->last_e = e;
	if (rise <= e) {
		if (pit->irq_level)
			a->level[a->n++] = false;
		a->level[a->n++] = true;
		pit->irq_level = true;
	}
	if (pit->irq_level && !output(c, now)) {
		a->level[a->n++] = false;
		pit->irq_level = false;
	}
}

static void unlock_and_act(struct pit *pit, struct actions *a)
{
	pthread_mutex_unlock(&pit->lock);
	for (unsigned int i = 0; i < a->n; i++)
		pit->ops->set_irq(pit->opaque, 0, a->level[i]);
	if (a->rearm && pit->ops->rearm)
		pit->ops->rearm(pit->opaque);
	pthread_mutex_unlock(&pit->irq_lock);
}

void pit_update(struct pit *pit, uint64_t now_ns)
{
	struct actions a = { .n = 0 };

	pthread_mutex_lock(&pit->irq_lock);
	pthread_mutex_lock(&pit->lock);
	sync_irq(pit, monotonic(pit, now_ns), &a);
	unlock_and_act(pit, &a);
}

uint64_t pit_next_irq_ns(struct pit *pit)
{
	uint64_t t = UINT64_MAX;

	pthread_mutex_lock(&pit->lock);
	struct channel *c = &pit->ch[0];
	int64_t rise = next_rise(c, c->last_e);

	if (rise != NEVER && running(c))
		t = clocks_to_ns(c->start_ns, rise - c->base);
	pthread_mutex_unlock(&pit->lock);
	return t;
}

/* Port 0x61 bit 0 (channel 2 only; 0 and 1 are tied high on a PC). */
static void set_gate(struct channel *c, bool level, uint64_t now)
{
	if (level == c->gate)
		return;
	normalize(c, now);
	if (!level) {
		if (c->mode != 1 && c->mode != 5)
			c->base = elapsed(c, now);   /* 0, 2, 3, 4 stop here */
	} else if (c->mode == 1 || c->mode == 5 || c->mode == 2 || c->mode == 3) {
		/* A rising edge (re)triggers 1 and 5 and reloads 2 and 3. */
		if (c->loaded)
			start(c, c->reload, now);
	} else {
		c->start_ns = now;           /* 0 and 4 resume where they stopped */
	}
	c->gate = level;
}

/* "Write Operations": a count is complete; when it takes effect depends on the mode. */
static void load_count(struct channel *c, uint64_t now)
{
	uint32_t n = cr_count(c);

	c->loaded = true;
	c->null_count = true;
	c->reload = n;
	switch (c->mode) {
	case 0: case 4:
		start(c, n, now);
		break;
	case 2: case 3:
		if (!c->counting) {
			start(c, n, now);
		} else {
			/* "the present period will not be affected" */
			normalize(c, now);
			c->pending = true;
			c->switch_e = (elapsed(c, now) / c->n + 1) * c->n;
		}
		break;
	default:
		break;                       /* 1, 5: waits for a gate trigger */
	}
}

static void write_count(struct channel *c, uint8_t v, uint64_t now)
{
	switch (c->rw) {
	case 1: c->cr = v; break;
	case 2: c->cr = (uint16_t)(v << 8); break;
	default:
		if (!c->write_msb) {
			c->cr = (uint16_t)((c->cr & 0xff00) | v);
			c->write_msb = true;
			/* Mode 0: "writing the first byte disables counting", OUT low. */
			if (c->mode == 0)
				c->counting = false;
			return;
		}
		c->cr = (uint16_t)((c->cr & 0x00ff) | v << 8);
		c->write_msb = false;
	}
	load_count(c, now);
}

static void latch_count(struct channel *c, uint64_t now)
{
	/* A second latch before the first is read is ignored ("Counter Latch Command"). */
	if (c->count_latched)
		return;
	normalize(c, now);
	c->latch = count_value(c, now);
	c->count_latched = true;
	c->latch_msb = false;
}

static void latch_status(struct channel *c, uint64_t now)
{
	if (c->status_latched)
		return;
	normalize(c, now);
	/* "Status Byte": OUTPUT, NULL COUNT, then the control word's RW, M, BCD. */
	c->status = (uint8_t)(output(c, now) << 7 | c->null_count << 6 | c->ctrl);
	c->status_latched = true;
}

/* Port 0x43. */
static void write_control(struct pit *pit, uint8_t v, uint64_t now)
{
	unsigned int sc = v >> 6, rw = v >> 4 & 3;

	if (sc == 3) {
		/* "Read-Back Command": bit 5 COUNT# and bit 4 STATUS# (active low), bits 3:1 select. */
		for (unsigned int i = 0; i < 3; i++) {
			if (!(v >> (i + 1) & 1))
				continue;
			if (!(v & 0x10))
				latch_status(&pit->ch[i], now);
			if (!(v & 0x20))
				latch_count(&pit->ch[i], now);
		}
		return;
	}
	struct channel *c = &pit->ch[sc];

	if (rw == 0) {
		latch_count(c, now);
		return;
	}
	/* "Control Word Format": resets the counter's logic; OUT to its initial state. */
	c->ctrl = v & 0x3f;
	c->rw = (uint8_t)rw;
	c->mode = (v >> 1 & 7) > 5 ? (v >> 1 & 3) : (v >> 1 & 7);
	c->bcd = v & 1;
	c->counting = c->loaded = c->pending = false;
	c->null_count = true;
	c->write_msb = c->read_msb = false;
	c->count_latched = c->status_latched = false;
	c->base = 0;
	c->last_e = 0;
}

/* A read of 0x40-0x42: latched status first, then a latched count, else the live count. */
static uint8_t read_counter(struct channel *c, uint64_t now)
{
	uint16_t v;
	bool msb;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	if (c->count_latched) {
		v = c->latch;
		msb = c->rw == 2 || (c->rw == 3 && c->latch_msb);
		if (c->rw == 3 && !c->latch_msb)
			c->latch_msb = true;
		else
			c->count_latched = false;
	} else {
		normalize(c, now);
		v = count_value(c, now);
		msb = c->rw == 2 || (c->rw == 3 && c->read_msb);
		if (c->rw == 3)
			c->read_msb = !c->read_msb;
	}
	return (uint8_t)(msb ? v >> 8 : v);
}

static uint8_t pio_byte(struct pit *pit, uint16_t port, bool is_write, uint8_t v,
			uint64_t now, struct actions *a)
{
	if (port == 0x61) {
		struct channel *c2 = &pit->ch[2];

		if (is_write) {
			/* Bit 0: timer 2 gate, bit 1: speaker data, bits 3:2: NMI enables. */
			pit->port61 = v & 0x0f;
			set_gate(c2, v & 1, now);
			return 0;
		}
		normalize(c2, now);
		/* Bit 4 toggles with each DRAM refresh (every 15.085 us); bit 5 is OUT2. */
		return (uint8_t)(pit->port61 | ((now / 15085) & 1) << 4 | output(c2, now) << 5);
	}
	if (port < 0x40 || port > 0x43)
		return 0xff;          /* a wide access ran past our ports */
	if (port == 0x43) {
		if (is_write) {
			write_control(pit, v, now);
			/* A new mode for channel 0 (not a latch, which changes nothing). */
			a->rearm |= (v >> 6) == 0 && (v & 0x30);
		}
		return 0xff;          /* the control register cannot be read */
	}
	struct channel *c = &pit->ch[port - 0x40];

	if (!is_write)
		return read_counter(c, now);
	write_count(c, v, now);
	a->rearm |= port == 0x40;
	return 0;
}

int pit_pio(void *opaque, uint16_t port, bool is_write,
	    uint32_t *data, unsigned int size)
{
	struct pit *pit = opaque;
	uint64_t now = pit->ops->now_ns(pit->opaque);
	struct actions a = { .n = 0 };
	uint32_t out = 0;

	pthread_mutex_lock(&pit->irq_lock);
	pthread_mutex_lock(&pit->lock);
	now = monotonic(pit, now);
	for (unsigned int i = 0; i < size; i++) {
		uint8_t b = pio_byte(pit, (uint16_t)(port + i), is_write,
				     (uint8_t)(*data >> (8 * i)), now, &a);

		out |= (uint32_t)b << (8 * i);
	}
	if (!is_write)
		*data = out;
	/* Reprogramming channel 0 can end its output's high or low phase now. */
	sync_irq(pit, now, &a);
	unlock_and_act(pit, &a);
	return 0;
}

void pit_save(struct pit *pit, struct pit_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&pit->lock);
	for (int i = 0; i < 3; i++) {
		const struct channel *c = &pit->ch[i];

		s->ch[i] = (struct pit_channel_state){
			.start_ns = c->start_ns, .switch_e = c->switch_e, .base = c->base, .last_e = c->last_e,
			.n = c->n, .reload = c->reload, .cr = c->cr, .latch = c->latch, .ctrl = c->ctrl,
			.mode = c->mode, .rw = c->rw, .bcd = c->bcd, .gate = c->gate, .pending = c->pending,
			.loaded = c->loaded, .counting = c->counting, .null_count = c->null_count,
			.write_msb = c->write_msb, .read_msb = c->read_msb, .count_latched = c->count_latched,
			.status_latched = c->status_latched, .latch_msb = c->latch_msb, .status = c->status,
		};
	}
	s->last_ns = pit->last_ns;
	s->port61 = pit->port61;
	s->irq_level = pit->irq_level;
	pthread_mutex_unlock(&pit->lock);
}

/* Clock counts a PIT reaches in 2^40 s of VM time, with room: what a loaded state may hold. */
#define PIT_MAX_E (1ll << 62)

int pit_load(struct pit *pit, const struct pit_state *s, char *err, size_t errlen)
{
	for (int i = 0; i < 3; i++) {
		const struct pit_channel_state *c = &s->ch[i];

		/* A count being counted is 1-65536 (the arithmetic divides by it); times are past ones, counts bounded. */
		if (c->mode > 5 || c->rw < 1 || c->rw > 3 || c->n > 65536 || c->reload > 65536 || c->ctrl > 0x3f ||
		    (c->bcd | c->gate | c->pending | c->loaded | c->counting | c->null_count | c->write_msb |
		     c->read_msb | c->count_latched | c->status_latched | c->latch_msb) > 1 ||
		    (c->counting && !c->n) || (c->pending && !c->reload) || c->start_ns > s->last_ns ||
		    c->switch_e > PIT_MAX_E || c->switch_e < -PIT_MAX_E || c->base > PIT_MAX_E || c->base < -PIT_MAX_E ||
		    c->last_e > PIT_MAX_E || c->last_e < -PIT_MAX_E)
			return errmsg(err, errlen, "PIT channel %d: a register or flag out of range", i);
	}
	if (s->port61 > 0xf || s->irq_level > 1)
		return errmsg(err, errlen, "PIT: port 0x61 0x%x or IRQ 0 level out of range", s->port61);
	pthread_mutex_lock(&pit->lock);
	for (int i = 0; i < 3; i++) {
		struct channel *c = &pit->ch[i];
		const struct pit_channel_state *o = &s->ch[i];

		c->start_ns = o->start_ns;
		c->switch_e = o->switch_e;
		c->base = o->base;
		c->last_e = o->last_e;
		c->n = o->n;
		c->reload = o->reload;
		c->cr = o->cr;
		c->latch = o->latch;
		c->ctrl = o->ctrl;
		c->mode = o->mode;
		c->rw = o->rw;
		c->bcd = o->bcd;
		c->gate = o->gate;
		c->pending = o->pending;
		c->loaded = o->loaded;
		c->counting = o->counting;
		c->null_count = o->null_count;
		c->write_msb = o->write_msb;
		c->read_msb = o->read_msb;
		c->count_latched = o->count_latched;
		c->status_latched = o->status_latched;
		c->latch_msb = o->latch_msb;
		c->status = o->status;
	}
	pit->last_ns = s->last_ns;
	pit->port61 = s->port61;
	pit->irq_level = s->irq_level;
	pthread_mutex_unlock(&pit->lock);
	return 0;
}
