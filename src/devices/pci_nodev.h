/*
 * PCI configuration mechanism #1 (CONFIG_ADDRESS at 0xcf8, CONFIG_DATA at
 * 0xcfc-0xcff) on a bus with no devices: the address register keeps what
 * the guest writes, every configuration read gives all ones ("no device
 * here"), configuration writes are dropped. Enough for a guest that probes
 * PCI (kvm-unit-tests looks for its pci-testdev) to learn there is nothing.
 * Only a 32-bit access to 0xcf8 is CONFIG_ADDRESS (PCI Local Bus 3.0
 * §3.2.2.3.2); narrower accesses to 0xcf8-0xcfb are ordinary I/O.
 *
 * One of those is the chipset's reset control register at 0xcf9 (PIIX3/4
 * "RC", ICH "RST_CNT", e.g. Intel ICH9 datasheet §13.7.5), a byte
 * register:
 *   bit 1 SYS_RST   kept: the kind of reset (1 hard, 0 soft)
 *   bit 2 RST_CPU   writing 1 resets the machine, hard or soft as SYS_RST
 *                   says (the 0-to-1 transition; it reads 0, so every
 *                   write of 1 is one). Both kinds end the VM: `reset`.
 *   bit 3 FULL_RST  kept
 * The FADT's RESET_REG names it with value 6 (core/acpi.h). Linux's
 * reboot=pci writes SYS_RST alone first, then SYS_RST | RST_CPU (and
 * FULL_RST for a cold reboot): the second write resets.
 */
#ifndef MPVM_DEVICES_PCI_NODEV_H
#define MPVM_DEVICES_PCI_NODEV_H

#include "devices/bus.h"

#define PCI_CONF_PORT 0xcf8
#define PCI_CONF_PORTS 8

#define PCI_RESET_PORT 0xcf9
#define PCI_RC_SYS_RST  0x02
#define PCI_RC_RST_CPU  0x04
#define PCI_RC_FULL_RST 0x08

struct pci_nodev {
	uint32_t address;
	uint8_t rc;                 /* 0xcf9: SYS_RST, FULL_RST as written */
	/* RST_CPU written as 1; NULL: nothing happens. The port handler
	 * returns what it returns (-1: the vCPU stops here). */
	int (*reset)(void *opaque);
	void *reset_opaque;
};

/* opaque is a struct pci_nodev. */
int pci_nodev_pio(void *opaque, uint16_t port, bool is_write,
		  uint32_t *data, unsigned int size);

#endif
