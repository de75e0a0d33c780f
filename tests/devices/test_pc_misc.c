/*
 * Unit tests of the trivial PC ports (devices/pc_misc.c: POST port 0x80,
 * system control port A at 0x92) and of the reset control register at
 * 0xcf9 on the PCI configuration ports (devices/pci_nodev.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "devices/pc_misc.h"
#include "devices/pci_nodev.h"

static int resets;

static int count_reset(void *opaque)
{
	(void)opaque;
	resets++;
	return -1;
}

static uint32_t in(pio_handler_fn fn, void *dev, uint16_t port, unsigned int size)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(fn(dev, port, false, &v, size), 0);
	return v;
}

static int out(pio_handler_fn fn, void *dev, uint16_t port, uint32_t v, unsigned int size)
{
	return fn(dev, port, true, &v, size);
}

static void post_port(void **state)
{
	struct post_port p = { 0 };

	(void)state;
	assert_int_equal(out(post_port_pio, &p, POST_PORT, 0x42, 1), 0);
	assert_int_equal(p.last, 0x42);
	assert_int_equal(in(post_port_pio, &p, POST_PORT, 1), 0xff);
	assert_int_equal(in(post_port_pio, &p, POST_PORT, 2), 0xffff);
	assert_int_equal(in(post_port_pio, &p, POST_PORT, 4), 0xffffffffu);
}

static void sysctl_a(void **state)
{
	struct sysctl_a s = { .value = SYSCTL_A_A20, .reset = count_reset };

	(void)state;
	resets = 0;
	assert_int_equal(in(sysctl_a_pio, &s, SYSCTL_A_PORT, 1), SYSCTL_A_A20);
	/* Linux's fast A20 enable: read, set bit 1, clear bit 0, write. */
	assert_int_equal(out(sysctl_a_pio, &s, SYSCTL_A_PORT, 0x02, 1), 0);
	assert_int_equal(out(sysctl_a_pio, &s, SYSCTL_A_PORT, 0x00, 1), 0);
	assert_int_equal(in(sysctl_a_pio, &s, SYSCTL_A_PORT, 1), 0);
	assert_int_equal(resets, 0);
	/* Bit 0 written 1: fast reset; it reads 0 after. */
	assert_int_equal(out(sysctl_a_pio, &s, SYSCTL_A_PORT, 0x03, 1), -1);
	assert_int_equal(resets, 1);
	assert_int_equal(in(sysctl_a_pio, &s, SYSCTL_A_PORT, 1), SYSCTL_A_A20);
}

static void pci_reset_register(void **state)
{
	static const struct {
		uint8_t value;
		int resets;
		uint8_t reads;
	} writes[] = {
		{ 0x00, 0, 0x00 },
		{ 0x02, 0, 0x02 },  /* SYS_RST alone: Linux's first write */
		{ 0x06, 1, 0x02 },  /* SYS_RST | RST_CPU: the FADT's reset value */
		{ 0x0e, 1, 0x0a },  /* a cold reboot */
		{ 0x04, 1, 0x00 },  /* a soft reset ends the VM too */
		{ 0x08, 0, 0x08 },
		{ 0xf1, 0, 0x00 },  /* other bits are not kept */
	};
	struct pci_nodev p = { .reset = count_reset };

	(void)state;
	assert_int_equal(in(pci_nodev_pio, &p, PCI_RESET_PORT, 1), 0);
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		resets = 0;
		assert_int_equal(out(pci_nodev_pio, &p, PCI_RESET_PORT, writes[i].value, 1),
				 writes[i].resets ? -1 : 0);
		assert_int_equal(resets, writes[i].resets);
		assert_int_equal(in(pci_nodev_pio, &p, PCI_RESET_PORT, 1), writes[i].reads);
	}
	/* A dword at 0xcf8 is still CONFIG_ADDRESS and never resets. */
	resets = 0;
	assert_int_equal(out(pci_nodev_pio, &p, PCI_CONF_PORT, 0x80000604, 4), 0);
	assert_int_equal(in(pci_nodev_pio, &p, PCI_CONF_PORT, 4), 0x80000604);
	assert_int_equal(resets, 0);
	assert_int_equal(in(pci_nodev_pio, &p, PCI_CONF_PORT + 4, 4), 0xffffffffu);
	/* Without a callback a reset write is only stored. */
	p.reset = NULL;
	assert_int_equal(out(pci_nodev_pio, &p, PCI_RESET_PORT, 0x06, 1), 0);
	assert_int_equal(in(pci_nodev_pio, &p, PCI_RESET_PORT, 1), 0x02);
}

static void save_load(void **state)
{
	struct post_port p = { 0 }, p2 = { 0 };
	struct sysctl_a a = { .value = SYSCTL_A_A20, .reset = count_reset }, a2 = { .value = SYSCTL_A_A20 };
	struct pc_misc_state s, s2;
	char err[128] = "";

	(void)state;
	out(post_port_pio, &p, POST_PORT, 0x5a, 1);
	out(sysctl_a_pio, &a, SYSCTL_A_PORT, 0x40, 1);   /* A20 off, another bit on */
	pc_misc_save(&p, &a, &s);
	assert_int_equal(pc_misc_load(&p2, &a2, &s, NULL, 0), 0);
	assert_int_equal(in(post_port_pio, &p2, POST_PORT, 1), in(post_port_pio, &p, POST_PORT, 1));
	assert_int_equal(in(sysctl_a_pio, &a2, SYSCTL_A_PORT, 1), in(sysctl_a_pio, &a, SYSCTL_A_PORT, 1));
	pc_misc_save(&p2, &a2, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	s.sysctl_a |= SYSCTL_A_RESET;
	assert_int_equal(pc_misc_load(&p2, &a2, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "port 0x92: 0x41 has the reset bit, which is never stored");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(post_port),
		cmocka_unit_test(save_load),
		cmocka_unit_test(sysctl_a),
		cmocka_unit_test(pci_reset_register),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
