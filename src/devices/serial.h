/*
 * A 16550A UART (National Semiconductor PC16550D data sheet), enough of it
 * to be a console: the guest's transmitted bytes go to an output file
 * descriptor, a line at a time. No receive path and no interrupts yet.
 */
#ifndef MPVM_DEVICES_SERIAL_H
#define MPVM_DEVICES_SERIAL_H

#include "devices/pio.h"

struct serial *serial_create(int out_fd);
void serial_flush(struct serial *s);
void serial_destroy(struct serial *s);
/* The pio_bus handler; opaque is the struct serial. */
int serial_pio(void *opaque, struct vcpu *vcpu, uint16_t port, bool is_write,
	       uint32_t *data, unsigned int size);

#define SERIAL_PORTS 8

#endif
