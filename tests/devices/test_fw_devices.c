/*
 * Unit tests of the port handlers for multiboot guests: fw_cfg on
 * 0x510-0x511, pc-testdev's I/O register, the empty PCI configuration
 * space and the isa-debug-exit status.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/fw_cfg_store.h"
#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/pci_nodev.h"

static uint32_t in(pio_handler_fn fn, void *dev, uint16_t port, unsigned int size)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(fn(dev, port, false, &v, size), 0);
	return v;
}

static void out(pio_handler_fn fn, void *dev, uint16_t port, uint32_t v, unsigned int size)
{
	assert_int_equal(fn(dev, port, true, &v, size), 0);
}

static void fw_cfg_ports(void **state)
{
	struct fw_cfg *f = fw_cfg_create(4, 512ull << 20);
	char sig[5] = { 0 };

	(void)state;
	assert_non_null(f);
	out(fw_cfg_pio, f, FW_CFG_PORT_SEL, FW_CFG_SIGNATURE, 2);
	for (int i = 0; i < 4; i++)
		sig[i] = (char)in(fw_cfg_pio, f, FW_CFG_PORT_DATA, 1);
	assert_string_equal(sig, "QEMU");
	out(fw_cfg_pio, f, FW_CFG_PORT_SEL, FW_CFG_NB_CPUS, 2);
	assert_int_equal(in(fw_cfg_pio, f, FW_CFG_PORT_DATA, 1), 4);
	assert_int_equal(in(fw_cfg_pio, f, FW_CFG_PORT_DATA, 1), 0);
	/* A 32-bit read of the data port takes four bytes in a row. */
	out(fw_cfg_pio, f, FW_CFG_PORT_SEL, FW_CFG_RAM_SIZE, 2);
	assert_int_equal(in(fw_cfg_pio, f, FW_CFG_PORT_DATA, 4), 512u << 20);
	assert_int_equal(in(fw_cfg_pio, f, FW_CFG_PORT_DATA, 4), 0);
	/* Writes to the data port are ignored. */
	out(fw_cfg_pio, f, FW_CFG_PORT_SEL, FW_CFG_NB_CPUS, 2);
	out(fw_cfg_pio, f, FW_CFG_PORT_DATA, 9, 1);
	assert_int_equal(in(fw_cfg_pio, f, FW_CFG_PORT_DATA, 1), 4);
	fw_cfg_destroy(f);
}

/* A file added before the guest runs: a copy, listed in the directory, read at its key. */
static void fw_cfg_file(void **state)
{
	struct fw_cfg *f = fw_cfg_create(1, 64ull << 20);
	uint8_t data[6] = { 1, 2, 3, 4, 5, 6 };

	(void)state;
	assert_non_null(f);
	assert_int_equal(fw_cfg_add_file(f, "etc/smbios/smbios-anchor", data, sizeof(data)), 0);
	data[0] = 99; /* the device kept its own copy */
	out(fw_cfg_pio, f, FW_CFG_PORT_SEL, FW_CFG_FILE_DIR, 2);
	assert_int_equal(in(fw_cfg_pio, f, FW_CFG_PORT_DATA, 4), 0x01000000u); /* count 1, big-endian */
	assert_int_equal(in(fw_cfg_pio, f, FW_CFG_PORT_DATA, 4), 0x06000000u); /* size 6 */
	assert_int_equal(in(fw_cfg_pio, f, FW_CFG_PORT_DATA, 2), 0x2000u);     /* key 0x0020 */
	out(fw_cfg_pio, f, FW_CFG_PORT_SEL, FW_CFG_FILE_FIRST, 2);
	assert_int_equal(in(fw_cfg_pio, f, FW_CFG_PORT_DATA, 4), 0x04030201u);
	assert_int_equal(in(fw_cfg_pio, f, FW_CFG_PORT_DATA, 4), 0x0605u);
	fw_cfg_destroy(f);
}

static void testdev_register(void **state)
{
	struct pc_testdev t = { { 0 } };

	(void)state;
	out(pc_testdev_pio, &t, 0xe0, 0x12345678, 4);
	assert_int_equal(in(pc_testdev_pio, &t, 0xe0, 4), 0x12345678);
	assert_int_equal(in(pc_testdev_pio, &t, 0xe0, 2), 0x5678);
	assert_int_equal(in(pc_testdev_pio, &t, 0xe2, 1), 0x34);
	out(pc_testdev_pio, &t, 0xe0, 0xab, 1);
	assert_int_equal(in(pc_testdev_pio, &t, 0xe0, 4), 0x123456ab);
	out(pc_testdev_pio, &t, 0xe0, 0xbeef, 2);
	assert_int_equal(in(pc_testdev_pio, &t, 0xe0, 2), 0xbeef);
}

static void pci_empty(void **state)
{
	struct pci_nodev p = { 0 };

	(void)state;
	out(pci_nodev_pio, &p, 0xcf8, 0x80000000, 4);
	assert_int_equal(in(pci_nodev_pio, &p, 0xcf8, 4), 0x80000000);
	assert_int_equal(in(pci_nodev_pio, &p, 0xcfc, 4), 0xffffffff);
	assert_int_equal(in(pci_nodev_pio, &p, 0xcfe, 2), 0xffff);
	assert_int_equal(in(pci_nodev_pio, &p, 0xcfd, 1), 0xff);
	out(pci_nodev_pio, &p, 0xcfc, 0, 4);
	assert_int_equal(in(pci_nodev_pio, &p, 0xcfc, 4), 0xffffffff);
}

static void debug_exit_statuses(void **state)
{
	(void)state;
	assert_int_equal(debug_exit_status(0), 1);
	assert_int_equal(debug_exit_status(1), 3);
	assert_int_equal(debug_exit_status(0x15), 43);
	assert_int_equal(debug_exit_status(0x7f), 255);
	assert_int_equal(debug_exit_status(0x80), 1); /* 0x101: 8 bits of status */
}

/* The selected item and the position in it go on; an item the machine lacks is refused. */
static void fw_cfg_save_load(void **state)
{
	struct fw_cfg *f = fw_cfg_create(4, 512ull << 20), *g = fw_cfg_create(4, 512ull << 20);
	struct fw_cfg_state s, s2;
	char err[128] = "";

	(void)state;
	out(fw_cfg_pio, f, FW_CFG_PORT_SEL, FW_CFG_SIGNATURE, 2);
	assert_int_equal(in(fw_cfg_pio, f, FW_CFG_PORT_DATA, 1), 'Q');
	fw_cfg_save(f, &s);
	assert_int_equal(fw_cfg_load(g, &s, NULL, 0), 0);
	fw_cfg_save(g, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	assert_int_equal(in(fw_cfg_pio, g, FW_CFG_PORT_DATA, 1), 'E');
	assert_int_equal(in(fw_cfg_pio, g, FW_CFG_PORT_DATA, 1), 'M');

	out(fw_cfg_pio, f, FW_CFG_PORT_SEL, 0x3fff, 2);    /* no item there: reads zeros */
	fw_cfg_save(f, &s);
	assert_int_equal(s.known, 0);
	assert_int_equal(fw_cfg_load(g, &s, NULL, 0), 0);
	assert_int_equal(in(fw_cfg_pio, g, FW_CFG_PORT_DATA, 1), 0);

	s = (struct fw_cfg_state){ .key = 0x0025, .known = 1 };
	assert_int_equal(fw_cfg_load(g, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "fw_cfg: item 0x0025, selected in the snapshot, is not on this machine");
	s = (struct fw_cfg_state){ .key = 1, .known = 0 };
	assert_int_equal(fw_cfg_load(g, &s, err, sizeof(err)), -1);
	fw_cfg_destroy(f);
	fw_cfg_destroy(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fw_cfg_ports),
		cmocka_unit_test(fw_cfg_file),
		cmocka_unit_test(fw_cfg_save_load),
		cmocka_unit_test(testdev_register),
		cmocka_unit_test(pci_empty),
		cmocka_unit_test(debug_exit_statuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
