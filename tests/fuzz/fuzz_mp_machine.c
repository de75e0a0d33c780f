/*
 * libFuzzer target, differential: mp_machine_step() (core/mp_machine.c)
 * against a small model of the SDM's rules written here from the SDM and
 * KVM's semantics, not from the table in mp_machine.c:
 *
 *   - RESET: the BSP runs, an AP waits for INIT (UNINITIALIZED).
 *   - INIT: resets the CPU; the BSP then runs from the reset vector, an AP
 *     waits for a SIPI (INIT_RECEIVED), whatever state it was in.
 *   - INIT level de-assert: no effect (P6 and older only; KVM ignores it).
 *   - SIPI: counts only in wait-for-SIPI after an INIT (INIT_RECEIVED) and
 *     starts the CPU (SIPI_RECEIVED until its start state is loaded); the
 *     active and HLT states block and discard it, and so does a CPU that
 *     has seen no INIT since RESET, or one whose SIPI is already accepted.
 *   - SIPI done (the start state is loaded): SIPI_RECEIVED -> RUNNABLE.
 *   - HLT by a running CPU halts it.
 *   - A maskable interrupt wakes a halted CPU only with IF=1; NMI and SMI
 *     always do. Neither changes the state of a running CPU or of one
 *     waiting for INIT or SIPI (they are held or dropped there).
 *
 * The input: byte 0 chooses BSP or AP and the start state; then one byte
 * per event (its type, IF in bit 7), followed by the vector for a SIPI.
 * Events the caller cannot produce (HLT when not running, SIPI done without
 * an accepted SIPI, values out of range) must give ILLEGAL and leave the
 * state alone; every other event must never be ILLEGAL. abort() with a
 * message on any mismatch.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mp_machine.h"
#include "core/mpstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum model_state { M_RUNNABLE, M_UNINIT, M_INIT_RCVD, M_HALTED, M_SIPI_RCVD, M_NSTATES };

static const char *const model_names[M_NSTATES] = {
	"RUNNABLE", "UNINITIALIZED", "INIT_RECEIVED", "HALTED", "SIPI_RECEIVED",
};

static enum mp_state to_mp(enum model_state s)
{
	switch (s) {
	case M_RUNNABLE: return MP_STATE_RUNNABLE;
	case M_UNINIT: return MP_STATE_UNINITIALIZED;
	case M_INIT_RCVD: return MP_STATE_INIT_RECEIVED;
	case M_HALTED: return MP_STATE_HALTED;
	case M_SIPI_RCVD: return MP_STATE_SIPI_RECEIVED;
	case M_NSTATES: break;
	}
	abort();
}

enum model_event { E_INIT, E_INIT_DEASSERT, E_SIPI, E_HLT, E_INTR, E_NMI, E_SMI, E_SIPI_DONE,
		   E_RESET, E_NEVENTS };

static enum mp_event_type to_mp_event(enum model_event e)
{
	static const enum mp_event_type map[E_NEVENTS] = {
		[E_INIT] = MP_EV_INIT, [E_INIT_DEASSERT] = MP_EV_INIT_DEASSERT,
		[E_SIPI] = MP_EV_SIPI, [E_HLT] = MP_EV_HLT, [E_INTR] = MP_EV_INTR,
		[E_NMI] = MP_EV_NMI, [E_SMI] = MP_EV_SMI, [E_SIPI_DONE] = MP_EV_SIPI_DONE,
		[E_RESET] = MP_EV_RESET,
	};
	return map[e];
}

/* Can the caller produce event e in state s at all? */
static bool model_legal(enum model_state s, enum model_event e)
{
	if (e == E_HLT)
		return s == M_RUNNABLE;        /* only a running CPU executes HLT */
	if (e == E_SIPI_DONE)
		return s == M_SIPI_RCVD;       /* only after an accepted SIPI */
	return true;
}

/* The next state by the SDM; s itself for events that change nothing. */
static enum model_state model_next(enum model_state s, bool bsp, enum model_event e, bool if_flag)
{
	switch (e) {
	case E_RESET:
		return bsp ? M_RUNNABLE : M_UNINIT;
	case E_INIT:
		return bsp ? M_RUNNABLE : M_INIT_RCVD;
	case E_INIT_DEASSERT:
		return s;
	case E_SIPI:
		return s == M_INIT_RCVD ? M_SIPI_RCVD : s;
	case E_SIPI_DONE:
		return s == M_SIPI_RCVD ? M_RUNNABLE : s;
	case E_HLT:
		return s == M_RUNNABLE ? M_HALTED : s;
	case E_INTR:
		return (s == M_HALTED && if_flag) ? M_RUNNABLE : s;
	case E_NMI:
	case E_SMI:
		return s == M_HALTED ? M_RUNNABLE : s;
	case E_NEVENTS:
		break;
	}
	abort();
}

static void fail(const char *what, enum model_state s, bool bsp, int ev, bool if_flag,
		 const struct mp_step *got, const char *want)
{
	fprintf(stderr, "mp_machine mismatch: %s: %s in %s, %s, IF=%d: got %s/%s (\"%s\"), want %s\n",
		what, mp_event_name((enum mp_event_type)ev), model_names[s], bsp ? "BSP" : "AP",
		if_flag, mp_state_name(got->next) ? mp_state_name(got->next) : "?",
		mp_action_name(got->action), got->why ? got->why : "(null)", want);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;

	bool bsp = data[0] & 1;
	enum model_state s = bsp ? M_RUNNABLE : M_UNINIT;

	if (to_mp(s) != mp_initial_state(bsp)) {
		fprintf(stderr, "mp_initial_state(%s) = %u, want %s\n", bsp ? "BSP" : "AP",
			(unsigned)mp_initial_state(bsp), model_names[s]);
		abort();
	}
	/* Bit 1: start in any state (as KVM_SET_MP_STATE could put it there). */
	if (data[0] & 2)
		s = (enum model_state)((data[0] >> 2) % M_NSTATES);

	for (size_t i = 1; i < size; i++) {
		uint8_t b = data[i];
		struct mp_event ev = { .if_flag = b >> 7 };
		struct mp_step got;

		if ((b & 0x7f) == 0x7f) {
			/* Out of range: an event type or a state that does not exist. */
			ev.type = (enum mp_event_type)(MP_EV_COUNT + (b >> 7));
			got = mp_machine_step(to_mp(s), bsp, &ev);
			if (got.action != MP_ACT_ILLEGAL || got.next != to_mp(s) || !got.why)
				fail("bad event type", s, bsp, ev.type, ev.if_flag, &got, "= ILLEGAL");
			ev.type = MP_EV_INIT;
			got = mp_machine_step((enum mp_state)MP_STATE_COUNT, bsp, &ev);
			if (got.action != MP_ACT_ILLEGAL || got.next != (enum mp_state)MP_STATE_COUNT)
				fail("bad state", s, bsp, ev.type, ev.if_flag, &got, "= ILLEGAL");
			got = mp_machine_step(to_mp(s), bsp, NULL);
			if (got.action != MP_ACT_ILLEGAL || got.next != to_mp(s))
				fail("NULL event", s, bsp, ev.type, ev.if_flag, &got, "= ILLEGAL");
			continue;
		}

		enum model_event e = (enum model_event)((b & 0x7f) % E_NEVENTS);

		ev.type = to_mp_event(e);
		if (e == E_SIPI && i + 1 < size)
			ev.vector = data[++i];
		got = mp_machine_step(to_mp(s), bsp, &ev);
		if (!got.why)
			fail("no reason", s, bsp, ev.type, ev.if_flag, &got, "a reason");
		if ((unsigned)got.action >= MP_ACT_COUNT || !strcmp(mp_action_name(got.action), "?"))
			fail("action out of range", s, bsp, ev.type, ev.if_flag, &got, "an action");

		if (!model_legal(s, e)) {
			if (got.action != MP_ACT_ILLEGAL || got.next != to_mp(s))
				fail("impossible event accepted", s, bsp, ev.type, ev.if_flag, &got,
				     "state unchanged, ILLEGAL");
			continue;       /* the caller never goes on from here */
		}

		enum model_state want = model_next(s, bsp, e, ev.if_flag);

		if (got.action == MP_ACT_ILLEGAL)
			fail("ILLEGAL for an event the caller can produce", s, bsp, ev.type,
			     ev.if_flag, &got, model_names[want]);
		if (got.next != to_mp(want))
			fail("next state", s, bsp, ev.type, ev.if_flag, &got, model_names[want]);
		/* A SIPI that starts the CPU starts it at vector << 12 (real mode). */
		if (got.action == MP_ACT_START_AT_VECTOR) {
			struct mp_sipi_regs r;

			mp_sipi_start_state(ev.vector, &r);
			if (r.cs_base != (uint32_t)ev.vector * 4096u ||
			    r.cs_selector != (uint16_t)(ev.vector * 256u) || r.ip != 0)
				fail("SIPI start state", s, bsp, ev.type, ev.if_flag, &got,
				     "CS = vector << 8, base = vector << 12, IP = 0");
		}
		s = want;
	}
	return 0;
}
