/*
 * Unit tests of core/trace.c (the --trace writer) and the streaming half of
 * core/atomic_file.c: a trace for 3 vCPUs is written, read back with
 * json-c and checked event by event; the bound, the drop count, the atomic
 * replacement and the refused paths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/trace.h"

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mpvm-test-trace.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void path_in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* Files in the folder, to see that no temporary file is left behind. */
static int files_in_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static json_object *load(const char *path)
{
	json_object *root = json_object_from_file(path);

	assert_non_null(root);
	assert_true(json_object_is_type(root, json_type_array));
	return root;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static double num(json_object *o, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_double(v);
}

static int64_t inum(json_object *o, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_int64(v);
}

static json_object *args(json_object *o)
{
	json_object *a;

	assert_true(json_object_object_get_ex(o, "args", &a));
	return a;
}

/* The i-th event (from 0) with phase ph, name (NULL: any) and tid (-1: any), or NULL. */
static json_object *find(json_object *root, const char *ph, const char *name, int tid, int i)
{
	for (size_t k = 0; k < json_object_array_length(root); k++) {
		json_object *e = json_object_array_get_idx(root, k);

		if (strcmp(str(e, "ph"), ph) || (name && strcmp(str(e, "name"), name)) ||
		    (tid >= 0 && inum(e, "tid") != tid))
			continue;
		if (i-- == 0)
			return e;
	}
	return NULL;
}

static int count(json_object *root, const char *ph, const char *name, int tid)
{
	int n = 0;

	while (find(root, ph, name, tid, n))
		n++;
	return n;
}

/*
 * Three vCPUs, vCPU 0 the BSP starting vCPU 1 (INIT, INIT de-assert, SIPI)
 * and waking vCPU 2 from HLT with a fixed IPI; the IOAPIC sends vCPU 2 one
 * more; a pause on the VM track.
 */
static void write_sample(const char *path, uint64_t max_events)
{
	static const uint32_t apic_ids[3] = { 0, 2, 4 };
	char err[256];
	struct trace *t = trace_open(path, 3, apic_ids, max_events, err, sizeof(err));

	assert_non_null(t);
	trace_mp_state(t, 0, MP_STATE_RUNNABLE, 0);
	trace_mp_state(t, 1, MP_STATE_UNINITIALIZED, 0);
	trace_mp_state(t, 2, MP_STATE_RUNNABLE, 500);
	trace_mp_state(t, 2, MP_STATE_RUNNABLE, 600);      /* a repeat: no new span */
	trace_mp_state(t, 2, MP_STATE_HALTED, 1500);
	trace_ipi(t, 0, 1, TRACE_IPI_INIT, 0, 10000);
	trace_mp_state(t, 1, MP_STATE_INIT_RECEIVED, 10000);
	trace_ipi(t, 0, 1, TRACE_IPI_INIT_DEASSERT, 0, 10500);
	trace_ipi(t, 0, 1, TRACE_IPI_SIPI, 0x08, 20000);
	trace_mp_state(t, 1, MP_STATE_SIPI_RECEIVED, 20000);
	trace_mp_state(t, 1, MP_STATE_RUNNABLE, 20250);
	trace_ipi(t, 0, 2, TRACE_IPI_FIXED, 0xf0, 30000);
	trace_instant(t, 2, "HLT wake-up", 30001, "vector 0xf0");
	trace_mp_state(t, 2, MP_STATE_RUNNABLE, 30001);
	trace_ipi(t, TRACE_NO_CPU, 2, TRACE_IPI_FIXED, 0x24, 31000);
	trace_instant(t, TRACE_NO_CPU, "pause", 40000, NULL);
	assert_int_equal(trace_close(t, 50000, err, sizeof(err)), 0);
}

static void metadata(void **state)
{
	char path[128];
	json_object *root, *e;

	(void)state;
	path_in_dir(path, sizeof(path), "meta.json");
	write_sample(path, 0);
	root = load(path);
	e = find(root, "M", "process_name", -1, 0);
	assert_non_null(e);
	assert_string_equal(str(args(e), "name"), "mpvm");
	assert_int_equal(count(root, "M", "thread_name", -1), 4);
	assert_string_equal(str(args(find(root, "M", "thread_name", 0, 0)), "name"), "vCPU 0 (APIC ID 0)");
	assert_string_equal(str(args(find(root, "M", "thread_name", 1, 0)), "name"), "vCPU 1 (APIC ID 2)");
	assert_string_equal(str(args(find(root, "M", "thread_name", 2, 0)), "name"), "vCPU 2 (APIC ID 4)");
	assert_string_equal(str(args(find(root, "M", "thread_name", 3, 0)), "name"), "VM");
	assert_int_equal(inum(args(find(root, "M", "thread_sort_index", 2, 0)), "sort_index"), 2);
	assert_int_equal(inum(args(find(root, "M", "thread_sort_index", 3, 0)), "sort_index"), -1);
	e = find(root, "M", "mpvm_trace", -1, 0);
	assert_non_null(e);
	assert_int_equal(inum(args(e), "dropped"), 0);
	/* 8 spans, 2 instants, 5 IPIs. */
	assert_int_equal(inum(args(e), "records"), 15);
	/* Every event is on process 1. */
	for (size_t k = 0; k < json_object_array_length(root); k++)
		assert_int_equal(inum(json_object_array_get_idx(root, k), "pid"), 1);
	json_object_put(root);
}

static void spans(void **state)
{
	static const char *const ap[] = { "UNINITIALIZED", "INIT_RECEIVED", "SIPI_RECEIVED", "RUNNABLE" };
	static const double ap_ts[] = { 0, 10, 20, 20.25 }, ap_dur[] = { 10, 10, 0.25, 29.75 };
	char path[128];
	json_object *root, *e;

	(void)state;
	path_in_dir(path, sizeof(path), "spans.json");
	write_sample(path, 0);
	root = load(path);
	assert_int_equal(count(root, "X", NULL, -1), 8);
	assert_int_equal(count(root, "X", NULL, 0), 1);
	assert_int_equal(count(root, "X", NULL, 1), 4);
	assert_int_equal(count(root, "X", NULL, 2), 3);
	/* vCPU 1's spans, in order, with exact times in microseconds. */
	for (int i = 0; i < 4; i++) {
		e = find(root, "X", NULL, 1, i);
		assert_string_equal(str(e, "name"), ap[i]);
		assert_string_equal(str(e, "cat"), "mp_state");
		assert_true(num(e, "ts") == ap_ts[i]);
		assert_true(num(e, "dur") == ap_dur[i]);
	}
	e = find(root, "X", "SIPI_RECEIVED", 1, 0);
	assert_int_equal(inum(args(e), "start_ns"), 20000);
	assert_int_equal(inum(args(e), "dur_ns"), 250);
	assert_string_equal(str(args(e), "next"), "RUNNABLE");
	/* The last span is closed by trace_close() at 50 us. */
	e = find(root, "X", "RUNNABLE", 1, 0);
	assert_true(json_object_get_boolean(json_object_object_get(args(e), "open_at_end")));
	/* vCPU 2: RUNNABLE at 0.5 us (the repeat at 0.6 made no span), HALTED, RUNNABLE again. */
	e = find(root, "X", "RUNNABLE", 2, 0);
	assert_true(num(e, "ts") == 0.5 && num(e, "dur") == 1.0);
	e = find(root, "X", "HALTED", 2, 0);
	assert_true(num(e, "ts") == 1.5 && num(e, "dur") == 28.501);
	json_object_put(root);
}

static void ipis_and_flows(void **state)
{
	char path[128];
	json_object *root, *e, *s, *f;

	(void)state;
	path_in_dir(path, sizeof(path), "ipi.json");
	write_sample(path, 0);
	root = load(path);
	assert_int_equal(count(root, "s", NULL, -1), 5);
	assert_int_equal(count(root, "f", NULL, -1), 5);
	/* Every flow id once as a start, once as an end, with the same name; ids differ. */
	for (int i = 0; i < 5; i++) {
		int64_t id;

		s = find(root, "s", NULL, -1, i);
		id = inum(s, "id");
		for (int j = 0; j < i; j++)
			assert_true(inum(find(root, "s", NULL, -1, j), "id") != id);
		f = NULL;
		for (int j = 0; j < 5; j++)
			if (inum(find(root, "f", NULL, -1, j), "id") == id)
				f = find(root, "f", NULL, -1, j);
		assert_non_null(f);
		assert_string_equal(str(s, "name"), str(f, "name"));
		assert_string_equal(str(s, "cat"), "ipi");
		assert_string_equal(str(f, "bp"), "e");
		assert_true(num(s, "ts") == num(f, "ts"));
	}
	/* The SIPI: from vCPU 0's track to vCPU 1's, an instant on the target with its vector. */
	s = find(root, "s", "SIPI", -1, 0);
	f = find(root, "f", "SIPI", -1, 0);
	assert_int_equal(inum(s, "tid"), 0);
	assert_int_equal(inum(f, "tid"), 1);
	assert_true(num(s, "ts") == 20.0);
	e = find(root, "i", "SIPI", 1, 0);
	assert_non_null(e);
	assert_string_equal(str(e, "s"), "t");
	assert_string_equal(str(args(e), "vector"), "0x08");
	assert_string_equal(str(args(e), "start"), "0x08000");
	assert_int_equal(inum(args(e), "from"), 0);
	assert_int_equal(inum(args(e), "flow"), inum(s, "id"));
	/* INIT carries no vector; INIT de-assert is its own kind. */
	assert_null(json_object_object_get(args(find(root, "i", "INIT", 1, 0)), "vector"));
	assert_non_null(find(root, "i", "INIT de-assert", 1, 0));
	/* From the IOAPIC: the flow starts on the VM track (tid 3), at an instant there. */
	assert_int_equal(count(root, "s", "fixed", 3), 1);
	assert_int_equal(count(root, "i", "fixed", 3), 1);
	e = find(root, "i", "fixed", 2, 1);
	assert_string_equal(str(args(e), "from"), "device");
	assert_string_equal(str(args(e), "vector"), "0x24");
	/* The other instants. */
	e = find(root, "i", "HLT wake-up", 2, 0);
	assert_string_equal(str(args(e), "detail"), "vector 0xf0");
	assert_true(num(e, "ts") == 30.001);
	assert_non_null(find(root, "i", "pause", 3, 0));
	json_object_put(root);
}

/*
 * max_events 6: the first six records are written; the rest counted. The
 * state still moves on, so the spans trace_close() ends start where they
 * should; a "trace truncated" instant at the first drop says how many.
 */
static void bound(void **state)
{
	char path[128];
	json_object *root, *e;

	(void)state;
	path_in_dir(path, sizeof(path), "bound.json");
	write_sample(path, 6);
	root = load(path);
	e = find(root, "M", "mpvm_trace", -1, 0);
	/* 12 records before the close: 6 kept, 6 dropped; then 3 final spans and the note. */
	assert_int_equal(inum(args(e), "dropped"), 6);
	assert_int_equal(inum(args(e), "max_events"), 6);
	assert_int_equal(inum(args(e), "records"), 10);
	e = find(root, "i", "trace truncated", 3, 0);
	assert_non_null(e);
	assert_int_equal(inum(args(e), "dropped"), 6);
	/* Written before the bound: vCPU 2's first span, vCPU 1's first two, 3 IPIs. */
	assert_int_equal(count(root, "s", NULL, -1), 3);
	assert_null(find(root, "s", "fixed", -1, 0));
	assert_null(find(root, "i", "pause", -1, 0));
	assert_null(find(root, "X", "HALTED", -1, 0));
	/* The first drop: the end of vCPU 1's SIPI_RECEIVED span, at 20.25 us. */
	assert_true(num(e, "ts") == 20.25);
	/* The final spans are there, from each vCPU's last transition. */
	assert_int_equal(count(root, "X", NULL, 1), 3);
	e = find(root, "X", "RUNNABLE", 1, 0);
	assert_true(num(e, "ts") == 20.25 && num(e, "dur") == 29.75);
	e = find(root, "X", "RUNNABLE", 2, 1);
	assert_true(num(e, "ts") == 30.001);
	json_object_put(root);
}

/* The old file stays whole until trace_close() renames the new one over it. */
static void atomic_replacement(void **state)
{
	char path[128], err[256], buf[16] = { 0 };
	struct trace *t;
	json_object *root;
	FILE *f;
	int before = files_in_dir();

	(void)state;
	path_in_dir(path, sizeof(path), "atomic.json");
	f = fopen(path, "w");
	fputs("old", f);
	fclose(f);
	t = trace_open(path, 2, NULL, 0, err, sizeof(err));
	assert_non_null(t);
	trace_mp_state(t, 0, MP_STATE_RUNNABLE, 0);
	assert_int_equal(files_in_dir(), before + 2); /* the old file and the temporary one */
	f = fopen(path, "r");
	assert_int_equal(fread(buf, 1, sizeof(buf) - 1, f), 3);
	fclose(f);
	assert_string_equal(buf, "old");
	assert_int_equal(trace_close(t, 100, err, sizeof(err)), 0);
	assert_int_equal(files_in_dir(), before + 1);
	root = load(path);
	/* Without apic_ids, APIC ID = index. */
	assert_string_equal(str(args(find(root, "M", "thread_name", 1, 0)), "name"), "vCPU 1 (APIC ID 1)");
	json_object_put(root);
	/* trace_discard(): the path is left as it was, the temporary file removed. */
	t = trace_open(path, 1, NULL, 0, err, sizeof(err));
	assert_non_null(t);
	trace_discard(t);
	assert_int_equal(files_in_dir(), before + 1);
	json_object_put(load(path));
	/* NULL: tracing off, every call a no-op. */
	trace_mp_state(NULL, 0, MP_STATE_HALTED, 1);
	trace_ipi(NULL, 0, 1, TRACE_IPI_NMI, 0, 1);
	trace_instant(NULL, 0, "x", 1, NULL);
	assert_int_equal(trace_dropped(NULL), 0);
	assert_int_equal(trace_close(NULL, 1, err, sizeof(err)), 0);
}

static void refused_paths(void **state)
{
	char path[128], err[256];

	(void)state;
	path_in_dir(path, sizeof(path), "subdir");
	assert_int_equal(mkdir(path, 0755), 0);
	assert_null(trace_open(path, 1, NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "not a regular file (a directory"));
	assert_null(trace_open("/dev/null", 1, NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "not a regular file"));
	path_in_dir(path, sizeof(path), "missing/t.json");
	assert_null(trace_open(path, 1, NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file or directory"));
}

/* Names from callers are escaped and cut; the file stays JSON. */
static void escaping(void **state)
{
	char path[128], err[256], longname[200];
	struct trace *t;
	json_object *root, *e;

	(void)state;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	path_in_dir(path, sizeof(path), "escape.json");
	t = trace_open(path, 1, NULL, 0, err, sizeof(err));
	assert_non_null(t);
	trace_instant(t, 0, "fault \"quoted\"\\\n", 5, "tab\there");
	trace_instant(t, 7, longname, 6, NULL); /* no vCPU 7: the VM track */
	trace_ipi(t, 0, 5, TRACE_IPI_NMI, 0, 7);  /* no vCPU 5: ignored */
	assert_int_equal(trace_close(t, 10, err, sizeof(err)), 0);
	root = load(path);
	e = find(root, "i", "fault \"quoted\"\\\n", 0, 0);
	assert_non_null(e);
	assert_string_equal(str(args(e), "detail"), "tab\there");
	e = find(root, "i", NULL, 1, 0);
	assert_int_equal(strlen(str(e, "name")), 64);
	assert_int_equal(count(root, "s", NULL, -1), 0);
	json_object_put(root);
}

/* Four threads at once: every record whole, every flow paired. */
struct hammer {
	struct trace *t;
	unsigned int cpu;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;

	for (uint64_t i = 0; i < 2000; i++) {
		trace_mp_state(h->t, h->cpu, i % 2 ? MP_STATE_HALTED : MP_STATE_RUNNABLE, i * 10);
		trace_ipi(h->t, (int)h->cpu, (h->cpu + 1) % 4, TRACE_IPI_FIXED, 0x30, i * 10 + 1);
	}
	return NULL;
}

static void concurrent(void **state)
{
	char path[128], err[256];
	struct hammer h[4];
	pthread_t th[4];
	json_object *root;

	(void)state;
	path_in_dir(path, sizeof(path), "threads.json");
	h[0].t = trace_open(path, 4, NULL, 0, err, sizeof(err));
	assert_non_null(h[0].t);
	for (unsigned int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ h[0].t, i };
		pthread_create(&th[i], NULL, hammer_thread, &h[i]);
	}
	for (unsigned int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(trace_close(h[0].t, 100000, err, sizeof(err)), 0);
	root = load(path);
	assert_int_equal(count(root, "X", NULL, -1), 4 * 2000);
	assert_int_equal(count(root, "s", NULL, -1), 4 * 2000);
	assert_int_equal(count(root, "f", NULL, -1), 4 * 2000);
	json_object_put(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(metadata),
		cmocka_unit_test(spans),
		cmocka_unit_test(ipis_and_flows),
		cmocka_unit_test(bound),
		cmocka_unit_test(atomic_replacement),
		cmocka_unit_test(refused_paths),
		cmocka_unit_test(escaping),
		cmocka_unit_test(concurrent),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
