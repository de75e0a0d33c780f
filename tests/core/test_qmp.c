/* Unit tests of core/qmp.c: the QMP session, request checks and formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "core/qmp.h"

/*
 * Feeds `in` whole to a session; returns the first outcome that is not
 * MORE (or MORE), with the reply decoded into *out (NULL if none).
 */
static enum qmp_feed feed(struct qmp_session *s, const char *in, struct qmp_call *call,
			  struct json_object **out)
{
	size_t off = 0, len = strlen(in);

	*out = NULL;
	while (off < len) {
		size_t used;
		char *reply;
		enum qmp_feed r = qmp_session_feed(s, in + off, len - off, &used, call, &reply);

		assert_true(used <= len - off);
		off += used;
		if (r == QMP_FEED_REPLY) {
			assert_non_null(reply);
			assert_true(strlen(reply) >= 2 && !strcmp(reply + strlen(reply) - 2, "\r\n"));
			*out = json_tokener_parse(reply);
			free(reply);
			/* The rest of the line (after an error, skipped) leaves nothing to answer. */
			while (off < len) {
				assert_int_equal(qmp_session_feed(s, in + off, len - off, &used, call, &reply),
						 QMP_FEED_MORE);
				off += used;
			}
			return r;
		}
		if (r == QMP_FEED_CALL)
			return r;
	}
	return QMP_FEED_MORE;
}

static const char *err_class(struct json_object *o)
{
	struct json_object *e, *c;

	return json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(e, "class", &c)
		       ? json_object_get_string(c) : "";
}

static const char *err_desc(struct json_object *o)
{
	struct json_object *e, *d;

	return json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(e, "desc", &d)
		       ? json_object_get_string(d) : "";
}

static void negotiated_session(struct qmp_session *s)
{
	struct qmp_call call;
	struct json_object *o;

	assert_int_equal(qmp_session_init(s), 0);
	assert_int_equal(feed(s, "{\"execute\": \"qmp_capabilities\"}\n", &call, &o), QMP_FEED_REPLY);
	assert_true(json_object_object_get_ex(o, "return", NULL));
	json_object_put(o);
	assert_true(s->negotiated);
}

static void negotiation_comes_first(void **state)
{
	struct qmp_session s;
	struct qmp_call call;
	struct json_object *o, *id;

	(void)state;
	assert_int_equal(qmp_session_init(&s), 0);
	assert_int_equal(feed(&s, "{\"execute\":\"query-status\",\"id\":7}\n", &call, &o), QMP_FEED_REPLY);
	assert_string_equal(err_class(o), "CommandNotFound");
	assert_non_null(strstr(err_desc(o), "qmp_capabilities"));
	assert_true(json_object_object_get_ex(o, "id", &id) && json_object_get_int(id) == 7);
	json_object_put(o);
	assert_false(s.negotiated);
	assert_int_equal(feed(&s, "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}",
			      &call, &o), QMP_FEED_REPLY);
	assert_string_equal(err_class(o), "GenericError");
	json_object_put(o);
	assert_false(s.negotiated);
	assert_int_equal(feed(&s, "{\"execute\":\"qmp_capabilities\"}", &call, &o), QMP_FEED_REPLY);
	json_object_put(o);
	assert_true(s.negotiated);
	assert_int_equal(feed(&s, "{\"execute\":\"qmp_capabilities\"}", &call, &o), QMP_FEED_REPLY);
	assert_string_equal(err_class(o), "CommandNotFound");
	json_object_put(o);
	qmp_session_free(&s);
}

static void a_call_with_arguments_and_id(void **state)
{
	struct qmp_session s;
	struct qmp_call call;
	struct json_object *o;
	char *reply;

	(void)state;
	negotiated_session(&s);
	/* In two pieces, as a socket may deliver it. */
	assert_int_equal(feed(&s, "{\"execute\":\"mpvm-send\",\"argu", &call, &o), QMP_FEED_MORE);
	assert_int_equal(feed(&s, "ments\":{\"cpu-index\":1,\"type\":\"sipi\",\"vector\":8},\"id\":\"x\"}\r\n",
			      &call, &o), QMP_FEED_CALL);
	assert_int_equal(call.cmd, QMP_CMD_SEND);
	assert_true(qmp_arg_has(&call, "cpu-index") && !qmp_arg_has(&call, "apic-id"));
	assert_int_equal(qmp_arg_int(&call, "vector", -1), 8);
	assert_int_equal(qmp_arg_int(&call, "apic-id", -1), -1);
	assert_string_equal(qmp_arg_string(&call, "type"), "sipi");
	reply = qmp_format_return(NULL, call.id);
	assert_string_equal(reply, "{\"return\":{},\"id\":\"x\"}\r\n");
	free(reply);
	qmp_call_release(&call);
	qmp_session_free(&s);
}

static void bad_requests_name_the_problem(void **state)
{
	static const struct { const char *in, *cls, *desc; } cases[] = {
		{ "{\"execute\": ]\n", "GenericError", "JSON parse error" },
		{ "[1]\n", "GenericError", "must be a JSON object" },
		{ "null\n", "GenericError", "must be a JSON object" },
		{ "{\"arguments\":{}}\n", "GenericError", "lacks member 'execute'" },
		{ "{\"execute\":3}\n", "GenericError", "'execute' must be a string" },
		{ "{\"execute\":\"stop\",\"x\":1}\n", "GenericError", "member 'x' is unexpected" },
		{ "{\"execute\":\"stop\",\"arguments\":[]}\n", "GenericError", "'arguments' must be an object" },
		{ "{\"execute\":\"nope\"}\n", "CommandNotFound", "The command nope has not been found" },
		{ "{\"execute\":\"mpvm-vcpu-pause\"}\n", "GenericError", "Parameter 'cpu-index' is missing" },
		{ "{\"execute\":\"mpvm-vcpu-pause\",\"arguments\":{\"cpu-index\":\"1\"}}\n", "GenericError",
		  "Invalid parameter type for 'cpu-index', expected: integer" },
		{ "{\"execute\":\"stop\",\"arguments\":{\"now\":true}}\n", "GenericError",
		  "Parameter 'now' is unexpected" },
	};
	struct qmp_session s;

	(void)state;
	negotiated_session(&s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct qmp_call call;
		struct json_object *o;

		assert_int_equal(feed(&s, cases[i].in, &call, &o), QMP_FEED_REPLY);
		assert_string_equal(err_class(o), cases[i].cls);
		if (!strstr(err_desc(o), cases[i].desc))
			fail_msg("%s: got '%s', want '%s'", cases[i].in, err_desc(o), cases[i].desc);
		json_object_put(o);
	}
	qmp_session_free(&s);
}

/* After an error, the rest of that line goes and the next line is served. */
static void recovers_at_the_next_line(void **state)
{
	struct qmp_session s;
	struct qmp_call call;
	struct json_object *o;
	const char *in = "{\"execute\": ] trailing garbage {\n{\"execute\":\"stop\"}\n";
	size_t off = 0, used;
	char *reply;

	(void)state;
	negotiated_session(&s);
	assert_int_equal(qmp_session_feed(&s, in, strlen(in), &used, &call, &reply), QMP_FEED_REPLY);
	free(reply);
	off = used;
	for (;;) {
		enum qmp_feed r = qmp_session_feed(&s, in + off, strlen(in) - off, &used, &call, &reply);

		off += used;
		if (r == QMP_FEED_CALL)
			break;
		assert_int_equal(r, QMP_FEED_MORE);
		assert_true(off < strlen(in));
	}
	assert_int_equal(call.cmd, QMP_CMD_STOP);
	qmp_call_release(&call);
	(void)o;
	qmp_session_free(&s);
}

static void long_requests_are_refused(void **state)
{
	struct qmp_session s;
	struct qmp_call call;
	struct json_object *o;
	size_t n = QMP_MAX_REQUEST + 100;
	char *big = malloc(n + 32);

	(void)state;
	negotiated_session(&s);
	strcpy(big, "{\"execute\":\"stop\",\"id\":\"");
	memset(big + strlen(big), 'a', n);
	strcpy(big + n, "\"}\n");
	assert_int_equal(feed(&s, big, &call, &o), QMP_FEED_REPLY);
	assert_non_null(strstr(err_desc(o), "too long"));
	json_object_put(o);
	assert_int_equal(feed(&s, "{\"execute\":\"cont\"}\n", &call, &o), QMP_FEED_CALL);
	assert_int_equal(call.cmd, QMP_CMD_CONT);
	qmp_call_release(&call);
	free(big);
	qmp_session_free(&s);
}

static void formats(void **state)
{
	struct json_object *id = json_object_new_int(3), *data = json_object_new_object();
	char *s;

	(void)state;
	s = qmp_format_error(QMP_ERR_GENERIC, "bad", id);
	assert_string_equal(s, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"bad\"},\"id\":3}\r\n");
	free(s);
	json_object_object_add(data, "cpu-index", json_object_new_int(1));
	s = qmp_format_event("MP_STATE_CHANGE", data, 1500000123456ull);
	assert_string_equal(s, "{\"event\":\"MP_STATE_CHANGE\",\"data\":{\"cpu-index\":1},"
			       "\"timestamp\":{\"seconds\":1500,\"microseconds\":123}}\r\n");
	free(s);
	s = qmp_format_event("STOP", NULL, 0);
	assert_string_equal(s, "{\"event\":\"STOP\",\"timestamp\":{\"seconds\":0,\"microseconds\":0}}\r\n");
	free(s);
	s = qmp_format_greeting(0, 1, 0);
	assert_string_equal(s, "{\"QMP\":{\"version\":{\"qemu\":{\"major\":0,\"minor\":1,\"micro\":0},"
			       "\"package\":\"mpvm\"},\"capabilities\":[]}}\r\n");
	free(s);
	json_object_put(id);
}

static void the_table(void **state)
{
	(void)state;
	for (unsigned int i = 0; i < QMP_CMD_COUNT; i++) {
		assert_non_null(qmp_commands[i].name);
		assert_ptr_equal(qmp_command_find(qmp_commands[i].name), &qmp_commands[i]);
	}
	assert_null(qmp_command_find("query-cpus")); /* QEMU removed it; so has mpvm never had it */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(negotiation_comes_first),
		cmocka_unit_test(a_call_with_arguments_and_id),
		cmocka_unit_test(bad_requests_name_the_problem),
		cmocka_unit_test(recovers_at_the_next_line),
		cmocka_unit_test(long_requests_are_refused),
		cmocka_unit_test(formats),
		cmocka_unit_test(the_table),
	};

	return cmocka_run_group_tests_name("qmp", tests, NULL, NULL);
}
