/*
 * KVM's own tracepoints turned into MP-state transitions and IPIs (for
 * --trace with --irqchip kernel or split, where KVM's local APICs move the
 * vCPUs through INIT and SIPI without mpvm seeing it; kvm/kvm_trace.c
 * reads the events). KVM-free: the events come in as plain records.
 *
 * The events, each from a vCPU thread (`cpu` is that thread's vCPU index):
 *   KTRACE_IPI     kvm:kvm_apic_ipi: the thread's vCPU wrote its ICR
 *                  (icr_low, dest); KVM delivers at once, on this thread;
 *   KTRACE_ACCEPT  kvm:kvm_apic_accept_irq: a local APIC (apicid) accepted
 *                  an interrupt (dm = delivery mode << 8, tm, vec); after
 *                  a KTRACE_IPI from the same thread it is that IPI's
 *                  delivery, otherwise a device's or a timer's;
 *   KTRACE_WAKEUP  kvm:kvm_vcpu_wakeup: the thread's vCPU, halted for
 *                  wait_ns, woke (KVM traces it only in kvm_vcpu_halt(),
 *                  i.e. for MP state HALTED, not for a vCPU waiting for
 *                  INIT or SIPI);
 *   KTRACE_EINTR   kvm:kvm_userspace_exit with an error: KVM_RUN returned
 *                  to user space interrupted (a signal: mpvm's kick), so
 *                  a wake-up just before it left the MP state as it was.
 *
 * The model is KVM's (arch/x86/kvm/lapic.c, __apic_accept_irq() and
 * kvm_apic_accept_events()): INIT (assert, or edge) resets an AP to
 * INIT_RECEIVED and the BSP to RUNNABLE; a level de-assert changes
 * nothing; SIPI moves INIT_RECEIVED to RUNNABLE and is dropped in any
 * other state; a halted vCPU takes a pending INIT and SIPI when it wakes.
 * KVM has no SIPI_RECEIVED on this path.
 */
#ifndef MPVM_CORE_KTRACE_MERGE_H
#define MPVM_CORE_KTRACE_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mpstate.h"
#include "core/trace.h"

enum ktrace_kind { KTRACE_IPI, KTRACE_ACCEPT, KTRACE_WAKEUP, KTRACE_EINTR };

struct ktrace_event {
	uint64_t ts_ns;      /* on mpvm's clock: since the VM was created */
	uint32_t cpu;        /* the vCPU whose thread the event came from */
	uint8_t kind;        /* enum ktrace_kind */
	uint8_t vec;         /* ACCEPT */
	uint16_t dm, tm;     /* ACCEPT: delivery mode << 8 (as KVM traces it), trigger mode */
	uint32_t icr_low;    /* IPI */
	uint32_t apic_id;    /* ACCEPT: the accepting APIC; IPI: the destination field */
	uint64_t wait_ns;    /* WAKEUP */
};

/* Where the merge's results go; each function may be NULL. Called in time order per vCPU. */
struct ktrace_sink {
	void *ctx;
	void (*state)(void *ctx, unsigned int cpu, enum mp_state state, uint64_t ts_ns);
	void (*ipi)(void *ctx, int from_cpu, unsigned int to_cpu, enum trace_ipi_kind kind, uint8_t vector,
		    uint64_t ts_ns);
};

struct ktrace_vcpu {
	uint32_t apic_id;
	bool bsp;
	enum mp_state first;    /* what mpvm saw first (KVM_GET_MP_STATE at creation) */
	uint64_t first_ns;
};

/* What the merge found: totals, for a note in the trace. */
struct ktrace_stats {
	uint64_t transitions, ipis, unknown_apic; /* unknown_apic: ACCEPTs for an APIC ID no vCPU has */
};

/*
 * Sorts ev[0..n) by time (stably) and replays it through KVM's model,
 * starting each vCPU in vcpus[i].first at vcpus[i].first_ns; calls
 * sink->state for each change (not for the first state) and sink->ipi for
 * each IPI a local APIC accepted: from its sender's vCPU, or TRACE_NO_CPU
 * for a device's NMI, INIT or SIPI (a device's fixed interrupts are not
 * IPIs, as in --irqchip user's trace). ev is reordered. -1 if out of
 * memory, else 0.
 */
int ktrace_merge(struct ktrace_event *ev, size_t n, const struct ktrace_vcpu *vcpus, unsigned int ncpus,
		 const struct ktrace_sink *sink, struct ktrace_stats *stats);

#endif
