/*
 * Unit tests of the 8042 keyboard controller (devices/i8042.c): the
 * status register, the commands Linux's i8042 driver sends when it probes
 * (command byte, self-tests, aux loopback and the IRQ 12 delivery test),
 * the time-outs of a controller with no keyboard and no mouse, IRQ 1 and
 * 12 levels, and the reset line (0xfe, 0xd1).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "devices/i8042.h"

struct fake {
	int resets;
	bool level[16];
	int edges[16];           /* rising edges per IRQ */
};

static int fake_reset(void *opaque)
{
	((struct fake *)opaque)->resets++;
	return -1;
}

static void fake_irq(void *opaque, unsigned int irq, bool level)
{
	struct fake *f = opaque;

	assert_true(irq == I8042_KBD_IRQ || irq == I8042_AUX_IRQ);
	assert_true(f->level[irq] != level); /* only changes are reported */
	f->level[irq] = level;
	if (level)
		f->edges[irq]++;
}

static const struct i8042_ops ops = { .reset = fake_reset, .set_irq = fake_irq };

static uint8_t status(struct i8042 *k)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(i8042_pio(k, I8042_CMD_PORT, false, &v, 1), 0);
	assert_true(v <= 0xff);
	return (uint8_t)v;
}

static uint8_t read_data(struct i8042 *k)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(i8042_pio(k, I8042_DATA_PORT, false, &v, 1), 0);
	assert_true(v <= 0xff);
	return (uint8_t)v;
}

static int cmd(struct i8042 *k, uint8_t c)
{
	uint32_t v = c;

	return i8042_pio(k, I8042_CMD_PORT, true, &v, 1);
}

static int write_data(struct i8042 *k, uint8_t b)
{
	uint32_t v = b;

	return i8042_pio(k, I8042_DATA_PORT, true, &v, 1);
}

/* A command with a one-byte answer, as Linux's i8042_command() does it. */
static uint8_t ask(struct i8042 *k, uint8_t c)
{
	assert_int_equal(status(k) & I8042_STR_IBF, 0);
	assert_int_equal(cmd(k, c), 0);
	assert_int_equal(status(k) & (I8042_STR_OBF | I8042_STR_AUXDATA), I8042_STR_OBF);
	return read_data(k);
}

static void status_at_reset(void **state)
{
	struct fake f = { 0 };
	struct i8042 k;
	uint8_t s;

	(void)state;
	i8042_init(&k, &ops, &f);
	s = status(&k);
	/* No byte waiting, never busy, key lock off (else Linux warns), system flag set. */
	assert_int_equal(s, I8042_STR_KEYLOCK | I8042_STR_SYS);
	assert_int_equal(ask(&k, 0x20), I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_AUXDIS |
			 I8042_CTR_XLATE);
	assert_int_equal(status(&k) & I8042_STR_OBF, 0);
	/* The command/data bit follows the last write. */
	assert_int_equal(status(&k) & I8042_STR_CMD, I8042_STR_CMD);
	i8042_destroy(&k);
}

static void command_byte_and_ram(void **state)
{
	struct fake f = { 0 };
	struct i8042 k;

	(void)state;
	i8042_init(&k, &ops, &f);
	/* Linux's i8042_controller_init: read, then write back with KBDDIS, no KBDINT. */
	assert_int_equal(cmd(&k, 0x60), 0);
	assert_int_equal(write_data(&k, I8042_CTR_KBDDIS | I8042_CTR_SYS | I8042_CTR_XLATE), 0);
	assert_int_equal(status(&k) & (I8042_STR_OBF | I8042_STR_CMD), 0);
	assert_int_equal(ask(&k, 0x20), I8042_CTR_KBDDIS | I8042_CTR_SYS | I8042_CTR_XLATE);
	/* The system flag in the status register is the command byte's. */
	cmd(&k, 0x60);
	write_data(&k, 0);
	assert_int_equal(status(&k) & I8042_STR_SYS, 0);
	/* Other RAM bytes. */
	cmd(&k, 0x60 + 0x13);
	write_data(&k, 0xab);
	assert_int_equal(ask(&k, 0x20 + 0x13), 0xab);
	assert_int_equal(ask(&k, 0x20), 0);
	i8042_destroy(&k);
}

static void interface_commands(void **state)
{
	static const struct {
		uint8_t cmd;
		uint8_t ctr_before, ctr_after;
	} cases[] = {
		{ 0xad, 0x00, I8042_CTR_KBDDIS },
		{ 0xae, 0xff, 0xff & ~I8042_CTR_KBDDIS },
		{ 0xa7, 0x00, I8042_CTR_AUXDIS },
		{ 0xa8, 0xff, 0xff & ~I8042_CTR_AUXDIS },
		{ 0x00, 0x12, 0x12 }, /* unknown commands change nothing */
		{ 0xc0, 0x12, 0x12 },
		{ 0xe0, 0x12, 0x12 },
	};
	struct fake f = { 0 };
	struct i8042 k;

	(void)state;
	i8042_init(&k, &ops, &f);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cmd(&k, 0x60);
		write_data(&k, cases[i].ctr_before);
		read_data(&k); /* drop anything the enables let through */
		assert_int_equal(cmd(&k, cases[i].cmd), 0);
		assert_int_equal(status(&k) & I8042_STR_OBF, 0); /* no answer */
		assert_int_equal(ask(&k, 0x20), cases[i].ctr_after);
	}
	i8042_destroy(&k);
}

static void self_tests(void **state)
{
	struct fake f = { 0 };
	struct i8042 k;

	(void)state;
	i8042_init(&k, &ops, &f);
	cmd(&k, 0x60);
	write_data(&k, 0);
	assert_int_equal(ask(&k, 0xaa), 0x55);
	assert_int_equal(status(&k) & I8042_STR_SYS, I8042_STR_SYS); /* self-test sets it */
	assert_int_equal(ask(&k, 0xab), 0x00);
	assert_int_equal(ask(&k, 0xa9), 0x00);
	assert_int_equal(f.resets, 0);
	i8042_destroy(&k);
}

static void aux_loopback_and_irq12(void **state)
{
	struct fake f = { 0 };
	struct i8042 k;

	(void)state;
	i8042_init(&k, &ops, &f);
	/* i8042_check_aux: loop 0x5a with the aux interrupt off. */
	assert_int_equal(cmd(&k, 0xd3), 0);
	assert_int_equal(write_data(&k, 0x5a), 0);
	assert_int_equal(status(&k) & (I8042_STR_OBF | I8042_STR_AUXDATA | I8042_STR_TIMEOUT),
			 I8042_STR_OBF | I8042_STR_AUXDATA);
	assert_false(f.level[I8042_AUX_IRQ]);
	assert_int_equal(read_data(&k), 0x5a);
	assert_int_equal(status(&k) & (I8042_STR_OBF | I8042_STR_AUXDATA), 0);
	/* MUX detection: the loop echoes every byte, so this is no MUX controller. */
	for (unsigned int b = 0xa3; b <= 0xa5; b++) {
		cmd(&k, 0xd3);
		write_data(&k, (uint8_t)b);
		assert_int_equal(read_data(&k), b);
	}
	/* The IRQ test: AUXINT on, loop 0xa5, IRQ 12 rises; the read lowers it. */
	cmd(&k, 0x60);
	write_data(&k, I8042_CTR_AUXINT | I8042_CTR_SYS);
	cmd(&k, 0xd3);
	write_data(&k, 0xa5);
	assert_true(f.level[I8042_AUX_IRQ]);
	assert_false(f.level[I8042_KBD_IRQ]);
	assert_int_equal(f.edges[I8042_AUX_IRQ], 1);
	assert_int_equal(read_data(&k), 0xa5);
	assert_false(f.level[I8042_AUX_IRQ]);
	/* 0xd2: as if from the keyboard: IRQ 1 only if KBDINT. */
	cmd(&k, 0xd2);
	write_data(&k, 0x1c);
	assert_int_equal(status(&k) & (I8042_STR_OBF | I8042_STR_AUXDATA), I8042_STR_OBF);
	assert_false(f.level[I8042_KBD_IRQ]);
	cmd(&k, 0x60);
	write_data(&k, I8042_CTR_KBDINT); /* enabling it with a byte waiting raises it */
	assert_true(f.level[I8042_KBD_IRQ]);
	assert_int_equal(read_data(&k), 0x1c);
	assert_false(f.level[I8042_KBD_IRQ]);
	/* A byte that replaces one not yet read is a new edge. */
	cmd(&k, 0xd2);
	write_data(&k, 1);
	cmd(&k, 0xd2);
	write_data(&k, 2);
	assert_int_equal(f.edges[I8042_KBD_IRQ], 3);
	assert_int_equal(read_data(&k), 2);
	/* Reading an empty buffer gives the last byte again. */
	assert_int_equal(read_data(&k), 2);
	i8042_destroy(&k);
}

static void no_devices_time_out(void **state)
{
	struct fake f = { 0 };
	struct i8042 k;

	(void)state;
	i8042_init(&k, &ops, &f);
	cmd(&k, 0x60);
	write_data(&k, I8042_CTR_KBDINT | I8042_CTR_AUXINT | I8042_CTR_SYS);
	/* atkbd's GETID (0xf2) to the keyboard: nobody answers. */
	assert_int_equal(write_data(&k, 0xf2), 0);
	assert_int_equal(status(&k) & (I8042_STR_OBF | I8042_STR_AUXDATA | I8042_STR_TIMEOUT),
			 I8042_STR_OBF | I8042_STR_TIMEOUT);
	assert_true(f.level[I8042_KBD_IRQ]);
	assert_int_equal(read_data(&k), 0xfe);
	assert_int_equal(status(&k) & (I8042_STR_OBF | I8042_STR_TIMEOUT), 0);
	assert_false(f.level[I8042_KBD_IRQ]);
	/* psmouse's GETID through 0xd4 to the aux device: the same, aux side. */
	assert_int_equal(cmd(&k, 0xd4), 0);
	assert_int_equal(write_data(&k, 0xf2), 0);
	assert_int_equal(status(&k) & (I8042_STR_OBF | I8042_STR_AUXDATA | I8042_STR_TIMEOUT),
			 I8042_STR_OBF | I8042_STR_AUXDATA | I8042_STR_TIMEOUT);
	assert_true(f.level[I8042_AUX_IRQ]);
	assert_int_equal(read_data(&k), 0xfe);
	assert_false(f.level[I8042_AUX_IRQ]);
	assert_int_equal(f.resets, 0);
	i8042_destroy(&k);
}

static void reset_line(void **state)
{
	struct fake f = { 0 };
	struct i8042 k;

	(void)state;
	i8042_init(&k, &ops, &f);
	/* 0xf0-0xff pulse the output port bits that are 0 in the command's low nibble. */
	for (unsigned int c = 0xf0; c <= 0xff; c++) {
		int want = c & 1 ? 0 : 1;

		f.resets = 0;
		assert_int_equal(cmd(&k, (uint8_t)c), want ? -1 : 0);
		assert_int_equal(f.resets, want);
	}
	/* Output port: reset line high and A20 on to start with. */
	f.resets = 0;
	assert_int_equal(ask(&k, 0xd0) & (I8042_OUT_RESET | I8042_OUT_A20),
			 I8042_OUT_RESET | I8042_OUT_A20);
	/* The real-mode A20 dance: 0xd1, 0xdf, then 0xff: no reset. */
	assert_int_equal(cmd(&k, 0xd1), 0);
	assert_int_equal(write_data(&k, 0xdf), 0);
	assert_int_equal(cmd(&k, 0xff), 0);
	assert_int_equal(f.resets, 0);
	assert_int_equal(ask(&k, 0xd0) & 0x0f, 0x0f);
	/* Output port bit 0 written 0 asserts reset. */
	assert_int_equal(cmd(&k, 0xd1), 0);
	assert_int_equal(write_data(&k, 0xfe), -1);
	assert_int_equal(f.resets, 1);
	/* Without a reset callback nothing happens. */
	{
		static const struct i8042_ops no_reset = { 0 };
		struct i8042 k2;

		i8042_init(&k2, &no_reset, NULL);
		assert_int_equal(cmd(&k2, 0xfe), 0);
		i8042_destroy(&k2);
	}
	i8042_destroy(&k);
}

static void output_port_irq_bits(void **state)
{
	struct fake f = { 0 };
	struct i8042 k;

	(void)state;
	i8042_init(&k, &ops, &f);
	cmd(&k, 0x60);
	write_data(&k, I8042_CTR_AUXINT);
	cmd(&k, 0xd3);
	write_data(&k, 0x11);
	assert_true(f.level[I8042_AUX_IRQ]);
	/* 0xd0 reads the port while IRQ 12 is up, then its answer replaces the byte. */
	cmd(&k, 0xd0);
	assert_int_equal(read_data(&k) & 0x30, 0x20);
	i8042_destroy(&k);
}

static void wide_accesses(void **state)
{
	struct fake f = { 0 };
	struct i8042 k;
	uint32_t v = 0;

	(void)state;
	i8042_init(&k, &ops, &f);
	assert_int_equal(i8042_pio(&k, I8042_CMD_PORT, false, &v, 2), 0);
	assert_int_equal(v, 0xff00u | I8042_STR_KEYLOCK | I8042_STR_SYS);
	assert_int_equal(i8042_pio(&k, I8042_CMD_PORT, false, &v, 4), 0);
	assert_int_equal(v, 0xffffff00u | I8042_STR_KEYLOCK | I8042_STR_SYS);
	i8042_destroy(&k);
}

/* Saved with a byte waiting for the guest, IRQ 12 up and a command waiting for its byte: all of it goes on. */
static void save_load(void **state)
{
	struct fake f = { 0 }, g = { 0 };
	struct i8042 k, b;
	struct i8042_state s, s2;
	char err[128] = "";

	(void)state;
	i8042_init(&k, &ops, &f);
	cmd(&k, 0x60);
	write_data(&k, I8042_CTR_AUXINT | I8042_CTR_SYS);
	cmd(&k, 0xd3);
	write_data(&k, 0x11);                  /* aux loopback: a byte with IRQ 12 up */
	cmd(&k, 0x61);                         /* RAM byte 1: waiting for its data byte */
	i8042_save(&k, &s);
	i8042_init(&b, &ops, &g);
	assert_int_equal(i8042_load(&b, &s, NULL, 0), 0);
	i8042_save(&b, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	assert_int_equal(status(&b), status(&k));
	assert_int_equal(g.edges[I8042_AUX_IRQ], 0); /* no line driven by the load */
	g.level[I8042_AUX_IRQ] = true;           /* the interrupt controller's state, loaded beside it */
	write_data(&b, 0x42);
	assert_int_equal(read_data(&b), 0x11);   /* the byte that was waiting; taking it drops IRQ 12 */
	assert_false(g.level[I8042_AUX_IRQ]);
	assert_int_equal(ask(&b, 0x21), 0x42);
	assert_int_equal(g.edges[I8042_AUX_IRQ], 0);
	cmd(&b, 0xd0);                           /* the IRQ bits of the output port follow the state */
	assert_int_equal(read_data(&b) & 0x30, 0);

	s.obf = 2;
	assert_int_equal(i8042_load(&b, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "i8042: a flag is neither 0 nor 1");
	s.obf = 1;
	s.pending = 0xaa;
	assert_int_equal(i8042_load(&b, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "i8042: command 0xaa cannot be waiting for its data byte");
	i8042_destroy(&k);
	i8042_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_at_reset),
		cmocka_unit_test(save_load),
		cmocka_unit_test(command_byte_and_ram),
		cmocka_unit_test(interface_commands),
		cmocka_unit_test(self_tests),
		cmocka_unit_test(aux_loopback_and_irq12),
		cmocka_unit_test(no_devices_time_out),
		cmocka_unit_test(reset_line),
		cmocka_unit_test(output_port_irq_bits),
		cmocka_unit_test(wide_accesses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
