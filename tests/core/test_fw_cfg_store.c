/* Unit tests of core/fw_cfg_store.c: the items mpvm serves through fw_cfg. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "core/fw_cfg_store.h"

static uint64_t read_le(struct fw_cfg_store *s, uint16_t key, unsigned int n)
{
	uint64_t v = 0;

	fw_cfg_store_select(s, key);
	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)fw_cfg_store_read(s) << (8 * i);
	return v;
}

static void items(void **state)
{
	struct fw_cfg_store s;
	char sig[5] = { 0 };

	(void)state;
	fw_cfg_store_init(&s, 8, 3ull << 30);
	fw_cfg_store_select(&s, FW_CFG_SIGNATURE);
	for (int i = 0; i < 4; i++)
		sig[i] = (char)fw_cfg_store_read(&s);
	assert_string_equal(sig, "QEMU");
	assert_int_equal(read_le(&s, FW_CFG_ID, 4), 1);
	assert_true(read_le(&s, FW_CFG_RAM_SIZE, 8) == 3ull << 30);
	assert_int_equal(read_le(&s, FW_CFG_NB_CPUS, 2), 8);
	assert_int_equal(read_le(&s, FW_CFG_MAX_CPUS, 2), 8);
	assert_int_equal(read_le(&s, FW_CFG_FILE_DIR, 4), 0); /* big-endian 0: no files */
}

static void signature_selected_at_reset(void **state)
{
	struct fw_cfg_store s;

	(void)state;
	fw_cfg_store_init(&s, 1, 16 << 20);
	assert_int_equal(fw_cfg_store_read(&s), 'Q');
}

static void past_end_and_unknown_keys_read_zero(void **state)
{
	struct fw_cfg_store s;

	(void)state;
	fw_cfg_store_init(&s, 300, 16 << 20);
	assert_int_equal(read_le(&s, FW_CFG_NB_CPUS, 4), 300); /* bytes 3 and 4 are past the end */
	assert_true(read_le(&s, 0x11, 8) == 0);                 /* FW_CFG_MAX_RAM: not served */
	assert_true(read_le(&s, 0x8000, 8) == 0);               /* arch-local keys are not key 0 */
	/* The write-channel bit does not change the item. */
	assert_int_equal(read_le(&s, 0x4000 | FW_CFG_NB_CPUS, 2), 300);
	/* Selecting again restarts at offset 0. */
	fw_cfg_store_select(&s, FW_CFG_SIGNATURE);
	fw_cfg_store_read(&s);
	fw_cfg_store_select(&s, FW_CFG_SIGNATURE);
	assert_int_equal(fw_cfg_store_read(&s), 'Q');
}

static uint32_t read_be(struct fw_cfg_store *s, unsigned int n)
{
	uint32_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v = v << 8 | fw_cfg_store_read(s);
	return v;
}

/* Files as QEMU serves them: the directory (FWCfgFile entries, big-endian) and each file's key. */
static void files(void **state)
{
	static const uint8_t anchor[24] = { '_', 'S', 'M', '3', '_' };
	static const uint8_t tables[300] = { 0, 0x18, 0, 0, [299] = 0x7f };
	struct fw_cfg_store s;
	char name[FW_CFG_FILE_NAME];
	char longname[FW_CFG_FILE_NAME + 1];

	(void)state;
	fw_cfg_store_init(&s, 2, 256 << 20);
	assert_int_equal(fw_cfg_store_add_file(&s, "etc/smbios/smbios-anchor", anchor, sizeof(anchor)), 0);
	assert_int_equal(fw_cfg_store_add_file(&s, "etc/smbios/smbios-tables", tables, sizeof(tables)), 0);
	fw_cfg_store_select(&s, FW_CFG_FILE_DIR);
	assert_int_equal(read_be(&s, 4), 2);
	for (unsigned int f = 0; f < 2; f++) {
		assert_int_equal(read_be(&s, 4), f ? sizeof(tables) : sizeof(anchor));
		assert_int_equal(read_be(&s, 2), FW_CFG_FILE_FIRST + f);
		assert_int_equal(read_be(&s, 2), 0);
		for (unsigned int i = 0; i < sizeof(name); i++)
			name[i] = (char)fw_cfg_store_read(&s);
		assert_string_equal(name, f ? "etc/smbios/smbios-tables" : "etc/smbios/smbios-anchor");
	}
	assert_int_equal(fw_cfg_store_read(&s), 0); /* past the directory */

	fw_cfg_store_select(&s, FW_CFG_FILE_FIRST);
	for (unsigned int i = 0; i < sizeof(anchor); i++)
		assert_int_equal(fw_cfg_store_read(&s), anchor[i]);
	assert_int_equal(fw_cfg_store_read(&s), 0);
	fw_cfg_store_select(&s, FW_CFG_FILE_FIRST + 1);
	for (unsigned int i = 0; i < sizeof(tables); i++)
		assert_int_equal(fw_cfg_store_read(&s), tables[i]);
	assert_int_equal(read_le(&s, FW_CFG_FILE_FIRST + 2, 4), 0); /* no third file */

	/* Names must fit the entry with their NUL; the table has room for FW_CFG_MAX_FILES. */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(fw_cfg_store_add_file(&s, longname, anchor, 1), -1);
	longname[FW_CFG_FILE_NAME - 1] = '\0';
	assert_int_equal(fw_cfg_store_add_file(&s, longname, anchor, 1), 0);
	assert_int_equal(fw_cfg_store_add_file(&s, "d", anchor, 1), 0);
	assert_int_equal(fw_cfg_store_add_file(&s, "e", anchor, 1), -1);
	assert_int_equal(read_le(&s, FW_CFG_NB_CPUS, 2), 2); /* the other items are still there */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(items),
		cmocka_unit_test(signature_selected_at_reset),
		cmocka_unit_test(past_end_and_unknown_keys_read_zero),
		cmocka_unit_test(files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
