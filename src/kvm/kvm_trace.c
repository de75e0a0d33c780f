/*
 * KVM's tracepoints for --trace in kernel and split mode (kvm_trace.h).
 *
 * The instance: /sys/kernel/tracing/instances/mpvm-PID, made with
 * libtracefs, with trace_clock "mono" (CLOCK_MONOTONIC, the clock of
 * vm_now_ns(), so KVM's times and mpvm's share one axis), set_event_pid
 * limited to the vCPU threads, and these kvm events:
 *   kvm_apic_ipi          an ICR write: who sent which IPI (sender's thread)
 *   kvm_apic_accept_irq   each local APIC that accepted it (INIT, SIPI, ...)
 *   kvm_vcpu_wakeup       a halted vCPU woke, after how long: the HALTED spans
 *   kvm_userspace_exit    only with an error (filter "errno != 0"): a
 *                         wake-up by mpvm's kick, which left it HALTED
 * (kvm_exit/kvm_entry would give the halts too, but fire on every exit,
 * and not all KVM flavours trace them.)
 *
 * Read once, after the vCPU threads are joined, by the main thread, not
 * by a thread of its own while the VM runs: nothing then competes with
 * the vCPUs for the host's CPUs or adds to what --trace costs them, every
 * event is in the buffer when it is read, and the main thread's seccomp
 * filter needs only rmdir beyond what it allows already (sandbox.c);
 * mkdir, and the reading of the event formats, happen before the filter.
 * The price is a bound: each host CPU's buffer holds
 * KVM_TRACE_BUFFER_KB, with the "overwrite" option off, so a long run
 * keeps its start (the bring-up) and the kernel counts what it dropped,
 * which the trace's note says. The instance goes at the end of the run
 * and on every error path; one left by a mpvm that was killed is removed
 * by the next mpvm that starts (its PID no longer runs).
 */
#include "kvm/kvm_trace.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event-parse.h>
#include <tracefs.h>

#include "core/clock.h"
#include "core/ktrace_merge.h"
#include "core/trace.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

#define KVM_TRACE_BUFFER_KB "4096" /* per host CPU: some 100000 events */
#define KVM_TRACE_NAME "mpvm-"

enum { EV_IPI, EV_ACCEPT, EV_WAKEUP, EV_UEXIT, EV_COUNT };

static const char *const ev_names[EV_COUNT] = {
	[EV_IPI] = "kvm_apic_ipi", [EV_ACCEPT] = "kvm_apic_accept_irq",
	[EV_WAKEUP] = "kvm_vcpu_wakeup", [EV_UEXIT] = "kvm_userspace_exit",
};

struct kvm_trace {
	struct tracefs_instance *inst;
	struct tep_handle *tep;
	int ids[EV_COUNT];
	struct tep_format_field *icr_low, *dest_id, *apicid, *dm, *tm, *vec, *ns, *err;
	unsigned int ncpus;
	int *tids;                 /* vCPU i's thread */
	uint64_t t0_ns;
	struct ktrace_event *ev;
	size_t nev, cap;
	bool out_of_memory;
};

static void say_unavailable(const char *why, int err)
{
	fprintf(stderr, "mpvm: --trace: KVM's tracepoints are not available (%s%s%s); the trace shows the "
		"local APICs in KVM only as mpvm sees them itself\n", why, err ? ": " : "", err ? strerror(err) : "");
}

static void destroy(struct kvm_trace *kt)
{
	if (!kt)
		return;
	if (kt->inst) {
		tracefs_instance_destroy(kt->inst);
		tracefs_instance_free(kt->inst);
	}
	tep_free(kt->tep);
	free(kt->tids);
	free(kt->ev);
	free(kt);
}

/* Instances of mpvm processes that no longer run (killed before they could remove theirs). */
static void remove_stale(const char *tracing_dir)
{
	char path[4096];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/instances", tracing_dir);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		long pid;
		struct tracefs_instance *old;

		if (strncmp(e->d_name, KVM_TRACE_NAME, strlen(KVM_TRACE_NAME)))
			continue;
		pid = strtol(e->d_name + strlen(KVM_TRACE_NAME), &end, 10);
		if (*end || pid <= 0 || pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		old = tracefs_instance_alloc(NULL, e->d_name);
		if (old) {
			tracefs_instance_destroy(old);
			tracefs_instance_free(old);
		}
	}
	closedir(d);
}

/* The vCPU threads' ids, which each thread sets first thing (vcpu.c); they wait at the start gate. */
static int wait_for_tids(struct vm *vm, int *tids)
{
	for (int tries = 0; tries < 10000; tries++) {
		unsigned int have = 0;

		for (unsigned int i = 0; i < vm->ncpus; i++)
			have += (tids[i] = atomic_load(&vm->vcpus[i].tid)) != 0;
		if (have == vm->ncpus)
			return 0;
		nanosleep(&(struct timespec){ .tv_nsec = 100000 }, NULL);
	}
	return -1;
}

/* A libtraceevent handle that knows the ring buffer's page header and our four events. */
static struct tep_handle *load_formats(void)
{
	struct tep_handle *tep = tep_alloc();
	enum tep_endian host = tep_is_bigendian() ? TEP_BIG_ENDIAN : TEP_LITTLE_ENDIAN;
	char *buf;
	int size;

	if (!tep)
		return NULL;
	tep_set_file_bigendian(tep, host);
	tep_set_local_bigendian(tep, host);
	tep_set_long_size(tep, (int)sizeof(long));
	tep_set_page_size(tep, getpagesize());
	buf = tracefs_instance_file_read(NULL, "events/header_page", &size);
	if (!buf || tep_parse_header_page(tep, buf, (unsigned long)size, (int)sizeof(long))) {
		free(buf);
		tep_free(tep);
		return NULL;
	}
	free(buf);
	for (int i = 0; i < EV_COUNT; i++) {
		buf = tracefs_event_file_read(NULL, "kvm", ev_names[i], "format", &size);
		if (!buf || tep_parse_event(tep, buf, (unsigned long)size, "kvm")) {
			free(buf);
			tep_free(tep);
			return NULL;
		}
		free(buf);
	}
	return tep;
}

static int write_file(struct kvm_trace *kt, const char *file, const char *text)
{
	return tracefs_instance_file_write(kt->inst, file, text) < 0 ? -1 : 0;
}

struct kvm_trace *kvm_trace_start(struct vm *vm)
{
	struct kvm_trace *kt = calloc(1, sizeof(*kt));
	const char *dir = tracefs_tracing_dir();
	char name[4096], *pids = NULL;
	size_t pids_len = 0;
	FILE *pf;

	if (!kt || !(kt->tids = calloc(vm->ncpus, sizeof(*kt->tids)))) {
		say_unavailable("out of memory", 0);
		goto fail;
	}
	kt->ncpus = vm->ncpus;
	kt->t0_ns = vm->t0_ns;
	if (!dir) {
		say_unavailable("no tracefs mounted", 0);
		goto fail;
	}
	/* Asked first: libtracefs 1.6 leaks what it allocated when it cannot make the instance. */
	snprintf(name, sizeof(name), "%s/instances", dir);
	if (access(name, W_OK)) {
		say_unavailable("cannot make a tracefs instance", errno);
		goto fail;
	}
	remove_stale(dir);
	snprintf(name, sizeof(name), KVM_TRACE_NAME "%d", (int)getpid());
	errno = 0;
	kt->inst = tracefs_instance_create(name);
	if (!kt->inst) {
		say_unavailable("cannot make a tracefs instance", errno);
		goto fail;
	}
	if (wait_for_tids(vm, kt->tids)) {
		say_unavailable("the vCPU threads did not start", 0);
		goto fail;
	}
	pf = open_memstream(&pids, &pids_len);
	if (!pf) {
		say_unavailable("out of memory", 0);
		goto fail;
	}
	for (unsigned int i = 0; i < vm->ncpus; i++)
		fprintf(pf, "%s%d", i ? " " : "", kt->tids[i]);
	fclose(pf);
	errno = 0;
	if (write_file(kt, "tracing_on", "0") || write_file(kt, "trace_clock", "mono") ||
	    write_file(kt, "buffer_size_kb", KVM_TRACE_BUFFER_KB) || tracefs_option_disable(kt->inst, TRACEFS_OPTION_OVERWRITE) ||
	    write_file(kt, "set_event_pid", pids) ||
	    tracefs_event_file_write(kt->inst, "kvm", "kvm_userspace_exit", "filter", "errno != 0") < 0) {
		free(pids);
		say_unavailable("cannot set the tracefs instance up", errno);
		goto fail;
	}
	free(pids);
	/*
	 * Each event's own "enable" file, and only their formats parsed:
	 * tracefs_event_enable() matches names against every kvm event and
	 * tracefs_local_events() reads all their formats and /proc/kallsyms,
	 * about 0.3 s before the first guest instruction.
	 */
	for (int i = 0; i < EV_COUNT; i++) {
		char file[96];

		snprintf(file, sizeof(file), "events/kvm/%s/enable", ev_names[i]);
		errno = 0;
		if (write_file(kt, file, "1")) {
			char why[96];

			snprintf(why, sizeof(why), "cannot enable kvm:%s", ev_names[i]);
			say_unavailable(why, errno);
			goto fail;
		}
	}
	if (!(kt->tep = load_formats())) {
		say_unavailable("cannot read the kvm events' formats", errno);
		goto fail;
	}
	for (int i = 0; i < EV_COUNT; i++) {
		struct tep_event *e = tep_find_event_by_name(kt->tep, "kvm", ev_names[i]);

		if (!e) {
			say_unavailable("a kvm event has no format", 0);
			goto fail;
		}
		kt->ids[i] = e->id;
		if (i == EV_IPI) {
			kt->icr_low = tep_find_field(e, "icr_low");
			kt->dest_id = tep_find_field(e, "dest_id");
		} else if (i == EV_ACCEPT) {
			kt->apicid = tep_find_field(e, "apicid");
			kt->dm = tep_find_field(e, "dm");
			kt->tm = tep_find_field(e, "tm");
			kt->vec = tep_find_field(e, "vec");
		} else if (i == EV_WAKEUP) {
			kt->ns = tep_find_field(e, "ns");
		} else {
			kt->err = tep_find_field(e, "errno");
		}
	}
	if (!kt->icr_low || !kt->dest_id || !kt->apicid || !kt->dm || !kt->tm || !kt->vec || !kt->ns || !kt->err) {
		say_unavailable("a kvm event lacks a field mpvm reads", 0);
		goto fail;
	}
	/* No clearing of "trace": setting trace_clock above emptied the buffers (and a clear costs ~25 ms). */
	if (write_file(kt, "tracing_on", "1")) {
		say_unavailable("cannot start the tracefs instance", errno);
		goto fail;
	}
	return kt;
fail:
	destroy(kt);
	return NULL;
}

static unsigned long long field(struct tep_format_field *f, struct tep_record *rec)
{
	unsigned long long v = 0;

	tep_read_number_field(f, rec->data, &v);
	return v;
}

static int collect(struct tep_event *e, struct tep_record *rec, int cpu, void *ctx)
{
	struct kvm_trace *kt = ctx;
	struct ktrace_event k = { .ts_ns = rec->ts > kt->t0_ns ? rec->ts - kt->t0_ns : 0 };
	int tid = tep_data_pid(kt->tep, rec);
	unsigned int i;

	(void)cpu;
	for (i = 0; i < kt->ncpus && kt->tids[i] != tid; i++)
		;
	if (i == kt->ncpus)
		return 0;
	k.cpu = i;
	if (e->id == kt->ids[EV_IPI]) {
		k.kind = KTRACE_IPI;
		k.icr_low = (uint32_t)field(kt->icr_low, rec);
		k.apic_id = (uint32_t)field(kt->dest_id, rec);
	} else if (e->id == kt->ids[EV_ACCEPT]) {
		k.kind = KTRACE_ACCEPT;
		k.apic_id = (uint32_t)field(kt->apicid, rec);
		k.dm = (uint16_t)field(kt->dm, rec);
		k.tm = (uint16_t)field(kt->tm, rec);
		k.vec = (uint8_t)field(kt->vec, rec);
	} else if (e->id == kt->ids[EV_WAKEUP]) {
		k.kind = KTRACE_WAKEUP;
		k.wait_ns = field(kt->ns, rec);
	} else if (e->id == kt->ids[EV_UEXIT]) {
		k.kind = KTRACE_EINTR;
	} else {
		return 0;
	}
	if (kt->nev == kt->cap) {
		size_t cap = kt->cap ? 2 * kt->cap : 4096;
		struct ktrace_event *n = realloc(kt->ev, cap * sizeof(*n));

		if (!n) {
			kt->out_of_memory = true;
			return 1; /* stops the iteration */
		}
		kt->ev = n;
		kt->cap = cap;
	}
	kt->ev[kt->nev++] = k;
	return 0;
}

/* What the kernel could not keep: each host CPU's "dropped events" (the buffer was full). */
static unsigned long long dropped_events(struct kvm_trace *kt)
{
	unsigned long long total = 0;
	long n = sysconf(_SC_NPROCESSORS_CONF);

	for (long c = 0; c < n; c++) {
		char file[64], *text, *at;
		unsigned long long d;

		snprintf(file, sizeof(file), "per_cpu/cpu%ld/stats", c);
		text = tracefs_instance_file_read(kt->inst, file, NULL);
		if (!text)
			continue;
		at = strstr(text, "dropped events:");
		if (at && sscanf(at, "dropped events: %llu", &d) == 1)
			total += d;
		free(text);
	}
	return total;
}

struct sink_ctx {
	struct vm *vm;
	struct mp_history *hist;
};

static void sink_state(void *ctx, unsigned int cpu, enum mp_state s, uint64_t ts)
{
	struct sink_ctx *c = ctx;

	trace_mp_state(c->vm->trace, cpu, s, ts);
	mp_history_observe(&c->hist[cpu], s, ts);
}

static void sink_ipi(void *ctx, int from, unsigned int to, enum trace_ipi_kind kind, uint8_t vector, uint64_t ts)
{
	struct sink_ctx *c = ctx;

	trace_ipi(c->vm->trace, from, to, kind, vector, ts);
}

void kvm_trace_finish(struct kvm_trace *kt, struct vm *vm, uint64_t end_ns)
{
	struct ktrace_vcpu *kv = NULL;
	struct sink_ctx sc = { .vm = vm };
	struct ktrace_sink sink = { .ctx = &sc, .state = sink_state, .ipi = sink_ipi };
	struct ktrace_stats st;
	unsigned long long dropped;
	unsigned int late = 0;
	char note[256];

	if (!kt)
		return;
	write_file(kt, "tracing_on", "0");
	if (tracefs_iterate_raw_events(kt->tep, kt->inst, NULL, 0, collect, kt) < 0 || kt->out_of_memory) {
		fprintf(stderr, "mpvm: --trace: cannot read KVM's tracepoints%s; the trace shows what mpvm saw itself\n",
			kt->out_of_memory ? " (out of memory)" : "");
		goto out;
	}
	dropped = dropped_events(kt);
	kv = calloc(vm->ncpus, sizeof(*kv));
	sc.hist = calloc(vm->ncpus, sizeof(*sc.hist));
	if (!kv || !sc.hist) {
		fprintf(stderr, "mpvm: --trace: out of memory for KVM's tracepoints\n");
		goto out;
	}
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct mp_observation first = mp_history_count(&v->mp) ? mp_history_at(&v->mp, 0) :
			(struct mp_observation){ .state = v->bsp ? MP_STATE_RUNNABLE : MP_STATE_UNINITIALIZED };

		kv[i] = (struct ktrace_vcpu){ .apic_id = v->apic_id, .bsp = v->bsp,
					      .first = (enum mp_state)first.state, .first_ns = first.t_ns };
		mp_history_observe(&sc.hist[i], first.state, first.t_ns);
		/*
		 * A vCPU made while KVM's tracepoints were on (CPU hotplug) has
		 * no span open yet (vcpu.c leaves spans to this replay then).
		 */
		if (mp_history_count(&v->mp))
			trace_mp_state(vm->trace, i, (enum mp_state)first.state, first.t_ns);
	}
	if (ktrace_merge(kt->ev, kt->nev, kv, vm->ncpus, &sink, &st)) {
		fprintf(stderr, "mpvm: --trace: out of memory for KVM's tracepoints\n");
		goto out;
	}
	/*
	 * mpvm's own last look (KVM_GET_MP_STATE after the stop) is the
	 * truth at the end; where the replay ends elsewhere (events dropped,
	 * or a path the model lacks), that look is the last transition.
	 */
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		size_t n = mp_history_count(&v->mp);
		struct mp_observation end = n ? mp_history_at(&v->mp, n - 1) : (struct mp_observation){ 0 };

		if (n && mp_history_last(&sc.hist[i], end.state) != end.state) {
			late++;
			sink_state(&sc, i, (enum mp_state)end.state, end.t_ns > end_ns ? end.t_ns : end_ns);
		}
		if (!n)
			continue; /* never made (a CPU hotplug slot never added): it has no MP state */
		mp_history_free(&v->mp);
		v->mp = sc.hist[i];
		sc.hist[i] = (struct mp_history){ 0 };
	}
	snprintf(note, sizeof(note), "%zu events: %llu MP transitions, %llu IPIs; %llu dropped by the kernel's "
		 "buffer; %u vCPUs ended elsewhere than the replay", kt->nev, (unsigned long long)st.transitions,
		 (unsigned long long)st.ipis, dropped, late);
	trace_instant(vm->trace, TRACE_NO_CPU, "KVM tracepoints", end_ns, note);
out:
	if (sc.hist)
		for (unsigned int i = 0; i < vm->ncpus; i++)
			mp_history_free(&sc.hist[i]);
	free(sc.hist);
	free(kv);
	destroy(kt);
}

void kvm_trace_discard(struct kvm_trace *kt)
{
	destroy(kt);
}
