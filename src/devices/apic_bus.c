#include "devices/apic_bus.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/apic_dest.h"
#include "core/clock.h"
#include "core/errmsg.h"
#include "core/icr.h"
#include "core/ipi_fault.h"
#include "devices/lapic.h"

/* INIT and SIPI messages held back by a fault (mpvm-fault delay, duplicate) per CPU; past it, sent at once. */
#define HELD_MAX 8

struct held {
	uint64_t due_ns;  /* CLOCK_MONOTONIC */
	uint8_t what;     /* enum queued */
	uint8_t vector;
};

struct bus_cpu {
	struct apic_bus *bus;
	unsigned int index;
	bool bsp;
	struct lapic *lapic;

	pthread_mutex_t lock;
	pthread_cond_t wake;     /* CLOCK_MONOTONIC: deadlines are the APIC timer's */

	/* Queued by any thread, taken by the owner; under `lock`. */
	bool init_pending;
	bool sipi_pending;
	uint8_t sipi_vector;
	unsigned int nmi_pending;
	bool woken;              /* a kick since the owner last slept */

	/* The one copy of this CPU's MP state: written by the owner, under `lock`. */
	enum mp_state state;
	bool halt_if;            /* RFLAGS.IF when it executed HLT */
	uint64_t sipis_dropped;

	/* The fault on this CPU's INIT and SIPI messages, and those it holds back; under `lock`. */
	struct ipi_fault fault;
	struct held held[HELD_MAX];
	unsigned int nheld;      /* written under `lock` with atomic stores: read without it */
};

struct apic_bus {
	unsigned int ncpus;
	struct apic_bus_ops ops;
	void *opaque;
	struct bus_cpu *cpu;

	pthread_rwlock_t map_lock;
	struct apic_cpu *map;    /* each APIC's lapic_dest_info(), kept current */
	atomic_bool *absent;     /* CPU hotplug: not plugged in, so no message reaches it */
};

/* ---- the destination map -------------------------------------------------- */

static void map_refresh(struct apic_bus *b, unsigned int i)
{
	struct apic_cpu info;

	lapic_dest_info(b->cpu[i].lapic, &info);
	pthread_rwlock_wrlock(&b->map_lock);
	b->map[i] = info;
	pthread_rwlock_unlock(&b->map_lock);
}

/* ---- callbacks from the local APICs ------------------------------------------ */

static void lapic_send(void *opaque, struct lapic *from, const struct icr *icr)
{
	struct bus_cpu *c = opaque;

	(void)from;
	apic_bus_deliver(c->bus, icr, c->index);
}

static void lapic_kick(void *opaque, unsigned int vcpu_id)
{
	struct bus_cpu *c = opaque;

	apic_bus_kick(c->bus, vcpu_id);
}

static void lapic_eoi(void *opaque, unsigned int vcpu_id, uint8_t vector)
{
	struct bus_cpu *c = opaque;

	(void)vcpu_id;
	if (c->bus->ops.eoi)
		c->bus->ops.eoi(c->bus->opaque, vector);
}

static void lapic_log(void *opaque, unsigned int vcpu_id, const char *msg)
{
	struct bus_cpu *c = opaque;

	c->bus->ops.log(c->bus->opaque, vcpu_id, msg);
}

static void lapic_dest_changed(void *opaque, unsigned int vcpu_id)
{
	struct bus_cpu *c = opaque;

	map_refresh(c->bus, vcpu_id);
}

static const struct lapic_ops bus_lapic_ops = {
	.send_ipi = lapic_send,
	.kick = lapic_kick,
	.eoi = lapic_eoi,
	.log = lapic_log,
	.dest_changed = lapic_dest_changed,
};

/* ---- set-up ------------------------------------------------------------------ */

struct apic_bus *apic_bus_create(unsigned int ncpus, const uint32_t *apic_ids, unsigned int boot_cpu,
				 const struct apic_bus_ops *ops, void *opaque)
{
	struct apic_bus *b = calloc(1, sizeof(*b));
	pthread_condattr_t ca;

	if (!b)
		return NULL;
	b->ncpus = ncpus;
	b->ops = *ops;
	b->opaque = opaque;
	pthread_rwlock_init(&b->map_lock, NULL);
	b->cpu = calloc(ncpus, sizeof(*b->cpu));
	b->map = calloc(ncpus, sizeof(*b->map));
	b->absent = calloc(ncpus, sizeof(*b->absent));
	if (!b->cpu || !b->map || !b->absent || ncpus > APIC_DEST_MAX_CPUS) {
		free(b->cpu);
		b->cpu = NULL;
		apic_bus_destroy(b);
		return NULL;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (unsigned int i = 0; i < ncpus; i++) {
		struct bus_cpu *c = &b->cpu[i];

		c->bus = b;
		c->index = i;
		c->bsp = i == boot_cpu;
		c->state = mp_initial_state(c->bsp);
		pthread_mutex_init(&c->lock, NULL);
		pthread_cond_init(&c->wake, &ca);
		c->lapic = lapic_create(i, apic_ids[i], c->bsp, &bus_lapic_ops, c);
	}
	pthread_condattr_destroy(&ca);
	for (unsigned int i = 0; i < ncpus; i++) {
		if (!b->cpu[i].lapic) {
			apic_bus_destroy(b);
			return NULL;
		}
		lapic_dest_info(b->cpu[i].lapic, &b->map[i]);
	}
	return b;
}

void apic_bus_destroy(struct apic_bus *b)
{
	if (!b)
		return;
	for (unsigned int i = 0; b->cpu && i < b->ncpus; i++) {
		lapic_destroy(b->cpu[i].lapic);
		pthread_cond_destroy(&b->cpu[i].wake);
		pthread_mutex_destroy(&b->cpu[i].lock);
	}
	pthread_rwlock_destroy(&b->map_lock);
	free(b->map);
	free(b->absent);
	free(b->cpu);
	free(b);
}

struct lapic *apic_bus_lapic(struct apic_bus *b, unsigned int cpu)
{
	return b->cpu[cpu].lapic;
}

/* ---- delivery --------------------------------------------------------------- */

enum queued { Q_INIT, Q_SIPI, Q_NMI };

static void queue(struct bus_cpu *c, enum queued what, uint8_t vector)
{
	pthread_mutex_lock(&c->lock);
	switch (what) {
	case Q_INIT:
		c->init_pending = true;
		c->sipi_pending = false; /* a SIPI sent before this INIT is void */
		break;
	case Q_SIPI:
		/* Two SIPIs before the target looks: only one can count anyway. */
		c->sipi_pending = true;
		c->sipi_vector = vector;
		break;
	case Q_NMI:
		/*
		 * One NMI may be in service and one more latched (SDM vol. 3A
		 * §6.7.1); the VMM hands each to KVM, which applies that rule
		 * against the CPU's NMI blocking, which only it sees.
		 */
		if (c->nmi_pending < 2)
			c->nmi_pending++;
		break;
	}
	pthread_mutex_unlock(&c->lock);
	apic_bus_kick(c->bus, c->index);
}

/*
 * An INIT or SIPI on its way to `c`: applies the CPU's fault. True if the
 * fault took the message (dropped, or held back to be delivered later by
 * release_held()); a duplicate is held back and also delivered now.
 */
static bool faulted(struct bus_cpu *c, const struct icr *icr)
{
	enum queued what = icr->delivery == ICR_INIT ? Q_INIT : Q_SIPI;
	uint8_t vector = icr->vector;
	enum ipi_fault_action a;
	uint64_t delay;
	bool held = false;

	pthread_mutex_lock(&c->lock);
	a = ipi_fault_apply(&c->fault, what == Q_INIT ? IPI_FAULT_INIT : IPI_FAULT_SIPI, &delay);
	if ((a == IPI_FAULT_DELAY || a == IPI_FAULT_DUPLICATE) && c->nheld < HELD_MAX) {
		c->held[c->nheld] = (struct held){ monotonic_ns() + delay, (uint8_t)what, vector };
		__atomic_store_n(&c->nheld, c->nheld + 1, __ATOMIC_RELEASE);
		held = true;
	}
	pthread_mutex_unlock(&c->lock);
	if (a != IPI_FAULT_PASS && c->bus->ops.faulted)
		c->bus->ops.faulted(c->bus->opaque, c->index, icr, a == IPI_FAULT_DROP || held ? a : IPI_FAULT_PASS, delay);
	if (held) /* the owner sets its sleep or timer for the new due time */
		apic_bus_kick(c->bus, c->index);
	return a == IPI_FAULT_DROP || (a == IPI_FAULT_DELAY && held);
}

/* The owner, with c->lock held: the held-back messages now due go into the queue, earliest first. */
static void release_held(struct bus_cpu *c)
{
	uint64_t now;

	if (!c->nheld)
		return;
	now = monotonic_ns();
	for (;;) {
		unsigned int first = HELD_MAX;

		for (unsigned int i = 0; i < c->nheld; i++)
			if (c->held[i].due_ns <= now && (first == HELD_MAX || c->held[i].due_ns < c->held[first].due_ns))
				first = i;
		if (first == HELD_MAX)
			return;
		if (c->held[first].what == Q_INIT) {
			c->init_pending = true;
			c->sipi_pending = false;
		} else {
			c->sipi_pending = true;
			c->sipi_vector = c->held[first].vector;
		}
		c->held[first] = c->held[c->nheld - 1];
		__atomic_store_n(&c->nheld, c->nheld - 1, __ATOMIC_RELEASE);
	}
}

static void deliver_one(struct apic_bus *b, unsigned int cpu, const struct icr *icr, uint32_t sender)
{
	struct bus_cpu *t = &b->cpu[cpu];
	bool init_or_sipi = (icr->delivery == ICR_INIT && !icr->init_deassert) || icr->delivery == ICR_STARTUP;

	/* A fault may take an INIT or SIPI (dropped, or held back: it is delivered later, untraced). */
	if (init_or_sipi && faulted(t, icr))
		return;
	if (b->ops.delivered)
		b->ops.delivered(b->opaque, sender, cpu, icr);
	switch (icr->delivery) {
	case ICR_FIXED:
	case ICR_LOWEST:
		lapic_accept_irq(t->lapic, icr->vector, icr->level_trigger); /* kicks through lapic_ops */
		break;
	case ICR_NMI:
		queue(t, Q_NMI, 0);
		break;
	case ICR_INIT:
		if (!icr->init_deassert) /* de-assert: no effect since the Pentium 4 (§10.6.1) */
			queue(t, Q_INIT, 0);
		break;
	case ICR_STARTUP:
		queue(t, Q_SIPI, icr->vector);
		break;
	case ICR_SMI:
		b->ops.log(b->opaque, sender, "SMI IPI: mpvm has no SMM; ignored");
		break;
	}
}

int apic_bus_deliver(struct apic_bus *b, const struct icr *icr, uint32_t sender)
{
	struct apic_dest_set set;
	int n;

	if (icr->delivery == ICR_LOWEST) /* arbitration reads every candidate's priority now */
		for (unsigned int i = 0; i < b->ncpus; i++)
			map_refresh(b, i);
	pthread_rwlock_rdlock(&b->map_lock);
	n = apic_dest_resolve(icr, sender, b->map, b->ncpus, &set);
	pthread_rwlock_unlock(&b->map_lock);
	/* All-excluding-self on one CPU reaches nobody, and rightly (firmware broadcasts INIT/SIPI). */
	if (n == 0 && !icr->init_deassert && icr->shorthand != ICR_ALL_EXCL_SELF) {
		char msg[160];

		snprintf(msg, sizeof(msg), "%s IPI (vector 0x%02x) to %s destination 0x%x reaches no CPU",
			 icr_delivery_name(icr->delivery), icr->vector,
			 icr->logical ? "logical" : "physical", icr->dest);
		b->ops.log(b->opaque, sender, msg);
	}
	for (unsigned int w = 0; n > 0 && w < (b->ncpus + 63) / 64; w++) {
		for (uint64_t bits = set.words[w]; bits; bits &= bits - 1) {
			unsigned int cpu = w * 64 + (unsigned int)__builtin_ctzll(bits);

			if (atomic_load_explicit(&b->absent[cpu], memory_order_relaxed))
				n--; /* a CPU not plugged in is not on the bus */
			else
				deliver_one(b, cpu, icr, sender);
		}
	}
	return n < 0 ? 0 : n;
}

void apic_bus_set_present(struct apic_bus *b, unsigned int cpu, bool present)
{
	if (cpu < b->ncpus)
		atomic_store(&b->absent[cpu], !present);
}

void apic_bus_wake(struct apic_bus *b, unsigned int cpu)
{
	struct bus_cpu *c = &b->cpu[cpu];

	pthread_mutex_lock(&c->lock);
	c->woken = true;
	pthread_mutex_unlock(&c->lock);
	/*
	 * After the unlock: a sleeper woken while this thread still held the
	 * lock would at once block on it again (a second futex wait and wake
	 * per IPI). The sleeper reads woken under the lock, so it cannot miss
	 * this wake-up either way.
	 */
	pthread_cond_broadcast(&c->wake);
}

void apic_bus_kick(struct apic_bus *b, unsigned int cpu)
{
	apic_bus_wake(b, cpu);
	if (b->ops.kick)
		b->ops.kick(b->opaque, cpu);
}

/* ---- the owner's side: events through the MP-state machine ------------------ */

static void set_state(struct bus_cpu *c, enum mp_state s)
{
	if (s == c->state)
		return;
	c->state = s;
	if (c->bus->ops.state_changed)
		c->bus->ops.state_changed(c->bus->opaque, c->index, s);
}

/* With c->lock held. */
static void step(struct bus_cpu *c, enum mp_event_type type, uint8_t vector, bool if_flag)
{
	struct apic_bus *b = c->bus;
	struct mp_event ev = { .type = type, .vector = vector, .if_flag = if_flag };
	struct mp_step s = mp_machine_step(c->state, c->bsp, &ev);
	struct mp_sipi_regs sr;

	switch (s.action) {
	case MP_ACT_RESET_CPU:
		/* INIT keeps the APIC ID and IA32_APIC_BASE (SDM vol. 3A §10.4.7.3). */
		lapic_reset(c->lapic, true);
		c->nmi_pending = 0;
		b->ops.load_reset(b->opaque, c->index);
		break;
	case MP_ACT_START_AT_VECTOR:
		set_state(c, s.next);
		mp_sipi_start_state(vector, &sr);
		b->ops.load_sipi(b->opaque, c->index, &sr);
		s = mp_machine_step(c->state, c->bsp, &(struct mp_event){ .type = MP_EV_SIPI_DONE });
		break;
	case MP_ACT_DROP:
		if (type == MP_EV_SIPI)
			c->sipis_dropped++;
		break;
	default:
		break;
	}
	set_state(c, s.next);
}

static bool interrupt_waiting(struct bus_cpu *c)
{
	struct apic_bus *b = c->bus;

	if (lapic_pending_vector(c->lapic) >= 0)
		return true;
	return b->ops.extint_pending && apic_bus_takes_extint(b, c->index) && b->ops.extint_pending(b->opaque);
}

bool apic_bus_runnable(struct apic_bus *b, unsigned int cpu)
{
	struct bus_cpu *c = &b->cpu[cpu];
	bool runnable;

	pthread_mutex_lock(&c->lock);
	release_held(c);
	if (c->init_pending) {
		c->init_pending = false;
		step(c, MP_EV_INIT, 0, false);
	}
	if (c->sipi_pending) {
		c->sipi_pending = false;
		step(c, MP_EV_SIPI, c->sipi_vector, false);
	}
	if (c->state == MP_STATE_HALTED) {
		if (c->nmi_pending)
			step(c, MP_EV_NMI, 0, false);
		else if (interrupt_waiting(c))
			step(c, MP_EV_INTR, 0, c->halt_if);
	}
	runnable = c->state == MP_STATE_RUNNABLE;
	if (!runnable)
		c->woken = false; /* from here on, any event wakes apic_bus_sleep() */
	pthread_mutex_unlock(&c->lock);
	return runnable;
}

void apic_bus_sleep(struct apic_bus *b, unsigned int cpu, uint64_t deadline_ns)
{
	struct bus_cpu *c = &b->cpu[cpu];

	pthread_mutex_lock(&c->lock);
	if (!c->woken) {
		if (deadline_ns) {
			struct timespec ts = ns_to_timespec(deadline_ns);

			pthread_cond_timedwait(&c->wake, &c->lock, &ts);
		} else {
			pthread_cond_wait(&c->wake, &c->lock);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

void apic_bus_halt(struct apic_bus *b, unsigned int cpu, bool if_flag)
{
	struct bus_cpu *c = &b->cpu[cpu];

	pthread_mutex_lock(&c->lock);
	c->halt_if = if_flag;
	step(c, MP_EV_HLT, 0, if_flag);
	pthread_mutex_unlock(&c->lock);
}

unsigned int apic_bus_take_nmis(struct apic_bus *b, unsigned int cpu)
{
	struct bus_cpu *c = &b->cpu[cpu];
	unsigned int n;

	pthread_mutex_lock(&c->lock);
	n = c->nmi_pending;
	c->nmi_pending = 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}

bool apic_bus_takes_extint(struct apic_bus *b, unsigned int cpu)
{
	struct bus_cpu *c = &b->cpu[cpu];
	uint32_t lint0;

	if (!lapic_hw_enabled(c->lapic))
		return c->bsp; /* APIC off: the PIC's INTR goes straight to the BSP */
	lint0 = lapic_lvt(c->lapic, LAPIC_LVT_LINT0);
	return !(lint0 & LAPIC_LVT_MASKED) && LAPIC_LVT_DELIVERY(lint0) == LAPIC_DM_EXTINT;
}

enum mp_state apic_bus_mp_state(struct apic_bus *b, unsigned int cpu)
{
	struct bus_cpu *c = &b->cpu[cpu];
	enum mp_state s;

	pthread_mutex_lock(&c->lock);
	s = c->state;
	pthread_mutex_unlock(&c->lock);
	return s;
}

uint64_t apic_bus_sipis_dropped(struct apic_bus *b, unsigned int cpu)
{
	struct bus_cpu *c = &b->cpu[cpu];
	uint64_t n;

	pthread_mutex_lock(&c->lock);
	n = c->sipis_dropped;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void apic_bus_save(struct apic_bus *b, unsigned int cpu, struct apic_bus_cpu_state *s)
{
	struct bus_cpu *c = &b->cpu[cpu];

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&c->lock);
	s->state = c->state;
	s->halt_if = c->halt_if;
	s->init_pending = c->init_pending;
	s->sipi_pending = c->sipi_pending;
	s->sipi_vector = c->sipi_vector;
	s->nmi_pending = c->nmi_pending;
	pthread_mutex_unlock(&c->lock);
	lapic_save(c->lapic, &s->lapic);
}

int apic_bus_load(struct apic_bus *b, unsigned int cpu, const struct apic_bus_cpu_state *s, char *err,
		  size_t errlen)
{
	struct bus_cpu *c = &b->cpu[cpu];

	if (!mp_state_name(s->state))
		return errmsg(err, errlen, "CPU %u: MP state %u, which x86 does not have", cpu, s->state);
	if (c->bsp && (s->state == MP_STATE_INIT_RECEIVED || s->state == MP_STATE_SIPI_RECEIVED))
		return errmsg(err, errlen, "CPU %u is the BSP and in %s: only an AP waits for a SIPI", cpu,
			      mp_state_name(s->state));
	if ((s->halt_if | s->init_pending | s->sipi_pending) > 1 || s->nmi_pending > 2 || s->pad)
		return errmsg(err, errlen, "CPU %u: its queued INIT, SIPI or NMIs are out of range", cpu);
	if (lapic_load(c->lapic, &s->lapic, err, errlen))
		return -1;
	pthread_mutex_lock(&c->lock);
	c->state = (enum mp_state)s->state;
	c->halt_if = s->halt_if;
	c->init_pending = s->init_pending;
	c->sipi_pending = s->sipi_pending;
	c->sipi_vector = s->sipi_vector;
	c->nmi_pending = s->nmi_pending;
	/* Messages a fault held back are not state a snapshot keeps: a loaded CPU (a reset too) has none. */
	__atomic_store_n(&c->nheld, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&c->lock);
	map_refresh(b, cpu);
	return 0;
}

void apic_bus_set_fault(struct apic_bus *b, unsigned int cpu, enum ipi_fault_action action, unsigned int kinds,
			uint32_t count, uint64_t delay_ns, bool seeded, uint64_t seed)
{
	struct bus_cpu *c = &b->cpu[cpu];

	pthread_mutex_lock(&c->lock);
	ipi_fault_set(&c->fault, action, kinds, count, delay_ns, seeded, seed);
	pthread_mutex_unlock(&c->lock);
}

uint64_t apic_bus_faults_applied(struct apic_bus *b, unsigned int cpu)
{
	struct bus_cpu *c = &b->cpu[cpu];
	uint64_t n;

	pthread_mutex_lock(&c->lock);
	n = c->fault.applied;
	pthread_mutex_unlock(&c->lock);
	return n;
}

uint64_t apic_bus_next_held_ns(struct apic_bus *b, unsigned int cpu)
{
	struct bus_cpu *c = &b->cpu[cpu];
	uint64_t due = 0;

	/* Before every KVM_RUN in user mode: no lock while nothing is held (the usual case). */
	if (!__atomic_load_n(&c->nheld, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&c->lock);
	for (unsigned int i = 0; i < c->nheld; i++)
		if (!due || c->held[i].due_ns < due)
			due = c->held[i].due_ns;
	pthread_mutex_unlock(&c->lock);
	return due;
}
