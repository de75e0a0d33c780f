#include "devices/pio.h"

#include <stddef.h>

int pio_register(struct pio_bus *bus, uint16_t base, uint16_t len, const char *name,
		 pio_handler_fn handler, void *opaque)
{
	uint32_t end = (uint32_t)base + len;

	if (!len || end > 0x10000 || bus->count >= PIO_MAX_RANGES)
		return -1;
	for (unsigned int i = 0; i < bus->count; i++) {
		const struct pio_range *r = &bus->range[i];

		if (base < r->base + r->len && r->base < end)
			return -1;
	}
	bus->range[bus->count++] = (struct pio_range){
		.base = base, .len = len, .name = name, .handler = handler, .opaque = opaque,
	};
	return 0;
}

const struct pio_range *pio_find(const struct pio_bus *bus, uint16_t port)
{
	for (unsigned int i = 0; i < bus->count; i++) {
		const struct pio_range *r = &bus->range[i];

		if (port >= r->base && port - r->base < r->len)
			return r;
	}
	return NULL;
}
