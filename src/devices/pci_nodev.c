#include "devices/pci_nodev.h"

int pci_nodev_pio(void *opaque, uint16_t port, bool is_write,
		  uint32_t *data, unsigned int size)
{
	struct pci_nodev *p = opaque;

	if (port == PCI_CONF_PORT && size == 4) {
		if (is_write)
			__atomic_store_n(&p->address, *data, __ATOMIC_RELAXED);
		else
			*data = __atomic_load_n(&p->address, __ATOMIC_RELAXED);
		return 0;
	}
	if (port == PCI_RESET_PORT && size == 1) {
		uint8_t v = (uint8_t)*data;

		if (!is_write) {
			*data = __atomic_load_n(&p->rc, __ATOMIC_RELAXED);
			return 0;
		}
		__atomic_store_n(&p->rc, (uint8_t)(v & (PCI_RC_SYS_RST | PCI_RC_FULL_RST)),
				 __ATOMIC_RELAXED);
		if ((v & PCI_RC_RST_CPU) && p->reset)
			return p->reset(p->reset_opaque);
		return 0;
	}
	if (!is_write)
		*data = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
	return 0;
}
