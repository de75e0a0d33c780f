/*
 * The local APIC timer (Intel SDM vol. 3A §10.5.4; see lapic.h): one-shot
 * and periodic modes counting down TMICT at the bus clock / divide, and
 * TSC-deadline mode (§10.5.4.1) firing when the guest TSC reaches
 * IA32_TSC_DEADLINE. The register accesses in lapic.c call in here for
 * the LVT timer entry, TMICT, TMCCT and TDCR.
 *
 * The APIC bus runs at 1 GHz (LAPIC_BUS_KHZ): a count of N with divide D
 * lasts N * D ns on the installed clock. Nothing here sleeps or arms a
 * host timer: the VMM asks lapic_timer_next_ns() when to look again and
 * calls lapic_timer_update() then.
 */
#include "devices/lapic_internal.h"

#include <inttypes.h>

#include "core/clock.h"

/* ---- the clock ------------------------------------------------------------ */

/* core/clock's CLOCK_MONOTONIC in the shape of a lapic clock callback. */
static uint64_t monotonic_clock(void *unused)
{
	(void)unused;
	return monotonic_ns();
}

static uint64_t clock_now(const struct lapic *l)
{
	return l->now_ns(l->clock_opaque);
}

void la_clock_init(struct lapic *l)
{
	l->now_ns = monotonic_clock;
}

void lapic_set_clock(struct lapic *l, uint64_t (*now_ns)(void *), uint64_t (*tsc_now)(void *),
		     uint64_t tsc_khz, void *clock_opaque)
{
	lock(l);
	l->now_ns = now_ns ? now_ns : monotonic_clock;
	l->tsc_now = tsc_now;
	l->tsc_khz = tsc_khz;
	l->clock_opaque = clock_opaque;
	pthread_mutex_unlock(&l->lock);
}

/* Guest TSC ticks at tsc_khz -> ns, rounded up; 1 ms when the TSC rate is unknown (poll). */
static uint64_t tsc_ticks_ns(uint64_t delta, uint64_t tsc_khz)
{
	unsigned __int128 ns;

	if (!tsc_khz)
		return 1000000u;
	ns = ((unsigned __int128)delta * 1000000u + tsc_khz - 1) / tsc_khz;
	return ns > (UINT64_MAX >> 2) ? (UINT64_MAX >> 2) : (uint64_t)ns;
}

static uint64_t tsc_delta_ns(const struct lapic *l, uint64_t delta)
{
	return tsc_ticks_ns(delta, l->tsc_khz);
}

/* ---- timer helpers (§10.5.4) -------------------------------------------- */

/* Divide configuration (Figure 10-10): bits 3,1,0 = 000 -> 2, 001 -> 4, ..., 110 -> 128, 111 -> 1. */
static unsigned int timer_divide(uint32_t tdcr)
{
	unsigned int v = (tdcr & 3u) | ((tdcr & 8u) >> 1);

	return 1u << ((v + 1) & 7u);
}

static unsigned int timer_mode(const struct lapic *l)
{
	return LAPIC_LVT_TIMER_MODE(l->lvt[LAPIC_LVT_TIMER]);
}

static bool counting_lvt(uint32_t lvt_timer)
{
	unsigned int m = LAPIC_LVT_TIMER_MODE(lvt_timer);

	return m == LAPIC_TIMER_ONESHOT || m == LAPIC_TIMER_PERIODIC;
}

static bool counting_mode(const struct lapic *l)
{
	return counting_lvt(l->lvt[LAPIC_LVT_TIMER]);
}

/* One period of TMICT at the divide, in ns (a periodic one raised to the minimum). */
static uint64_t period_of(uint32_t lvt_timer, uint32_t tmict, uint32_t tdcr)
{
	uint64_t p = (uint64_t)tmict * timer_divide(tdcr);

	if (LAPIC_LVT_TIMER_MODE(lvt_timer) == LAPIC_TIMER_PERIODIC && p < LAPIC_TIMER_MIN_PERIOD_NS)
		p = LAPIC_TIMER_MIN_PERIOD_NS;
	return p;
}

static uint64_t timer_period(const struct lapic *l)
{
	return period_of(l->lvt[LAPIC_LVT_TIMER], l->tmict, l->tdcr);
}

/* Nanoseconds since the period began at `start`; 0 if the clock went backwards. */
static uint64_t elapsed_since(uint64_t start, uint64_t now)
{
	uint64_t e = now - start;

	return (int64_t)e < 0 ? 0 : e;
}

static uint64_t timer_elapsed(const struct lapic *l, uint64_t now)
{
	return elapsed_since(l->timer_start_ns, now);
}

/* Current count (§10.5.4): TMICT minus the bus cycles / divide elapsed. The fields of struct lapic_state. */
static uint32_t ccr_of(uint32_t lvt_timer, uint32_t tmict, uint32_t tdcr, bool armed, uint64_t start,
		       uint64_t period, uint64_t now)
{
	uint64_t e, ticks;

	if (!armed || !counting_lvt(lvt_timer) || !period)
		return 0;
	e = elapsed_since(start, now);
	if (LAPIC_LVT_TIMER_MODE(lvt_timer) == LAPIC_TIMER_PERIODIC)
		e %= period;
	else if (e >= period)
		return 0;
	ticks = e / timer_divide(tdcr);
	return ticks >= tmict ? 0 : (uint32_t)(tmict - ticks);
}

static uint32_t timer_ccr(const struct lapic *l, uint64_t now)
{
	return ccr_of(l->lvt[LAPIC_LVT_TIMER], l->tmict, l->tdcr, l->timer_armed, l->timer_start_ns,
		      l->timer_period_ns, now);
}

void la_timer_disarm(struct lapic *l)
{
	l->timer_armed = false;
	l->timer_start_ns = l->timer_period_ns = 0;
	l->tsc_deadline = l->deadline_ns = 0;
}

/* Starts counting down from TMICT (a TMICT write, §10.5.4): 0 stops the timer. */
static void timer_start(struct lapic *l, uint64_t now, struct deferred *d)
{
	l->timer_armed = false;
	if (!l->tmict || !counting_mode(l))
		return;
	l->timer_armed = true;
	l->timer_start_ns = now;
	l->timer_period_ns = timer_period(l);
	if (timer_mode(l) == LAPIC_TIMER_PERIODIC &&
	    (uint64_t)l->tmict * timer_divide(l->tdcr) < LAPIC_TIMER_MIN_PERIOD_NS)
		la_dlog(l, d, "periodic timer count %" PRIu32 " x divide %u is below %u ns: period raised",
		        l->tmict, timer_divide(l->tdcr), LAPIC_TIMER_MIN_PERIOD_NS);
}

/* The LVT timer fired (§10.5.4): its vector into IRR unless masked. */
static void timer_fire(struct lapic *l, struct deferred *d)
{
	uint32_t lvt = l->lvt[LAPIC_LVT_TIMER];

	if (!(lvt & LAPIC_LVT_MASKED))
		la_deliver_local(l, LAPIC_LVT_VECTOR(lvt), false, d);
}

/* ---- timer registers ---------------------------------------------------- */

void la_timer_lvt_write(struct lapic *l, uint32_t nv, struct deferred *d)
{
	/*
	 * LVT timer (§10.5.4.1): a move into or out of TSC-deadline mode (or
	 * the reserved mode 11B) disarms the timer and clears TMICT and
	 * IA32_TSC_DEADLINE; a move between one-shot and periodic keeps the
	 * count running.
	 */
	unsigned int om = timer_mode(l), nm = LAPIC_LVT_TIMER_MODE(nv);

	l->lvt[LAPIC_LVT_TIMER] = nv;
	if (om == nm)
		return;
	if (om >= LAPIC_TIMER_TSC_DEADLINE || nm >= LAPIC_TIMER_TSC_DEADLINE) {
		la_timer_disarm(l);
		l->tmict = 0;
	} else if (l->timer_armed) {
		l->timer_period_ns = timer_period(l);
	}
	if (nm == LAPIC_TIMER_RESERVED)
		la_dlog(l, d, "LVT timer 0x%08" PRIx32 ": reserved timer mode 11b, timer stopped", nv);
}

static void tmict_write(struct lapic *l, uint32_t v, struct deferred *d)
{
	/*
	 * §10.5.4: writing the initial count loads the current count and
	 * starts it; 0 stops the timer. Ignored in TSC-deadline mode
	 * (§10.5.4.1).
	 */
	if (timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE)
		return;
	l->tmict = v;
	timer_start(l, clock_now(l), d);
}

static void tdcr_write(struct lapic *l, uint32_t v)
{
	/*
	 * §10.5.4 Figure 10-10: bits 0, 1, 3. A change while counting keeps
	 * the current count and counts on at the new rate.
	 */
	uint32_t nv = v & TDCR_MASK;

	if (l->timer_armed && counting_mode(l) && nv != l->tdcr) {
		uint64_t now = clock_now(l), e = timer_elapsed(l, now);

		if (timer_mode(l) == LAPIC_TIMER_PERIODIC)
			e %= l->timer_period_ns;
		if (e < l->timer_period_ns) {
			uint64_t ticks = e / timer_divide(l->tdcr);

			l->tdcr = nv;
			l->timer_start_ns = now - ticks * timer_divide(nv);
			l->timer_period_ns = timer_period(l);
		}
	}
	l->tdcr = nv;
}

uint32_t la_timer_reg_read(struct lapic *l, uint32_t off)
{
	switch (off) {
	case LAPIC_REG_TMICT:
		return l->tmict;   /* §10.5.4: as written (0 after a TSC-deadline mode change) */
	case LAPIC_REG_TMCCT:
		/* §10.5.4: counts down from TMICT at bus clock / divide; 0 when
		 * stopped, after a one-shot expiry and in TSC-deadline mode. A
		 * periodic period raised to LAPIC_TIMER_MIN_PERIOD_NS reads 0
		 * for the added time. */
		return timer_ccr(l, clock_now(l));
	case LAPIC_REG_TDCR:
		return l->tdcr;    /* §10.5.4 Figure 10-10: bits 0, 1, 3 */
	}
	return 0;
}

void la_timer_reg_write(struct lapic *l, uint32_t off, uint32_t v, struct deferred *d)
{
	if (off == LAPIC_REG_TMICT)
		tmict_write(l, v, d);
	else if (off == LAPIC_REG_TDCR)
		tdcr_write(l, v);
}

/* ---- TSC deadline (§10.5.4.1) ----------------------------------------- */

uint64_t lapic_get_tsc_deadline(struct lapic *l)
{
	uint64_t v;

	lock(l);
	v = timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
	pthread_mutex_unlock(&l->lock);
	return v;
}

void lapic_set_tsc_deadline(struct lapic *l, uint64_t tsc_value, uint64_t guest_tsc_now)
{
	struct deferred d = DEFERRED_INIT;

	lock(l);
	/* Outside TSC-deadline mode writes are ignored; 0 disarms; the timer
	 * fires when the TSC reaches the deadline, then disarms (the MSR
	 * reads 0). A deadline already passed fires now. */
	if (timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE && hw_enabled(l)) {
		l->tsc_deadline = tsc_value;
		l->deadline_ns = 0;
		if (tsc_value && tsc_value <= guest_tsc_now) {
			l->tsc_deadline = 0;
			timer_fire(l, &d);
		} else if (tsc_value) {
			l->deadline_ns = clock_now(l) + tsc_delta_ns(l, tsc_value - guest_tsc_now);
		}
	}
	la_unlock_and_run(l, &d);
}

/* ---- expiry ------------------------------------------------------------- */

uint64_t lapic_timer_next_ns(struct lapic *l)
{
	uint64_t t = 0;
	bool armed;

	lock(l);
	armed = (counting_mode(l) && l->timer_armed) ||
		(timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE && l->tsc_deadline);
	if (counting_mode(l) && l->timer_armed) {
		t = l->timer_start_ns + l->timer_period_ns;
	} else if (timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE && l->tsc_deadline) {
		t = l->deadline_ns;
		if (l->tsc_now && l->tsc_khz) {
			uint64_t tsc = l->tsc_now(l->clock_opaque), now = clock_now(l);

			t = tsc >= l->tsc_deadline ? now : now + tsc_delta_ns(l, l->tsc_deadline - tsc);
		}
	}
	pthread_mutex_unlock(&l->lock);
	return armed && !t ? 1 : t;   /* 0 means "none" */
}

void lapic_timer_update(struct lapic *l, uint64_t now_ns, uint64_t guest_tsc_now)
{
	struct deferred d = DEFERRED_INIT;

	lock(l);
	if (counting_mode(l) && l->timer_armed && l->timer_period_ns &&
	    timer_elapsed(l, now_ns) >= l->timer_period_ns) {
		timer_fire(l, &d);
		if (timer_mode(l) == LAPIC_TIMER_PERIODIC)
			/* Reload (§10.5.4); periods missed since collapse into this one. */
			l->timer_start_ns += timer_elapsed(l, now_ns) / l->timer_period_ns * l->timer_period_ns;
		else
			l->timer_armed = false;   /* one-shot: the count stays 0 */
	} else if (timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE && l->tsc_deadline) {
		if (guest_tsc_now >= l->tsc_deadline) {
			l->tsc_deadline = 0;
			l->deadline_ns = 0;
			timer_fire(l, &d);
		} else if (now_ns >= l->deadline_ns) {
			/* Our ns estimate ran ahead of the TSC: look again later. */
			l->deadline_ns = now_ns + tsc_delta_ns(l, l->tsc_deadline - guest_tsc_now);
		}
	}
	la_unlock_and_run(l, &d);
}

/* ---- saved state (struct lapic_state), for converting it (lapic_kvm.c) --- */

uint32_t lapic_state_timer_count(const struct lapic_state *s, uint64_t now_ns)
{
	return ccr_of(s->lvt[LAPIC_LVT_TIMER], s->tmict, s->tdcr, s->timer_armed, s->timer_start_ns,
		      s->timer_period_ns, now_ns);
}

void lapic_state_set_timer_count(struct lapic_state *s, uint32_t ccr, uint64_t now_ns)
{
	uint32_t lvt = s->lvt[LAPIC_LVT_TIMER];

	s->timer_armed = 0;
	s->timer_start_ns = s->timer_period_ns = 0;
	/* A one-shot count of 0 has run out (§10.5.4); a periodic one reloads, so 0 reads as a full period. */
	if (!counting_lvt(lvt) || !s->tmict ||
	    (!ccr && LAPIC_LVT_TIMER_MODE(lvt) == LAPIC_TIMER_ONESHOT))
		return;
	if (!ccr || ccr > s->tmict)
		ccr = s->tmict;
	s->timer_armed = 1;
	s->timer_period_ns = period_of(lvt, s->tmict, s->tdcr);
	/* As many bus cycles / divide gone by as the count went down. */
	s->timer_start_ns = now_ns - (uint64_t)(s->tmict - ccr) * timer_divide(s->tdcr);
}

void lapic_state_set_tsc_deadline(struct lapic_state *s, uint64_t deadline, uint64_t tsc_now, uint64_t tsc_khz,
				  uint64_t now_ns)
{
	s->tsc_deadline = 0;
	s->deadline_ns = 0;
	if (LAPIC_LVT_TIMER_MODE(s->lvt[LAPIC_LVT_TIMER]) != LAPIC_TIMER_TSC_DEADLINE || !deadline)
		return;
	s->tsc_deadline = deadline;
	s->deadline_ns = now_ns + (deadline > tsc_now ? tsc_ticks_ns(deadline - tsc_now, tsc_khz) : 0);
}
