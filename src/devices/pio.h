/*
 * The I/O port bus: which device answers which ports. A guest access to a
 * port no device claims is a guest fault that mpvm reports (it does not
 * guess at what a guest meant).
 */
#ifndef MPVM_DEVICES_PIO_H
#define MPVM_DEVICES_PIO_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;

/*
 * Handles one access of `size` bytes (1, 2 or 4). For a read the handler
 * fills *data; for a write *data holds the value. Returns 0, or -1 if the
 * access is a guest error the handler has already reported.
 */
typedef int (*pio_handler_fn)(void *opaque, struct vcpu *vcpu, uint16_t port,
			      bool is_write, uint32_t *data, unsigned int size);

struct pio_range {
	uint16_t base, len;
	const char *name;
	pio_handler_fn handler;
	void *opaque;
};

#define PIO_MAX_RANGES 32

struct pio_bus {
	struct pio_range range[PIO_MAX_RANGES];
	unsigned int count;
};

/* Claims [base, base+len). -1 if it overlaps a claimed range or the bus is full. */
int pio_register(struct pio_bus *bus, uint16_t base, uint16_t len, const char *name,
		 pio_handler_fn handler, void *opaque);
const struct pio_range *pio_find(const struct pio_bus *bus, uint16_t port);

#endif
