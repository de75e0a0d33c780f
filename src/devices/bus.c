#include "devices/bus.h"

#include <stddef.h>

int bus_register(struct bus *bus, const struct bus_range *r)
{
	uint64_t end = r->base + r->len;

	if (!r->len || end < r->base || (bus->limit && end > bus->limit) || bus->count >= BUS_MAX_RANGES)
		return -1;
	for (unsigned int i = 0; i < bus->count; i++) {
		const struct bus_range *o = &bus->range[i];

		if (r->base < o->base + o->len && o->base < end)
			return -1;
	}
	bus->range[bus->count++] = *r;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
	for (unsigned int i = 0; i < bus->count; i++) {
		const struct bus_range *r = &bus->range[i];

		if (addr >= r->base && addr - r->base < r->len)
			return r;
	}
	return NULL;
}
