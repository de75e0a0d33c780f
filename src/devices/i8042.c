/*
 * 8042 keyboard controller, PS/2 style, with no keyboard and no mouse
 * attached. References: IBM PC AT Technical Reference (keyboard
 * controller: status register, command byte, commands), IBM PS/2
 * Hardware Interface Technical Reference (keyboard/auxiliary device
 * controller: commands 0xa7-0xa9, 0xd2-0xd4, the time-out behaviour).
 *
 * Port 0x64, read: the status register.
 *   bit 0 OBF      a byte is waiting at port 0x60
 *   bit 1 IBF      always 0: every command and data byte is taken at once
 *   bit 2 SYS      the command byte's system flag
 *   bit 3 A2       the last write went to 0x64 (1) or 0x60 (0)
 *   bit 4 INH      1: the key lock does not inhibit the keyboard (Linux
 *                  warns "Keylock active" on 0)
 *   bit 5 AUXDATA  the waiting byte came from the auxiliary side
 *   bit 6 TIMEOUT  the waiting byte reports a device that did not answer
 *   bit 7 PARITY   always 0
 * Port 0x64, write: a command.
 *   0x20-0x3f  read controller RAM byte (cmd & 0x1f); 0x20 is the command byte
 *   0x60-0x7f  write controller RAM byte (cmd & 0x1f): the next byte at 0x60
 *   0xa7/0xa8  disable / enable the aux interface (command byte bit 5)
 *   0xa9       aux interface test: 0x00 (no fault)
 *   0xaa       controller self-test: 0x55, and sets the system flag
 *   0xab       keyboard interface test: 0x00 (no fault)
 *   0xad/0xae  disable / enable the keyboard interface (command byte bit 4)
 *   0xd0       read the output port (bits 4, 5: the IRQ 1 and IRQ 12 outputs)
 *   0xd1       write the output port: the next byte at 0x60. Bit 0 is the
 *              CPU reset line, active low: writing it 0 resets the machine
 *              (ops->reset). Bit 1 is the A20 gate; KVM has no A20 mask, so
 *              it is only kept (A20 is always on).
 *   0xd2       the next byte at 0x60 comes back as if from the keyboard
 *   0xd3       the next byte at 0x60 comes back as if from the aux device
 *              (Linux's aux loopback and IRQ 12 delivery tests)
 *   0xd4       the next byte at 0x60 goes to the aux device
 *   0xf0-0xff  pulse output port bits 0-3 low where the command's bit is 0:
 *              0xfe pulses the reset line (ops->reset); 0xff pulses none
 *   others     ignored, as an 8042 ignores commands it does not know
 * Port 0x60, read: the output buffer (clears OBF; reading an empty buffer
 * gives the last byte again). Port 0x60, write: the byte a pending command
 * (0x60-0x7f, 0xd1-0xd4) waits for, else a byte for the keyboard.
 *
 * No devices: a byte sent to the keyboard (port 0x60) or to the aux device
 * (0xd4) gets no answer, which a PS/2 controller reports as a transmit
 * time-out: it puts 0xfe in the output buffer with TIMEOUT set (and
 * AUXDATA for the aux side). Linux's atkbd and psmouse then give up on
 * their first command at once instead of waiting out their own time-outs,
 * and register no keyboard and no mouse.
 *
 * IRQ 1 is high while the output buffer holds a keyboard-side byte and the
 * command byte's KBDINT is set, IRQ 12 likewise for an aux-side byte and
 * AUXINT: the controller's output lines, which ISA wires edge-triggered.
 */
#include "devices/i8042.h"

#include <string.h>

#include "core/errmsg.h"

#define INITIAL_CTR (I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_AUXDIS | I8042_CTR_XLATE)
#define NO_DEVICE 0xfe /* what a transmit time-out leaves in the output buffer */

void i8042_init(struct i8042 *kbc, const struct i8042_ops *ops, void *opaque)
{
	*kbc = (struct i8042){ .ops = ops, .opaque = opaque };
	pthread_mutex_init(&kbc->lock, NULL);
	kbc->ram[0] = INITIAL_CTR;
	/* Reset line high (inactive), A20 on, keyboard and aux clock/data idle high. */
	kbc->outport = 0xcf;
}

void i8042_destroy(struct i8042 *kbc)
{
	pthread_mutex_destroy(&kbc->lock);
}

static void update_irqs(struct i8042 *kbc)
{
	bool level[2] = {
		kbc->obf && !kbc->aux && (kbc->ram[0] & I8042_CTR_KBDINT),
		kbc->obf && kbc->aux && (kbc->ram[0] & I8042_CTR_AUXINT),
	};

	for (unsigned int i = 0; i < 2; i++) {
		if (level[i] == kbc->irq_level[i])
			continue;
		kbc->irq_level[i] = level[i];
		if (kbc->ops->set_irq)
			kbc->ops->set_irq(kbc->opaque, i ? I8042_AUX_IRQ : I8042_KBD_IRQ, level[i]);
	}
}

/* A byte for the guest at port 0x60; a new byte is a new edge on its IRQ. */
static void put(struct i8042 *kbc, uint8_t b, bool aux, bool timeout)
{
	kbc->obf = false;
	update_irqs(kbc);
	kbc->obuf = b;
	kbc->obf = true;
	kbc->aux = aux;
	kbc->timeout = timeout;
	update_irqs(kbc);
}

static uint8_t status(const struct i8042 *kbc)
{
	uint8_t s = I8042_STR_KEYLOCK;

	if (kbc->obf)
		s |= I8042_STR_OBF;
	if (kbc->ram[0] & I8042_CTR_SYS)
		s |= I8042_STR_SYS;
	if (kbc->last_was_cmd)
		s |= I8042_STR_CMD;
	if (kbc->obf && kbc->aux)
		s |= I8042_STR_AUXDATA;
	if (kbc->obf && kbc->timeout)
		s |= I8042_STR_TIMEOUT;
	return s;
}

static uint8_t output_port(const struct i8042 *kbc)
{
	return (uint8_t)((kbc->outport & ~0x30) | (kbc->irq_level[0] ? 0x10 : 0) |
			 (kbc->irq_level[1] ? 0x20 : 0));
}

/* A command at port 0x64; returns true if it resets the machine. */
static bool write_command(struct i8042 *kbc, uint8_t cmd)
{
	kbc->pending = 0;
	if (cmd >= 0x20 && cmd <= 0x3f) {
		put(kbc, kbc->ram[cmd & 0x1f], false, false);
		return false;
	}
	if ((cmd >= 0x60 && cmd <= 0x7f) || (cmd >= 0xd1 && cmd <= 0xd4)) {
		kbc->pending = cmd;
		return false;
	}
	if (cmd >= 0xf0)
		return !(cmd & I8042_OUT_RESET);
	switch (cmd) {
	case 0xa7: kbc->ram[0] |= I8042_CTR_AUXDIS; break;
	case 0xa8: kbc->ram[0] &= (uint8_t)~I8042_CTR_AUXDIS; break;
	case 0xa9: put(kbc, 0x00, false, false); break;
	case 0xaa:
		kbc->ram[0] |= I8042_CTR_SYS;
		put(kbc, 0x55, false, false);
		break;
	case 0xab: put(kbc, 0x00, false, false); break;
	case 0xad: kbc->ram[0] |= I8042_CTR_KBDDIS; break;
	case 0xae: kbc->ram[0] &= (uint8_t)~I8042_CTR_KBDDIS; break;
	case 0xd0: put(kbc, output_port(kbc), false, false); break;
	default: break;
	}
	return false;
}

/* A byte at port 0x60; returns true if it resets the machine. */
static bool write_data(struct i8042 *kbc, uint8_t b)
{
	uint8_t cmd = kbc->pending;

	kbc->pending = 0;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		kbc->ram[cmd & 0x1f] = b;
		update_irqs(kbc); /* the interrupt enables may have changed */
		return false;
	}
	switch (cmd) {
	case 0xd1:
		kbc->outport = b;
		return !(b & I8042_OUT_RESET);
	case 0xd2: put(kbc, b, false, false); break;
	case 0xd3: put(kbc, b, true, false); break;
	case 0xd4: put(kbc, NO_DEVICE, true, true); break;  /* no mouse */
	default: put(kbc, NO_DEVICE, false, true); break;   /* no keyboard */
	}
	return false;
}

int i8042_pio(void *opaque, uint16_t port, bool is_write,
	      uint32_t *data, unsigned int size)
{
	struct i8042 *kbc = opaque;
	bool reset = false;
	uint32_t v = 0xff;

	pthread_mutex_lock(&kbc->lock);
	if (port == I8042_CMD_PORT) {
		if (is_write) {
			kbc->last_was_cmd = true;
			reset = write_command(kbc, (uint8_t)*data);
		} else {
			v = status(kbc);
		}
	} else if (port == I8042_DATA_PORT) {
		if (is_write) {
			kbc->last_was_cmd = false;
			reset = write_data(kbc, (uint8_t)*data);
		} else {
			v = kbc->obuf;
			kbc->obf = false;
			update_irqs(kbc);
		}
	}
	pthread_mutex_unlock(&kbc->lock);
	if (!is_write) {
		/* One register per port: the other bytes of a wider read float. */
		*data = size == 4 ? v | 0xffffff00u : size == 2 ? v | 0xff00u : v;
		return 0;
	}
	return reset && kbc->ops->reset ? kbc->ops->reset(kbc->opaque) : 0;
}

void i8042_save(struct i8042 *kbc, struct i8042_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&kbc->lock);
	memcpy(s->ram, kbc->ram, sizeof(s->ram));
	s->outport = kbc->outport;
	s->obuf = kbc->obuf;
	s->obf = kbc->obf;
	s->aux = kbc->aux;
	s->timeout = kbc->timeout;
	s->last_was_cmd = kbc->last_was_cmd;
	s->pending = kbc->pending;
	pthread_mutex_unlock(&kbc->lock);
}

int i8042_load(struct i8042 *kbc, const struct i8042_state *s, char *err, size_t errlen)
{
	if ((s->obf | s->aux | s->timeout | s->last_was_cmd) > 1 || s->pad)
		return errmsg(err, errlen, "i8042: a flag is neither 0 nor 1");
	/* Only the commands that wait for a data byte leave one pending (write_command()). */
	if (s->pending && !((s->pending >= 0x60 && s->pending <= 0x7f) || (s->pending >= 0xd1 && s->pending <= 0xd4)))
		return errmsg(err, errlen, "i8042: command 0x%02x cannot be waiting for its data byte", s->pending);
	pthread_mutex_lock(&kbc->lock);
	memcpy(kbc->ram, s->ram, sizeof(kbc->ram));
	kbc->outport = s->outport;
	kbc->obuf = s->obuf;
	kbc->obf = s->obf;
	kbc->aux = s->aux;
	kbc->timeout = s->timeout;
	kbc->last_was_cmd = s->last_was_cmd;
	kbc->pending = s->pending;
	kbc->irq_level[0] = kbc->obf && !kbc->aux && (kbc->ram[0] & I8042_CTR_KBDINT);
	kbc->irq_level[1] = kbc->obf && kbc->aux && (kbc->ram[0] & I8042_CTR_AUXINT);
	pthread_mutex_unlock(&kbc->lock);
	return 0;
}
