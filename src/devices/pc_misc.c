#include "devices/pc_misc.h"

#include <string.h>

#include "core/errmsg.h"

/* Reads of an n-byte access where only the first byte is a register. */
static uint32_t float_above(uint8_t b, unsigned int size)
{
	return size == 4 ? b | 0xffffff00u : size == 2 ? b | 0xff00u : b;
}

int post_port_pio(void *opaque, uint16_t port, bool is_write,
		  uint32_t *data, unsigned int size)
{
	struct post_port *p = opaque;

	(void)port;
	if (is_write)
		__atomic_store_n(&p->last, (uint8_t)*data, __ATOMIC_RELAXED);
	else
		*data = float_above(0xff, size);
	return 0;
}

int sysctl_a_pio(void *opaque, uint16_t port, bool is_write,
		 uint32_t *data, unsigned int size)
{
	struct sysctl_a *s = opaque;

	(void)port;
	if (!is_write) {
		*data = float_above(__atomic_load_n(&s->value, __ATOMIC_RELAXED), size);
		return 0;
	}
	__atomic_store_n(&s->value, (uint8_t)(*data & ~SYSCTL_A_RESET), __ATOMIC_RELAXED);
	if ((*data & SYSCTL_A_RESET) && s->reset)
		return s->reset(s->reset_opaque);
	return 0;
}

void pc_misc_save(const struct post_port *post, const struct sysctl_a *a, struct pc_misc_state *s)
{
	memset(s, 0, sizeof(*s));
	s->post_last = post->last;
	s->sysctl_a = a->value;
}

int pc_misc_load(struct post_port *post, struct sysctl_a *a, const struct pc_misc_state *s, char *err,
		 size_t errlen)
{
	if (s->sysctl_a & SYSCTL_A_RESET)
		return errmsg(err, errlen, "port 0x92: 0x%02x has the reset bit, which is never stored", s->sysctl_a);
	for (unsigned int i = 0; i < sizeof(s->pad); i++)
		if (s->pad[i])
			return errmsg(err, errlen, "port 0x92: nonzero padding");
	post->last = s->post_last;
	a->value = s->sysctl_a;
	return 0;
}
