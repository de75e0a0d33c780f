/*
 * PCI configuration mechanism #1 (CONFIG_ADDRESS at 0xcf8, CONFIG_DATA at
 * 0xcfc-0xcff) on a bus with no devices: the address register keeps what
 * the guest writes, every configuration read gives all ones ("no device
 * here"), configuration writes are dropped. Enough for a guest that probes
 * PCI (kvm-unit-tests looks for its pci-testdev) to learn there is nothing.
 */
#ifndef MPVM_DEVICES_PCI_NODEV_H
#define MPVM_DEVICES_PCI_NODEV_H

#include "devices/pio.h"

#define PCI_CONF_PORT 0xcf8
#define PCI_CONF_PORTS 8

struct pci_nodev {
	uint32_t address;
};

/* opaque is a struct pci_nodev. */
int pci_nodev_pio(void *opaque, struct vcpu *vcpu, uint16_t port, bool is_write,
		  uint32_t *data, unsigned int size);

#endif
