/*
 * An I/O APIC (Intel 82093AA data sheet), version 0x20: 24 redirection
 * entries and the directed-EOI register at offset 0x40 that later chipsets
 * added. A pure model: the VMM turns each message into a local-APIC
 * interrupt (user irqchip) or a KVM_SIGNAL_MSI (split irqchip).
 *
 * Pins are driven by their electrical level; an entry's polarity bit says
 * which level asserts the pin. A VMM that wires a pin to an active-low
 * source (PCI INTx) drives it to 1 when idle, as the board's pull-up would.
 *
 * Thread-safe: one mutex per I/O APIC. ops callbacks run without it held,
 * so they may call back into the I/O APIC (deliver may call ioapic_eoi).
 */
#ifndef MPVM_DEVICES_IOAPIC_H
#define MPVM_DEVICES_IOAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IOAPIC_BASE     0xfec00000u
#define IOAPIC_SIZE     0x1000u
#define IOAPIC_PINS     24
#define IOAPIC_VERSION  0x20

/* Delivery modes, redirection entry bits 10:8 (82093AA §3.2.4). */
enum {
	IOAPIC_FIXED = 0, IOAPIC_LOWEST = 1, IOAPIC_SMI = 2, IOAPIC_NMI = 4,
	IOAPIC_INIT = 5, IOAPIC_EXTINT = 7,
};

/* An interrupt message, as the I/O APIC sends it on the APIC bus. */
struct ioapic_msg {
	uint8_t vector;
	uint8_t delivery;   /* IOAPIC_FIXED ... IOAPIC_EXTINT */
	bool logical;       /* destination mode: logical (1) or physical (0) */
	bool level;         /* trigger mode: the LAPIC sets TMR, EOI comes back */
	uint32_t dest;      /* bits 63:56, plus bits 55:49 as dest[14:8] (extended
			     * destination ID; zero unless the VMM offers it) */
};

struct ioapic_ops {
	void (*deliver)(void *opaque, const struct ioapic_msg *m);
	void (*log)(void *opaque, const char *msg); /* guest errors; may be NULL */
	/*
	 * The guest wrote redirection entry `pin` (may be NULL). In split
	 * mode the VMM mirrors each entry into KVM's GSI routing table as an
	 * MSI route, from which KVM learns which vectors need EOI exits.
	 */
	void (*redirection_changed)(void *opaque, unsigned int pin, uint64_t rte);
};

struct ioapic;

struct ioapic *ioapic_create(uint8_t id, const struct ioapic_ops *ops, void *opaque);
void ioapic_destroy(struct ioapic *io);

/* Guest accesses to [IOAPIC_BASE, +IOAPIC_SIZE); len 1, 2, 4 or 8. */
void ioapic_mmio_read(struct ioapic *io, uint64_t offset, void *data, unsigned int len);
void ioapic_mmio_write(struct ioapic *io, uint64_t offset, const void *data, unsigned int len);

/* Sets pin's input to its electrical level (pin >= IOAPIC_PINS is ignored). */
void ioapic_set_irq(struct ioapic *io, unsigned int pin, bool level);
/* A local APIC EOI'd a level-triggered `vector`. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

/*
 * The pins whose remote IRR is set, awaiting an EOI: bit n for pin n. For
 * each such pin, vector[n] is its entry's vector and sent[n] counts the
 * messages the pin has sent so far, which tells one delivery from the next.
 */
uint32_t ioapic_awaiting_eoi(struct ioapic *io, uint8_t vector[IOAPIC_PINS],
			     uint32_t sent[IOAPIC_PINS]);
/*
 * An EOI for `pin` alone, found by the VMM rather than reported by a local
 * APIC (see platform.c): clears its remote IRR, and services the pin as an
 * EOI does, only if the pin has sent exactly `sent` messages, so that a
 * newer delivery still awaiting its own EOI is left alone.
 */
void ioapic_eoi_pin(struct ioapic *io, unsigned int pin, uint32_t sent);
/* The redirection entry of `pin` (0 if out of range). */
uint64_t ioapic_redirection(struct ioapic *io, unsigned int pin);

/* The message an entry sends (whatever its mask and remote IRR). */
struct ioapic_msg ioapic_rte_msg(uint64_t rte);
/*
 * The same message in the MSI format (SDM vol. 3A §10.11.1-2): for
 * KVM_SIGNAL_MSI or an MSI route. dest[14:8] goes to address bits 11:5,
 * KVM's extended destination ID.
 */
void ioapic_msg_to_msi(const struct ioapic_msg *m, uint64_t *address, uint32_t *data);

/* What a snapshot keeps (kvm/platform.c). */
struct ioapic_state {
	uint32_t id, lines;
	uint8_t regsel, pad[7];
	uint64_t rte[IOAPIC_PINS];
	uint32_t sent[IOAPIC_PINS];
};

void ioapic_save(struct ioapic *io, struct ioapic_state *s);
/* -1 with the reason in err (an ID or register select out of range); io unchanged then. Nothing is delivered. */
int ioapic_load(struct ioapic *io, const struct ioapic_state *s, char *err, size_t errlen);

#endif
