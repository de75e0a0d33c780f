/*
 * Two trivial PC ports, each a struct and a handler:
 *
 * Port 0x80, the POST diagnostic port. Firmware writes its progress codes
 * there and Linux writes it as an I/O delay (io_delay=0x80, the default
 * where the CPU does not announce KVM's no-op I/O delay). Writes are
 * kept (the last code, for diagnostics) and otherwise go nowhere; reads
 * give all ones, as from a port no device drives.
 *
 * Port 0x92, "System Control Port A" (IBM PS/2; every PC chipset keeps
 * it, e.g. Intel ICH9 datasheet §13.7.3 PORT92): bit 1 is the fast A20 gate, kept as written (KVM has no A20 mask:
 * A20 is always on); bit 0 is the fast reset: writing it 1 resets the
 * machine (ops->reset). Bit 0 reads 0 (a reset that happened cleared it);
 * the other bits are kept as written.
 *
 * Port 0x61 (the PIT and speaker bits) is not here: KVM's in-kernel PIT
 * takes it with --irqchip kernel and mpvm's PIT (devices/pit.h) otherwise.
 */
#ifndef MPVM_DEVICES_PC_MISC_H
#define MPVM_DEVICES_PC_MISC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"

#define POST_PORT 0x80
#define SYSCTL_A_PORT 0x92
#define SYSCTL_A_RESET 0x01
#define SYSCTL_A_A20 0x02

struct post_port {
	uint8_t last;            /* the last code written */
};

/* opaque is a struct post_port. */
int post_port_pio(void *opaque, uint16_t port, bool is_write,
		  uint32_t *data, unsigned int size);

struct sysctl_a {
	uint8_t value;           /* as written, bit 0 aside; starts as SYSCTL_A_A20 */
	int (*reset)(void *opaque); /* the port handler returns what this returns */
	void *reset_opaque;
};

/* opaque is a struct sysctl_a. */
int sysctl_a_pio(void *opaque, uint16_t port, bool is_write,
		 uint32_t *data, unsigned int size);

/* What a snapshot keeps of ports 0x80 and 0x92 (kvm/snapshot.c). */
struct pc_misc_state {
	uint8_t post_last, sysctl_a, pad[6];
};

void pc_misc_save(const struct post_port *post, const struct sysctl_a *a, struct pc_misc_state *s);
/* -1 with the reason in err (bit 0 of port 0x92 is never stored); nothing changed then. */
int pc_misc_load(struct post_port *post, struct sysctl_a *a, const struct pc_misc_state *s, char *err,
		 size_t errlen);

#endif
