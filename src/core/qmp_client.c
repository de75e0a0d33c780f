#include "core/qmp_client.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/errmsg.h"
#include "core/qmp.h"

/* A line longer than this is not an answer mpvm or QEMU would send. */
#define CLIENT_MAX_LINE (64u << 20)

/* ---- the connection ------------------------------------------------------------- */

static int wait_readable(struct qmp_client *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, c->timeout_ms);
	while (r < 0 && errno == EINTR);
	return r;
}

struct json_object *qmp_client_next(struct qmp_client *c, char *err, size_t errlen)
{
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		ssize_t n;
		int r;

		if (nl) {
			size_t line = (size_t)(nl - c->buf) + 1;
			struct json_object *m;

			*nl = '\0';
			m = json_tokener_parse(c->buf);
			memmove(c->buf, c->buf + line, c->len - line);
			c->len -= line;
			if (!m) {
				errmsg(err, errlen, "the server sent a line that is not JSON");
				return NULL;
			}
			return m;
		}
		if (c->len + 4096 > c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 65536;
			char *p;

			if (cap > CLIENT_MAX_LINE) {
				errmsg(err, errlen, "the server sent a line longer than %u bytes", CLIENT_MAX_LINE);
				return NULL;
			}
			p = realloc(c->buf, cap);
			if (!p) {
				errmsg(err, errlen, "out of memory");
				return NULL;
			}
			c->buf = p;
			c->cap = cap;
		}
		r = wait_readable(c);
		if (r == 0) {
			errmsg(err, errlen, "no answer within %d ms", c->timeout_ms);
			return NULL;
		}
		n = r < 0 ? -1 : read(c->fd, c->buf + c->len, c->cap - c->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errmsg(err, errlen, n == 0 ? "the server closed the connection" : "reading: %s",
			       strerror(errno));
			return NULL;
		}
		c->len += (size_t)n;
	}
}

static int send_all(struct qmp_client *c, const char *s, size_t len, char *err, size_t errlen)
{
	while (len) {
		ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errmsg(err, errlen, "sending: %s", strerror(errno));
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

struct json_object *qmp_client_call(struct qmp_client *c, struct json_object *request, char *err, size_t errlen)
{
	const char *text = json_object_to_json_string_ext(request, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text);
	char *line = malloc(len + 2);
	int r;

	if (!line) {
		json_object_put(request);
		errmsg(err, errlen, "out of memory");
		return NULL;
	}
	/* One write: after quit the server may close before a second one. */
	memcpy(line, text, len);
	memcpy(line + len, "\n", 2);
	r = send_all(c, line, len + 1, err, errlen);
	free(line);
	json_object_put(request);
	if (r)
		return NULL;
	for (;;) {
		struct json_object *m = qmp_client_next(c, err, errlen);

		if (!m || !json_object_object_get_ex(m, "event", NULL))
			return m;
		json_object_put(m);
	}
}

int qmp_client_open(struct qmp_client *c, const char *path, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct json_object *m, *req;

	*c = (struct qmp_client){ .fd = -1, .timeout_ms = timeout_ms };
	if (strlen(path) >= sizeof(sa.sun_path))
		return errmsg(err, errlen, "%s: a socket path must be shorter than %zu bytes", path, sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		errmsg(err, errlen, "%s: %s", path, strerror(errno));
		qmp_client_close(c);
		return -1;
	}
	m = qmp_client_next(c, err, errlen);
	if (!m || !json_object_object_get_ex(m, "QMP", NULL)) {
		struct json_object *e, *desc;

		/* mpvm refuses a client with an error instead of the greeting (too many, wrong user). */
		if (m && json_object_object_get_ex(m, "error", &e) && json_object_object_get_ex(e, "desc", &desc))
			errmsg(err, errlen, "%s: refused: %s", path, json_object_get_string(desc));
		else if (m)
			errmsg(err, errlen, "%s: no QMP greeting (is it a QMP socket?)", path);
		json_object_put(m);
		qmp_client_close(c);
		return -1;
	}
	json_object_put(m);
	req = json_object_new_object();
	json_object_object_add(req, "execute", json_object_new_string("qmp_capabilities"));
	m = qmp_client_call(c, req, err, errlen);
	if (!m || !json_object_object_get_ex(m, "return", NULL)) {
		if (m)
			errmsg(err, errlen, "%s: qmp_capabilities was refused", path);
		json_object_put(m);
		qmp_client_close(c);
		return -1;
	}
	json_object_put(m);
	return 0;
}

void qmp_client_close(struct qmp_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	*c = (struct qmp_client){ .fd = -1 };
}

/* ---- requests ----------------------------------------------------------------------- */

/* A whole decimal integer (optional sign), as strtoll reads it. */
static bool parse_int(const char *s, int64_t *v)
{
	char *end;

	if (!*s)
		return false;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return !*end && !errno;
}

static struct json_object *guess(const char *v)
{
	int64_t n;

	if (parse_int(v, &n))
		return json_object_new_int64(n);
	if (!strcmp(v, "true") || !strcmp(v, "false"))
		return json_object_new_boolean(!strcmp(v, "true"));
	return json_object_new_string(v);
}

static const struct qmp_arg *table_arg(const struct qmp_command *cmd, const char *name, size_t len)
{
	for (unsigned int i = 0; cmd && i < QMP_MAX_ARGS && cmd->args[i].name; i++)
		if (strlen(cmd->args[i].name) == len && !strncmp(cmd->args[i].name, name, len))
			return &cmd->args[i];
	return NULL;
}

struct json_object *qmp_client_request(const char *cmd, char *const *words, int nwords, char *err, size_t errlen)
{
	const struct qmp_command *known = qmp_command_find(cmd);
	struct json_object *req = json_object_new_object(), *args = json_object_new_object();

	for (int i = 0; i < nwords; i++) {
		const char *eq = strchr(words[i], '=');
		const struct qmp_arg *a;
		struct json_object *val;
		char name[128];
		int64_t n;

		if (!eq || eq == words[i] || (size_t)(eq - words[i]) >= sizeof(name)) {
			errmsg(err, errlen, "'%s': arguments are name=value", words[i]);
			goto fail;
		}
		memcpy(name, words[i], (size_t)(eq - words[i]));
		name[eq - words[i]] = '\0';
		a = table_arg(known, name, strlen(name));
		if (!a) {
			val = guess(eq + 1);
		} else if (a->type == QMP_ARG_INT) {
			if (!parse_int(eq + 1, &n)) {
				errmsg(err, errlen, "%s: '%s' needs an integer, not '%s'", cmd, name, eq + 1);
				goto fail;
			}
			val = json_object_new_int64(n);
		} else if (a->type == QMP_ARG_BOOL) {
			if (strcmp(eq + 1, "true") && strcmp(eq + 1, "false")) {
				errmsg(err, errlen, "%s: '%s' needs true or false, not '%s'", cmd, name, eq + 1);
				goto fail;
			}
			val = json_object_new_boolean(!strcmp(eq + 1, "true"));
		} else if (a->type == QMP_ARG_ARRAY) {
			val = json_tokener_parse(eq + 1);
			if (!val || !json_object_is_type(val, json_type_array)) {
				json_object_put(val);
				errmsg(err, errlen, "%s: '%s' needs a JSON array, not '%s'", cmd, name, eq + 1);
				goto fail;
			}
		} else {
			val = json_object_new_string(eq + 1);
		}
		json_object_object_add(args, name, val);
	}
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (nwords)
		json_object_object_add(req, "arguments", args);
	else
		json_object_put(args);
	return req;
fail:
	json_object_put(args);
	json_object_put(req);
	return NULL;
}

/* ---- events -------------------------------------------------------------------------- */

/* A member's value as a word on the command line would give it: strings bare, the rest as JSON. */
static const char *as_word(struct json_object *v)
{
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v)
							: json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

bool qmp_client_event_matches(struct json_object *msg, const char *name, char *const *words, int nwords)
{
	struct json_object *ev, *data = NULL;

	if (!json_object_object_get_ex(msg, "event", &ev) || strcmp(json_object_get_string(ev), name))
		return false;
	json_object_object_get_ex(msg, "data", &data);
	for (int i = 0; i < nwords; i++) {
		const char *eq = strchr(words[i], '=');
		struct json_object *v;
		char key[128];

		if (!eq || (size_t)(eq - words[i]) >= sizeof(key))
			return false;
		memcpy(key, words[i], (size_t)(eq - words[i]));
		key[eq - words[i]] = '\0';
		if (!data || !json_object_object_get_ex(data, key, &v) || strcmp(as_word(v), eq + 1))
			return false;
	}
	return true;
}

void qmp_client_print_event(FILE *out, struct json_object *event)
{
	struct json_object *name = NULL, *data = NULL;

	json_object_object_get_ex(event, "event", &name);
	json_object_object_get_ex(event, "data", &data);
	fputs(name ? json_object_get_string(name) : "?", out);
	if (data && json_object_is_type(data, json_type_object)) {
		json_object_object_foreach(data, k, v)
			fprintf(out, " %s=%s", k, as_word(v));
	}
	fputc('\n', out);
}

/* ---- answers for people ---------------------------------------------------------------- */

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? as_word(v) : "-";
}

static bool flag(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static void print_cpus_fast(FILE *out, struct json_object *list)
{
	fprintf(out, "%-4s %-7s %-4s %-15s %-6s %-8s %s\n", "CPU", "APIC ID", "ROLE", "MP STATE", "PAUSED",
		"THREAD", "SOCKET/CORE/THREAD");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i), *props = NULL;

		json_object_object_get_ex(e, "props", &props);
		fprintf(out, "%-4s %-7s %-4s %-15s %-6s %-8s %s/%s/%s\n", str(e, "cpu-index"), str(e, "apic-id"),
			json_object_object_get_ex(e, "bsp", NULL) ? (flag(e, "bsp") ? "BSP" : "AP") : "-",
			str(e, "mp-state"), json_object_object_get_ex(e, "paused", NULL) ? (flag(e, "paused") ? "yes" : "no") : "-",
			str(e, "thread-id"), str(props, "socket-id"), str(props, "core-id"), str(props, "thread-id"));
	}
}

static void print_mp_state(FILE *out, struct json_object *r)
{
	struct json_object *list = NULL, *now = NULL;
	double now_ms;

	json_object_object_get_ex(r, "vcpus", &list);
	json_object_object_get_ex(r, "now-ns", &now);
	now_ms = now ? (double)json_object_get_int64(now) / 1e6 : 0;
	fprintf(out, "irqchip %s, VM time %.3f ms, events dropped %s\n", str(r, "irqchip"), now_ms,
		str(r, "events-dropped"));
	fprintf(out, "%-4s %-7s %-4s %-15s %-12s %-14s %-6s %-9s %s\n", "CPU", "APIC ID", "ROLE", "MP STATE",
		"SINCE (ms)", "THREAD", "PAUSED", "EXITS", "LAST SIPI");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i), *since, *sipi;
		char since_s[32] = "-", sipi_s[16] = "-";

		if (json_object_object_get_ex(e, "since-ns", &since))
			snprintf(since_s, sizeof(since_s), "%.3f", (double)json_object_get_int64(since) / 1e6);
		if (json_object_object_get_ex(e, "last-sipi-vector", &sipi))
			snprintf(sipi_s, sizeof(sipi_s), "0x%02x", (unsigned int)json_object_get_int(sipi));
		fprintf(out, "%-4s %-7s %-4s %-15s %-12s %-14s %-6s %-9s %s\n", str(e, "cpu-index"),
			str(e, "apic-id"), flag(e, "bsp") ? "BSP" : "AP", str(e, "mp-state"), since_s,
			str(e, "thread-state"), flag(e, "paused") ? "yes" : "no", str(e, "exits"), sipi_s);
	}
}

void qmp_client_print_answer(FILE *out, const char *cmd, struct json_object *answer)
{
	struct json_object *r, *e;

	if (json_object_object_get_ex(answer, "error", &e)) {
		fprintf(out, "error: %s: %s\n", str(e, "class"), str(e, "desc"));
		return;
	}
	if (!json_object_object_get_ex(answer, "return", &r)) {
		fprintf(out, "%s\n", json_object_to_json_string_ext(answer, JSON_C_TO_STRING_PLAIN));
		return;
	}
	if (!strcmp(cmd, "query-cpus-fast") && json_object_is_type(r, json_type_array)) {
		print_cpus_fast(out, r);
	} else if (!strcmp(cmd, "mpvm-query-mp-state") && json_object_is_type(r, json_type_object)) {
		print_mp_state(out, r);
	} else if (json_object_is_type(r, json_type_object) && json_object_object_length(r) == 0) {
		fputs("ok\n", out);
	} else if (json_object_is_type(r, json_type_object)) {
		json_object_object_foreach(r, k, v)
			fprintf(out, "%s: %s\n", k, as_word(v));
	} else if (json_object_is_type(r, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(r); i++)
			fprintf(out, "%s\n", as_word(json_object_array_get_idx(r, i)));
	} else {
		fprintf(out, "%s\n", as_word(r));
	}
}
