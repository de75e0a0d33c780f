/*
 * The PC's 8254 programmable interval timer (Intel 8254 data sheet) at
 * 0x40-0x43, and the timer-related bits of port 0x61 (channel 2's gate and
 * output, the speaker enable, and the refresh toggle of bit 4).
 *
 * Time is the caller's: a monotonic nanosecond clock, read through
 * ops->now_ns for guest port I/O and passed to pit_update(), so tests can
 * drive a fake clock. The 1.193182 MHz input clock is derived from it.
 *
 * Channel 0's output is IRQ 0. The model reports its level through
 * ops->set_irq when it changes; each rising edge of the output (the edge
 * the PIC and the I/O APIC take) is reported as a raise, after a lower if
 * the line was still high. The VMM calls pit_update() at pit_next_irq_ns()
 * (and may call it at any other time); edges that a late call missed are
 * coalesced into one. ops->rearm says that the guest reprogrammed
 * channel 0, so the VMM should ask pit_next_irq_ns() again.
 *
 * Thread-safe. Callbacks run without the state lock; set_irq and rearm
 * calls are serialised (in the order the model decided them), so they must
 * not call back into pit_pio() or pit_update().
 */
#ifndef MPVM_DEVICES_PIT_H
#define MPVM_DEVICES_PIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"

#define PIT_HZ 1193182u

struct pit_ops {
	uint64_t (*now_ns)(void *opaque);                        /* monotonic */
	void (*set_irq)(void *opaque, unsigned int irq, bool level); /* irq is 0 */
	void (*rearm)(void *opaque);                             /* may be NULL */
};

struct pit;

/*
 * Channels start unprogrammed (no count: output low, no IRQ), as no BIOS
 * has run; the gates of channels 0 and 1 are tied high, channel 2's
 * follows port 0x61 bit 0 (0 at reset).
 */
struct pit *pit_create(const struct pit_ops *ops, void *opaque);
void pit_destroy(struct pit *pit);

/* Brings IRQ 0 up to date at now_ns. */
void pit_update(struct pit *pit, uint64_t now_ns);
/* When channel 0's output next rises (UINT64_MAX: not before a reprogram). */
uint64_t pit_next_irq_ns(struct pit *pit);

/* The port-bus handler for 0x40-0x43 and 0x61. */
int pit_pio(void *opaque, uint16_t port, bool is_write,
	    uint32_t *data, unsigned int size);

/*
 * What a snapshot keeps (kvm/platform.c). Times are the now_ns clock's
 * (VM time, which a restore continues), so a count goes on from where it was.
 */
struct pit_channel_state {
	uint64_t start_ns;
	int64_t switch_e, base, last_e;
	uint32_t n, reload;
	uint16_t cr, latch;
	uint8_t ctrl, mode, rw, bcd, gate, pending, loaded, counting;
	uint8_t null_count, write_msb, read_msb, count_latched, status_latched, latch_msb, status, pad[5];
};

struct pit_state {
	struct pit_channel_state ch[3];
	uint64_t last_ns;
	uint8_t port61, irq_level, pad[6];
};

void pit_save(struct pit *pit, struct pit_state *s);
/* -1 with the reason in err for a state no guest could have made; pit unchanged then. IRQ 0 is not driven. */
int pit_load(struct pit *pit, const struct pit_state *s, char *err, size_t errlen);

#endif
