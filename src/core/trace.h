/*
 * --trace: the VM's MP-state story as a Chrome trace-event file (the "JSON
 * Array Format" of Google's Trace Event Format document), which Perfetto UI
 * (ui.perfetto.dev) and chrome://tracing open as they are.
 *
 * What the file holds, all under one process "mpvm" (pid 1):
 *   - a track (tid) per vCPU, tid = vCPU index, named "vCPU N (APIC ID M)"
 *     and sorted by index; and a track "VM" (tid = ncpus, sorted first) for
 *     what belongs to no vCPU: pause, resume, faults, IPIs sent by a device;
 *   - per vCPU, a complete event ("ph":"X", "cat":"mp_state") for every span
 *     it spent in one MP state, named after the state ("RUNNABLE", ...),
 *     args {"start_ns", "dur_ns", "next"} ("next" is the state it went to,
 *     or "open_at_end": true for the span the end of the trace closed);
 *   - per IPI (INIT, SIPI, NMI, fixed, ...) an instant ("ph":"i", "s":"t",
 *     "cat":"ipi") on the target's track, args {"from", "to", "vector",
 *     "flow"}, and a flow pair with the same name and "id" linking the
 *     sender's track ("ph":"s") to the target's ("ph":"f", "bp":"e"); an
 *     IPI from a device also leaves an instant on the VM track, which the
 *     flow starts from (Perfetto ties a flow's ends to slices);
 *   - instants (cat "vm") for anything else: HLT wake-ups, pause, resume,
 *     faults;
 *   - at the end one metadata event "mpvm_trace" with args {"records",
 *     "dropped", "max_events"}.
 * Times: "ts" and "dur" in microseconds with three decimals (nanosecond
 * precision), counted from the VM's creation (vm_now_ns()).
 *
 * Memory: O(ncpus) (each vCPU's open span) plus a FILE buffer; events go to
 * the file as they happen, into "PATH.tmp.XXXXXX" beside PATH, renamed over
 * PATH by trace_close(). The array format lets a reader take a file
 * without its closing "]", so even the temporary file of a run that was
 * killed opens in Perfetto.
 *
 * Size: max_events bounds the records written: a span, an instant, an IPI
 * (its instant and flow pair) is one record each. Once max_events records
 * are written, later ones are counted as dropped, not written: the file
 * keeps the start of the run (bring-up, usually what one wants to see),
 * then, at trace_close(), each vCPU's last span (from its last transition
 * to the end, so the final state shows; a gap before it marks the drop),
 * an instant "trace truncated" on the VM track at the first dropped
 * record's time with args {"dropped", "max_events"}, and the "mpvm_trace"
 * metadata. 0 means no bound. Each record is at most about 600 bytes.
 *
 * Thread-safe: vCPU threads call it concurrently; one mutex serializes the
 * writes. Every function accepts t == NULL and then does nothing, so
 * callers need not check whether tracing is on.
 */
#ifndef MPVM_CORE_TRACE_H
#define MPVM_CORE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "core/mpstate.h"

/* What an IPI delivered: the ICR's delivery modes, INIT split in two. */
enum trace_ipi_kind {
	TRACE_IPI_FIXED,
	TRACE_IPI_LOWEST,
	TRACE_IPI_SMI,
	TRACE_IPI_NMI,
	TRACE_IPI_INIT,
	TRACE_IPI_INIT_DEASSERT,
	TRACE_IPI_SIPI,
	TRACE_IPI_EXTINT,
};
#define TRACE_IPI_KIND_COUNT 8

/* "fixed", "lowest priority", "SMI", "NMI", "INIT", "INIT de-assert", "SIPI", "ExtINT"; NULL if out of range. */
const char *trace_ipi_kind_name(unsigned int kind);

/* trace_ipi()'s sender and trace_instant()'s track when no vCPU is meant: a device, the VM. */
#define TRACE_NO_CPU (-1)

/* A default for max_events: the file stays below about 600 MiB. */
#define TRACE_MAX_EVENTS_DEFAULT (1u << 20)

struct trace;

/*
 * Starts a trace for ncpus vCPUs, vCPU i having APIC ID apic_ids[i], and
 * writes the metadata (process and track names). path is refused as
 * atomic_file_check() refuses it (a directory, device, FIFO, symbolic link,
 * an unwritable folder). NULL with "PATH: reason" in err.
 */
struct trace *trace_open(const char *path, unsigned int ncpus, const uint32_t *apic_ids,
			 uint64_t max_events, char *err, size_t errlen);

/*
 * vCPU cpu is in `state` from ts_ns on: ends its open span (if the state
 * differs; a repeat is ignored) and opens the next. The first call for a
 * vCPU opens its first span.
 */
void trace_mp_state(struct trace *t, unsigned int cpu, enum mp_state state, uint64_t ts_ns);

/*
 * An IPI of `kind` from vCPU from_cpu (TRACE_NO_CPU: a device, the IOAPIC,
 * the control socket) to vCPU to_cpu at ts_ns; vector is written for
 * fixed, lowest-priority and SIPI (whose start address is vector << 12).
 * A broadcast is one call per target.
 */
void trace_ipi(struct trace *t, int from_cpu, unsigned int to_cpu, enum trace_ipi_kind kind,
	       uint8_t vector, uint64_t ts_ns);

/* An instant named `name` on vCPU cpu's track (TRACE_NO_CPU: the VM's), with an optional detail (args {"detail"}). */
void trace_instant(struct trace *t, int cpu, const char *name, uint64_t ts_ns, const char *detail);

/* The descriptor the trace is written through (for a seccomp filter to allow), -1 if none. */
int trace_fd(const struct trace *t);

/* Records dropped so far because of max_events. */
uint64_t trace_dropped(struct trace *t);

/*
 * Ends every open span at end_ts_ns, writes the drop note, the metadata and
 * "]", fsyncs and renames the file over its path, and frees t. -1 with
 * "PATH: reason" in err if the file could not be written (then the
 * temporary file is removed and path left as it was); t is freed anyway.
 */
int trace_close(struct trace *t, uint64_t end_ts_ns, char *err, size_t errlen);

/* Frees t and removes its temporary file, leaving path as it was (a VM that never ran). */
void trace_discard(struct trace *t);

#endif
