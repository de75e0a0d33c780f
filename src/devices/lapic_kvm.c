/*
 * KVM's local APIC and MP state <-> mpvm's (lapic_kvm.h).
 *
 * The register page is the xAPIC page (SDM vol. 3A Table 10-1) as KVM
 * keeps it, with KVM's own choices:
 *   - ID (020H): bits 31:24 in xAPIC mode; in x2APIC mode the 32-bit
 *     x2APIC ID with KVM_CAP_X2APIC_API's 32-bit IDs, else the ID in
 *     bits 31:24 too (KVM's kvm_apic_state_fixup()).
 *   - LDR (0D0H) in x2APIC mode: derived from the ID (§10.12.10.2); KVM
 *     computes it again when the page is set.
 *   - ICR: low half at 300H, high half at 310H in both modes.
 *   - TMCCT (390H): the current count as of KVM_GET_LAPIC; KVM_SET_LAPIC
 *     starts the timer from it (a one-shot at 0 fires at once, since
 *     Linux 6.2, or after a full period before).
 *   - the TSC deadline is not in the page but in MSR IA32_TSC_DEADLINE.
 *   - PPR is computed by KVM, VER is KVM's.
 * mpvm's model keeps TMCCT as "TMICT from timer_start_ns, lasting
 * timer_period_ns" and the TSC deadline beside it (lapic_timer.c).
 *
 * The MP state: KVM_MP_STATE_* and enum mp_state are the same numbers.
 * KVM's SIPI_RECEIVED is "INIT_RECEIVED with a SIPI to take" (KVM_SET_MP_STATE
 * in KVM's API); mpvm's APIC bus is in SIPI_RECEIVED only while it loads the
 * start state, after which the CPU runs, so a bus saved there is RUNNABLE to
 * KVM, and a SIPI it has queued for a CPU waiting for one is KVM's
 * SIPI_RECEIVED. An INIT the bus has queued is KVM's latched INIT, which
 * KVM takes on the vCPU's next KVM_RUN.
 */
#include "devices/lapic_kvm.h"

#include <string.h>

#include "core/apic_dest.h"
#include "core/errmsg.h"
#include "core/mpstate.h"
#include "devices/lapic.h"

/* The LVT entries' offsets, in enum lapic_lvt's order (Table 10-1). */
static const uint16_t lvt_off[LAPIC_LVT_COUNT] = {
	[LAPIC_LVT_TIMER] = LAPIC_REG_LVT_TIMER, [LAPIC_LVT_THERMAL] = LAPIC_REG_LVT_THERMAL,
	[LAPIC_LVT_PERF] = LAPIC_REG_LVT_PERF,   [LAPIC_LVT_LINT0] = LAPIC_REG_LVT_LINT0,
	[LAPIC_LVT_LINT1] = LAPIC_REG_LVT_LINT1, [LAPIC_LVT_ERROR] = LAPIC_REG_LVT_ERROR,
	[LAPIC_LVT_CMCI] = LAPIC_REG_LVT_CMCI,
};

#define TDCR_BITS 0x0bu   /* §10.5.4 Figure 10-10 */

static uint32_t reg(const struct kvm_lapic_state *p, unsigned int off)
{
	uint32_t v;

	memcpy(&v, p->regs + off, sizeof(v));
	return v;
}

static void set_reg(struct kvm_lapic_state *p, unsigned int off, uint32_t v)
{
	memcpy(p->regs + off, &v, sizeof(v));
}

static bool x2apic_mode(uint64_t base)
{
	return (base & (LAPIC_BASE_EN | LAPIC_BASE_EXTD)) == (LAPIC_BASE_EN | LAPIC_BASE_EXTD);
}

static unsigned int timer_mode(const struct lapic_state *s)
{
	return LAPIC_LVT_TIMER_MODE(s->lvt[LAPIC_LVT_TIMER]);
}

/* §10.8.3.1: the processor priority, from TPR and the highest vector in service. */
static uint32_t ppr(const struct lapic_state *s)
{
	uint32_t isrv = 0;

	for (int i = 7; i >= 0 && !isrv; i--)
		if (s->isr[i])
			isrv = (uint32_t)i * 32 + 31 - (uint32_t)__builtin_clz(s->isr[i]);
	return (s->tpr & 0xf0) >= (isrv & 0xf0) ? s->tpr & 0xff : isrv & 0xf0;
}

int lapic_kvm_to_bus(const struct lapic_kvm *k, uint32_t apic_id, bool x2apic_ids, const struct lapic_kvm_clock *c,
		     struct apic_bus_cpu_state *out, char *err, size_t errlen)
{
	const struct kvm_lapic_state *p = &k->page;
	struct lapic_state *s = &out->lapic;
	uint32_t id = reg(p, LAPIC_REG_ID);

	memset(out, 0, sizeof(*out));
	if (k->mp_state >= MP_STATE_COUNT)
		return errmsg(err, errlen, "MP state %u, which x86 KVM does not have", k->mp_state);
	if (x2apic_mode(k->apic_base) && (x2apic_ids ? id : id >> 24) != (x2apic_ids ? apic_id : (apic_id & 0xffu)))
		return errmsg(err, errlen, "KVM's local APIC page has x2APIC ID 0x%x, the CPU's is 0x%x", id, apic_id);

	/* The MP state and what is queued for it. */
	out->state = k->mp_state;
	if (k->mp_state == MP_STATE_SIPI_RECEIVED) {
		out->state = MP_STATE_INIT_RECEIVED;  /* KVM takes the SIPI when the vCPU next runs */
		out->sipi_pending = 1;
	}
	out->sipi_vector = k->sipi_vector;
	out->init_pending = k->latched_init;
	out->halt_if = k->mp_state == MP_STATE_HALTED && k->if_flag;
	out->nmi_pending = k->nmi_pending > 2 ? 2 : k->nmi_pending;

	/* The registers. */
	s->base = k->apic_base;
	/* mpvm keeps the xAPIC ID register; in x2APIC mode its ID is the initial one (§10.12.5.1). */
	s->id_reg = x2apic_mode(k->apic_base) ? (apic_id & 0xffu) << 24 : id & 0xff000000u;
	s->tpr = reg(p, LAPIC_REG_TPR) & 0xff;
	s->ldr = x2apic_mode(k->apic_base) ? 0 : reg(p, LAPIC_REG_LDR) & 0xff000000u;
	s->dfr = reg(p, LAPIC_REG_DFR);
	s->svr = reg(p, LAPIC_REG_SVR);
	s->esr = reg(p, LAPIC_REG_ESR);
	s->icr = (uint64_t)reg(p, LAPIC_REG_ICR2) << 32 | reg(p, LAPIC_REG_ICR);
	for (unsigned int i = 0; i < 8; i++) {
		s->isr[i] = reg(p, LAPIC_REG_ISR + 16 * i);
		s->tmr[i] = reg(p, LAPIC_REG_TMR + 16 * i);
		s->irr[i] = reg(p, LAPIC_REG_IRR + 16 * i);
	}
	for (unsigned int i = 0; i < LAPIC_LVT_COUNT; i++)
		s->lvt[i] = reg(p, lvt_off[i]);
	s->tmict = reg(p, LAPIC_REG_TMICT);
	s->tdcr = reg(p, LAPIC_REG_TDCR) & TDCR_BITS;
	/* The timer, on mpvm's clock: counting on from KVM's current count, or to the TSC deadline. */
	if (timer_mode(s) == LAPIC_TIMER_TSC_DEADLINE)
		lapic_state_set_tsc_deadline(s, k->tsc_deadline, c->tsc, c->tsc_khz, c->vm_ns);
	else
		lapic_state_set_timer_count(s, reg(p, LAPIC_REG_TMCCT), c->vm_ns);
	return 0;
}

void lapic_kvm_from_bus(const struct apic_bus_cpu_state *b, uint32_t apic_id, bool x2apic_ids, bool bsp,
			const struct lapic_kvm_clock *c, struct lapic_kvm *out)
{
	const struct lapic_state *s = &b->lapic;
	struct kvm_lapic_state *p = &out->page;
	bool x2 = x2apic_mode(s->base);
	uint32_t ccr = 0;

	memset(out, 0, sizeof(*out));
	/* The MP state and what is queued for it. */
	out->mp_state = b->state == MP_STATE_SIPI_RECEIVED ? MP_STATE_RUNNABLE : b->state;
	out->latched_init = b->init_pending;
	/* A queued SIPI counts where a CPU waits for one, or will once the queued INIT is taken. */
	if (b->sipi_pending && (b->init_pending ? !bsp : b->state == MP_STATE_INIT_RECEIVED))
		out->mp_state = MP_STATE_SIPI_RECEIVED;
	out->sipi_vector = b->sipi_vector;
	out->nmi_pending = (uint8_t)(b->nmi_pending > 2 ? 2 : b->nmi_pending);
	out->if_flag = b->halt_if;

	/* The registers. */
	out->apic_base = s->base;
	set_reg(p, LAPIC_REG_ID, x2 ? (x2apic_ids ? apic_id : (apic_id & 0xffu) << 24) : s->id_reg);
	set_reg(p, LAPIC_REG_VER, LAPIC_VERSION);
	set_reg(p, LAPIC_REG_TPR, s->tpr);
	set_reg(p, LAPIC_REG_PPR, ppr(s));
	set_reg(p, LAPIC_REG_LDR, x2 ? x2apic_ldr(apic_id) : s->ldr);
	set_reg(p, LAPIC_REG_DFR, s->dfr);
	set_reg(p, LAPIC_REG_SVR, s->svr);
	/* Errors not yet latched by an ESR write (esr_pending) have no place in KVM's page. */
	set_reg(p, LAPIC_REG_ESR, s->esr);
	set_reg(p, LAPIC_REG_ICR, (uint32_t)s->icr);
	set_reg(p, LAPIC_REG_ICR2, (uint32_t)(s->icr >> 32));
	for (unsigned int i = 0; i < 8; i++) {
		set_reg(p, LAPIC_REG_ISR + 16 * i, s->isr[i]);
		set_reg(p, LAPIC_REG_TMR + 16 * i, s->tmr[i]);
		set_reg(p, LAPIC_REG_IRR + 16 * i, s->irr[i]);
	}
	for (unsigned int i = 0; i < LAPIC_LVT_COUNT; i++)
		set_reg(p, lvt_off[i], s->lvt[i]);
	set_reg(p, LAPIC_REG_TDCR, s->tdcr);
	if (timer_mode(s) == LAPIC_TIMER_TSC_DEADLINE) {
		out->tsc_deadline = s->tsc_deadline;
		set_reg(p, LAPIC_REG_TMICT, s->tmict);
	} else {
		ccr = lapic_state_timer_count(s, c->vm_ns);
		/*
		 * A one-shot count that has run out: KVM_SET_LAPIC would start
		 * it again from TMCCT 0 (fire at once, or after a full period
		 * on kernels before 6.2), so KVM gets TMICT 0, a stopped timer.
		 */
		set_reg(p, LAPIC_REG_TMICT,
			!ccr && timer_mode(s) == LAPIC_TIMER_ONESHOT ? 0 : s->tmict);
	}
	set_reg(p, LAPIC_REG_TMCCT, ccr);
}
