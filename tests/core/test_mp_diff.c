/*
 * Unit tests of core/mp_diff.c: traces and reports read into per-vCPU MP
 * state and IPI sequences, the --ignore normalizations, and what
 * mp_diff_print() says.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mp_diff.h"

/* A trace as core/trace.c writes one: vCPU 1 goes through SIPI_RECEIVED (user mode). */
static const char trace_user[] =
	"[{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"vCPU 0 (APIC ID 0)\"}},\n"
	"{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":1,\"args\":{\"name\":\"vCPU 1 (APIC ID 1)\"}},\n"
	"{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":2,\"args\":{\"name\":\"VM\"}},\n"
	"{\"name\":\"INIT\",\"cat\":\"ipi\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":1,\"ts\":10,\"args\":{\"from\":0,\"to\":1}},\n"
	"{\"name\":\"INIT de-assert\",\"cat\":\"ipi\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":0,\"ts\":11,\"args\":{\"from\":0,\"to\":0}},\n"
	"{\"name\":\"SIPI\",\"cat\":\"ipi\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":1,\"ts\":20,\"args\":{\"from\":0,\"to\":1,\"vector\":\"0x08\"}},\n"
	"{\"name\":\"UNINITIALIZED\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":1,\"dur\":9},\n"
	"{\"name\":\"INIT_RECEIVED\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":10,\"dur\":10},\n"
	"{\"name\":\"SIPI_RECEIVED\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":20,\"dur\":1},\n"
	"{\"name\":\"RUNNABLE\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":21,\"dur\":5},\n"
	"{\"name\":\"HALTED\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":26,\"dur\":5},\n"
	"{\"name\":\"RUNNABLE\",\"ph\":\"X\",\"pid\":1,\"tid\":0,\"ts\":0,\"dur\":40},\n"
	"{\"name\":\"NMI\",\"cat\":\"ipi\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":0,\"ts\":30,\"args\":{\"from\":\"device\",\"to\":0}}]\n";

/* The same run as KVM shows it: no SIPI_RECEIVED, the de-assert only at vCPU 1, one more halt. */
static const char trace_kvm[] =
	"[{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"vCPU 0 (APIC ID 0)\"}},\n"
	"{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":1,\"args\":{\"name\":\"vCPU 1 (APIC ID 1)\"}},\n"
	"{\"name\":\"INIT\",\"cat\":\"ipi\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":1,\"ts\":10,\"args\":{\"from\":0,\"to\":1}},\n"
	"{\"name\":\"INIT de-assert\",\"cat\":\"ipi\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":1,\"ts\":11,\"args\":{\"from\":0,\"to\":1}},\n"
	"{\"name\":\"SIPI\",\"cat\":\"ipi\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":1,\"ts\":20,\"args\":{\"from\":0,\"to\":1,\"vector\":\"0x08\"}},\n"
	"{\"name\":\"UNINITIALIZED\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":1,\"dur\":9},\n"
	"{\"name\":\"INIT_RECEIVED\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":10,\"dur\":10},\n"
	"{\"name\":\"RUNNABLE\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":20,\"dur\":5},\n"
	"{\"name\":\"HALTED\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":25,\"dur\":2},\n"
	"{\"name\":\"RUNNABLE\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":27,\"dur\":2},\n"
	"{\"name\":\"HALTED\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":29,\"dur\":2},\n"
	"{\"name\":\"RUNNABLE\",\"ph\":\"X\",\"pid\":1,\"tid\":0,\"ts\":0,\"dur\":40},\n"
	"{\"name\":\"NMI\",\"cat\":\"ipi\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":0,\"ts\":30,\"args\":{\"from\":\"device\",\"to\":0}}]\n";

static const char report[] =
	"{\"vcpus\": [{\"id\": 1, \"apic_id\": 1, \"mp_states\": [{\"t_ns\": 1, \"state\": \"UNINITIALIZED\"},"
	" {\"t_ns\": 2, \"state\": \"INIT_RECEIVED\"}, {\"t_ns\": 3, \"state\": \"RUNNABLE\"}, {\"t_ns\": 4, \"state\": \"HALTED\"}]},"
	" {\"id\": 0, \"apic_id\": 0, \"mp_states\": [{\"t_ns\": 0, \"state\": \"RUNNABLE\"}]}]}";

static void load(struct mp_run *r, const char *text)
{
	char err[256] = "";
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	assert_non_null(f);
	assert_int_equal(mp_run_load(r, f, err, sizeof(err)), 0);
	fclose(f);
}

/* mp_diff_print()'s output in buf, its result returned. */
static unsigned int diff(const struct mp_run *a, const struct mp_run *b, char *buf, size_t len)
{
	FILE *out = fmemopen(buf, len, "w");
	unsigned int n;

	assert_non_null(out);
	n = mp_diff_print(out, a, "A", b, "B");
	fclose(out);
	return n;
}

static void reads_a_trace(void **state)
{
	struct mp_run r;

	(void)state;
	load(&r, trace_user);
	assert_true(r.has_ipis);
	assert_int_equal(r.n, 2); /* the VM track is no vCPU */
	assert_int_equal(r.v[1].id, 1);
	assert_string_equal(r.v[1].label, "vCPU 1 (APIC ID 1)");
	assert_int_equal(r.v[1].states.n, 5);
	assert_string_equal(r.v[1].states.tok[2], "SIPI_RECEIVED");
	assert_int_equal(r.v[1].ipis.n, 2);
	assert_string_equal(r.v[1].ipis.tok[0], "INIT from vCPU 0");
	assert_string_equal(r.v[1].ipis.tok[1], "SIPI 0x08 from vCPU 0");
	assert_int_equal(r.v[0].ipis.n, 2);
	assert_string_equal(r.v[0].ipis.tok[1], "NMI from a device");
	mp_run_free(&r);
}

static void reads_a_report(void **state)
{
	struct mp_run r;

	(void)state;
	load(&r, report);
	assert_false(r.has_ipis);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.v[0].id, 0); /* in id order, whatever the file's */
	assert_string_equal(r.v[1].label, "vCPU 1 (APIC ID 1)");
	assert_int_equal(r.v[1].states.n, 4);
	mp_run_free(&r);
}

static void differences_and_ignores(void **state)
{
	struct mp_run a, b;
	unsigned int flags;
	char buf[4096];

	(void)state;
	load(&a, trace_kvm);
	load(&b, trace_user);
	assert_int_equal(diff(&a, &b, buf, sizeof(buf)), 2);
	assert_non_null(strstr(buf, "vCPU 1 (APIC ID 1): MP states differ at #3\n"));
	assert_non_null(strstr(buf, "[SIPI_RECEIVED]"));
	assert_non_null(strstr(buf, "vCPU 0 (APIC ID 0): IPIs received differ at #1\n"));
	assert_non_null(strstr(buf, "mp-diff: 2 vCPUs differ\n"));

	assert_int_equal(mp_diff_parse_ignore("sipi-received,init-deassert", &flags), 0);
	mp_run_normalize(&a, flags);
	mp_run_normalize(&b, flags);
	assert_int_equal(diff(&a, &b, buf, sizeof(buf)), 1); /* the extra halt is left */
	assert_non_null(strstr(buf, "vCPU 1 (APIC ID 1): MP states differ at #5\n"));
	assert_int_equal(mp_diff_parse_ignore("halt-cycles", &flags), 0);
	mp_run_normalize(&a, flags);
	mp_run_normalize(&b, flags);
	assert_int_equal(diff(&a, &b, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "mp-diff: no difference (2 vCPUs, 4 MP states, 3 IPIs)\n");
	mp_run_free(&a);
	mp_run_free(&b);
}

static void report_against_trace(void **state)
{
	struct mp_run a, b;
	char buf[4096];

	(void)state;
	load(&a, report);
	load(&b, trace_kvm);
	mp_run_normalize(&a, MP_DIFF_IGNORE_KVM);
	mp_run_normalize(&b, MP_DIFF_IGNORE_KVM);
	assert_int_equal(diff(&a, &b, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "IPIs not compared: a report has none"));
	mp_run_free(&a);
	mp_run_free(&b);
}

static void interleaving(void **state)
{
	struct mp_run a = { 0 }, b = { 0 };
	static const char *ta[] = { "fixed 0x40 from vCPU 2", "fixed 0x41 from vCPU 1", "fixed 0x42 from vCPU 2" };
	static const char *tb[] = { "fixed 0x41 from vCPU 1", "fixed 0x40 from vCPU 2", "fixed 0x42 from vCPU 2" };
	char buf[4096];

	(void)state;
	load(&a, trace_user);
	load(&b, trace_user);
	/* vCPU 0's two IPIs replaced by three (its sequence has room for 16). */
	for (size_t i = 0; i < a.v[0].ipis.n; i++)
		free(a.v[0].ipis.tok[i]);
	for (size_t i = 0; i < b.v[0].ipis.n; i++)
		free(b.v[0].ipis.tok[i]);
	a.v[0].ipis.n = b.v[0].ipis.n = 0;
	for (int i = 0; i < 3; i++) {
		a.v[0].ipis.tok[a.v[0].ipis.n++] = strdup(ta[i]);
		b.v[0].ipis.tok[b.v[0].ipis.n++] = strdup(tb[i]);
	}
	assert_int_equal(diff(&a, &b, buf, sizeof(buf)), 1);
	mp_run_normalize(&a, MP_DIFF_IGNORE_IPI_INTERLEAVING);
	mp_run_normalize(&b, MP_DIFF_IGNORE_IPI_INTERLEAVING);
	assert_int_equal(diff(&a, &b, buf, sizeof(buf)), 0);
	assert_string_equal(a.v[0].ipis.tok[1], "fixed 0x40 from vCPU 2");
	assert_string_equal(a.v[0].ipis.tok[2], "fixed 0x42 from vCPU 2");
	mp_run_free(&a);
	mp_run_free(&b);
}

static void bad_input(void **state)
{
	static const char *const bad[] = { "", "  ", "{\"x\": 1}", "[1, 2", "{\"vcpus\": [{\"id\": 0}]}", "{\"vcpus\": []}",
					   "[{\"name\":\"RUNNABLE\",\"ph\":\"X\",\"pid\":1,\"tid\":0,\"ts\":0,\"dur\":1}]" };
	unsigned int flags;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mp_run r;
		char err[256] = "";
		FILE *f = fmemopen((void *)bad[i], strlen(bad[i]) ? strlen(bad[i]) : 1, "r");

		assert_non_null(f);
		if (!strlen(bad[i]))
			fgetc(f); /* an empty stream */
		assert_int_equal(mp_run_load(&r, f, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
		fclose(f);
	}
	assert_int_equal(mp_diff_parse_ignore("kvm", &flags), 0);
	assert_int_equal(flags, MP_DIFF_IGNORE_KVM);
	assert_int_equal(mp_diff_parse_ignore("kvm,bogus", &flags), -1);
	assert_int_equal(mp_diff_parse_ignore("sipi", &flags), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_a_trace), cmocka_unit_test(reads_a_report),
		cmocka_unit_test(differences_and_ignores), cmocka_unit_test(report_against_trace),
		cmocka_unit_test(interleaving), cmocka_unit_test(bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
