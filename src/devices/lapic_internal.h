/*
 * Private to the local APIC model: what lapic.c (registers, interrupts,
 * modes) and lapic_timer.c (the timer, §10.5.4) share. Not for the VMM,
 * which has lapic.h.
 *
 * Naming: functions defined in one of the two files and called from the
 * other carry the prefix la_, so that they are told apart at a glance from
 * the public lapic_ API and from each file's static helpers, and so that
 * their global symbols cannot collide with another device's. The few
 * one-line helpers both files use are static inline here instead.
 */
#ifndef MPVM_DEVICES_LAPIC_INTERNAL_H
#define MPVM_DEVICES_LAPIC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/icr.h"
#include "devices/lapic.h"

/* Timer divide configuration register: bits 0, 1, 3 (§10.5.4 Figure 10-10). */
#define TDCR_MASK          0x0000000bu

struct lapic {
	pthread_mutex_t lock;

	/* Fixed at create. */
	unsigned int vcpu_id;
	uint32_t initial_id;      /* the x2APIC ID; low 8 bits: the xAPIC ID */
	bool bsp_at_reset;
	struct lapic_ops ops;
	void *opaque;

	/* Configuration by the VMM. */
	unsigned int maxphyaddr;
	bool eoi_suppress_ok;
	uint64_t (*now_ns)(void *);
	uint64_t (*tsc_now)(void *);
	uint64_t tsc_khz;
	void *clock_opaque;

	/* Architectural state. */
	uint64_t base;            /* IA32_APIC_BASE */
	uint32_t id_reg;          /* xAPIC ID register (ID in 31:24) */
	uint32_t tpr, ldr, dfr, svr;
	uint32_t isr[8], tmr[8], irr[8];
	uint32_t esr_pending;     /* errors since the last ESR write */
	uint32_t esr;             /* what the ESR reads: latched by the last write */
	uint64_t icr;             /* xAPIC: high << 32 | low; x2APIC: the MSR */
	uint32_t lvt[LAPIC_LVT_COUNT];
	uint32_t tmict, tdcr;

	/* Timer. One-shot / periodic: the count was TMICT at timer_start_ns and
	 * reaches 0 at timer_start_ns + timer_period_ns. TSC deadline: armed
	 * while tsc_deadline != 0; deadline_ns is its estimate on our clock. */
	bool timer_armed;
	uint64_t timer_start_ns, timer_period_ns;
	uint64_t tsc_deadline, deadline_ns;
};

/* ---- deferred callbacks (lapic.c) -------------------------------------- */

/*
 * Work that calls out of the APIC (send_ipi, kick, eoi, log,
 * dest_changed) is collected here while the lock is held and run by
 * la_unlock_and_run() after it is released: a callback may then call back
 * into any lapic, this one included.
 */
#define LOG_SLOTS 4
#define LOG_LEN 200

struct deferred {
	bool kick;
	bool send;
	bool dest_changed;        /* ID, LDR, DFR, SVR or IA32_APIC_BASE changed */
	struct icr icr;
	int eoi;                  /* vector, or -1 */
	unsigned int nlog;
	char log[LOG_SLOTS][LOG_LEN];
};

#define DEFERRED_INIT { .eoi = -1 }

/* A message for ops->log, prefixed with the vCPU. */
void la_dlog(const struct lapic *l, struct deferred *d, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Releases the lock, then makes the calls collected in `d`. */
void la_unlock_and_run(struct lapic *l, struct deferred *d);

/* ---- state both files use ---------------------------------------------- */

static inline void lock(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
}

static inline bool hw_enabled(const struct lapic *l)
{
	return l->base & LAPIC_BASE_EN;
}

/*
 * An interrupt this APIC generated or received for itself (LVT, self-IPI,
 * accepted message) into IRR, or the "receive illegal vector" error for
 * vectors 0-15. Returns whether it reached IRR. In lapic.c; the timer
 * fires through it.
 */
bool la_deliver_local(struct lapic *l, uint8_t v, bool level, struct deferred *d);

/* ---- the timer (lapic_timer.c), called with the lock held --------------- */

/* Installs the default clock, CLOCK_MONOTONIC: for lapic_create(), before
 * the lapic is shared, so without the lock. */
void la_clock_init(struct lapic *l);
/* Stops the timer in every mode (reset, §10.4.7.1; TSC-deadline mode changes). */
void la_timer_disarm(struct lapic *l);
/* A write of LVT timer entry `nv` (writable bits only, mask applied). */
void la_timer_lvt_write(struct lapic *l, uint32_t nv, struct deferred *d);
/* The timer registers TMICT, TMCCT and TDCR: read, and write (TMICT, TDCR). */
uint32_t la_timer_reg_read(struct lapic *l, uint32_t off);
void la_timer_reg_write(struct lapic *l, uint32_t off, uint32_t v, struct deferred *d);

#endif
