/*
 * Unit tests for src/core/smbios.c: the entry point and every structure
 * are parsed back from raw bytes with the offsets of DSP0134 3.0.
 *
 * Also a dump writer for tests/integration/smbios.t: run as
 *   test_smbios --dump FILE SOCKETS CORES THREADS PRESENT MEMORY_BYTES
 * it writes the builder's image for that shape, built for address 0, which
 * is dmidecode's --dump-bin format (entry point at 0, table at 32, the
 * entry point's table address 32), for `dmidecode --from-dump FILE`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/guest_abi.h"
#include "core/memmap.h"
#include "core/smbios.h"

#define BUFSZ 0x20000u
#define GPA   0xf2000ull
#define MIB   (1ull << 20)
#define GIB   (1ull << 30)

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static struct smbios_shape shape(unsigned int sockets, unsigned int cores, unsigned int threads,
				 unsigned int present, uint64_t memory)
{
	return (struct smbios_shape){
		.sockets = sockets, .cores = cores, .threads = threads,
		.present = present, .max_cpus = sockets * cores * threads,
		.low_ram = memmap_low_ram(memory), .high_ram = memory - memmap_low_ram(memory),
		.cpu_signature = 0x000806ea, .cpu_features = 0x178bfbff,
	};
}

/* What the walk found. */
#define MAX_FOUND 1100
struct found {
	unsigned int n;
	const uint8_t *s[MAX_FOUND];   /* each structure's formatted area */
	unsigned int count[256];       /* per type */
};

/* The length DSP0134 3.0 gives each type mpvm writes. */
static unsigned int expected_len(uint8_t type)
{
	switch (type) {
	case 0: return 0x18;
	case 1: return 0x1b;
	case 3: return 0x16;
	case 4: return 0x30;
	case 16: return 0x17;
	case 17: return 0x28;
	case 19: return 0x1f;
	case 32: return 0x0b;
	case 127: return 4;
	}
	fail_msg("unexpected structure type %u", type);
	return 0;
}

/* String n (1 up) of the structure at p, or NULL for 0. */
static const char *string_of(const uint8_t *p, uint8_t n)
{
	const char *q = (const char *)p + p[1];

	if (!n)
		return NULL;
	while (--n) {
		assert_true(*q); /* the set ended before string n */
		q += strlen(q) + 1;
	}
	return q;
}

/* Checks the entry point and walks the table, checking each structure's frame. */
static void walk(const uint8_t *buf, long used, uint64_t gpa, struct found *f)
{
	const uint8_t *ep = buf, *t = buf + SMBIOS_TABLE_OFFSET, *p;
	uint32_t len;
	uint16_t handles[MAX_FOUND];

	memset(f, 0, sizeof(*f));
	assert_true(used > SMBIOS_TABLE_OFFSET);
	/* §5.2.2 */
	assert_memory_equal(ep, "_SM3_", 5);
	assert_int_equal(ep[6], 0x18);
	assert_int_equal(sum8(ep, 0x18), 0);
	assert_int_equal(ep[7], 3);
	assert_int_equal(ep[8], 0);
	assert_int_equal(ep[0x0a], 1);
	len = rd32(ep + 0x0c);
	assert_int_equal(len, used - SMBIOS_TABLE_OFFSET);
	assert_true(rd64(ep + 0x10) == gpa + SMBIOS_TABLE_OFFSET);

	for (p = t; p < t + len;) {
		const uint8_t *q;

		assert_true(p + 4 <= t + len);
		assert_true(f->n < MAX_FOUND);
		assert_int_equal(p[1], expected_len(p[0]));
		/* §6.1.3: strings, each NUL-terminated, then one more NUL (two for none). */
		q = p + p[1];
		if (!q[0]) {
			assert_int_equal(q[1], 0);
			q += 2;
		} else {
			while (*q)
				q += strlen((const char *)q) + 1;
			q++;
		}
		assert_true(q <= t + len);
		handles[f->n] = rd16(p + 2);
		for (unsigned int i = 0; i < f->n; i++)
			assert_int_not_equal(handles[i], handles[f->n]);
		assert_true(handles[f->n] < 0xfffe);
		f->s[f->n++] = p;
		f->count[p[0]]++;
		if (p[0] == 127) {
			assert_true(q == t + len); /* End-of-Table is last */
			break;
		}
		p = q;
	}
	assert_int_equal(f->count[127], 1);
}

static const uint8_t *first(const struct found *f, uint8_t type)
{
	for (unsigned int i = 0; i < f->n; i++)
		if (f->s[i][0] == type)
			return f->s[i];
	return NULL;
}

static const uint8_t *by_handle(const struct found *f, uint16_t h)
{
	for (unsigned int i = 0; i < f->n; i++)
		if (rd16(f->s[i] + 2) == h)
			return f->s[i];
	return NULL;
}

static long build(const struct smbios_shape *s, uint8_t *buf, struct found *f)
{
	char err[256] = "";
	long n = smbios_build(s, buf, BUFSZ, GPA, err, sizeof(err));

	if (n < 0)
		fail_msg("smbios_build: %s", err);
	walk(buf, n, GPA, f);
	return n;
}

/* Types 0, 1, 3, 16, 17 and 32 once each, with the strings and fields they should have. */
static void check_fixed(const struct found *f)
{
	const uint8_t *b = first(f, 0), *y = first(f, 1), *c = first(f, 3);

	assert_int_equal(f->count[0], 1);
	assert_int_equal(f->count[1], 1);
	assert_int_equal(f->count[3], 1);
	assert_int_equal(f->count[16], 1);
	assert_int_equal(f->count[17], 1);
	assert_int_equal(f->count[32], 1);
	assert_int_equal(f->s[0][0], 0); /* BIOS information first, as OSes expect */

	assert_string_equal(string_of(b, b[4]), "mpvm");
	assert_non_null(string_of(b, b[5]));
	assert_int_equal(strlen(string_of(b, b[8])), 10); /* mm/dd/yyyy */
	assert_true(rd64(b + 0x0a) == 1ull << 3);         /* characteristics not supported */
	assert_string_equal(string_of(y, y[4]), "mpvm");
	assert_string_equal(string_of(y, y[5]), "mpvm");
	for (int i = 0; i < 16; i++)
		assert_int_equal(y[8 + i], 0);
	assert_string_equal(string_of(c, c[4]), "mpvm");
	assert_int_equal(first(f, 32)[10], 0);
}

/* The type 4 structures for a shape, socket by socket. */
static void check_cpus(const struct found *f, const struct smbios_shape *s)
{
	unsigned int socket = 0, per = s->cores * s->threads;

	assert_int_equal(f->count[4], s->sockets);
	for (unsigned int i = 0; i < f->n; i++) {
		const uint8_t *p = f->s[i];
		unsigned int first_cpu = socket * per, here, cores_on;
		char name[16];

		if (p[0] != 4)
			continue;
		here = s->present <= first_cpu ? 0 : s->present - first_cpu;
		if (here > per)
			here = per;
		cores_on = (here + s->threads - 1) / s->threads;
		snprintf(name, sizeof(name), "CPU %u", socket);
		assert_string_equal(string_of(p, p[4]), name);
		assert_int_equal(p[5], 3);                    /* central processor */
		assert_int_equal(p[6], 1);                    /* family: Other */
		assert_int_equal(rd16(p + 0x28), 1);
		assert_true(rd64(p + 8) == ((uint64_t)s->cpu_features << 32 | s->cpu_signature));
		assert_int_equal(p[0x18], here ? 0x41 : 0x43);
		assert_int_equal(rd16(p + 0x1a), 0xffff);
		assert_int_equal(p[0x23], s->cores > 254 ? 0xff : s->cores);
		assert_int_equal(p[0x24], cores_on > 254 ? 0xff : cores_on);
		assert_int_equal(p[0x25], per > 254 ? 0xff : per);
		assert_int_equal(rd16(p + 0x2a), s->cores);
		assert_int_equal(rd16(p + 0x2c), cores_on);
		assert_int_equal(rd16(p + 0x2e), per);
		assert_int_equal(!!(rd16(p + 0x26) & 0x08), s->cores > 1);
		assert_int_equal(!!(rd16(p + 0x26) & 0x10), s->threads > 1);
		assert_true(rd16(p + 0x26) & 0x04);
		socket++;
	}
	assert_int_equal(socket, s->sockets);
}

/* Types 16, 17 and 19 for `memory` bytes of RAM split as memmap.c splits it. */
static void check_memory(const struct found *f, uint64_t memory)
{
	const uint8_t *a = first(f, 16), *d = first(f, 17);
	uint64_t low = memmap_low_ram(memory), high = memory - low, mib = memory / MIB;
	unsigned int ranges = 0;

	assert_non_null(a);
	assert_non_null(d);
	assert_int_equal(a[5], 3); /* system memory */
	assert_int_equal(rd16(a + 0x0d), 1);
	assert_int_equal(rd32(a + 7), memory / 1024);
	assert_ptr_equal(by_handle(f, rd16(d + 4)), a);
	if (mib >= 0x7fff) {
		assert_int_equal(rd16(d + 0x0c), 0x7fff);
		assert_int_equal(rd32(d + 0x1c), mib);
	} else {
		assert_int_equal(rd16(d + 0x0c), mib);
		assert_int_equal(rd32(d + 0x1c), 0);
	}
	assert_string_equal(string_of(d, d[0x10]), "DIMM 0");

	assert_int_equal(f->count[19], high ? 2 : 1);
	for (unsigned int i = 0; i < f->n; i++) {
		const uint8_t *m = f->s[i];

		if (m[0] != 19)
			continue;
		assert_ptr_equal(by_handle(f, rd16(m + 0x0c)), a);
		assert_int_equal(m[0x0e], 1);
		if (ranges++ == 0) {
			assert_int_equal(rd32(m + 4), 0);
			assert_int_equal(rd32(m + 8), low / 1024 - 1);
		} else {
			assert_int_equal(rd32(m + 4), (4 * GIB) / 1024);
			assert_int_equal(rd32(m + 8), (4 * GIB + high) / 1024 - 1);
		}
	}
}

static void one_shape(unsigned int so, unsigned int co, unsigned int th, unsigned int present,
		      uint64_t memory)
{
	struct smbios_shape s = shape(so, co, th, present, memory);
	uint8_t *buf = malloc(BUFSZ);
	struct found *f = malloc(sizeof(*f));

	assert_non_null(buf);
	assert_non_null(f);
	build(&s, buf, f);
	check_fixed(f);
	check_cpus(f, &s);
	check_memory(f, memory);
	/* 0, 1, 3, a 4 per socket, 16, 17, one or two 19s, 32, 127. */
	assert_int_equal(f->n, 8 + so + (memory > MEMMAP_LOW_RAM_MAX));
	free(f);
	free(buf);
}

static void shape_1x1x1(void **state) { (void)state; one_shape(1, 1, 1, 1, 256 * MIB); }
static void shape_2x3x1(void **state) { (void)state; one_shape(2, 3, 1, 6, 512 * MIB); }
static void shape_1x4x2(void **state) { (void)state; one_shape(1, 4, 2, 8, 3 * GIB); }
static void shape_2x2x2(void **state) { (void)state; one_shape(2, 2, 2, 8, 5 * GIB); }
static void shape_4x64x1(void **state) { (void)state; one_shape(4, 64, 1, 256, 1 * GIB); }

/* Sockets and cores not all there: enabled counts, and "disabled" for an empty socket. */
static void partly_present(void **state)
{
	(void)state;
	one_shape(2, 2, 2, 5, 256 * MIB); /* socket 1: one thread, so one core enabled */
	one_shape(2, 3, 1, 3, 256 * MIB); /* socket 1 empty */
	one_shape(4, 1, 1, 1, 256 * MIB);
}

/* §7.5: 256 and up in the "2" fields only, the byte fields 0xff. */
static void counts_above_255(void **state)
{
	(void)state;
	one_shape(1, 512, 2, 1024, 1 * GIB);
	one_shape(1, 255, 1, 255, 1 * GIB);
	one_shape(1, 256, 1, 200, 1 * GIB);
	one_shape(1024, 1, 1, 1024, 1 * GIB);
}

/* §7.18.5: MiB below 32 GiB - 1 MiB, else 0x7fff and the Extended Size. */
static void memory_sizes(void **state)
{
	(void)state;
	one_shape(1, 1, 1, 1, 16 * MIB);
	one_shape(1, 1, 1, 1, 32 * GIB - 2 * MIB);
	one_shape(1, 1, 1, 1, 32 * GIB - MIB);
	one_shape(1, 1, 1, 1, 32 * GIB);
	one_shape(1, 1, 1, 1, 1024 * GIB);
}

static void too_small_and_bad_shapes(void **state)
{
	struct smbios_shape s = shape(2, 2, 2, 8, 256 * MIB);
	uint8_t buf[256];
	char err[256];
	long need;
	uint8_t *big = malloc(BUFSZ);

	(void)state;
	assert_non_null(big);
	need = smbios_build(&s, big, BUFSZ, GPA, err, sizeof(err));
	assert_true(need > (long)sizeof(buf));
	assert_int_equal(smbios_build(&s, buf, sizeof(buf), GPA, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "need"));
	assert_int_equal(smbios_build(&s, big, (size_t)need - 1, GPA, err, sizeof(err)), -1);
	assert_int_equal(smbios_build(&s, big, (size_t)need, GPA, err, sizeof(err)), need);
	assert_int_equal(smbios_build(&s, big, BUFSZ, GPA + 8, err, sizeof(err)), -1);

	s.max_cpus = 7;
	assert_int_equal(smbios_build(&s, big, BUFSZ, GPA, err, sizeof(err)), -1);
	s = shape(2, 2, 2, 9, 256 * MIB);
	assert_int_equal(smbios_build(&s, big, BUFSZ, GPA, err, sizeof(err)), -1);
	s = shape(2, 2, 2, 0, 256 * MIB);
	assert_int_equal(smbios_build(&s, big, BUFSZ, GPA, err, sizeof(err)), -1);
	s = shape(0, 2, 2, 1, 256 * MIB);
	assert_int_equal(smbios_build(&s, big, BUFSZ, GPA, err, sizeof(err)), -1);
	s = shape(2048, 1, 1, 1, 256 * MIB);
	assert_int_equal(smbios_build(&s, big, BUFSZ, GPA, err, sizeof(err)), -1);
	assert_int_equal(smbios_build(NULL, big, BUFSZ, GPA, err, sizeof(err)), -1);
	free(big);
}

/* What memmap.c tells the guest about where the tables go: reserved. */
static void placement_is_reserved(void **state)
{
	struct memmap_entry e[MEMMAP_MAX_ENTRIES];
	unsigned int n = memmap_build(256 * MIB, e), covered = 0;

	(void)state;
	for (unsigned int i = 0; i < n; i++)
		if (e[i].type == MEMMAP_RESERVED && e[i].addr <= MPVM_SMBIOS_ADDR &&
		    e[i].addr + e[i].size >= MPVM_SMBIOS_END)
			covered = 1;
	assert_true(covered);
	assert_int_equal(MPVM_SMBIOS_ADDR % 16, 0);
	assert_true(MPVM_SMBIOS_ADDR >= MPVM_MPTABLE_END);
}

static int dump(int argc, char **argv)
{
	struct smbios_shape s;
	uint8_t *buf = malloc(BUFSZ);
	char err[256];
	long n;
	FILE *f;

	if (argc != 8 || !buf) {
		fprintf(stderr, "usage: %s --dump FILE SOCKETS CORES THREADS PRESENT MEMORY_BYTES\n", argv[0]);
		return 2;
	}
	s = shape((unsigned int)strtoul(argv[3], NULL, 0), (unsigned int)strtoul(argv[4], NULL, 0),
		  (unsigned int)strtoul(argv[5], NULL, 0), (unsigned int)strtoul(argv[6], NULL, 0),
		  strtoull(argv[7], NULL, 0));
	n = smbios_build(&s, buf, BUFSZ, 0, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", argv[0], err);
		return 1;
	}
	f = fopen(argv[2], "wb");
	if (!f || fwrite(buf, 1, (size_t)n, f) != (size_t)n || fclose(f)) {
		perror(argv[2]);
		return 1;
	}
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shape_1x1x1),
		cmocka_unit_test(shape_2x3x1),
		cmocka_unit_test(shape_1x4x2),
		cmocka_unit_test(shape_2x2x2),
		cmocka_unit_test(shape_4x64x1),
		cmocka_unit_test(partly_present),
		cmocka_unit_test(counts_above_255),
		cmocka_unit_test(memory_sizes),
		cmocka_unit_test(too_small_and_bad_shapes),
		cmocka_unit_test(placement_is_reserved),
	};

	if (argc > 1 && !strcmp(argv[1], "--dump"))
		return dump(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
