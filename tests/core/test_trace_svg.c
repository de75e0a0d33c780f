/*
 * Unit tests of core/trace_read.c and core/trace_svg.c: a trace written by
 * core/trace.c is drawn; the SVG must be well-formed (a small scanner: tags
 * balance, text is UTF-8 without control characters) and hold a lane per
 * track in order, a rectangle per span, an arrow per IPI and the legend.
 * Then other traces: the object format, a cut file, hostile names, bad
 * input, and a huge trace that must still give a small picture.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/trace.h"
#include "core/trace_svg.h"

/*
 * Well-formed enough for any SVG viewer: every tag closed in order, no
 * stray '<' or '&', attribute values quoted, text UTF-8 without control
 * characters. Returns NULL or what is wrong.
 */
static const char *xml_problem(const char *s)
{
	static char why[128];
	char stack[64][32];
	int depth = 0;
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; u[i]; i++) {
		unsigned char c = u[i];

		if (c < 0x20 && c != '\n' && c != '\t')
			return "a control character";
		if (c >= 0x80) {
			size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;

			if (len == 0 || c < 0xc2 || c > 0xf4)
				return "not UTF-8";
			for (size_t k = 1; k < len; k++)
				if ((u[i + k] & 0xc0) != 0x80)
					return "not UTF-8";
			i += len - 1;
			continue;
		}
		if (c == '&') {
			if (strncmp(s + i, "&lt;", 4) && strncmp(s + i, "&gt;", 4) && strncmp(s + i, "&amp;", 5) &&
			    strncmp(s + i, "&quot;", 6))
				return "a bare &";
			continue;
		}
		if (c == '>')
			return "a bare >";
		if (c != '<')
			continue;
		if (!strncmp(s + i, "<?xml", 5)) {
			const char *end = strstr(s + i, "?>");

			if (!end)
				return "an unclosed <?xml";
			i = (size_t)(end - s) + 1;
		} else if (!strncmp(s + i, "<!--", 4)) {
			const char *end = strstr(s + i + 4, "--");

			if (!end || end[2] != '>')
				return "a comment holding --";
			i = (size_t)(end - s) + 2;
		} else {
			bool closing = s[i + 1] == '/', quoted = false;
			size_t n = 0, j = i + 1 + closing;
			char name[32];

			while (s[j] && s[j] != ' ' && s[j] != '>' && s[j] != '/' && n < sizeof(name) - 1)
				name[n++] = s[j++];
			name[n] = '\0';
			if (!n)
				return "a bare <";
			for (; s[j] && (quoted || s[j] != '>'); j++) {
				if (s[j] == '"')
					quoted = !quoted;
				else if (quoted && s[j] == '<')
					return "a < in an attribute";
			}
			if (!s[j])
				return "an unclosed tag";
			if (closing) {
				if (depth == 0 || strcmp(stack[depth - 1], name)) {
					snprintf(why, sizeof(why), "</%s> closes <%s>", name, depth ? stack[depth - 1] : "");
					return why;
				}
				depth--;
			} else if (s[j - 1] != '/') {
				if (depth == 64)
					return "too deep";
				strcpy(stack[depth++], name);
			}
			i = j;
		}
	}
	if (depth) {
		snprintf(why, sizeof(why), "<%s> never closed", stack[depth - 1]);
		return why;
	}
	return NULL;
}

static int occurrences(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* Draws the trace text `json`; NULL with err if trace_svg_render() refused it. */
static char *render_text(const char *json, char *err, size_t errlen)
{
	FILE *in = fmemopen((void *)json, strlen(json), "r");
	char *svg = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&svg, &len);
	int ret;

	assert_non_null(in);
	assert_non_null(out);
	ret = trace_svg_render(in, "test <trace>", out, err, errlen);
	fclose(in);
	fclose(out);
	if (ret) {
		assert_int_equal(len, 0); /* nothing written on a refusal */
		free(svg);
		return NULL;
	}
	return svg;
}

static char *render_file(const char *path)
{
	FILE *in = fopen(path, "r");
	char *svg = NULL, err[256];
	size_t len = 0;
	FILE *out = open_memstream(&svg, &len);
	int ret;

	assert_non_null(in);
	ret = trace_svg_render(in, "sample", out, err, sizeof(err));
	fclose(in);
	fclose(out);
	if (ret)
		fail_msg("%s", err);
	return svg;
}

/* The 3-vCPU bring-up of test_trace.c. */
static void write_sample(const char *path)
{
	static const uint32_t apic_ids[3] = { 0, 2, 4 };
	char err[256];
	struct trace *t = trace_open(path, 3, apic_ids, 0, err, sizeof(err));

	assert_non_null(t);
	trace_mp_state(t, 0, MP_STATE_RUNNABLE, 0);
	trace_mp_state(t, 1, MP_STATE_UNINITIALIZED, 0);
	trace_mp_state(t, 2, MP_STATE_RUNNABLE, 500);
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

static void sample_picture(void **state)
{
	char path[] = "/tmp/mpvm-test-trace-svg.XXXXXX";
	const char *vm, *v0, *v1, *v2;
	int fd = mkstemp(path);
	char *svg;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	write_sample(path);
	svg = render_file(path);
	unlink(path);
	assert_null(xml_problem(svg));
	assert_true(!strncmp(svg, "<?xml", 5));
	assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
	assert_non_null(strstr(svg, "<title>sample</title>"));
	assert_null(strstr(svg, "<script"));
	/* A lane per track, in sort order: the VM (sort index -1), then the vCPUs. */
	assert_int_equal(occurrences(svg, "class=\"lane\""), 4);
	assert_int_equal(occurrences(svg, "class=\"lane-label\""), 4);
	vm = strstr(svg, ">VM</text>");
	v0 = strstr(svg, ">vCPU 0 (APIC ID 0)</text>");
	v1 = strstr(svg, ">vCPU 1 (APIC ID 2)</text>");
	v2 = strstr(svg, ">vCPU 2 (APIC ID 4)</text>");
	assert_true(vm && v0 && v1 && v2 && vm < v0 && v0 < v1 && v1 < v2);
	/* 8 spans, none merged; 5 IPIs as arrows; 8 instants (6 IPI targets and sources, 2 others). */
	assert_int_equal(occurrences(svg, "class=\"span\""), 8);
	assert_int_equal(occurrences(svg, "class=\"span merged\""), 0);
	assert_int_equal(occurrences(svg, "class=\"flow\""), 5);
	assert_int_equal(occurrences(svg, "class=\"instant\""), 8);
	assert_non_null(strstr(svg, "<title>SIPI: vCPU 0 (APIC ID 0) to vCPU 1 (APIC ID 2)</title>"));
	assert_non_null(strstr(svg, "<title>fixed: VM to vCPU 2 (APIC ID 4)</title>"));
	/* The legend: 5 states, 4 IPI kinds, 2 other instants. */
	assert_int_equal(occurrences(svg, "class=\"legend-item\""), 11);
	assert_non_null(strstr(svg, ">INIT de-assert</text>"));
	assert_non_null(strstr(svg, ">HLT wake-up</text>"));
	/* States in the legend in lifecycle order. */
	assert_true(strstr(svg, ">UNINITIALIZED</text></g>") < strstr(svg, ">INIT_RECEIVED</text></g>"));
	assert_true(strstr(svg, ">RUNNABLE</text></g>") < strstr(svg, ">HALTED</text></g>"));
	/* A time axis in ms from the VM's creation: 0 to 50 us, ticks every 0.005 ms. */
	assert_non_null(strstr(svg, "ms since the VM was created"));
	assert_non_null(strstr(svg, "class=\"tick\" x=\"200.0\" y=\"88.0\">0.000</text>"));
	assert_non_null(strstr(svg, ">0.050</text>"));
	/* Wide spans carry their name, the 0.25 us SIPI_RECEIVED one does not. */
	assert_non_null(strstr(svg, "class=\"span-label\""));
	assert_non_null(strstr(svg, ">INIT_RECEIVED</text>\n"));
	assert_null(strstr(svg, ">SIPI_RECEIVED</text>\n"));
	assert_null(strstr(svg, "class=\"note\""));
	free(svg);
}

/* Another writer's trace: the object format, B/E and counters ignored, tids as lanes. */
static void object_format(void **state)
{
	const char *json = "{\"traceEvents\":["
		"{\"name\":\"work\",\"ph\":\"X\",\"pid\":7,\"tid\":3,\"ts\":100,\"dur\":50},"
		"{\"name\":\"work\",\"ph\":\"X\",\"pid\":7,\"tid\":1,\"ts\":120.5,\"dur\":10},"
		"{\"name\":\"b\",\"ph\":\"B\",\"pid\":7,\"tid\":1,\"ts\":1},"
		"{\"name\":\"c\",\"ph\":\"C\",\"pid\":7,\"ts\":1,\"args\":{\"v\":1}},"
		"{\"name\":\"msg\",\"cat\":\"x\",\"ph\":\"s\",\"id\":\"0x1\",\"pid\":7,\"tid\":3,\"ts\":110},"
		"{\"name\":\"msg\",\"cat\":\"x\",\"ph\":\"f\",\"id\":\"0x1\",\"pid\":7,\"tid\":1,\"ts\":125},"
		"{\"name\":\"mark\",\"ph\":\"I\",\"pid\":7,\"tid\":1,\"ts\":130}"
		"],\"displayTimeUnit\":\"ns\"}";
	char err[256], *svg = render_text(json, err, sizeof(err));

	(void)state;
	assert_non_null(svg);
	assert_null(xml_problem(svg));
	assert_int_equal(occurrences(svg, "class=\"lane\""), 2);
	/* Lanes by tid: tid 1 above tid 3. */
	assert_true(strstr(svg, ">tid 1</text>") < strstr(svg, ">tid 3</text>"));
	assert_int_equal(occurrences(svg, "class=\"span\""), 2);
	assert_int_equal(occurrences(svg, "class=\"flow\""), 1);
	assert_int_equal(occurrences(svg, "class=\"instant\""), 1);
	assert_null(strstr(svg, "ms since the VM")); /* not mpvm's */
	free(svg);
}

/* A writer killed mid-event: what came before is drawn, and the note says so. */
static void cut_file(void **state)
{
	const char *json = "[{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"vCPU 0\"}},\n"
		"{\"name\":\"RUNNABLE\",\"ph\":\"X\",\"pid\":1,\"tid\":0,\"ts\":0,\"dur\":5},\n"
		"{\"name\":\"HAL";
	char err[256], *svg = render_text(json, err, sizeof(err));

	(void)state;
	assert_non_null(svg);
	assert_null(xml_problem(svg));
	assert_int_equal(occurrences(svg, "class=\"span\""), 1);
	assert_non_null(strstr(svg, "ends mid-event"));
	free(svg);
}

/* Names that are markup, control characters and broken UTF-8 stay text. */
static void hostile_names(void **state)
{
	const char *json = "[{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,"
		"\"args\":{\"name\":\"<b>&amp;\\\"x\\\"</b>\\u0001\"}},"
		"{\"name\":\"\\u00e9t\\u00e9 \xff\xfe <!-- --> ]]>\",\"ph\":\"X\",\"pid\":1,\"tid\":0,\"ts\":0,\"dur\":5},"
		"{\"name\":\"x\",\"ph\":\"X\",\"pid\":1,\"tid\":0,\"ts\":1e300,\"dur\":5},"
		"{\"name\":\"y\",\"ph\":\"X\",\"pid\":1,\"tid\":0,\"ts\":\"12\",\"dur\":5},"
		"{\"name\":\"z\",\"ph\":\"X\",\"pid\":1,\"tid\":0,\"ts\":3,\"dur\":-1}]";
	char err[256], *svg = render_text(json, err, sizeof(err));

	(void)state;
	assert_non_null(svg);
	assert_null(xml_problem(svg));
	assert_non_null(strstr(svg, "&lt;b&gt;&amp;amp;&quot;x&quot;&lt;/b&gt;?"));
	assert_non_null(strstr(svg, "\xc3\xa9t\xc3\xa9 ?? &lt;!-- --&gt; ]]&gt;"));
	/* The absurd time, the string and the negative duration are not spans. */
	assert_int_equal(occurrences(svg, "class=\"span\""), 1);
	free(svg);
}

static void refused(void **state)
{
	static const struct {
		const char *json, *why;
	} bad[] = {
		{ "", "empty" },
		{ "  \n", "empty" },
		{ "hello", "starts with neither" },
		{ "[{\"ph\":\"X\"},\n{\"ph\" \"X\"}]", "not valid JSON at byte 19" },
		{ "[1, 2, {\"ph\":\"X\"}]", "no trace events to draw" },
		{ "[]", "no trace events to draw" },
		{ "{\"a\":1}", "without a traceEvents array" },
		{ "{\"traceEvents\":[", "cut short" },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(render_text(bad[i].json, err, sizeof(err)));
		if (!strstr(err, bad[i].why))
			fail_msg("'%s': '%s' does not say '%s'", bad[i].json, err, bad[i].why);
	}
}

/*
 * 64 vCPUs halting and waking 2000 times each: 256000 spans, 128000 IPIs.
 * The picture merges and thins, stays a few MiB, and says so.
 */
static void huge_trace_bounded(void **state)
{
	char path[] = "/tmp/mpvm-test-trace-svg.XXXXXX";
	int fd = mkstemp(path);
	char err[256], *svg;
	struct trace *t;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	t = trace_open(path, 64, NULL, 0, err, sizeof(err));
	assert_non_null(t);
	for (uint64_t i = 0; i < 2000; i++)
		for (unsigned int c = 0; c < 64; c++) {
			uint64_t now = i * 10000 + c * 100;

			trace_ipi(t, (int)((c + 1) % 64), c, TRACE_IPI_FIXED, 0x30, now);
			trace_mp_state(t, c, MP_STATE_RUNNABLE, now + 10);
			trace_mp_state(t, c, MP_STATE_HALTED, now + 60);
		}
	assert_int_equal(trace_close(t, 2000 * 10000, err, sizeof(err)), 0);
	svg = render_file(path);
	unlink(path);
	assert_null(xml_problem(svg));
	assert_int_equal(occurrences(svg, "class=\"lane\""), 65);
	assert_true(strlen(svg) < 16u << 20);
	assert_true(occurrences(svg, "<rect") <= TRACE_SVG_RECTS + 65 + 10);
	assert_true(occurrences(svg, "class=\"flow\"") <= TRACE_SVG_ARROWS);
	assert_true(occurrences(svg, "class=\"instant\"") <= TRACE_SVG_MARKS);
	assert_non_null(strstr(svg, "class=\"note\""));
	assert_non_null(strstr(svg, "merged"));
	/* Thin lanes: not every lane is labelled, and no span has room for its name. */
	assert_true(occurrences(svg, "class=\"lane-label\"") < 65);
	assert_null(strstr(svg, "class=\"span-label\""));
	free(svg);
}

/* A trace mpvm truncated: the note says how many events it dropped. */
static void writer_truncation_noted(void **state)
{
	char path[] = "/tmp/mpvm-test-trace-svg.XXXXXX";
	int fd = mkstemp(path);
	char err[256], *svg;
	struct trace *t;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	t = trace_open(path, 2, NULL, 3, err, sizeof(err));
	assert_non_null(t);
	for (uint64_t i = 0; i < 20; i++)
		trace_mp_state(t, 1, i % 2 ? MP_STATE_HALTED : MP_STATE_RUNNABLE, i * 1000);
	assert_int_equal(trace_close(t, 30000, err, sizeof(err)), 0);
	svg = render_file(path);
	unlink(path);
	assert_null(xml_problem(svg));
	assert_non_null(strstr(svg, "mpvm dropped 16 events past its bound"));
	free(svg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sample_picture),
		cmocka_unit_test(object_format),
		cmocka_unit_test(cut_file),
		cmocka_unit_test(hostile_names),
		cmocka_unit_test(refused),
		cmocka_unit_test(huge_trace_bounded),
		cmocka_unit_test(writer_truncation_noted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
