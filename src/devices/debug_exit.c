#include "devices/debug_exit.h"

int debug_exit_status(uint32_t v)
{
	return (int)(((v << 1) | 1) & 0xff);
}

int pc_testdev_pio(void *opaque, uint16_t port, bool is_write,
		   uint32_t *data, unsigned int size)
{
	struct pc_testdev *t = opaque;
	unsigned int off = (unsigned int)(port - PC_TESTDEV_PORT);
	uint32_t v = 0;

	for (unsigned int i = 0; i < size; i++) {
		uint8_t *b = &t->reg[(off + i) % PC_TESTDEV_PORTS];

		if (is_write)
			__atomic_store_n(b, (uint8_t)(*data >> (8 * i)), __ATOMIC_RELAXED);
		else
			v |= (uint32_t)__atomic_load_n(b, __ATOMIC_RELAXED) << (8 * i);
	}
	if (!is_write)
		*data = v;
	return 0;
}
