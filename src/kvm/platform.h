/*
 * The PC interrupt platform in user space, for --irqchip split and user: an
 * IOAPIC at 0xfec00000 (24 pins), the 8259A PIC pair and the 8254 PIT, wired
 * as on a PC: ISA IRQ n to PIC input n and IOAPIC pin n, except IRQ 0 (the
 * PIT), which is IOAPIC pin 2 (the MADT's interrupt source override).
 *
 * Where the IOAPIC's messages go depends on the mode: to mpvm's own local
 * APICs (user), or to KVM's in-kernel ones as MSIs (split; KVM learns the
 * level-triggered vectors from GSI routes that mirror the redirection table
 * and reports their EOIs with KVM_EXIT_IOAPIC_EOI).
 */
#ifndef MPVM_KVM_PLATFORM_H
#define MPVM_KVM_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct icr;

/* Creates the devices and claims their ports; -1 after printing why. */
int platform_create(struct vm *vm);
/*
 * --legacy-pc: the PICs and the PIT programmed as a PC BIOS leaves them
 * (and, in user mode, the BSP's local APIC in virtual wire mode). 0, or -1
 * without a platform (kernel mode).
 */
int platform_legacy_pc(struct vm *vm);
/* Starts and stops the timer thread (the PIT; in split mode the EOI watchdog too). */
int platform_start(struct vm *vm);
void platform_destroy(struct vm *vm);

/*
 * Split mode, on the vCPU's thread before each KVM_RUN: reports the local
 * APIC's IRR and ISR when the EOI watchdog asks (platform.c). A no-op
 * otherwise, and in the other modes.
 */
void platform_before_run(struct vcpu *v);

/* Exits the platform owns (IOAPIC MMIO, KVM_EXIT_IOAPIC_EOI): 1 handled, 0 not ours. */
int platform_handle_exit(struct vcpu *v);

/* A level change on ISA IRQ line `irq` (0-15). */
void platform_set_irq(struct vm *vm, unsigned int irq, bool level);
/* A level change on GSI `gsi` (0-23): IOAPIC pin `gsi`, and PIC input `gsi` below 16. */
void platform_set_gsi(struct vm *vm, unsigned int gsi, bool level);

/* A local APIC's EOI of a level-triggered vector (--irqchip user). */
void platform_eoi(struct vm *vm, uint8_t vector);

/*
 * The PIC's pending vector for `v`, if `v` takes ExtINT (its LINT0 is in
 * ExtINT mode or, in split mode, it is the BSP) and the PIC has one: the
 * caller injects it with KVM_INTERRUPT once the interrupt window is open.
 */
bool platform_extint_pending(struct vcpu *v);
int platform_extint_ack(struct vcpu *v);

#endif
