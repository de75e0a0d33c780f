/* Unit tests of core/bios_image.c: the size rules, the layout, and files good and bad. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bios_image.h"

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mpvm-bios-test-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A file of `size` bytes, each its offset's low byte; returns its path (static buffer). */
static const char *make_file(const char *name, size_t size)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc((int)(i & 0xff), f);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void layout_sizes(void **state)
{
	struct bios_layout l;
	char err[256];

	(void)state;
	assert_int_equal(bios_image_layout(4096, &l, err, sizeof(err)), 0);
	assert_int_equal(l.rom_base, 0xfffff000ull);
	assert_int_equal(l.mirror_size, 4096);
	assert_int_equal(l.mirror_base, 0xff000);
	assert_int_equal(l.mirror_offset, 0);

	assert_int_equal(bios_image_layout(64 << 10, &l, err, sizeof(err)), 0);
	assert_int_equal(l.rom_base, 0xffff0000ull);
	assert_int_equal(l.mirror_base, 0xf0000);
	assert_int_equal(l.mirror_size, 64 << 10);

	assert_int_equal(bios_image_layout(128 << 10, &l, err, sizeof(err)), 0);
	assert_int_equal(l.rom_base, 0xfffe0000ull);
	assert_int_equal(l.mirror_base, 0xe0000);
	assert_int_equal(l.mirror_offset, 0);

	assert_int_equal(bios_image_layout(256 << 10, &l, err, sizeof(err)), 0);
	assert_int_equal(l.rom_base, 0xfffc0000ull);
	assert_int_equal(l.mirror_base, 0xe0000);
	assert_int_equal(l.mirror_size, 128 << 10);
	assert_int_equal(l.mirror_offset, 128 << 10);

	assert_int_equal(bios_image_layout(16ull << 20, &l, err, sizeof(err)), 0);
	assert_int_equal(l.rom_base, 0xff000000ull);
	assert_int_equal(l.mirror_offset, (16 << 20) - (128 << 10));
	assert_int_equal(l.size, 16 << 20);
	/* No layout wanted: just the check. */
	assert_int_equal(bios_image_layout(8192, NULL, err, sizeof(err)), 0);
}

static void layout_bad_sizes(void **state)
{
	struct bios_layout l;
	char err[256];

	(void)state;
	assert_int_equal(bios_image_layout(0, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty file"));
	assert_int_equal(bios_image_layout(4097, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "4097 bytes: not a multiple of 4 KiB"));
	assert_int_equal(bios_image_layout(100, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a multiple of 4 KiB"));
	assert_int_equal(bios_image_layout((16ull << 20) + 4096, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "16781312 bytes: larger than 16 MiB"));
	assert_int_equal(bios_image_layout(17ull << 20, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than 16 MiB"));
	assert_int_equal(bios_image_layout(1ull << 40, NULL, NULL, 0), -1); /* no buffer: still -1 */
}

static void read_good_file(void **state)
{
	const char *p = make_file("good.bin", 8192);
	char err[512] = "";
	size_t size = 0;
	uint8_t *b;

	(void)state;
	b = bios_image_read(p, &size, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(size, 8192);
	assert_int_equal(b[0], 0);
	assert_int_equal(b[0x1ff1], 0xf1);
	free(b);
	assert_int_equal(bios_image_check(p, err, sizeof(err)), 0);
}

/* Each bad file: -1 and a message "--bios PATH: REASON". */
static void expect_bad(const char *path, const char *reason)
{
	char err[512] = "", want[256];
	size_t size = 1234;

	assert_null(bios_image_read(path, &size, err, sizeof(err)));
	assert_int_equal(size, 1234);
	snprintf(want, sizeof(want), "--bios %s: ", path);
	assert_memory_equal(err, want, strlen(want));
	if (!strstr(err, reason))
		fail_msg("'%s' does not say '%s'", err, reason);
	err[0] = '\0';
	assert_int_equal(bios_image_check(path, err, sizeof(err)), -1);
	assert_memory_equal(err, want, strlen(want));
}

static void read_bad_files(void **state)
{
	char path[160];

	(void)state;
	expect_bad(make_file("empty.bin", 0), "empty file");
	expect_bad(make_file("odd.bin", 4097), "4097 bytes: not a multiple of 4 KiB");
	expect_bad(make_file("big.bin", (17u << 20)), "17825792 bytes: larger than 16 MiB");
	snprintf(path, sizeof(path), "%s/missing.bin", dir);
	expect_bad(path, "No such file or directory");
	expect_bad(dir, "not a regular file");
	if (geteuid() != 0) { /* root reads anything */
		const char *p = make_file("noread.bin", 4096);

		assert_int_equal(chmod(p, 0), 0);
		expect_bad(p, "Permission denied");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout_sizes),
		cmocka_unit_test(layout_bad_sizes),
		cmocka_unit_test(read_good_file),
		cmocka_unit_test(read_bad_files),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
