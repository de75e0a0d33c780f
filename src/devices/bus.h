/*
 * The machine's two buses: I/O ports and MMIO. Each maps address ranges to
 * the device that answers them; the vCPU loop looks an exit's address up
 * here and calls that device, and nothing else decides who owns an exit.
 * A guest access no device claims is the caller's to report (a guest fault,
 * or the ISA bus's floating reads with --unknown-io ignore).
 */
#ifndef MPVM_DEVICES_BUS_H
#define MPVM_DEVICES_BUS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * One port access of `size` bytes (1, 2 or 4). For a read the handler
 * fills *data; for a write *data holds the value. Returns 0, or -1 when
 * the vCPU must stop: the handler has stopped the VM (an exit port, a
 * reset) or reported why.
 */
typedef int (*pio_handler_fn)(void *opaque, uint16_t port, bool is_write, uint32_t *data,
			      unsigned int size);
/* One MMIO access of `len` bytes (1-8) at `offset` from the range's base. Returns as above. */
typedef int (*mmio_handler_fn)(void *opaque, uint64_t offset, bool is_write, uint8_t *data,
			       unsigned int len);

struct bus_range {
	uint64_t base, len;
	const char *name;
	void *opaque;
	pio_handler_fn pio;   /* on the port bus */
	mmio_handler_fn mmio; /* on the MMIO bus */
};

#define BUS_MAX_RANGES 48

struct bus {
	struct bus_range range[BUS_MAX_RANGES];
	unsigned int count;
	uint64_t limit;       /* addresses end here: 0x10000 for ports, 0 for no limit */
};

/* Claims r's range. -1 if it is empty, runs past the bus's limit, overlaps a claimed range, or the bus is full. */
int bus_register(struct bus *bus, const struct bus_range *r);
/*
 * The range holding `addr`, or NULL. An access that starts there belongs to
 * that device even where it runs past the range's end (fw_cfg's data port
 * takes 4-byte reads), as on a PC where the decoder sees the first address.
 */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr);

#endif
