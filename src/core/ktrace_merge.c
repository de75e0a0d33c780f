#include "core/ktrace_merge.h"

#include <stdlib.h>

/* One step of the replay: an event, or the start of a halt that a wake-up reports afterwards. */
struct step {
	uint64_t ts;
	uint64_t seq;   /* the order among equal times: the readers' order, halts before their event */
	uint32_t ev;
	bool halt;
};

static int step_cmp(const void *a, const void *b)
{
	const struct step *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct apic_index {
	uint32_t apic_id, cpu;
};

static int apic_cmp(const void *a, const void *b)
{
	const struct apic_index *x = a, *y = b;

	return x->apic_id < y->apic_id ? -1 : x->apic_id > y->apic_id;
}

/* Per vCPU: KVM's MP state as replayed, and what a halted vCPU takes when it wakes. */
struct replay_cpu {
	enum mp_state cur;
	bool pend_init, pend_sipi;
	bool has_icr;        /* the thread's last ICR write, until the next */
	uint32_t icr_low;
};

struct replay {
	struct replay_cpu *c;
	const struct ktrace_vcpu *vcpus;
	const struct ktrace_sink *sink;
	struct ktrace_stats *stats;
};

static void go(struct replay *r, unsigned int cpu, enum mp_state s, uint64_t ts)
{
	if (r->c[cpu].cur == s)
		return;
	r->c[cpu].cur = s;
	r->stats->transitions++;
	if (r->sink->state)
		r->sink->state(r->sink->ctx, cpu, s, ts);
}

/* What INIT does (kvm_apic_accept_events()): the BSP runs again from reset, an AP waits for SIPI. */
static enum mp_state after_init(const struct replay *r, unsigned int cpu)
{
	return r->vcpus[cpu].bsp ? MP_STATE_RUNNABLE : MP_STATE_INIT_RECEIVED;
}

/* ICR delivery modes (SDM vol. 3A §10.6.1) as trace kinds; 3 is reserved. */
static const int dm_kind[8] = {
	TRACE_IPI_FIXED, TRACE_IPI_LOWEST, TRACE_IPI_SMI, -1, TRACE_IPI_NMI, TRACE_IPI_INIT, TRACE_IPI_SIPI,
	TRACE_IPI_EXTINT,
};

static void accept(struct replay *r, const struct ktrace_event *e, unsigned int to)
{
	struct replay_cpu *src = &r->c[e->cpu], *t = &r->c[to];
	unsigned int dm = (e->dm >> 8) & 7;
	int kind = dm_kind[dm], from = -1;

	if (kind < 0)
		return;
	/* KVM delivers an ICR write on the writer's thread right after tracing it. */
	if (src->has_icr && ((src->icr_low >> 8) & 7) == dm &&
	    (kind != TRACE_IPI_FIXED && kind != TRACE_IPI_LOWEST ? true : (uint8_t)src->icr_low == e->vec))
		from = (int)e->cpu;
	/* A level-triggered INIT with the ICR's level bit (14) clear: the de-assert, which KVM ignores. */
	if (kind == TRACE_IPI_INIT && e->tm && from >= 0 && !(src->icr_low & (1u << 14)))
		kind = TRACE_IPI_INIT_DEASSERT;
	if (from >= 0 || (kind != TRACE_IPI_FIXED && kind != TRACE_IPI_LOWEST && kind != TRACE_IPI_EXTINT)) {
		r->stats->ipis++;
		if (r->sink->ipi)
			r->sink->ipi(r->sink->ctx, from, to, (enum trace_ipi_kind)kind,
				     kind == TRACE_IPI_INIT || kind == TRACE_IPI_INIT_DEASSERT ? 0 : e->vec, e->ts_ns);
	}
	if (kind == TRACE_IPI_INIT) {
		if (t->cur == MP_STATE_HALTED) { /* taken when it wakes, which the INIT makes it do */
			t->pend_init = true;
			t->pend_sipi = false;
		} else {
			go(r, to, after_init(r, to), e->ts_ns);
		}
	} else if (kind == TRACE_IPI_SIPI) {
		if (t->cur == MP_STATE_INIT_RECEIVED)
			go(r, to, MP_STATE_RUNNABLE, e->ts_ns);
		else if (t->cur == MP_STATE_HALTED && t->pend_init)
			t->pend_sipi = true;
		/* else KVM drops it: a SIPI means something only to a CPU waiting for one */
	}
}

static void wake(struct replay *r, unsigned int cpu, bool by_signal, uint64_t ts)
{
	struct replay_cpu *c = &r->c[cpu];

	if (c->pend_init) {
		go(r, cpu, after_init(r, cpu), ts);
		if (c->pend_sipi)
			go(r, cpu, MP_STATE_RUNNABLE, ts);
		c->pend_init = c->pend_sipi = false;
	} else if (!by_signal && c->cur == MP_STATE_HALTED) {
		go(r, cpu, MP_STATE_RUNNABLE, ts);
	}
}

int ktrace_merge(struct ktrace_event *ev, size_t n, const struct ktrace_vcpu *vcpus, unsigned int ncpus,
		 const struct ktrace_sink *sink, struct ktrace_stats *stats)
{
	struct step *st = calloc(2 * n + 1, sizeof(*st));
	size_t *next_same = calloc(2 * n + 1, sizeof(*next_same)), *last = calloc(ncpus + 1, sizeof(*last));
	struct apic_index *ids = calloc(ncpus + 1, sizeof(*ids));
	struct replay r = { .c = calloc(ncpus + 1, sizeof(*r.c)), .vcpus = vcpus, .sink = sink, .stats = stats };
	size_t ns = 0;
	int ret = -1;

	*stats = (struct ktrace_stats){ 0 };
	if (!st || !next_same || !last || !ids || !r.c)
		goto out;
	for (unsigned int i = 0; i < ncpus; i++) {
		ids[i] = (struct apic_index){ .apic_id = vcpus[i].apic_id, .cpu = i };
		r.c[i].cur = vcpus[i].first;
	}
	qsort(ids, ncpus, sizeof(*ids), apic_cmp);
	for (size_t i = 0; i < n; i++) {
		if (ev[i].cpu >= ncpus)
			continue;
		if (ev[i].kind == KTRACE_WAKEUP)
			st[ns++] = (struct step){ .ts = ev[i].wait_ns < ev[i].ts_ns ? ev[i].ts_ns - ev[i].wait_ns : 0,
						  .seq = 2 * i, .ev = (uint32_t)i, .halt = true };
		st[ns++] = (struct step){ .ts = ev[i].ts_ns, .seq = 2 * i + 1, .ev = (uint32_t)i };
	}
	qsort(st, ns, sizeof(*st), step_cmp);
	/* For each step, the next real event of the same thread: a wake-up's EINTR comes right after it. */
	for (unsigned int i = 0; i < ncpus; i++)
		last[i] = SIZE_MAX;
	for (size_t i = ns; i-- > 0;) {
		uint32_t cpu = ev[st[i].ev].cpu;

		next_same[i] = last[cpu];
		if (!st[i].halt)
			last[cpu] = i;
	}
	for (size_t i = 0; i < ns; i++) {
		const struct ktrace_event *e = &ev[st[i].ev];
		struct apic_index key = { .apic_id = e->apic_id }, *hit;

		if (st[i].halt) {
			if (r.c[e->cpu].cur == MP_STATE_RUNNABLE)
				go(&r, e->cpu, MP_STATE_HALTED, st[i].ts);
			continue;
		}
		switch (e->kind) {
		case KTRACE_IPI:
			r.c[e->cpu].has_icr = true;
			r.c[e->cpu].icr_low = e->icr_low;
			break;
		case KTRACE_ACCEPT:
			hit = bsearch(&key, ids, ncpus, sizeof(*ids), apic_cmp);
			if (hit)
				accept(&r, e, hit->cpu);
			else
				stats->unknown_apic++;
			break;
		case KTRACE_WAKEUP:
			wake(&r, e->cpu, next_same[i] != SIZE_MAX && ev[st[next_same[i]].ev].kind == KTRACE_EINTR,
			     e->ts_ns);
			break;
		default:
			break;
		}
	}
	ret = 0;
out:
	free(st);
	free(next_same);
	free(last);
	free(ids);
	free(r.c);
	return ret;
}
