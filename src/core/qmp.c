#include "core/qmp.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every command and its arguments: the session checks requests against this
 * table, so a handler in kvm/control.c sees only arguments of the right
 * names and types. QEMU's commands keep QEMU's names and argument shapes.
 */
const struct qmp_command qmp_commands[QMP_CMD_COUNT] = {
	[QMP_CMD_CAPABILITIES] = { .name = "qmp_capabilities", .args = { { "enable", QMP_ARG_ARRAY, false } } },
	[QMP_CMD_QUERY_VERSION] = { .name = "query-version" },
	[QMP_CMD_QUERY_COMMANDS] = { .name = "query-commands" },
	[QMP_CMD_QUERY_STATUS] = { .name = "query-status" },
	[QMP_CMD_STOP] = { .name = "stop" },
	[QMP_CMD_CONT] = { .name = "cont" },
	[QMP_CMD_QUIT] = { .name = "quit" },
	[QMP_CMD_SYSTEM_RESET] = { .name = "system_reset" },
	[QMP_CMD_QUERY_CPUS_FAST] = { .name = "query-cpus-fast" },
	[QMP_CMD_INJECT_NMI] = { .name = "inject-nmi" },
	[QMP_CMD_MP_STATE] = { .name = "mpvm-query-mp-state", .args = { { "refresh", QMP_ARG_BOOL, false } } },
	[QMP_CMD_VCPU_PAUSE] = { .name = "mpvm-vcpu-pause", .args = { { "cpu-index", QMP_ARG_INT, true } } },
	[QMP_CMD_VCPU_RESUME] = { .name = "mpvm-vcpu-resume", .args = { { "cpu-index", QMP_ARG_INT, true } } },
	[QMP_CMD_SEND] = { .name = "mpvm-send", .args = { { "cpu-index", QMP_ARG_INT, false },
					  { "apic-id", QMP_ARG_INT, false },
					  { "type", QMP_ARG_STRING, true },
					  { "vector", QMP_ARG_INT, false } } },
	[QMP_CMD_SNAPSHOT] = { .name = "mpvm-snapshot", .args = { { "path", QMP_ARG_STRING, true },
					      { "quit", QMP_ARG_BOOL, false } } },
	[QMP_CMD_FAULT] = { .name = "mpvm-fault", .args = { { "cpu-index", QMP_ARG_INT, true },
					   { "type", QMP_ARG_STRING, true },
					   { "action", QMP_ARG_STRING, true },
					   { "count", QMP_ARG_INT, false },
					   { "delay-ms", QMP_ARG_INT, false },
					   { "seed", QMP_ARG_INT, false } } },
	[QMP_CMD_CPU_ADD] = { .name = "mpvm-cpu-add", .args = { { "cpu-index", QMP_ARG_INT, true } } },
	[QMP_CMD_CPU_DEL] = { .name = "mpvm-cpu-del", .args = { { "cpu-index", QMP_ARG_INT, true } } },
};

const struct qmp_command *qmp_command_find(const char *name)
{
	for (unsigned int i = 0; i < QMP_CMD_COUNT; i++)
		if (!strcmp(qmp_commands[i].name, name))
			return &qmp_commands[i];
	return NULL;
}

void qmp_call_release(struct qmp_call *call)
{
	json_object_put(call->args);
	json_object_put(call->id);
	call->args = call->id = NULL;
}

/* ---- output ------------------------------------------------------------------ */

/* The object as one line plus CRLF; takes `obj`. */
static char *format_line(struct json_object *obj)
{
	const char *s;
	char *out = NULL;

	if (!obj)
		return NULL;
	s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s && asprintf(&out, "%s\r\n", s) < 0)
		out = NULL;
	json_object_put(obj);
	return out;
}

/* `id` is the caller's: the reply holds its own reference. */
static void add_id(struct json_object *o, struct json_object *id)
{
	if (id)
		json_object_object_add(o, "id", json_object_get(id));
}

char *qmp_format_return(struct json_object *ret, struct json_object *id)
{
	struct json_object *o = json_object_new_object();

	if (!o) {
		json_object_put(ret);
		return NULL;
	}
	json_object_object_add(o, "return", ret ? ret : json_object_new_object());
	add_id(o, id);
	return format_line(o);
}

char *qmp_format_error(const char *cls, const char *desc, struct json_object *id)
{
	struct json_object *o = json_object_new_object(), *e = json_object_new_object();

	if (!o || !e) {
		json_object_put(o);
		json_object_put(e);
		return NULL;
	}
	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(o, "error", e);
	add_id(o, id);
	return format_line(o);
}

char *qmp_format_event(const char *name, struct json_object *data, uint64_t realtime_ns)
{
	struct json_object *o = json_object_new_object(), *ts = json_object_new_object();

	if (!o || !ts) {
		json_object_put(o);
		json_object_put(ts);
		json_object_put(data);
		return NULL;
	}
	json_object_object_add(o, "event", json_object_new_string(name));
	if (data)
		json_object_object_add(o, "data", data);
	json_object_object_add(ts, "seconds", json_object_new_int64((int64_t)(realtime_ns / 1000000000u)));
	json_object_object_add(ts, "microseconds",
			       json_object_new_int64((int64_t)(realtime_ns % 1000000000u / 1000u)));
	json_object_object_add(o, "timestamp", ts);
	return format_line(o);
}

char *qmp_format_greeting(int major, int minor, int micro)
{
	struct json_object *o = json_object_new_object(), *q = json_object_new_object();
	struct json_object *v = json_object_new_object(), *n = json_object_new_object();

	if (!o || !q || !v || !n) {
		json_object_put(o);
		json_object_put(q);
		json_object_put(v);
		json_object_put(n);
		return NULL;
	}
	json_object_object_add(n, "major", json_object_new_int(major));
	json_object_object_add(n, "minor", json_object_new_int(minor));
	json_object_object_add(n, "micro", json_object_new_int(micro));
	json_object_object_add(v, "qemu", n);
	json_object_object_add(v, "package", json_object_new_string("mpvm"));
	json_object_object_add(q, "version", v);
	json_object_object_add(q, "capabilities", json_object_new_array());
	json_object_object_add(o, "QMP", q);
	return format_line(o);
}

/* ---- checking a request -------------------------------------------------------- */

static char *errorf(struct json_object *id, const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static char *errorf(struct json_object *id, const char *cls, const char *fmt, ...)
{
	char desc[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	return qmp_format_error(cls, desc, id);
}

static const char *const type_names[] = {
	[QMP_ARG_INT] = "integer", [QMP_ARG_STRING] = "string",
	[QMP_ARG_BOOL] = "boolean", [QMP_ARG_ARRAY] = "array",
};

static bool type_ok(struct json_object *v, enum qmp_arg_type t)
{
	switch (t) {
	case QMP_ARG_INT: return json_object_is_type(v, json_type_int);
	case QMP_ARG_STRING: return json_object_is_type(v, json_type_string);
	case QMP_ARG_BOOL: return json_object_is_type(v, json_type_boolean);
	case QMP_ARG_ARRAY: return json_object_is_type(v, json_type_array);
	}
	return false;
}

static const struct qmp_arg *arg_find(const struct qmp_command *c, const char *name)
{
	for (unsigned int i = 0; i < QMP_MAX_ARGS && c->args[i].name; i++)
		if (!strcmp(c->args[i].name, name))
			return &c->args[i];
	return NULL;
}

/* NULL if `args` fits the command, else the error reply. */
static char *check_args(const struct qmp_command *c, struct json_object *args, struct json_object *id)
{
	json_object_object_foreach(args, key, val) {
		const struct qmp_arg *a = arg_find(c, key);

		if (!a)
			return errorf(id, QMP_ERR_GENERIC, "Parameter '%s' is unexpected (%s takes %s)", key,
				      c->name, c->args[0].name ? "other parameters" : "none");
		if (!type_ok(val, a->type))
			return errorf(id, QMP_ERR_GENERIC, "Invalid parameter type for '%s', expected: %s",
				      key, type_names[a->type]);
	}
	for (unsigned int i = 0; i < QMP_MAX_ARGS && c->args[i].name; i++)
		if (c->args[i].required && !json_object_object_get_ex(args, c->args[i].name, NULL))
			return errorf(id, QMP_ERR_GENERIC, "Parameter '%s' is missing", c->args[i].name);
	return NULL;
}

enum qmp_feed qmp_check_request(struct json_object *req, bool negotiated, struct qmp_call *call,
				char **reply)
{
	struct json_object *exec = NULL, *args = NULL, *id = NULL;
	const struct qmp_command *c;

	*call = (struct qmp_call){ 0 };
	if (!json_object_is_type(req, json_type_object)) {
		*reply = qmp_format_error(QMP_ERR_GENERIC, "QMP input must be a JSON object", NULL);
		return QMP_FEED_REPLY;
	}
	json_object_object_get_ex(req, "id", &id);
	json_object_object_foreach(req, key, val) {
		(void)val;
		if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
			*reply = errorf(id, QMP_ERR_GENERIC, "QMP input member '%s' is unexpected", key);
			return QMP_FEED_REPLY;
		}
	}
	if (!json_object_object_get_ex(req, "execute", &exec)) {
		*reply = errorf(id, QMP_ERR_GENERIC, "QMP input lacks member 'execute'");
		return QMP_FEED_REPLY;
	}
	if (!json_object_is_type(exec, json_type_string)) {
		*reply = errorf(id, QMP_ERR_GENERIC, "QMP input member 'execute' must be a string");
		return QMP_FEED_REPLY;
	}
	if (json_object_object_get_ex(req, "arguments", &args) && !json_object_is_type(args, json_type_object)) {
		*reply = errorf(id, QMP_ERR_GENERIC, "QMP input member 'arguments' must be an object");
		return QMP_FEED_REPLY;
	}
	c = qmp_command_find(json_object_get_string(exec));
	if (!negotiated && (!c || c - qmp_commands != QMP_CMD_CAPABILITIES)) {
		*reply = errorf(id, QMP_ERR_NOT_FOUND,
				"Expecting capabilities negotiation with 'qmp_capabilities'");
		return QMP_FEED_REPLY;
	}
	if (!c) {
		*reply = errorf(id, QMP_ERR_NOT_FOUND, "The command %.160s has not been found",
				json_object_get_string(exec));
		return QMP_FEED_REPLY;
	}
	if (negotiated && c - qmp_commands == QMP_CMD_CAPABILITIES) {
		*reply = errorf(id, QMP_ERR_NOT_FOUND,
				"Capabilities negotiation is already complete, command ignored");
		return QMP_FEED_REPLY;
	}
	call->args = args ? json_object_get(args) : json_object_new_object();
	if (call->args && (*reply = check_args(c, call->args, id))) {
		qmp_call_release(call);
		return QMP_FEED_REPLY;
	}
	call->cmd = (enum qmp_cmd)(c - qmp_commands);
	call->id = id ? json_object_get(id) : NULL;
	if (!call->args) {
		qmp_call_release(call);
		*reply = qmp_format_error(QMP_ERR_GENERIC, "out of memory", id);
		return QMP_FEED_REPLY;
	}
	return QMP_FEED_CALL;
}

/* ---- the byte stream ------------------------------------------------------------- */

int qmp_session_init(struct qmp_session *s)
{
	*s = (struct qmp_session){ .tok = json_tokener_new() };
	return s->tok ? 0 : -1;
}

void qmp_session_free(struct qmp_session *s)
{
	if (s->tok)
		json_tokener_free(s->tok);
	*s = (struct qmp_session){ 0 };
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* After an error the rest of the line goes: a client that sent garbage gets one answer for it. */
static enum qmp_feed fail(struct qmp_session *s, char **reply, char *msg)
{
	json_tokener_reset(s->tok);
	s->pending = 0;
	s->skip_line = true;
	*reply = msg;
	return QMP_FEED_REPLY;
}

enum qmp_feed qmp_session_feed(struct qmp_session *s, const char *buf, size_t len, size_t *used,
			       struct qmp_call *call, char **reply)
{
	size_t off = 0, room, n;
	struct json_object *req;
	enum json_tokener_error jerr;

	*reply = NULL;
	if (s->skip_line) {
		const char *nl = memchr(buf, '\n', len);

		if (!nl) {
			*used = len;
			return QMP_FEED_MORE;
		}
		off = (size_t)(nl - buf) + 1;
		s->skip_line = false;
	}
	if (!s->pending)
		while (off < len && is_space(buf[off]))
			off++;
	if (off == len) {
		*used = len;
		return QMP_FEED_MORE;
	}
	room = QMP_MAX_REQUEST - s->pending;
	n = len - off < room ? len - off : room;
	req = json_tokener_parse_ex(s->tok, buf + off, (int)n);
	jerr = json_tokener_get_error(s->tok);
	if (!req && jerr == json_tokener_continue) {
		s->pending += n;
		*used = off + n;
		if (s->pending < QMP_MAX_REQUEST)
			return QMP_FEED_MORE;
		return fail(s, reply, errorf(NULL, QMP_ERR_GENERIC,
					     "QMP request too long: more than %u bytes (the rest of its "
					     "line is ignored)", QMP_MAX_REQUEST));
	}
	if (!req && jerr != json_tokener_success) {
		/* Up to the error only: the rest of its line goes, the next line is a new request. */
		*used = off + json_tokener_get_parse_end(s->tok);
		return fail(s, reply, errorf(NULL, QMP_ERR_GENERIC, "JSON parse error, %s",
					     json_tokener_error_desc(jerr)));
	}
	/* A complete value (json null is a value too, returned as NULL). */
	*used = off + json_tokener_get_parse_end(s->tok);
	json_tokener_reset(s->tok);
	s->pending = 0;
	if (qmp_check_request(req, s->negotiated, call, reply) == QMP_FEED_REPLY) {
		json_object_put(req);
		return QMP_FEED_REPLY;
	}
	json_object_put(req);
	if (call->cmd == QMP_CMD_CAPABILITIES) {
		struct json_object *en = NULL;

		if (json_object_object_get_ex(call->args, "enable", &en) && json_object_array_length(en) > 0) {
			*reply = errorf(call->id, QMP_ERR_GENERIC,
					"Capability '%.64s' not available: mpvm offers none",
					json_object_get_string(json_object_array_get_idx(en, 0)));
		} else {
			s->negotiated = true;
			*reply = qmp_format_return(NULL, call->id);
		}
		qmp_call_release(call);
		return QMP_FEED_REPLY;
	}
	return QMP_FEED_CALL;
}

/* ---- arguments ------------------------------------------------------------------------ */

bool qmp_arg_has(const struct qmp_call *call, const char *name)
{
	return json_object_object_get_ex(call->args, name, NULL);
}

int64_t qmp_arg_int(const struct qmp_call *call, const char *name, int64_t def)
{
	struct json_object *v;

	return json_object_object_get_ex(call->args, name, &v) ? json_object_get_int64(v) : def;
}

const char *qmp_arg_string(const struct qmp_call *call, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(call->args, name, &v) ? json_object_get_string(v) : NULL;
}

bool qmp_arg_bool(const struct qmp_call *call, const char *name, bool def)
{
	struct json_object *v;

	return json_object_object_get_ex(call->args, name, &v) ? json_object_get_boolean(v) : def;
}
