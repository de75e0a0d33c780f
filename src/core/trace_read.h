/*
 * Reading a Chrome trace-event file (core/trace.h writes one) into memory,
 * for `mpvm trace-svg` and anything else that looks at traces afterwards.
 *
 * Both layouts of the format are read: the JSON Array Format ("[{...},
 * ...]", what mpvm writes), event by event as it streams in, its closing
 * "]" optional as the format allows (the file of a run that was killed);
 * and the JSON Object Format ({"traceEvents": [...]}, which other tools
 * write), read whole, up to TRACE_READ_OBJECT_MAX bytes.
 *
 * Kept: complete events ("X") as spans, instants ("i", "I") as marks, flow
 * starts and ends ("s", "f") as flow ends, and the metadata that names and
 * orders tracks (thread_name, thread_sort_index, process_name,
 * process_sort_index). Other phases (B/E, counters, async, ...) are
 * counted in `ignored`. A track is a lane, keyed by (pid, tid).
 *
 * Bounded: at most TRACE_READ_LANES_MAX lanes, TRACE_READ_NAMES_MAX
 * distinct event names (the rest share the name "(other)"), and
 * TRACE_READ_ITEMS_MAX spans, marks and flow ends each; what is beyond
 * is counted in `skipped`. An event of more than TRACE_READ_EVENT_MAX
 * bytes is an error.
 */
#ifndef MPVM_CORE_TRACE_READ_H
#define MPVM_CORE_TRACE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TRACE_READ_LANES_MAX 1024
#define TRACE_READ_NAMES_MAX 64
#define TRACE_READ_ITEMS_MAX (1u << 20)
#define TRACE_READ_EVENT_MAX (1u << 20)
#define TRACE_READ_OBJECT_MAX (256u << 20)
#define TRACE_READ_NAME_CHARS 64

/* Times are the format's microseconds, as read. */
struct trace_lane {
	int64_t pid, tid;
	int64_t sort;         /* thread_sort_index, else 0 */
	char *name;           /* thread_name, or NULL */
};

struct trace_span {
	double ts, dur;
	uint32_t lane, name;  /* indexes into lanes[] and names[] */
	uint32_t seq;         /* order in the file, to break ties */
};

struct trace_mark {
	double ts;
	uint32_t lane, name, seq;
	bool ipi;             /* "cat":"ipi": the target end of an IPI */
	bool target;          /* and it has args "from" (mpvm's target-end instant) */
	int32_t from;         /* args "from": the sender's tid, TRACE_READ_FROM_DEVICE for "device" */
	int32_t vector;       /* args "vector" ("0xNN"), or -1 */
};
#define TRACE_READ_FROM_DEVICE (-1)

struct trace_flow_end {
	uint64_t key;         /* a hash of the flow's cat and id */
	double ts;
	uint32_t lane, name, seq;
	bool start;           /* "s" (else "f") */
};

struct trace_process {
	int64_t pid, sort;
	char *name;
};

struct trace_model {
	struct trace_lane *lanes;
	unsigned int nlanes;
	int32_t *lane_hash;   /* (pid, tid) -> lane, open addressing */
	char *names[TRACE_READ_NAMES_MAX];
	unsigned int nnames;
	struct trace_span *spans;
	size_t nspans, spans_cap;
	struct trace_mark *marks;
	size_t nmarks, marks_cap;
	struct trace_flow_end *flows;
	size_t nflows, flows_cap;
	struct trace_process procs[16];
	unsigned int nprocs;
	uint64_t events;      /* array elements read */
	uint64_t ignored;     /* not an event this reads, or malformed */
	uint64_t skipped;     /* beyond the bounds above */
	uint64_t writer_dropped; /* mpvm's "trace truncated" instant: records the writer dropped */
	bool unterminated;    /* the array had no closing "]" */
	bool cut;             /* and its last event was cut short */
	double t_min, t_max;  /* over every span, mark and flow end */
};

/*
 * Reads the trace in `in` into m (which it initializes). 0, or -1 with a
 * message in err (not JSON, not a trace, an event too large); m is then
 * freed already.
 */
int trace_read(struct trace_model *m, FILE *in, char *err, size_t errlen);
void trace_model_free(struct trace_model *m);

/* The lanes' indexes in drawing order: process and thread sort indexes, then pid and tid. Caller frees. */
unsigned int *trace_lane_order(const struct trace_model *m);

#endif
