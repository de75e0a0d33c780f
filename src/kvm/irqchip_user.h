/*
 * --irqchip user: no KVM_CREATE_IRQCHIP. mpvm owns every vCPU's local APIC
 * (src/devices/lapic.c) and its MP state (src/core/mp_machine.c), as KVM's
 * documentation asks of a VMM without an in-kernel irqchip: "the
 * multiprocessing state must be maintained by userspace".
 *
 * Who does what:
 *   - a vCPU thread owns its MP state and its registers. Other threads
 *     (another vCPU's IPI, a device) only queue events for it (INIT, SIPI,
 *     NMI) or set IRR bits in its local APIC, then wake it;
 *   - the owning thread takes the events before each KVM_RUN, walks the MP
 *     state machine, loads the INIT or SIPI register state, injects
 *     interrupts when the interrupt window is open, and sleeps on a
 *     condition variable while the state does not let it run (waiting for
 *     INIT or SIPI, HLT with nothing to wake it): no busy-wait, no polling.
 */
#ifndef MPVM_KVM_IRQCHIP_USER_H
#define MPVM_KVM_IRQCHIP_USER_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct vcpu;

/* Before the vCPUs exist: MSR exits for the APIC MSRs. -1 after printing why. */
int uirq_vm_init(struct vm *vm);
void uirq_vm_destroy(struct vm *vm);
/* After KVM_CREATE_VCPU: the local APIC and the MP state. -1 after printing why. */
int uirq_vcpu_init(struct vcpu *v);
void uirq_vcpu_destroy(struct vcpu *v);
/* In the vCPU thread, once, before its first KVM_RUN. */
int uirq_vcpu_thread_start(struct vcpu *v);

/*
 * In the vCPU thread before each KVM_RUN: takes queued events, sleeps while
 * the vCPU may not run, injects. Returns false if the VM is stopping.
 */
bool uirq_before_run(struct vcpu *v);

/* The exits this mode owns (HLT, LAPIC MMIO, APIC MSRs): 1 handled, 0 not ours, -1 stop. */
int uirq_handle_exit(struct vcpu *v);

/* Wakes a vCPU thread that sleeps or runs: for the VM stopping. */
void uirq_wake(struct vcpu *v);

/*
 * Delivers an interrupt message (an IPI from vCPU `sender`, or from the
 * IOAPIC with sender UINT32_MAX) to the local APICs it reaches.
 */
struct icr;
void uirq_deliver(struct vm *vm, const struct icr *icr, uint32_t sender);

/* --legacy-pc: the BSP's local APIC in virtual wire mode (LINT0 ExtINT), as a BIOS leaves it. */
void uirq_legacy_pc(struct vm *vm);

/* Whether this vCPU takes the PIC's ExtINT (LINT0 in ExtINT mode, or APIC off on the BSP). */
bool uirq_takes_extint(struct vcpu *v);

/* The MP state mpvm keeps for this vCPU. */
uint32_t uirq_mp_state(const struct vcpu *v);

#endif
