#include "core/trace_read.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HASH_SLOTS (2 * TRACE_READ_LANES_MAX)
/* Times beyond this (about 3000 years in microseconds) are garbage, not a trace. */
#define TS_LIMIT 1e17

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* How much of s a name keeps: at most TRACE_READ_NAME_CHARS bytes, not cutting a UTF-8 character in two. */
static size_t name_len(const char *s)
{
	size_t n = strnlen(s, TRACE_READ_NAME_CHARS);

	if (s[n] != '\0')
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	return n;
}

static char *copy_name(const char *s)
{
	return strndup(s, name_len(s));
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A number (integer or not), finite and within TS_LIMIT. */
static bool get_num(json_object *o, const char *key, double *out)
{
	json_object *v;
	double d;

	if (!json_object_object_get_ex(o, key, &v))
		return false;
	if (json_object_is_type(v, json_type_int))
		d = (double)json_object_get_int64(v);
	else if (json_object_is_type(v, json_type_double))
		d = json_object_get_double(v);
	else
		return false;
	if (!isfinite(d) || d > TS_LIMIT || d < -TS_LIMIT)
		return false;
	*out = d;
	return true;
}

/* pid and tid: integers as they should be; a string or anything else by its hash, so tracks stay apart. */
static int64_t get_id(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	return (int64_t)(fnv(0xcbf29ce484222325ull, json_object_to_json_string(v)) >> 1);
}

static int lane_of(struct trace_model *m, int64_t pid, int64_t tid)
{
	uint64_t h = ((uint64_t)pid * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)tid * 0xc2b2ae3d27d4eb4full);
	unsigned int slot = (unsigned int)(h % HASH_SLOTS);

	for (;;) {
		int32_t i = m->lane_hash[slot];

		if (i < 0)
			break;
		if (m->lanes[i].pid == pid && m->lanes[i].tid == tid)
			return i;
		slot = (slot + 1) % HASH_SLOTS;
	}
	if (m->nlanes == TRACE_READ_LANES_MAX)
		return -1;
	m->lanes[m->nlanes] = (struct trace_lane){ .pid = pid, .tid = tid };
	m->lane_hash[slot] = (int32_t)m->nlanes;
	return (int)m->nlanes++;
}

static uint32_t name_of(struct trace_model *m, const char *s)
{
	size_t n = name_len(s);
	char *copy;

	for (unsigned int i = 0; i < m->nnames; i++)
		if (!strncmp(m->names[i], s, n) && m->names[i][n] == '\0')
			return i;
	/* The last slot is for every name that found none. */
	if (m->nnames >= TRACE_READ_NAMES_MAX - 1 || !(copy = copy_name(s))) {
		for (unsigned int i = 0; i < m->nnames; i++)
			if (!strcmp(m->names[i], "(other)"))
				return i;
		copy = strdup("(other)");
		if (!copy)
			return 0; /* a name is only a label: the first one will do */
	}
	m->names[m->nnames] = copy;
	return m->nnames++;
}

/* Room for one more item in a vector, growing it up to TRACE_READ_ITEMS_MAX. */
static bool room(void **v, size_t n, size_t *cap, size_t size)
{
	size_t c;
	void *p;

	if (n < *cap)
		return true;
	if (n >= TRACE_READ_ITEMS_MAX)
		return false;
	c = *cap ? *cap * 2 : 256;
	if (c > TRACE_READ_ITEMS_MAX)
		c = TRACE_READ_ITEMS_MAX;
	p = realloc(*v, c * size);
	if (!p)
		return false;
	*v = p;
	*cap = c;
	return true;
}

static void seen_time(struct trace_model *m, double from, double to)
{
	if (from < m->t_min)
		m->t_min = from;
	if (to > m->t_max)
		m->t_max = to;
}

static void read_meta(struct trace_model *m, json_object *ev, const char *name, int64_t pid, int64_t tid)
{
	json_object *args;
	const char *s;
	double d;
	int lane;

	if (!json_object_object_get_ex(ev, "args", &args))
		return;
	if (!strcmp(name, "process_name") || !strcmp(name, "process_sort_index")) {
		unsigned int i;

		for (i = 0; i < m->nprocs && m->procs[i].pid != pid; i++)
			;
		if (i == m->nprocs) {
			if (m->nprocs == sizeof(m->procs) / sizeof(m->procs[0]))
				return;
			m->procs[m->nprocs++] = (struct trace_process){ .pid = pid };
		}
		if ((s = get_str(args, "name")) && !m->procs[i].name)
			m->procs[i].name = copy_name(s);
		if (get_num(args, "sort_index", &d))
			m->procs[i].sort = (int64_t)d;
		return;
	}
	if (strcmp(name, "thread_name") && strcmp(name, "thread_sort_index"))
		return;
	lane = lane_of(m, pid, tid);
	if (lane < 0) {
		m->skipped++;
		return;
	}
	if ((s = get_str(args, "name")) && !m->lanes[lane].name)
		m->lanes[lane].name = copy_name(s);
	if (get_num(args, "sort_index", &d))
		m->lanes[lane].sort = (int64_t)d;
}

/* mpvm's IPI instant: args {"from": N or "device", "vector": "0xNN"} (core/trace.c). */
static void read_ipi_args(struct trace_mark *mk, json_object *args)
{
	json_object *v;
	const char *s;

	if (json_object_object_get_ex(args, "from", &v)) {
		if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0 &&
		    json_object_get_int64(v) <= INT32_MAX) {
			mk->target = true;
			mk->from = (int32_t)json_object_get_int64(v);
		} else if (json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), "device")) {
			mk->target = true;
			mk->from = TRACE_READ_FROM_DEVICE;
		}
	}
	s = get_str(args, "vector");
	if (s) {
		char *end;
		unsigned long n = strtoul(s, &end, 0);

		if (end != s && !*end && n <= 0xff)
			mk->vector = (int32_t)n;
	}
}

static void read_event(struct trace_model *m, json_object *ev)
{
	const char *ph, *name, *cat;
	uint32_t seq = (uint32_t)m->events++;
	json_object *id, *args, *v;
	int64_t pid, tid;
	double ts, dur = 0;
	int lane;

	if (!json_object_is_type(ev, json_type_object) || !(ph = get_str(ev, "ph")) || !ph[0] || ph[1]) {
		m->ignored++;
		return;
	}
	name = get_str(ev, "name");
	if (!name)
		name = "(unnamed)";
	pid = get_id(ev, "pid");
	tid = get_id(ev, "tid");
	if (ph[0] == 'M') {
		read_meta(m, ev, name, pid, tid);
		return;
	}
	if (!strchr("XiIsf", ph[0]) || !get_num(ev, "ts", &ts) ||
	    (ph[0] == 'X' && json_object_object_get_ex(ev, "dur", NULL) &&
	     (!get_num(ev, "dur", &dur) || dur < 0))) {
		m->ignored++;
		return;
	}
	lane = lane_of(m, pid, tid);
	if (lane < 0) {
		m->skipped++;
		return;
	}
	switch (ph[0]) {
	case 'X':
		if (!room((void **)&m->spans, m->nspans, &m->spans_cap, sizeof(*m->spans)))
			break;
		m->spans[m->nspans++] = (struct trace_span){ ts, dur, (uint32_t)lane, name_of(m, name), seq };
		seen_time(m, ts, ts + dur);
		return;
	case 'i':
	case 'I':
		if (!strcmp(name, "trace truncated") && json_object_object_get_ex(ev, "args", &args) &&
		    json_object_object_get_ex(args, "dropped", &v) && json_object_is_type(v, json_type_int))
			m->writer_dropped = (uint64_t)json_object_get_int64(v);
		if (!room((void **)&m->marks, m->nmarks, &m->marks_cap, sizeof(*m->marks)))
			break;
		cat = get_str(ev, "cat");
		m->marks[m->nmarks] = (struct trace_mark){ ts, (uint32_t)lane, name_of(m, name), seq,
							   cat && !strcmp(cat, "ipi"), .vector = -1 };
		if (m->marks[m->nmarks].ipi && json_object_object_get_ex(ev, "args", &args))
			read_ipi_args(&m->marks[m->nmarks], args);
		m->nmarks++;
		seen_time(m, ts, ts);
		return;
	default: /* 's', 'f': flows pair by cat and id ("id2" in newer writers) */
		if (!json_object_object_get_ex(ev, "id", &id) && !json_object_object_get_ex(ev, "id2", &id)) {
			m->ignored++;
			return;
		}
		if (!room((void **)&m->flows, m->nflows, &m->flows_cap, sizeof(*m->flows)))
			break;
		cat = get_str(ev, "cat");
		m->flows[m->nflows++] = (struct trace_flow_end){
			fnv(fnv(0xcbf29ce484222325ull, cat ? cat : ""), json_object_to_json_string(id)),
			ts, (uint32_t)lane, name_of(m, name), seq, ph[0] == 's' };
		seen_time(m, ts, ts);
		return;
	}
	m->skipped++;
}

/* ---- the JSON Array Format, streamed ---------------------------------- */

struct reader {
	FILE *in;
	char buf[64 * 1024];
	size_t len, pos;
	uint64_t base;        /* file offset of buf[0] */
};

/* The next byte past whitespace (and, if commas, commas), not consumed; -1 at the end. */
static int next_byte(struct reader *r, bool commas)
{
	for (;;) {
		while (r->pos < r->len) {
			char c = r->buf[r->pos];

			if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && !(commas && c == ','))
				return (unsigned char)c;
			r->pos++;
		}
		r->base += r->len;
		r->pos = 0;
		r->len = fread(r->buf, 1, sizeof(r->buf), r->in);
		if (r->len == 0)
			return -1;
	}
}

static bool refill(struct reader *r)
{
	r->base += r->len;
	r->pos = 0;
	r->len = fread(r->buf, 1, sizeof(r->buf), r->in);
	return r->len > 0;
}

static int read_array(struct trace_model *m, struct reader *r, json_tokener *tok, char *err, size_t errlen)
{
	r->pos++; /* the '[' */
	for (;;) {
		int c = next_byte(r, true);
		uint64_t start;
		size_t fed = 0;

		if (c < 0) {
			m->unterminated = true;
			return 0;
		}
		if (c == ']')
			return 0;
		start = r->base + r->pos;
		json_tokener_reset(tok);
		for (;;) {
			size_t avail = r->len - r->pos;
			json_object *ev = json_tokener_parse_ex(tok, r->buf + r->pos, (int)avail);
			enum json_tokener_error e = json_tokener_get_error(tok);

			if (e == json_tokener_success) {
				r->pos += json_tokener_get_parse_end(tok);
				read_event(m, ev);
				json_object_put(ev);
				break;
			}
			if (e != json_tokener_continue) {
				snprintf(err, errlen, "not valid JSON at byte %llu: %s",
					 (unsigned long long)(r->base + r->pos + json_tokener_get_parse_end(tok)),
					 json_tokener_error_desc(e));
				return -1;
			}
			fed += avail;
			if (fed > TRACE_READ_EVENT_MAX) {
				snprintf(err, errlen, "an event at byte %llu is larger than %u bytes",
					 (unsigned long long)start, TRACE_READ_EVENT_MAX);
				return -1;
			}
			if (!refill(r)) {
				/* A writer that was killed mid-event: keep what came before. */
				m->unterminated = m->cut = true;
				return 0;
			}
		}
	}
}

/* ---- the JSON Object Format, read whole ------------------------------- */

static int read_object(struct trace_model *m, struct reader *r, json_tokener *tok, char *err, size_t errlen)
{
	json_object *root = NULL, *events;
	enum json_tokener_error e;
	size_t total = 0;
	int ret = -1;

	do {
		root = json_tokener_parse_ex(tok, r->buf + r->pos, (int)(r->len - r->pos));
		e = json_tokener_get_error(tok);
		total += r->len - r->pos;
		if (e != json_tokener_continue)
			break;
		if (total > TRACE_READ_OBJECT_MAX) {
			snprintf(err, errlen, "a JSON object larger than %u MiB (mpvm reads only the JSON Array "
				 "Format as it streams)", TRACE_READ_OBJECT_MAX >> 20);
			return -1;
		}
	} while (refill(r));
	if (e != json_tokener_success) {
		snprintf(err, errlen, "not valid JSON%s: %s", e == json_tokener_continue ? " (cut short)" : "",
			 json_tokener_error_desc(e));
		goto out;
	}
	if (!json_object_object_get_ex(root, "traceEvents", &events) ||
	    !json_object_is_type(events, json_type_array)) {
		snprintf(err, errlen, "not a Chrome trace: a JSON object without a traceEvents array");
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(events); i++)
		read_event(m, json_object_array_get_idx(events, i));
	ret = 0;
out:
	json_object_put(root);
	return ret;
}

int trace_read(struct trace_model *m, FILE *in, char *err, size_t errlen)
{
	struct reader *r = malloc(sizeof(*r));
	json_tokener *tok = json_tokener_new();
	int c, ret = -1;

	memset(m, 0, sizeof(*m));
	m->t_min = INFINITY;
	m->t_max = -INFINITY;
	m->lanes = calloc(TRACE_READ_LANES_MAX, sizeof(*m->lanes));
	m->lane_hash = malloc(HASH_SLOTS * sizeof(*m->lane_hash));
	if (!r || !tok || !m->lanes || !m->lane_hash) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memset(m->lane_hash, 0xff, HASH_SLOTS * sizeof(*m->lane_hash));
	r->in = in;
	r->len = r->pos = 0;
	r->base = 0;
	c = next_byte(r, false);
	/* A UTF-8 byte order mark, which some editors add. */
	if (c == 0xef && r->len - r->pos >= 3 && !memcmp(r->buf + r->pos, "\xef\xbb\xbf", 3)) {
		r->pos += 3;
		c = next_byte(r, false);
	}
	if (ferror(in))
		snprintf(err, errlen, "cannot read it: %s", strerror(errno));
	else if (c == '[')
		ret = read_array(m, r, tok, err, errlen);
	else if (c == '{')
		ret = read_object(m, r, tok, err, errlen);
	else if (c < 0)
		snprintf(err, errlen, "empty: no trace events");
	else
		snprintf(err, errlen, "not a Chrome trace: it starts with neither '[' nor '{'");
	if (!ret && ferror(in)) {
		snprintf(err, errlen, "cannot read it: %s", strerror(errno));
		ret = -1;
	}
	if (!ret && m->nlanes == 0) {
		snprintf(err, errlen, "no trace events to draw (no spans, instants, flows or named tracks)");
		ret = -1;
	}
out:
	if (tok)
		json_tokener_free(tok);
	free(r);
	if (ret)
		trace_model_free(m);
	return ret;
}

void trace_model_free(struct trace_model *m)
{
	for (unsigned int i = 0; m->lanes && i < m->nlanes; i++)
		free(m->lanes[i].name);
	for (unsigned int i = 0; i < m->nnames; i++)
		free(m->names[i]);
	for (unsigned int i = 0; i < m->nprocs; i++)
		free(m->procs[i].name);
	free(m->lanes);
	free(m->lane_hash);
	free(m->spans);
	free(m->marks);
	free(m->flows);
	memset(m, 0, sizeof(*m));
}

static int64_t proc_sort(const struct trace_model *m, int64_t pid)
{
	for (unsigned int i = 0; i < m->nprocs; i++)
		if (m->procs[i].pid == pid)
			return m->procs[i].sort;
	return 0;
}

static int cmp64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int lane_cmp(const void *a, const void *b, void *ctx)
{
	const struct trace_model *m = ctx;
	const struct trace_lane *x = &m->lanes[*(const unsigned int *)a];
	const struct trace_lane *y = &m->lanes[*(const unsigned int *)b];
	int c = cmp64(proc_sort(m, x->pid), proc_sort(m, y->pid));

	if (!c)
		c = cmp64(x->pid, y->pid);
	if (!c)
		c = cmp64(x->sort, y->sort);
	if (!c)
		c = cmp64(x->tid, y->tid);
	return c;
}

unsigned int *trace_lane_order(const struct trace_model *m)
{
	unsigned int *order = malloc((m->nlanes + 1) * sizeof(*order));

	if (!order)
		return NULL;
	for (unsigned int i = 0; i < m->nlanes; i++)
		order[i] = i;
	qsort_r(order, m->nlanes, sizeof(*order), lane_cmp, (void *)m);
	return order;
}
