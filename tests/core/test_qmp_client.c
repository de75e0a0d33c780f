/* Unit tests of core/qmp_client.c: requests from name=value words, event matching, printing for people. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/qmp_client.h"

static char *request(const char *cmd, char **words, int n, char *err)
{
	struct json_object *r = qmp_client_request(cmd, words, n, err, 256);
	char *s;

	if (!r)
		return NULL;
	s = strdup(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
	json_object_put(r);
	return s;
}

/* A known command's arguments take their table types; unknown ones are guessed. */
static void typed_arguments(void **state)
{
	char err[256], *s;
	char *a[] = { "cpu-index=2", "type=sipi", "vector=10" }, *b[] = { "refresh=true" };
	char *c[] = { "cpu-index=two" }, *d[] = { "refresh=yes" }, *e[] = { "x=1", "y=false", "z=abc" };
	char *f[] = { "novalue" }, *g[] = { "type=123" };

	(void)state;
	s = request("mpvm-send", a, 3, err);
	assert_string_equal(s, "{\"execute\":\"mpvm-send\",\"arguments\":{\"cpu-index\":2,\"type\":\"sipi\",\"vector\":10}}");
	free(s);
	s = request("query-status", NULL, 0, err);
	assert_string_equal(s, "{\"execute\":\"query-status\"}");
	free(s);
	s = request("mpvm-query-mp-state", b, 1, err);
	assert_string_equal(s, "{\"execute\":\"mpvm-query-mp-state\",\"arguments\":{\"refresh\":true}}");
	free(s);
	/* a string argument stays a string even when it looks like a number */
	s = request("mpvm-send", g, 1, err);
	assert_string_equal(s, "{\"execute\":\"mpvm-send\",\"arguments\":{\"type\":\"123\"}}");
	free(s);
	s = request("some-qemu-command", e, 3, err);
	assert_string_equal(s, "{\"execute\":\"some-qemu-command\",\"arguments\":{\"x\":1,\"y\":false,\"z\":\"abc\"}}");
	free(s);
	assert_null(request("mpvm-vcpu-pause", c, 1, err));
	assert_string_equal(err, "mpvm-vcpu-pause: 'cpu-index' needs an integer, not 'two'");
	assert_null(request("mpvm-query-mp-state", d, 1, err));
	assert_string_equal(err, "mpvm-query-mp-state: 'refresh' needs true or false, not 'yes'");
	assert_null(request("stop", f, 1, err));
	assert_string_equal(err, "'novalue': arguments are name=value");
}

static void event_matching(void **state)
{
	struct json_object *ev = json_tokener_parse(
		"{\"event\":\"MP_STATE_CHANGE\",\"data\":{\"cpu-index\":3,\"from\":\"HALTED\",\"to\":\"INIT_RECEIVED\"},"
		"\"timestamp\":{\"seconds\":1,\"microseconds\":2}}");
	char *yes[] = { "cpu-index=3", "to=INIT_RECEIVED" }, *no[] = { "cpu-index=2" }, *absent[] = { "vector=1" };

	(void)state;
	assert_true(qmp_client_event_matches(ev, "MP_STATE_CHANGE", NULL, 0));
	assert_true(qmp_client_event_matches(ev, "MP_STATE_CHANGE", yes, 2));
	assert_false(qmp_client_event_matches(ev, "MP_STATE_CHANGE", no, 1));
	assert_false(qmp_client_event_matches(ev, "MP_STATE_CHANGE", absent, 1));
	assert_false(qmp_client_event_matches(ev, "STOP", NULL, 0));
	json_object_put(ev);
}

/* What a printer writes for `json`, as a string. */
static char *printed(const char *cmd, const char *json, bool event)
{
	struct json_object *m = json_tokener_parse(json);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(m);
	if (event)
		qmp_client_print_event(f, m);
	else
		qmp_client_print_answer(f, cmd, m);
	fclose(f);
	json_object_put(m);
	return buf;
}

static void printing(void **state)
{
	char *s;

	(void)state;
	s = printed("stop", "{\"return\":{}}", false);
	assert_string_equal(s, "ok\n");
	free(s);
	s = printed("query-status", "{\"return\":{\"running\":true,\"status\":\"running\"}}", false);
	assert_string_equal(s, "running: true\nstatus: running\n");
	free(s);
	s = printed("x", "{\"error\":{\"class\":\"GenericError\",\"desc\":\"no\"}}", false);
	assert_string_equal(s, "error: GenericError: no\n");
	free(s);
	s = printed("mpvm-query-mp-state", "{\"return\":{\"irqchip\":\"user\",\"now-ns\":2000000,\"events-dropped\":0,"
		    "\"vcpus\":[{\"cpu-index\":0,\"apic-id\":0,\"bsp\":true,\"mp-state\":\"RUNNABLE\",\"since-ns\":1500000,"
		    "\"thread-state\":\"running\",\"paused\":false,\"exits\":7},{\"cpu-index\":1,\"apic-id\":2,\"bsp\":false,"
		    "\"mp-state\":\"INIT_RECEIVED\",\"thread-state\":\"paused\",\"paused\":true,\"exits\":3,"
		    "\"last-sipi-vector\":8}]}}", false);
	assert_non_null(strstr(s, "irqchip user, VM time 2.000 ms, events dropped 0\n"));
	assert_non_null(strstr(s, "\n0    0       BSP  RUNNABLE        1.500        running        no     7         -\n"));
	assert_non_null(strstr(s, "\n1    2       AP   INIT_RECEIVED   -            paused         yes    3         0x08\n"));
	free(s);
	s = printed("query-cpus-fast", "{\"return\":[{\"cpu-index\":1,\"apic-id\":1,\"bsp\":false,\"mp-state\":\"HALTED\","
		    "\"paused\":false,\"thread-id\":42,\"props\":{\"socket-id\":0,\"core-id\":1,\"thread-id\":0}}]}", false);
	assert_non_null(strstr(s, "\n1    1       AP   HALTED          no     42       0/1/0\n"));
	free(s);
	s = printed(NULL, "{\"event\":\"STOP\",\"timestamp\":{\"seconds\":1,\"microseconds\":0}}", true);
	assert_string_equal(s, "STOP\n");
	free(s);
	s = printed(NULL, "{\"event\":\"VCPU_STUCK\",\"data\":{\"cpu-index\":3,\"mp-state\":\"INIT_RECEIVED\"}}", true);
	assert_string_equal(s, "VCPU_STUCK cpu-index=3 mp-state=INIT_RECEIVED\n");
	free(s);
}

/* Opening a path with nothing there fails with the path and the reason. */
static void open_errors(void **state)
{
	struct qmp_client c;
	char err[256];

	(void)state;
	assert_int_equal(qmp_client_open(&c, "/nonexistent/mpvm.qmp", 100, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/mpvm.qmp: No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(typed_arguments),
		cmocka_unit_test(event_matching),
		cmocka_unit_test(printing),
		cmocka_unit_test(open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
