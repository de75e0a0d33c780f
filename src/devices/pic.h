/*
 * The PC's pair of 8259A programmable interrupt controllers (Intel 8259A
 * data sheet): the master at 0x20-0x21, the slave at 0xa0-0xa1 on the
 * master's IR2, and the edge/level control registers (ELCR, as on PIIX)
 * at 0x4d0-0x4d1. IRQ n is master IR n (n < 8) or slave IR n-8.
 *
 * The master's INT output goes to the CPU: when it rises, ops->kick tells
 * the VMM, which then injects pic_ack()'s vector (KVM_INTERRUPT) as soon as
 * the vCPU can take it (LINT0 ExtINT, or the local APIC disabled). After
 * each injection the VMM asks pic_has_interrupt() again: INT can stay high.
 *
 * Thread-safe: one mutex for the pair; ops callbacks run without it.
 */
#ifndef MPVM_DEVICES_PIC_H
#define MPVM_DEVICES_PIC_H

#include <stdbool.h>
#include <stddef.h>

#include "devices/bus.h"

struct pic_ops {
	void (*kick)(void *opaque);                  /* INT rose */
	void (*log)(void *opaque, const char *msg);  /* guest errors; may be NULL */
};

struct pic;

/*
 * A pair as a PC BIOS leaves it (mpvm has none): vectors 0x08-0x0f and
 * 0x70-0x77, cascade on IR2, 8086 mode, every IRQ masked, all edge.
 */
struct pic *pic_create(const struct pic_ops *ops, void *opaque);
void pic_destroy(struct pic *pic);

/* Sets the level of IRQ line `irq` (0-15; others are ignored). */
void pic_set_irq(struct pic *pic, unsigned int irq, bool level);
/* The master's INT output. */
bool pic_has_interrupt(struct pic *pic);
/* INTA: the vector to inject (spurious IRQ 7/15 if nothing is pending). */
int pic_ack(struct pic *pic);

/* The port-bus handler for 0x20-0x21, 0xa0-0xa1 and 0x4d0-0x4d1. */
int pic_pio(void *opaque, uint16_t port, bool is_write,
	    uint32_t *data, unsigned int size);

/* What a snapshot keeps of the two 8259As (kvm/platform.c), master first. */
struct pic_chip_state {
	uint8_t irr, isr, imr, lines, elcr, base, icw3, lowest, init;
	uint8_t ltim, sngl, ic4, aeoi, sfnm, rotate_aeoi, read_isr, poll, smm, pad[6];
};

struct pic_state {
	struct pic_chip_state c[2];
	uint8_t int_out, pad[7];
};

void pic_save(struct pic *pic, struct pic_state *s);
/* -1 with the reason in err for a state no guest could have made; pic unchanged then. The INT line is not driven. */
int pic_load(struct pic *pic, const struct pic_state *s, char *err, size_t errlen);
/* Whether a saved pair raises INT (the master's highest request outranks what is in service): its int_out. */
bool pic_state_int(const struct pic_state *s);

#endif
