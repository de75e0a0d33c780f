/*
 * The MP-state machine of one vCPU, as a pure function: (state, BSP or AP,
 * event) -> (next state, what the caller must do, why). No KVM, no threads:
 * the vCPU code feeds it what happened and carries out the action.
 *
 * Sources: Intel SDM vol. 3A §8.4 (MP initialization), §10.4.7 (local APIC
 * state after RESET, INIT, software disable), §10.6.1 (ICR delivery modes);
 * vol. 3C §26.6.2 (what the HLT and wait-for-SIPI states block); KVM's
 * lapic.c (kvm_apic_accept_events) where the SDM leaves room. The full
 * table of results is in mp_machine.c, above mp_machine_step().
 */
#ifndef MPVM_CORE_MP_MACHINE_H
#define MPVM_CORE_MP_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mpstate.h"

enum mp_event_type {
	MP_EV_INIT,          /* INIT IPI or INIT# (not an INIT level de-assert) */
	MP_EV_INIT_DEASSERT, /* INIT, level trigger, level de-assert (§10.6.1) */
	MP_EV_SIPI,          /* STARTUP IPI with .vector */
	MP_EV_HLT,           /* the vCPU executed HLT */
	MP_EV_INTR,          /* a deliverable maskable interrupt; .if_flag = RFLAGS.IF */
	MP_EV_NMI,
	MP_EV_SMI,
	MP_EV_SIPI_DONE,     /* the vCPU thread loaded the SIPI start state */
	MP_EV_RESET,         /* power-up / RESET of this vCPU */
};
#define MP_EV_COUNT 9

struct mp_event {
	enum mp_event_type type;
	uint8_t vector;      /* MP_EV_SIPI: the SIPI vector */
	bool if_flag;        /* MP_EV_INTR: RFLAGS.IF of the receiving vCPU */
};

enum mp_action {
	MP_ACT_NONE,            /* nothing to do */
	MP_ACT_DELIVER,         /* the running vCPU takes the event now */
	MP_ACT_HOLD,            /* keep the event pending; the vCPU takes it later */
	MP_ACT_DROP,            /* discard the event (worth a log line) */
	MP_ACT_RESET_CPU,       /* INIT or RESET: load the reset register state
				 * (SDM vol. 3A §9.1.1, Table 9-1; INIT keeps what
				 * that table says it keeps) and discard pending
				 * NMI/SMI/interrupts */
	MP_ACT_START_AT_VECTOR, /* SIPI accepted: load mp_sipi_start_state(vector) */
	MP_ACT_RUN,             /* the start state is loaded: begin executing */
	MP_ACT_WAKE,            /* leave HLT, then take the waking event */
	MP_ACT_SLEEP,           /* HLT: stop until a wake-up event */
	MP_ACT_ILLEGAL,         /* the event cannot happen in this state: a bug
				 * in the caller; the state is left unchanged */
};
#define MP_ACT_COUNT 10

struct mp_step {
	enum mp_state next;
	enum mp_action action;
	const char *why;        /* short reason, a static string, never NULL */
};

/* The transition for `ev` in state `cur`; defined for every input. */
struct mp_step mp_machine_step(enum mp_state cur, bool is_bsp, const struct mp_event *ev);

/* The state a vCPU has after RESET: the BSP runs, an AP waits for INIT. */
enum mp_state mp_initial_state(bool is_bsp);

/*
 * Register state a STARTUP IPI with vector V loads (SDM vol. 3A §8.4.4.1,
 * §10.6.1 "Start-Up"): real mode at physical address 000VV000H, that is
 * CS.selector = V << 8, CS.base = V << 12, IP = 0. Everything else keeps
 * the values the INIT before it loaded.
 */
struct mp_sipi_regs {
	uint16_t cs_selector;
	uint32_t cs_base;
	uint16_t ip;
};
void mp_sipi_start_state(uint8_t vector, struct mp_sipi_regs *out);

/* "INIT", "SIPI", ...; "?" for a value out of range. */
const char *mp_event_name(enum mp_event_type type);
/* "NONE", "DELIVER", ...; "?" for a value out of range. */
const char *mp_action_name(enum mp_action action);

#endif
