/*
 * Two devices of QEMU's that test suites (kvm-unit-tests) use:
 *
 * isa-debug-exit: 4 I/O ports (default base 0xf4); a guest write of V ends
 * mpvm with exit status (V << 1) | 1, truncated to 8 bits as every process
 * status is. Reads give 0.
 *
 * pc-testdev, its I/O test register only: 4 bytes at 0xe0-0xe3 that keep
 * what the guest writes (8, 16 or 32 bits at any of the ports) and give it
 * back on reads. The rest of QEMU's pc-testdev (IRQ lines at 0x2000,
 * the flush port at 0xe8, MMIO at 0xff000000) is not there.
 */
#ifndef MPVM_DEVICES_DEBUG_EXIT_H
#define MPVM_DEVICES_DEBUG_EXIT_H

#include "devices/bus.h"

#define DEBUG_EXIT_DEFAULT_PORT 0xf4
#define DEBUG_EXIT_PORTS 4
#define PC_TESTDEV_PORT 0xe0
#define PC_TESTDEV_PORTS 4

/* (V << 1) | 1, as a process exit status. */
int debug_exit_status(uint32_t v);

/* The port handler is kvm/boot_multiboot.c's: it stops the VM. */

struct pc_testdev {
	uint8_t reg[PC_TESTDEV_PORTS];
};

/* opaque is a struct pc_testdev. */
int pc_testdev_pio(void *opaque, uint16_t port, bool is_write,
		   uint32_t *data, unsigned int size);

#endif
