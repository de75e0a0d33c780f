/*
 * The PC interrupt platform in user space, for --irqchip split and user: an
 * IOAPIC at 0xfec00000 (24 pins), the 8259A PIC pair and the 8254 PIT, wired
 * as on a PC: ISA IRQ n to PIC input n and IOAPIC pin n, except IRQ 0 (the
 * PIT), which is IOAPIC pin 2 (the MADT's interrupt source override), and
 * one timer thread for the PIT's IRQ 0 edges.
 *
 * Where the IOAPIC's messages go, and which vCPU takes the PIC's ExtINT,
 * is the irqchip's business (struct platform_wiring): mpvm's own local
 * APICs (irqchip_user.c) or KVM's, as MSIs (irqchip_split.c). The machine
 * (machine.c) puts the devices on the port and MMIO buses.
 */
#ifndef MPVM_KVM_PLATFORM_H
#define MPVM_KVM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/ioapic.h"
#include "devices/pic.h"
#include "devices/pit.h"

struct vm;
struct vcpu;
struct ioapic;
struct ioapic_msg;
struct pic;
struct pit;
struct platform;

struct platform_wiring {
	/* An IOAPIC interrupt message, on the thread that raised the pin. */
	void (*deliver)(struct vm *vm, const struct ioapic_msg *m);
	/* The IOAPIC's redirection table changed. May be NULL. */
	void (*redirection_changed)(struct vm *vm);
	/* Whether vCPU v takes the PIC's ExtINT now. */
	bool (*takes_extint)(struct vcpu *v);
	/*
	 * Work of the irqchip's own on the timer thread: timer_next() gives
	 * when it is next due (VM time, UINT64_MAX: never), timer_fire() does
	 * it. Both may be NULL; platform_rearm() makes the thread ask again.
	 */
	uint64_t (*timer_next)(struct vm *vm);
	void (*timer_fire)(struct vm *vm, uint64_t now_ns);
};

/* Creates the devices; NULL after printing why. */
struct platform *platform_create(struct vm *vm, const struct platform_wiring *w);
void platform_destroy(struct platform *p);
/* Starts the timer thread. -1 after printing why. */
int platform_start(struct platform *p);
/* Wakes the timer thread to look at its deadlines again. */
void platform_rearm(struct platform *p);

/*
 * A snapshot's CHIP section in split and user mode: the IOAPIC, the PICs
 * and the PIT (struct platform_state). platform_save() fills buf (*len in:
 * room, out: used); platform_load() checks it all, then loads it and
 * re-programs what depends on the IOAPIC's routes. -1 with errno set
 * (after printing why, for a load).
 */
struct platform_state {
	struct ioapic_state ioapic;
	struct pic_state pic;
	struct pit_state pit;
};

size_t platform_state_size(void);
int platform_save(struct platform *p, void *buf, size_t *len);
int platform_load(struct platform *p, const void *buf, size_t len);

/* --legacy-pc: the PICs and the PIT programmed as a PC BIOS leaves them. */
void platform_legacy_pc(struct platform *p);

/* A level change on GSI `gsi` (0-23): IOAPIC pin `gsi`, and PIC input `gsi` below 16. */
void platform_set_gsi(struct platform *p, unsigned int gsi, bool level);
/* A local APIC's EOI of a level-triggered vector. */
void platform_eoi(struct platform *p, uint8_t vector);

/*
 * The PIC's pending vector for `v`, if `v` takes ExtINT and the PIC has
 * one: the caller injects it with KVM_INTERRUPT once the interrupt window
 * is open.
 */
bool platform_extint_pending(struct platform *p, struct vcpu *v);
/* Whether the PIC asserts INTR, whoever takes it. */
bool platform_pic_intr(struct platform *p);
int platform_extint_ack(struct platform *p);

/* The devices, for the machine's buses and the split irqchip's routes. */
struct ioapic *platform_ioapic(struct platform *p);
struct pic *platform_pic(struct platform *p);
struct pit *platform_pit(struct platform *p);

#endif
