/*
 * The PC's 8042 keyboard controller at I/O ports 0x60 (data) and 0x64
 * (status / command), PS/2 style (keyboard and auxiliary ports), with
 * nothing plugged into either port: enough for an OS to find the
 * controller, see that no keyboard or mouse answers, and reset the machine
 * through it. Command set and semantics in i8042.c.
 *
 * The controller raises IRQ 1 while its output buffer holds a byte from
 * the keyboard side and IRQ 12 while it holds one from the auxiliary side,
 * each if the command byte enables it; ops->set_irq gets each level change
 * (called with the device lock held: it must not call back into the
 * device). A pulse of the reset line (command 0xfe, or 0xd1 with output
 * port bit 0 clear) calls ops->reset. Thread-safe.
 */
#ifndef MPVM_DEVICES_I8042_H
#define MPVM_DEVICES_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12

/* Status register (port 0x64, read) */
#define I8042_STR_OBF     0x01 /* output buffer full: a byte waits at 0x60 */
#define I8042_STR_IBF     0x02 /* input buffer full: never (commands complete at once) */
#define I8042_STR_SYS     0x04 /* system flag: the command byte's bit 2 */
#define I8042_STR_CMD     0x08 /* the last write was to 0x64 (command), not 0x60 */
#define I8042_STR_KEYLOCK 0x10 /* 1: keyboard not inhibited by the key lock */
#define I8042_STR_AUXDATA 0x20 /* the output buffer's byte is from the aux side */
#define I8042_STR_TIMEOUT 0x40 /* the device did not answer */
#define I8042_STR_PARITY  0x80

/* Command byte (controller RAM byte 0) */
#define I8042_CTR_KBDINT  0x01
#define I8042_CTR_AUXINT  0x02
#define I8042_CTR_SYS     0x04
#define I8042_CTR_KBDDIS  0x10
#define I8042_CTR_AUXDIS  0x20
#define I8042_CTR_XLATE   0x40

/* Output port (commands 0xd0 / 0xd1) */
#define I8042_OUT_RESET   0x01 /* 0: the CPU reset line is asserted */
#define I8042_OUT_A20     0x02

struct i8042_ops {
	/* The reset line was pulsed; the port handler returns what this returns. */
	int (*reset)(void *opaque);
	/* IRQ 1 or 12 changed level; may be NULL. */
	void (*set_irq)(void *opaque, unsigned int irq, bool level);
};

struct i8042 {
	pthread_mutex_t lock;
	const struct i8042_ops *ops;
	void *opaque;
	uint8_t ram[32];       /* controller RAM; ram[0] is the command byte */
	uint8_t outport;
	uint8_t obuf;          /* the output buffer; stays readable after it is taken */
	bool obf, aux, timeout;
	bool last_was_cmd;     /* status bit 3 */
	uint8_t pending;       /* a command waiting for its byte at 0x60, or 0 */
	bool irq_level[2];     /* IRQ 1, IRQ 12 as last reported */
};

/* Command byte 0x65 (keyboard interrupt, system flag, translation, aux disabled). */
void i8042_init(struct i8042 *kbc, const struct i8042_ops *ops, void *opaque);
void i8042_destroy(struct i8042 *kbc);

/* The port-bus handler for 0x60 and 0x64 (one byte each); opaque is the struct i8042. */
int i8042_pio(void *opaque, uint16_t port, bool is_write,
	      uint32_t *data, unsigned int size);

/* What a snapshot keeps (kvm/snapshot.c); the IRQ levels follow from it. */
struct i8042_state {
	uint8_t ram[32];
	uint8_t outport, obuf, obf, aux, timeout, last_was_cmd, pending, pad;
};

void i8042_save(struct i8042 *kbc, struct i8042_state *s);
/*
 * -1 with the reason in err for a state no guest could have made; kbc
 * unchanged then. The IRQ lines are not driven: the interrupt
 * controllers' own state, loaded beside it, holds their levels.
 */
int i8042_load(struct i8042 *kbc, const struct i8042_state *s, char *err, size_t errlen);

#endif
