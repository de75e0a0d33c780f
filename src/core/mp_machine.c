/*
 * The per-vCPU MP-state machine (see mp_machine.h).
 *
 * The whole table, for an AP; "=" means the state does not change.
 *
 *                  UNINITIALIZED  INIT_RECEIVED   SIPI_RECEIVED   RUNNABLE       HALTED
 *  INIT            INIT_RCVD      INIT_RCVD       INIT_RCVD       INIT_RCVD      INIT_RCVD   RESET_CPU
 *  INIT de-assert  = NONE         = NONE          = NONE          = NONE         = NONE
 *  SIPI            = DROP         SIPI_RCVD START = DROP          = DROP         = DROP
 *  HLT             = ILLEGAL      = ILLEGAL       = ILLEGAL       HALTED SLEEP   = ILLEGAL
 *  INTR, IF=1      = DROP         = DROP          = DROP          = DELIVER      RUNNABLE WAKE
 *  INTR, IF=0      = DROP         = DROP          = DROP          = HOLD         = HOLD
 *  NMI, SMI        = DROP         = HOLD          = HOLD          = DELIVER      RUNNABLE WAKE
 *  SIPI done       = ILLEGAL      = ILLEGAL       RUNNABLE RUN    = ILLEGAL      = ILLEGAL
 *  RESET           UNINITIALIZED in every state, RESET_CPU
 *
 * The BSP differs in two rows only: INIT and RESET leave it RUNNABLE (it
 * restarts at the reset vector, FFFFFFF0H). A BSP is never in the first
 * three columns unless someone put it there (KVM_SET_MP_STATE); it is then
 * treated like an AP, as KVM does: a SIPI starts it.
 *
 * Why, row by row:
 *
 *  - INIT (§8.4.1, §10.4.7.3): every processor is reset; an AP then waits
 *    for a SIPI, the BSP runs from the reset vector. KVM does the same
 *    (kvm_apic_accept_events: BSP -> RUNNABLE, AP -> INIT_RECEIVED), also
 *    for an INIT that arrives in wait-for-SIPI (reset again, same state).
 *    INIT is latched while a CPU is in SMM (vol. 3C ch. 34); this machine
 *    has no SMM state, so a caller that models SMM holds INIT itself.
 *
 *  - INIT level de-assert (§10.6.1, delivery mode 101 with level 0 and
 *    trigger 1): only resynchronises arbitration IDs on P6 and older; not
 *    supported by Pentium 4 and later. KVM ignores it. No effect anywhere.
 *
 *  - SIPI (§8.4.1, §10.6.1 "Start-Up"): acted on only in wait-for-SIPI,
 *    once per INIT (MP spec 1.4 §B.4.2: "can be issued only one time after
 *    RESET or after an INIT"). The active and HLT states block SIPIs and
 *    discard them (vol. 3C §26.6.2), which is why the second SIPI of the
 *    usual INIT-SIPI-SIPI sequence is harmless. An AP that has seen RESET
 *    but no INIT ignores it too: on bare metal such an AP may already be in
 *    wait-for-SIPI, but KVM's UNINITIALIZED state waits for INIT first, and
 *    KVM is what runs the guest.
 *
 *  - HLT can only be executed by a running CPU; in any other state it is
 *    the caller's bug.
 *
 *  - A maskable interrupt (§6.8.1, §10.8): taken at once when IF=1; with
 *    IF=0 it stays pending in the IRR, also in HLT (HLT with IF=0 is left
 *    only by NMI, SMI, INIT or RESET). In UNINITIALIZED, INIT_RECEIVED and
 *    SIPI_RECEIVED the local APIC is software-disabled: RESET and INIT set
 *    the SVR to 000000FFH (§10.4.7.1, §10.4.7.3) and the CPU has executed
 *    nothing since that could enable it, and KVM discards fixed and
 *    lowest-priority interrupts to a disabled APIC (__apic_accept_irq).
 *
 *  - NMI and SMI: delivered to a running CPU, and they end HLT (vol. 2A,
 *    HLT: an enabled interrupt, NMI and SMI included, resumes execution;
 *    an SMI handler may go back to HLT through auto HALT restart, vol. 3C
 *    §34.10, which is the guest's business).
 *    The wait-for-SIPI state blocks NMIs and SMIs (vol. 3C §26.6.2), so in
 *    INIT_RECEIVED and SIPI_RECEIVED they stay pending until the CPU runs
 *    (the local APIC itself accepts NMI and SMI messages, §10.4.7.2). In
 *    UNINITIALIZED the only way out is an INIT, and the INIT reset
 *    discards pending NMIs and SMIs (KVM: kvm_vcpu_reset), so they are
 *    dropped at once.
 *
 *  - SIPI done: the vCPU thread has loaded the start state of the accepted
 *    SIPI (KVM's old SIPI_RECEIVED -> RUNNABLE step); anything else is the
 *    caller's bug.
 *
 *  - RESET (§8.4.1, §9.1): a power-up reset; the BSP runs, the APs wait.
 */
#include "core/mp_machine.h"

#include <stddef.h>

static struct mp_step step(enum mp_state next, enum mp_action action, const char *why)
{
	return (struct mp_step){ .next = next, .action = action, .why = why };
}

enum mp_state mp_initial_state(bool is_bsp)
{
	return is_bsp ? MP_STATE_RUNNABLE : MP_STATE_UNINITIALIZED;
}

/* wait-for-SIPI in the SDM's words: INIT received, or SIPI being loaded */
static bool waiting_for_sipi(enum mp_state s)
{
	return s == MP_STATE_INIT_RECEIVED || s == MP_STATE_SIPI_RECEIVED;
}

struct mp_step mp_machine_step(enum mp_state cur, bool is_bsp, const struct mp_event *ev)
{
	if ((unsigned)cur >= MP_STATE_COUNT)
		return step(cur, MP_ACT_ILLEGAL, "not an MP state");
	if (!ev || (unsigned)ev->type >= MP_EV_COUNT)
		return step(cur, MP_ACT_ILLEGAL, "not an MP event");

	switch (ev->type) {
	case MP_EV_INIT:
		if (is_bsp)
			return step(MP_STATE_RUNNABLE, MP_ACT_RESET_CPU,
				    "INIT: BSP reset, restarts at the reset vector");
		return step(MP_STATE_INIT_RECEIVED, MP_ACT_RESET_CPU,
			    "INIT: AP reset, waits for SIPI");

	case MP_EV_INIT_DEASSERT:
		return step(cur, MP_ACT_NONE, "INIT level de-assert: no effect");

	case MP_EV_SIPI:
		switch (cur) {
		case MP_STATE_INIT_RECEIVED:
			return step(MP_STATE_SIPI_RECEIVED, MP_ACT_START_AT_VECTOR,
				    "SIPI: start in real mode at vector << 12");
		case MP_STATE_UNINITIALIZED:
			return step(cur, MP_ACT_DROP, "SIPI ignored: no INIT since RESET");
		case MP_STATE_SIPI_RECEIVED:
			return step(cur, MP_ACT_DROP, "SIPI ignored: a SIPI was already accepted");
		default:
			return step(cur, MP_ACT_DROP, "SIPI ignored: not in wait-for-SIPI");
		}

	case MP_EV_HLT:
		if (cur == MP_STATE_RUNNABLE)
			return step(MP_STATE_HALTED, MP_ACT_SLEEP, "HLT");
		return step(cur, MP_ACT_ILLEGAL, "HLT by a vCPU that is not running");

	case MP_EV_INTR:
		switch (cur) {
		case MP_STATE_RUNNABLE:
			if (ev->if_flag)
				return step(cur, MP_ACT_DELIVER, "interrupt: IF=1, taken");
			return step(cur, MP_ACT_HOLD, "interrupt pending: IF=0");
		case MP_STATE_HALTED:
			if (ev->if_flag)
				return step(MP_STATE_RUNNABLE, MP_ACT_WAKE, "interrupt wakes HLT: IF=1");
			return step(cur, MP_ACT_HOLD, "interrupt pending, stays in HLT: IF=0");
		default:
			return step(cur, MP_ACT_DROP,
				    "interrupt dropped: local APIC disabled since RESET/INIT");
		}

	case MP_EV_NMI:
	case MP_EV_SMI:
		if (cur == MP_STATE_RUNNABLE)
			return step(cur, MP_ACT_DELIVER, ev->type == MP_EV_NMI ? "NMI taken" : "SMI taken");
		if (cur == MP_STATE_HALTED)
			return step(MP_STATE_RUNNABLE, MP_ACT_WAKE,
				    ev->type == MP_EV_NMI ? "NMI wakes HLT" : "SMI wakes HLT");
		if (waiting_for_sipi(cur))
			return step(cur, MP_ACT_HOLD,
				    ev->type == MP_EV_NMI ? "NMI pending: blocked in wait-for-SIPI"
							  : "SMI pending: blocked in wait-for-SIPI");
		return step(cur, MP_ACT_DROP,
			    ev->type == MP_EV_NMI ? "NMI dropped: AP not initialized, INIT discards it"
						  : "SMI dropped: AP not initialized, INIT discards it");

	case MP_EV_SIPI_DONE:
		if (cur == MP_STATE_SIPI_RECEIVED)
			return step(MP_STATE_RUNNABLE, MP_ACT_RUN, "SIPI start state loaded: running");
		return step(cur, MP_ACT_ILLEGAL, "SIPI start state loaded without an accepted SIPI");

	case MP_EV_RESET:
		return step(mp_initial_state(is_bsp), MP_ACT_RESET_CPU,
			    is_bsp ? "RESET: BSP runs from the reset vector" : "RESET: AP waits for INIT");
	}
	return step(cur, MP_ACT_ILLEGAL, "not an MP event");
}

void mp_sipi_start_state(uint8_t vector, struct mp_sipi_regs *out)
{
	out->cs_selector = (uint16_t)(vector << 8);
	out->cs_base = (uint32_t)vector << 12;
	out->ip = 0;
}

const char *mp_event_name(enum mp_event_type type)
{
	static const char *const names[MP_EV_COUNT] = {
		[MP_EV_INIT] = "INIT",
		[MP_EV_INIT_DEASSERT] = "INIT_DEASSERT",
		[MP_EV_SIPI] = "SIPI",
		[MP_EV_HLT] = "HLT",
		[MP_EV_INTR] = "INTR",
		[MP_EV_NMI] = "NMI",
		[MP_EV_SMI] = "SMI",
		[MP_EV_SIPI_DONE] = "SIPI_DONE",
		[MP_EV_RESET] = "RESET",
	};
	return (unsigned)type < MP_EV_COUNT ? names[type] : "?";
}

const char *mp_action_name(enum mp_action action)
{
	static const char *const names[MP_ACT_COUNT] = {
		[MP_ACT_NONE] = "NONE",
		[MP_ACT_DELIVER] = "DELIVER",
		[MP_ACT_HOLD] = "HOLD",
		[MP_ACT_DROP] = "DROP",
		[MP_ACT_RESET_CPU] = "RESET_CPU",
		[MP_ACT_START_AT_VECTOR] = "START_AT_VECTOR",
		[MP_ACT_RUN] = "RUN",
		[MP_ACT_WAKE] = "WAKE",
		[MP_ACT_SLEEP] = "SLEEP",
		[MP_ACT_ILLEGAL] = "ILLEGAL",
	};
	return (unsigned)action < MP_ACT_COUNT ? names[action] : "?";
}
