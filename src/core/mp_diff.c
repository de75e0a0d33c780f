#include "core/mp_diff.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "core/trace_read.h"

static int seq_add(struct mp_seq *s, const char *tok)
{
	char *t;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		char **n = realloc(s->tok, cap * sizeof(*n));

		if (!n)
			return -1;
		s->tok = n;
		s->cap = cap;
	}
	if (!(t = strdup(tok)))
		return -1;
	s->tok[s->n++] = t;
	return 0;
}

static void seq_free(struct mp_seq *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->tok[i]);
	free(s->tok);
	*s = (struct mp_seq){ 0 };
}

void mp_run_free(struct mp_run *r)
{
	for (unsigned int i = 0; i < r->n; i++) {
		free(r->v[i].label);
		seq_free(&r->v[i].states);
		seq_free(&r->v[i].ipis);
	}
	free(r->v);
	*r = (struct mp_run){ 0 };
}

/* The vCPU with index id, added (in order) if new; NULL if out of memory. */
static struct mp_run_vcpu *vcpu_of(struct mp_run *r, unsigned int id, const char *label)
{
	unsigned int i;
	struct mp_run_vcpu *n;

	for (i = 0; i < r->n && r->v[i].id < id; i++)
		;
	if (i < r->n && r->v[i].id == id)
		return &r->v[i];
	n = realloc(r->v, (r->n + 1) * sizeof(*n));
	if (!n)
		return NULL;
	r->v = n;
	memmove(&r->v[i + 1], &r->v[i], (r->n - i) * sizeof(*n));
	r->v[i] = (struct mp_run_vcpu){ .id = id, .label = strdup(label) };
	r->n++;
	return r->v[i].label ? &r->v[i] : NULL;
}

/* ---- a --report file -------------------------------------------------------- */

static int load_report(struct mp_run *r, json_object *vcpus, char *err, size_t errlen)
{
	for (size_t i = 0; i < json_object_array_length(vcpus); i++) {
		json_object *v = json_object_array_get_idx(vcpus, i), *id, *apic, *states;
		struct mp_run_vcpu *rv;
		char label[64];

		if (!json_object_object_get_ex(v, "id", &id) || !json_object_is_type(id, json_type_int) ||
		    json_object_get_int64(id) < 0 || json_object_get_int64(id) > UINT32_MAX ||
		    !json_object_object_get_ex(v, "mp_states", &states) || !json_object_is_type(states, json_type_array))
			return errmsg(err, errlen, "a report's vcpus[%zu] has no \"id\" or \"mp_states\"", i);
		if (json_object_object_get_ex(v, "apic_id", &apic) && json_object_is_type(apic, json_type_int))
			snprintf(label, sizeof(label), "vCPU %u (APIC ID %u)", (unsigned int)json_object_get_int64(id),
				 (unsigned int)json_object_get_int64(apic));
		else
			snprintf(label, sizeof(label), "vCPU %u", (unsigned int)json_object_get_int64(id));
		if (!(rv = vcpu_of(r, (unsigned int)json_object_get_int64(id), label)))
			return errmsg(err, errlen, "out of memory");
		for (size_t k = 0; k < json_object_array_length(states); k++) {
			json_object *st;

			if (!json_object_object_get_ex(json_object_array_get_idx(states, k), "state", &st) ||
			    !json_object_is_type(st, json_type_string))
				return errmsg(err, errlen, "a report's vcpus[%zu].mp_states[%zu] has no \"state\"", i, k);
			if (seq_add(&rv->states, json_object_get_string(st)))
				return errmsg(err, errlen, "out of memory");
		}
	}
	return 0;
}

/* ---- a trace ---------------------------------------------------------------------- */

/* What is on one lane, in time order (file order for equal times). */
struct item {
	double ts;
	uint32_t seq;
	bool ipi;
	size_t idx;
};

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int load_trace(struct mp_run *r, struct trace_model *m, char *err, size_t errlen)
{
	struct item *it = calloc(m->nspans + m->nmarks + 1, sizeof(*it));
	int ret = -1;

	if (!it)
		return errmsg(err, errlen, "out of memory");
	r->has_ipis = true;
	for (unsigned int l = 0; l < m->nlanes; l++) {
		unsigned int id;
		size_t n = 0;
		struct mp_run_vcpu *v;
		char label[TRACE_READ_NAME_CHARS + 16];

		/* mpvm's vCPU tracks: "vCPU N (APIC ID M)"; the VM track and others are not vCPUs. */
		if (!m->lanes[l].name || sscanf(m->lanes[l].name, "vCPU %u", &id) != 1)
			continue;
		snprintf(label, sizeof(label), "%s", m->lanes[l].name);
		if (!(v = vcpu_of(r, id, label))) {
			errmsg(err, errlen, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < m->nspans; i++)
			if (m->spans[i].lane == l)
				it[n++] = (struct item){ m->spans[i].ts, m->spans[i].seq, false, i };
		for (size_t i = 0; i < m->nmarks; i++)
			if (m->marks[i].lane == l && m->marks[i].ipi && m->marks[i].target)
				it[n++] = (struct item){ m->marks[i].ts, m->marks[i].seq, true, i };
		qsort(it, n, sizeof(*it), item_cmp);
		for (size_t i = 0; i < n; i++) {
			char tok[160];
			int fail;

			if (!it[i].ipi) {
				fail = seq_add(&v->states, m->names[m->spans[it[i].idx].name]);
			} else {
				const struct trace_mark *mk = &m->marks[it[i].idx];
				char vec[16] = "", from[32];

				if (mk->vector >= 0)
					snprintf(vec, sizeof(vec), " 0x%02x", (unsigned int)mk->vector);
				if (mk->from == TRACE_READ_FROM_DEVICE)
					snprintf(from, sizeof(from), "a device");
				else
					snprintf(from, sizeof(from), "vCPU %d", (int)mk->from);
				snprintf(tok, sizeof(tok), "%s%s from %s", m->names[mk->name], vec, from);
				fail = seq_add(&v->ipis, tok);
			}
			if (fail) {
				errmsg(err, errlen, "out of memory");
				goto out;
			}
		}
	}
	ret = 0;
out:
	free(it);
	return ret;
}

int mp_run_load(struct mp_run *r, FILE *in, char *err, size_t errlen)
{
	struct trace_model m;
	int c;

	*r = (struct mp_run){ 0 };
	while ((c = getc(in)) == ' ' || c == '\t' || c == '\n' || c == '\r')
		;
	if (c == EOF)
		return errmsg(err, errlen, "empty: neither a trace nor a report");
	ungetc(c, in);
	if (c == '{') {
		/* A report, or a trace in the JSON Object Format: read whole, as trace_read() would. */
		char *buf = malloc(TRACE_READ_OBJECT_MAX + 1);
		size_t len;
		json_object *o, *vcpus;
		FILE *mem;
		int ret;

		if (!buf)
			return errmsg(err, errlen, "out of memory");
		len = fread(buf, 1, TRACE_READ_OBJECT_MAX + 1, in);
		if (len > TRACE_READ_OBJECT_MAX) {
			free(buf);
			return errmsg(err, errlen, "larger than %u MiB", TRACE_READ_OBJECT_MAX >> 20);
		}
		buf[len] = '\0';
		o = json_tokener_parse(buf);
		if (o && json_object_object_get_ex(o, "vcpus", &vcpus) && json_object_is_type(vcpus, json_type_array)) {
			ret = load_report(r, vcpus, err, errlen);
			json_object_put(o);
			free(buf);
			goto done;
		}
		json_object_put(o);
		mem = fmemopen(buf, len ? len : 1, "r");
		if (!mem) {
			free(buf);
			return errmsg(err, errlen, "out of memory");
		}
		ret = trace_read(&m, mem, err, errlen);
		fclose(mem);
		free(buf);
		if (ret)
			return -1;
	} else if (trace_read(&m, in, err, errlen)) {
		return -1;
	}
	{
		int ret = load_trace(r, &m, err, errlen);

		trace_model_free(&m);
		if (ret) {
			mp_run_free(r);
			return -1;
		}
		if (!r->n)
			return errmsg(err, errlen, "no vCPU track (\"vCPU N (APIC ID M)\") in this trace");
		return 0;
	}
done:
	if (r->n == 0 && *err == '\0')
		errmsg(err, errlen, "no vCPU in this report");
	if (r->n == 0 || *err) {
		mp_run_free(r);
		return -1;
	}
	return 0;
}

int mp_diff_parse_ignore(const char *list, unsigned int *flags)
{
	static const struct { const char *word; unsigned int flag; } words[] = {
		{ "sipi-received", MP_DIFF_IGNORE_SIPI_RECEIVED }, { "init-deassert", MP_DIFF_IGNORE_INIT_DEASSERT },
		{ "halt-cycles", MP_DIFF_IGNORE_HALT_CYCLES }, { "ipi-interleaving", MP_DIFF_IGNORE_IPI_INTERLEAVING },
		{ "kvm", MP_DIFF_IGNORE_KVM },
	};
	const char *p = list;

	*flags = 0;
	while (*p) {
		size_t len = strcspn(p, ","), i;

		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i].word) == len && !strncmp(p, words[i].word, len))
				break;
		if (i == sizeof(words) / sizeof(words[0]))
			return -1;
		*flags |= words[i].flag;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static bool run_state(const char *t)
{
	return !strcmp(t, "RUNNABLE") || !strcmp(t, "HALTED");
}

/* Keeps the tokens for which keep[] is true, in order. */
static void seq_filter(struct mp_seq *s, const bool *keep)
{
	size_t o = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (keep[i])
			s->tok[o++] = s->tok[i];
		else
			free(s->tok[i]);
	}
	s->n = o;
}

static void normalize_states(struct mp_seq *s, unsigned int flags)
{
	bool *keep = calloc(s->n + 1, sizeof(*keep));
	const char *prev = NULL;

	if (!keep)
		return;
	/* SIPI_RECEIVED out, then repeats (a state that follows itself) out. */
	for (size_t i = 0; i < s->n; i++) {
		keep[i] = !((flags & MP_DIFF_IGNORE_SIPI_RECEIVED) && !strcmp(s->tok[i], "SIPI_RECEIVED"));
		if (keep[i] && prev && !strcmp(prev, s->tok[i]))
			keep[i] = false;
		if (keep[i])
			prev = s->tok[i];
	}
	seq_filter(s, keep);
	if (flags & MP_DIFF_IGNORE_HALT_CYCLES) {
		/* A run of RUNNABLE/HALTED: its first state. */
		for (size_t i = 0; i < s->n; i++)
			keep[i] = !(i > 0 && run_state(s->tok[i]) && run_state(s->tok[i - 1]));
		seq_filter(s, keep);
	}
	free(keep);
}

/* An IPI token's sender: what follows " from ". */
static const char *sender_of(const char *tok)
{
	const char *s = strstr(tok, " from ");

	return s ? s + 6 : "";
}

/* Stable by sender (an insertion sort: each sender's IPIs keep their order). */
static void sort_by_sender(struct mp_seq *s)
{
	for (size_t i = 1; i < s->n; i++) {
		char *t = s->tok[i];
		size_t j = i;

		while (j > 0 && strcmp(sender_of(s->tok[j - 1]), sender_of(t)) > 0) {
			s->tok[j] = s->tok[j - 1];
			j--;
		}
		s->tok[j] = t;
	}
}

void mp_run_normalize(struct mp_run *r, unsigned int flags)
{
	for (unsigned int i = 0; i < r->n; i++) {
		normalize_states(&r->v[i].states, flags);
		if (flags & MP_DIFF_IGNORE_INIT_DEASSERT) {
			struct mp_seq *s = &r->v[i].ipis;
			bool *keep = calloc(s->n + 1, sizeof(*keep));

			if (!keep)
				continue;
			for (size_t k = 0; k < s->n; k++)
				keep[k] = strncmp(s->tok[k], "INIT de-assert ", 15) != 0;
			seq_filter(s, keep);
			free(keep);
		}
		if (flags & MP_DIFF_IGNORE_IPI_INTERLEAVING)
			sort_by_sender(&r->v[i].ipis);
	}
}

/* Where two sequences first differ: an index, or SIZE_MAX if they are the same. */
static size_t first_difference(const struct mp_seq *a, const struct mp_seq *b)
{
	size_t i;

	for (i = 0; i < a->n && i < b->n; i++)
		if (strcmp(a->tok[i], b->tok[i]))
			return i;
	return a->n == b->n ? SIZE_MAX : i;
}

/* "  A: tok, tok, [tok], ..." around index at (a window of 4 either side). */
static void print_window(FILE *out, const char *name, const struct mp_seq *s, size_t at)
{
	size_t from = at > 4 ? at - 4 : 0, to = at + 5 < s->n ? at + 5 : s->n;

	fprintf(out, "  %s (%zu):%s", name, s->n, from ? " ..." : "");
	for (size_t i = from; i < to; i++)
		fprintf(out, "%s%s%s%s", i > from || from ? ", " : " ", i == at ? "[" : "", s->tok[i], i == at ? "]" : "");
	if (at >= s->n)
		fprintf(out, "%s[end]", s->n ? ", " : " ");
	fprintf(out, "%s\n", to < s->n ? ", ..." : "");
}

unsigned int mp_diff_print(FILE *out, const struct mp_run *a, const char *an, const struct mp_run *b, const char *bn)
{
	unsigned int ia = 0, ib = 0, differ = 0;
	size_t states = 0, ipis = 0;
	bool cmp_ipis = a->has_ipis && b->has_ipis;

	while (ia < a->n || ib < b->n) {
		const struct mp_run_vcpu *va = ia < a->n ? &a->v[ia] : NULL, *vb = ib < b->n ? &b->v[ib] : NULL;
		size_t ds, di;

		if (!vb || (va && va->id < vb->id)) {
			fprintf(out, "%s: only in %s\n", va->label, an);
			differ++;
			ia++;
			continue;
		}
		if (!va || vb->id < va->id) {
			fprintf(out, "%s: only in %s\n", vb->label, bn);
			differ++;
			ib++;
			continue;
		}
		ds = first_difference(&va->states, &vb->states);
		di = cmp_ipis ? first_difference(&va->ipis, &vb->ipis) : SIZE_MAX;
		states += va->states.n;
		ipis += cmp_ipis ? va->ipis.n : 0;
		if (ds != SIZE_MAX || di != SIZE_MAX)
			differ++;
		if (ds != SIZE_MAX) {
			fprintf(out, "%s: MP states differ at #%zu\n", va->label, ds + 1);
			print_window(out, an, &va->states, ds);
			print_window(out, bn, &vb->states, ds);
		}
		if (di != SIZE_MAX) {
			fprintf(out, "%s: IPIs received differ at #%zu\n", va->label, di + 1);
			print_window(out, an, &va->ipis, di);
			print_window(out, bn, &vb->ipis, di);
		}
		ia++;
		ib++;
	}
	if (differ)
		fprintf(out, "mp-diff: %u vCPU%s differ\n", differ, differ == 1 ? "" : "s");
	else if (cmp_ipis)
		fprintf(out, "mp-diff: no difference (%u vCPUs, %zu MP states, %zu IPIs)\n", a->n, states, ipis);
	else
		fprintf(out, "mp-diff: no difference (%u vCPUs, %zu MP states; IPIs not compared: a report has none)\n",
			a->n, states);
	return differ;
}
