/*
 * Unit tests of core/snapshot_file.c: the CRC, a round trip of every kind
 * of section, sparse RAM, and every way a file can be bad (each prefix of
 * a good file, each flipped byte, wrong magic and version, sections
 * removed, repeated or padded wrongly, RAM records out of place), each
 * refused with a message naming what was wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/snapshot_file.h"

#define T_ONE SNAP_TAG('O', 'N', 'E', ' ')
#define T_STR SNAP_TAG('S', 'T', 'R', 'M')
#define T_RAM SNAP_TAG('R', 'A', 'M', ' ')
#define RAM_SIZE (64u * SNAP_PAGE_SIZE)

static char dir[64];
static char path[96];

static int setup(void **state)
{
	strcpy(dir, "/tmp/test_snapshot_file.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/snap", dir);
	return 0;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[400];

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	rmdir(dir);
	return 0;
}

static unsigned int files_in_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static uint8_t *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	uint8_t *b;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* RAM with three nonzero runs: page 0, pages 10-12, the last page. */
static uint8_t *make_ram(void)
{
	uint8_t *m = calloc(1, RAM_SIZE);

	assert_non_null(m);
	m[5] = 0xaa;
	for (unsigned int p = 10; p <= 12; p++)
		m[p * SNAP_PAGE_SIZE + p] = (uint8_t)p;
	m[RAM_SIZE - 1] = 0x55;
	return m;
}

/* A good file at `path`: ONE#0 (7 bytes), ONE#3 (empty), STRM#0 (streamed, 20 bytes), RAM#0. */
static void write_good_sections(struct snap_writer *wp)
{
	struct snap_writer w = *wp;
	uint8_t *ram = make_ram();
	char err[256];

	assert_int_equal(snap_writer_section(&w, T_ONE, 0, "abcdefg", 7, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_section(&w, T_ONE, 3, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_begin(&w, T_STR, 0, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_append(&w, "0123456789", 10, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_append(&w, "ABCDEFGHIJ", 10, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_end(&w, err, sizeof(err)), 0);
	if (snap_writer_ram(&w, T_RAM, 0, ram, RAM_SIZE, err, sizeof(err)))
		fail_msg("ram: %s", err);
	*wp = w;
	free(ram);
}

static void write_good(void)
{
	struct snap_writer w;
	char err[256];

	if (snap_writer_open(&w, path, err, sizeof(err)))
		fail_msg("open: %s", err);
	write_good_sections(&w);
	if (snap_writer_commit(&w, err, sizeof(err)))
		fail_msg("commit: %s", err);
}

/* The same container written to memory (kvm/reset.c's power-on state): byte for byte the file's. */
static void memory_writer(void **state)
{
	struct snap_writer w;
	struct snap_file f;
	void *buf = NULL;
	size_t len = 0, flen;
	uint8_t *file;
	char err[256];

	write_good();
	file = slurp(path, &flen);
	if (snap_writer_open_memory(&w, "power-on state", err, sizeof(err)))
		fail_msg("open: %s", err);
	write_good_sections(&w);
	if (snap_writer_finish_memory(&w, &buf, &len, err, sizeof(err)))
		fail_msg("finish: %s", err);
	assert_int_equal(files_in_dir(), 1); /* only the file of write_good() */
	assert_int_equal(len, flen);
	assert_memory_equal(buf, file, flen);
	if (snap_file_parse(&f, buf, len, "power-on state", err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(f.nsections, 4);
	snap_file_close(&f);
	free(buf);
	free(file);
	/* Discarded half-way: nothing left behind (ASan's leak check), and misuse named. */
	assert_int_equal(snap_writer_open_memory(&w, "power-on state", err, sizeof(err)), 0);
	assert_int_equal(snap_writer_begin(&w, T_ONE, 0, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_finish_memory(&w, &buf, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "power-on state: a section is still open"));
	assert_int_equal(snap_writer_open_memory(&w, "power-on state", err, sizeof(err)), 0);
	assert_int_equal(snap_writer_section(&w, T_ONE, 0, "x", 1, err, sizeof(err)), 0);
	snap_writer_discard(&w);
}

static void parse_err(const uint8_t *b, size_t len, const char *want)
{
	struct snap_file f;
	char err[256] = "untouched";

	if (snap_file_parse(&f, b, len, "F", err, sizeof(err)) == 0)
		fail_msg("parsed, want \"%s\"", want);
	if (!strstr(err, want))
		fail_msg("reason \"%s\", want \"%s\"", err, want);
	assert_int_equal(strncmp(err, "F: ", 3), 0);
}

static void fix_header_crc(uint8_t *b)
{
	uint32_t c = snap_crc32c(0, b, 28);

	memcpy(b + 28, &c, 4);
}

static void crc_known_values(void **state)
{
	/* The check value of CRC-32C (RFC 3720 B.4 and every CRC catalogue). */
	assert_int_equal(snap_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(snap_crc32c(0, "", 0), 0);
	/* Chaining equals one pass, whatever the cut and alignment. */
	for (size_t cut = 0; cut <= 9; cut++)
		assert_int_equal(snap_crc32c(snap_crc32c(0, "123456789", cut), "123456789" + cut, 9 - cut),
				 0xe3069283u);
}

static void round_trip(void **state)
{
	struct snap_file f;
	const struct snap_section *s;
	uint8_t got[7], *ram = make_ram(), *back = calloc(1, RAM_SIZE);
	char err[256];
	struct stat st;

	write_good();
	assert_int_equal(files_in_dir(), 1); /* no temporary file left */
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size < 10 * SNAP_PAGE_SIZE); /* 5 of 64 pages written */
	if (snap_file_open(&f, path, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(f.version, SNAP_VERSION);
	assert_int_equal(f.nsections, 4);
	assert_int_equal(snap_file_get(&f, T_ONE, 0, got, 7, err, sizeof(err)), 0);
	assert_memory_equal(got, "abcdefg", 7);
	s = snap_file_find(&f, T_ONE, 3);
	assert_non_null(s);
	assert_int_equal(s->len, 0);
	s = snap_file_find(&f, T_STR, 0);
	assert_non_null(s);
	assert_int_equal(s->len, 20);
	assert_memory_equal(s->data, "0123456789ABCDEFGHIJ", 20);
	assert_int_equal(s->offset % 8, 0);
	assert_null(snap_file_find(&f, T_ONE, 1));
	s = snap_file_find(&f, T_RAM, 0);
	assert_non_null(s);
	assert_int_equal(snap_file_ram_pages(s), 5);
	if (snap_file_ram(s, back, RAM_SIZE, err, sizeof(err)))
		fail_msg("%s", err);
	assert_memory_equal(back, ram, RAM_SIZE);
	snap_file_close(&f);
	free(ram);
	free(back);
}

static void section_size_and_presence(void **state)
{
	struct snap_file f;
	uint8_t buf[16];
	char err[256];

	write_good();
	assert_int_equal(snap_file_open(&f, path, err, sizeof(err)), 0);
	assert_int_equal(snap_file_get(&f, T_ONE, 0, buf, 8, err, sizeof(err)), -1);
	assert_string_equal(err, "section ONE#0: 7 bytes, expected 8");
	assert_int_equal(snap_file_get(&f, T_ONE, 9, buf, 7, err, sizeof(err)), -1);
	assert_string_equal(err, "section ONE#9: missing");
	assert_int_equal(snap_file_ram(snap_file_find(&f, T_RAM, 0), buf, 2 * SNAP_PAGE_SIZE, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "expected 8192"));
	snap_file_close(&f);
}

static void every_prefix_refused(void **state)
{
	size_t len;
	uint8_t *b;

	write_good();
	b = slurp(path, &len);
	parse_err(b, 0, "not an mpvm snapshot");
	parse_err(b, 7, "not an mpvm snapshot");
	parse_err(b, 20, "shorter than the 32-byte header");
	parse_err(b, 32, "the END section is missing");
	parse_err(b, 40, "in a section header");
	for (size_t n = 0; n < len; n++) {
		struct snap_file f;
		char err[256];

		if (snap_file_parse(&f, b, n, "F", err, sizeof(err)) == 0)
			fail_msg("a prefix of %zu of %zu bytes parsed", n, len);
	}
	free(b);
}

static void every_flipped_byte_refused(void **state)
{
	size_t len;
	uint8_t *b;

	write_good();
	b = slurp(path, &len);
	for (size_t i = 0; i < len; i++) {
		struct snap_file f;
		char err[256];

		b[i] ^= 0x40;
		if (snap_file_parse(&f, b, len, "F", err, sizeof(err)) == 0)
			fail_msg("byte %zu of %zu flipped, still parsed", i, len);
		b[i] ^= 0x40;
	}
	free(b);
}

static void header_errors(void **state)
{
	size_t len;
	uint8_t *b;
	uint32_t v;

	write_good();
	b = slurp(path, &len);
	b[0] = 'X';
	parse_err(b, len, "not an mpvm snapshot");
	b[0] = 'M';
	b[29] ^= 1;
	parse_err(b, len, "the file header's checksum does not match");
	v = SNAP_VERSION + 1;
	memcpy(b + 8, &v, 4);
	fix_header_crc(b);
	parse_err(b, len, "written by a newer mpvm (format version 2; this mpvm reads 1)");
	v = 0;
	memcpy(b + 8, &v, 4);
	fix_header_crc(b);
	parse_err(b, len, "format version 0, which this mpvm does not read");
	v = SNAP_VERSION;
	memcpy(b + 8, &v, 4);
	b[16] = 1;
	fix_header_crc(b);
	parse_err(b, len, "unknown flags 0x1");
	free(b);
}

static void section_errors(void **state)
{
	size_t len, first, second;
	uint8_t *b, *c;

	write_good();
	b = slurp(path, &len);
	/* The payload of ONE#0, then its header. */
	b[32 + 24 + 2] ^= 1;
	parse_err(b, len, "section ONE#0 at byte 32: its contents are corrupt");
	b[32 + 24 + 2] ^= 1;
	b[32 + 8] ^= 1;
	parse_err(b, len, "the section header at byte 32 is corrupt");
	b[32 + 8] ^= 1;
	/* Remove ONE#3 (the second section, a bare 24-byte header): headers stay valid, the chain does not. */
	first = 32 + 24 + 8;
	second = first + 24;
	c = malloc(len);
	memcpy(c, b, first);
	memcpy(c + first, b + second, len - second);
	parse_err(c, len - 24, "the whole-file checksum does not match");
	/* Bytes after END. */
	c = realloc(c, len + 8);
	memcpy(c, b, len);
	memset(c + len, 0, 8);
	parse_err(c, len + 8, "8 bytes after the END section");
	/* ONE#0 twice. */
	c = realloc(c, len + 32);
	memcpy(c, b, first);
	memcpy(c + first, b + 32, 32);
	memcpy(c + first + 32, b + first, len - first);
	parse_err(c, len + 32, "section ONE#0 appears twice (again at byte 64)");
	free(c);
	free(b);
}

/* A file with one RAM section whose payload is given. */
static void ram_payload_err(const uint64_t *words, size_t nwords, size_t extra_pages, const char *want)
{
	struct snap_writer w;
	struct snap_file f;
	size_t len = nwords * 8 + extra_pages * SNAP_PAGE_SIZE;
	uint8_t *p = calloc(1, len + 1), *mem = calloc(1, RAM_SIZE);
	char err[256];

	memcpy(p, words, nwords * 8);
	memset(p + nwords * 8, 0x77, extra_pages * SNAP_PAGE_SIZE);
	assert_int_equal(snap_writer_open(&w, path, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_section(&w, T_RAM, 0, p, len, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_commit(&w, err, sizeof(err)), 0);
	assert_int_equal(snap_file_open(&f, path, err, sizeof(err)), 0);
	if (snap_file_ram(snap_file_find(&f, T_RAM, 0), mem, RAM_SIZE, err, sizeof(err)) == 0)
		fail_msg("RAM loaded, want \"%s\"", want);
	if (!strstr(err, want))
		fail_msg("reason \"%s\", want \"%s\"", err, want);
	/* Nothing copied before the bad record was found. */
	for (size_t i = 0; i < RAM_SIZE; i++)
		if (mem[i])
			fail_msg("RAM byte %zu written by a refused section", i);
	snap_file_close(&f);
	free(p);
	free(mem);
}

static void ram_errors(void **state)
{
	const uint64_t S = RAM_SIZE, P = SNAP_PAGE_SIZE;

	ram_payload_err((uint64_t[]){ S - P }, 1, 0, "holds 258048 bytes of RAM, expected 262144");
	ram_payload_err((uint64_t[]){ S, 0, 1 }, 3, 0, "is cut short");
	ram_payload_err((uint64_t[]){ S, 0 }, 2, 0, "a record cut short");
	ram_payload_err((uint64_t[]){ S, 100, 1 }, 3, 1, "not page-aligned");
	ram_payload_err((uint64_t[]){ S, S, 1 }, 3, 1, "outside RAM");
	ram_payload_err((uint64_t[]){ S, S - P, 2 }, 3, 2, "outside RAM");
	ram_payload_err((uint64_t[]){ S, 0, UINT64_MAX / P }, 3, 1, "outside RAM");
	ram_payload_err((uint64_t[]){ S, 0, 0 }, 3, 0, "a record of 0 pages");
	/* Two records, the second overlapping the first. */
	{
		uint64_t *w = calloc(1, 8 + 2 * (16 + P));

		w[0] = S;
		w[1] = 2 * P;
		w[2] = 1;
		w[3 + P / 8] = P;
		w[4 + P / 8] = 1;
		w[3] = 1; /* the first record's page is not all zero; the refusal must come before it is copied */
		ram_payload_err(w, 5 + P / 8, 1, "out of order");
		free(w);
	}
}

static void discard_keeps_previous(void **state)
{
	struct snap_writer w;
	size_t len0, len1;
	uint8_t *before, *after;
	char err[256];

	write_good();
	before = slurp(path, &len0);
	assert_int_equal(snap_writer_open(&w, path, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_section(&w, T_ONE, 0, "x", 1, err, sizeof(err)), 0);
	assert_int_equal(files_in_dir(), 2); /* the temporary file beside it */
	snap_writer_discard(&w);
	assert_int_equal(files_in_dir(), 1);
	after = slurp(path, &len1);
	assert_int_equal(len0, len1);
	assert_memory_equal(before, after, len0);
	free(before);
	free(after);
}

static void writer_misuse(void **state)
{
	struct snap_writer w;
	char err[256];

	assert_int_equal(snap_writer_open(&w, "/nonexistent-dir/x", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-dir/x: the folder /nonexistent-dir"));
	assert_int_equal(snap_writer_open(&w, path, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_section(&w, SNAP_TAG_END, 0, "1234", 4, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a tag for a section"));
	assert_int_equal(snap_writer_section(&w, SNAP_TAG('A', 0, 'B', 'C'), 0, "", 0, err, sizeof(err)), -1);
	assert_int_equal(snap_writer_begin(&w, T_ONE, 0, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_begin(&w, T_ONE, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "another section is still open"));
	assert_int_equal(snap_writer_ram(&w, T_RAM, 0, NULL, 100, err, sizeof(err)), -1);
	assert_int_equal(snap_writer_commit(&w, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a section is still open"));
	assert_int_equal(access(path, F_OK), -1); /* nothing was renamed into place */
	assert_int_equal(files_in_dir(), 0);
}

static void open_errors(void **state)
{
	struct snap_file f;
	char err[256];
	FILE *e;

	assert_int_equal(snap_file_open(&f, "/nonexistent-file", err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent-file: No such file or directory");
	assert_int_equal(snap_file_open(&f, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	e = fopen(path, "w");
	fclose(e);
	assert_int_equal(snap_file_open(&f, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty, not an mpvm snapshot"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc_known_values),
		cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(section_size_and_presence, setup, teardown),
		cmocka_unit_test_setup_teardown(every_prefix_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(every_flipped_byte_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(header_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(section_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(ram_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(discard_keeps_previous, setup, teardown),
		cmocka_unit_test_setup_teardown(memory_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(writer_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(open_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
