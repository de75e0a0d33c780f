#include "core/trace.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"

/* Caller-given names and details are cut here, so a record stays small. */
#define NAME_MAX_CHARS 64
#define DETAIL_MAX_CHARS 256

struct open_span {
	bool open;
	uint32_t state;
	uint64_t start_ns;
};

struct trace {
	pthread_mutex_t lock;
	struct atomic_file file;
	unsigned int ncpus;
	uint64_t max_events;   /* 0: no bound */
	uint64_t records;      /* written, the ones trace_close() adds included */
	uint64_t dropped;
	uint64_t first_drop_ns;
	uint64_t next_flow_id;
	struct open_span span[]; /* per vCPU */
};

static const char *const ipi_kind_names[TRACE_IPI_KIND_COUNT] = {
	[TRACE_IPI_FIXED] = "fixed",
	[TRACE_IPI_LOWEST] = "lowest priority",
	[TRACE_IPI_SMI] = "SMI",
	[TRACE_IPI_NMI] = "NMI",
	[TRACE_IPI_INIT] = "INIT",
	[TRACE_IPI_INIT_DEASSERT] = "INIT de-assert",
	[TRACE_IPI_SIPI] = "SIPI",
	[TRACE_IPI_EXTINT] = "ExtINT",
};

const char *trace_ipi_kind_name(unsigned int kind)
{
	return kind < TRACE_IPI_KIND_COUNT ? ipi_kind_names[kind] : NULL;
}

static const char *state_name(uint32_t s)
{
	const char *n = mp_state_name(s);

	return n ? n : "INVALID";
}

/* The VM's track comes after the vCPUs' tids, so tid = vCPU index stays true. */
static unsigned int vm_tid(const struct trace *t)
{
	return t->ncpus;
}

static unsigned int track_of(const struct trace *t, int cpu)
{
	return cpu >= 0 && (unsigned int)cpu < t->ncpus ? (unsigned int)cpu : vm_tid(t);
}

/* ns as the format's microseconds, exactly: 1234567 -> 1234.567 */
static void put_us(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%03u", ns / 1000, (unsigned int)(ns % 1000));
}

/* A JSON string, at most max bytes of s (cut before a UTF-8 continuation byte). */
static void put_str(FILE *f, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (s[n] != '\0')
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The fields every event has; the caller adds the rest and the closing brace. */
static void put_head(struct trace *t, const char *name, const char *cat, const char *ph,
		     unsigned int tid, uint64_t ts_ns)
{
	FILE *f = t->file.f;

	fputs(",\n{\"name\":", f);
	put_str(f, name, NAME_MAX_CHARS);
	fprintf(f, ",\"cat\":\"%s\",\"ph\":\"%s\",\"pid\":1,\"tid\":%u,\"ts\":", cat, ph, tid);
	put_us(f, ts_ns);
}

/* Whether one more record fits under max_events; if not, it is counted as dropped. */
static bool admit(struct trace *t, uint64_t ts_ns)
{
	if (t->max_events == 0 || t->records < t->max_events) {
		t->records++;
		return true;
	}
	if (t->dropped++ == 0)
		t->first_drop_ns = ts_ns;
	return false;
}

static void put_span(struct trace *t, unsigned int cpu, uint64_t end_ns, const char *next)
{
	struct open_span *s = &t->span[cpu];
	uint64_t dur = end_ns > s->start_ns ? end_ns - s->start_ns : 0;
	FILE *f = t->file.f;

	put_head(t, state_name(s->state), "mp_state", "X", cpu, s->start_ns);
	fputs(",\"dur\":", f);
	put_us(f, dur);
	fprintf(f, ",\"args\":{\"start_ns\":%" PRIu64 ",\"dur_ns\":%" PRIu64, s->start_ns, dur);
	if (next)
		fprintf(f, ",\"next\":\"%s\"}}", next);
	else
		fputs(",\"open_at_end\":true}}", f);
}

static void put_meta(FILE *f, const char *name, unsigned int tid, const char *key)
{
	fprintf(f, "{\"name\":\"%s\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"args\":{\"%s\":", name, tid, key);
}

struct trace *trace_open(const char *path, unsigned int ncpus, const uint32_t *apic_ids,
			 uint64_t max_events, char *err, size_t errlen)
{
	struct trace *t = calloc(1, sizeof(*t) + ncpus * sizeof(t->span[0]));
	FILE *f;

	if (!t) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	if (atomic_file_begin(&t->file, path, err, errlen)) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->ncpus = ncpus;
	t->max_events = max_events;
	t->next_flow_id = 1;
	f = t->file.f;
	/*
	 * A buffer of 64 KiB: vCPU threads write a record into memory and only
	 * every few hundred records does one of them make a write(2).
	 */
	setvbuf(f, NULL, _IOFBF, 64 * 1024);
	fputs("[\n", f);
	put_meta(f, "process_name", 0, "name");
	fputs("\"mpvm\"}}", f);
	fputs(",\n", f);
	put_meta(f, "thread_name", vm_tid(t), "name");
	fputs("\"VM\"}}", f);
	fputs(",\n", f);
	put_meta(f, "thread_sort_index", vm_tid(t), "sort_index");
	fputs("-1}}", f);
	for (unsigned int i = 0; i < ncpus; i++) {
		fputs(",\n", f);
		put_meta(f, "thread_name", i, "name");
		fprintf(f, "\"vCPU %u (APIC ID %" PRIu32 ")\"}}", i, apic_ids ? apic_ids[i] : i);
		fputs(",\n", f);
		put_meta(f, "thread_sort_index", i, "sort_index");
		fprintf(f, "%u}}", i);
	}
	return t;
}

void trace_mp_state(struct trace *t, unsigned int cpu, enum mp_state state, uint64_t ts_ns)
{
	struct open_span *s;

	if (!t || cpu >= t->ncpus)
		return;
	pthread_mutex_lock(&t->lock);
	s = &t->span[cpu];
	if (!s->open || s->state != (uint32_t)state) {
		/* The state moves on whether or not the span that ends fits in the bound. */
		if (s->open && admit(t, ts_ns))
			put_span(t, cpu, ts_ns, state_name(state));
		s->open = true;
		s->state = state;
		s->start_ns = ts_ns;
	}
	pthread_mutex_unlock(&t->lock);
}

void trace_ipi(struct trace *t, int from_cpu, unsigned int to_cpu, enum trace_ipi_kind kind,
	       uint8_t vector, uint64_t ts_ns)
{
	const char *name = trace_ipi_kind_name(kind);
	unsigned int from;
	uint64_t id;
	FILE *f;

	if (!t || to_cpu >= t->ncpus || !name)
		return;
	pthread_mutex_lock(&t->lock);
	if (!admit(t, ts_ns))
		goto out;
	f = t->file.f;
	from = track_of(t, from_cpu);
	id = t->next_flow_id++;
	put_head(t, name, "ipi", "i", to_cpu, ts_ns);
	fputs(",\"s\":\"t\",\"args\":{\"from\":", f);
	if (from == vm_tid(t))
		fputs("\"device\"", f);
	else
		fprintf(f, "%u", from);
	fprintf(f, ",\"to\":%u", to_cpu);
	if (kind == TRACE_IPI_FIXED || kind == TRACE_IPI_LOWEST || kind == TRACE_IPI_SIPI)
		fprintf(f, ",\"vector\":\"0x%02x\"", vector);
	if (kind == TRACE_IPI_SIPI)
		fprintf(f, ",\"start\":\"0x%05x\"", (unsigned int)vector << 12);
	fprintf(f, ",\"flow\":%" PRIu64 "}}", id);
	/* A device sends from no slice: give the flow one to start from on the VM track. */
	if (from == vm_tid(t)) {
		put_head(t, name, "ipi", "i", from, ts_ns);
		fprintf(f, ",\"s\":\"t\",\"args\":{\"to\":%u,\"flow\":%" PRIu64 "}}", to_cpu, id);
	}
	put_head(t, name, "ipi", "s", from, ts_ns);
	fprintf(f, ",\"id\":%" PRIu64 "}", id);
	put_head(t, name, "ipi", "f", to_cpu, ts_ns);
	fprintf(f, ",\"bp\":\"e\",\"id\":%" PRIu64 "}", id);
out:
	pthread_mutex_unlock(&t->lock);
}

void trace_instant(struct trace *t, int cpu, const char *name, uint64_t ts_ns, const char *detail)
{
	FILE *f;

	if (!t || !name)
		return;
	pthread_mutex_lock(&t->lock);
	if (admit(t, ts_ns)) {
		f = t->file.f;
		put_head(t, name, "vm", "i", track_of(t, cpu), ts_ns);
		fputs(",\"s\":\"t\"", f);
		if (detail) {
			fputs(",\"args\":{\"detail\":", f);
			put_str(f, detail, DETAIL_MAX_CHARS);
			fputc('}', f);
		}
		fputc('}', f);
	}
	pthread_mutex_unlock(&t->lock);
}

uint64_t trace_dropped(struct trace *t)
{
	uint64_t n;

	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	n = t->dropped;
	pthread_mutex_unlock(&t->lock);
	return n;
}

static void trace_free(struct trace *t)
{
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int trace_close(struct trace *t, uint64_t end_ts_ns, char *err, size_t errlen)
{
	FILE *f;
	int ret;

	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	f = t->file.f;
	/* Past the bound too: the final spans say where each vCPU ended. */
	for (unsigned int i = 0; i < t->ncpus; i++) {
		if (!t->span[i].open)
			continue;
		put_span(t, i, end_ts_ns, NULL);
		t->records++;
		t->span[i].open = false;
	}
	if (t->dropped) {
		put_head(t, "trace truncated", "vm", "i", vm_tid(t), t->first_drop_ns);
		fprintf(f, ",\"s\":\"t\",\"args\":{\"dropped\":%" PRIu64 ",\"max_events\":%" PRIu64 "}}",
			t->dropped, t->max_events);
		t->records++;
	}
	fputs(",\n", f);
	put_meta(f, "mpvm_trace", 0, "records");
	fprintf(f, "%" PRIu64 ",\"dropped\":%" PRIu64 ",\"max_events\":%" PRIu64 "}}\n]\n",
		t->records, t->dropped, t->max_events);
	ret = atomic_file_commit(&t->file, err, errlen);
	pthread_mutex_unlock(&t->lock);
	trace_free(t);
	return ret;
}

void trace_discard(struct trace *t)
{
	if (!t)
		return;
	atomic_file_discard(&t->file);
	trace_free(t);
}

int trace_fd(const struct trace *t)
{
	return t && t->file.f ? fileno(t->file.f) : -1;
}
