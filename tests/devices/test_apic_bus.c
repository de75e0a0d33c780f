/*
 * Unit tests of devices/apic_bus.c: every delivery mode and shorthand,
 * physical and logical destinations in xAPIC and x2APIC mode, INIT/SIPI
 * through the MP-state machine (broadcast INIT then one SIPI at once, INIT
 * to the BSP, two SIPIs in a row, SIPI before INIT), HLT and wake-ups,
 * NMIs, IPIs to absent IDs, and the destination map following the APICs'
 * registers. The VMM side is a recorder of the bus's callbacks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apic_dest.h"
#include "core/clock.h"
#include "core/icr.h"
#include "devices/apic_bus.h"
#include "devices/lapic.h"

#define NCPUS 4
#define MAX_EVENTS 64

struct rec {
	unsigned int resets[NCPUS];
	unsigned int sipis[NCPUS];
	struct mp_sipi_regs sipi_regs[NCPUS];
	unsigned int kicks[NCPUS];
	unsigned int changes[NCPUS];
	enum mp_state last_state[NCPUS];
	unsigned int logs;
	char last_log[200];
	bool extint;
	unsigned int eois;
	uint8_t eoi_vector;
};

static void load_reset(void *o, unsigned int cpu)
{
	((struct rec *)o)->resets[cpu]++;
}

static void load_sipi(void *o, unsigned int cpu, const struct mp_sipi_regs *r)
{
	struct rec *rec = o;

	rec->sipis[cpu]++;
	rec->sipi_regs[cpu] = *r;
}

static void kick(void *o, unsigned int cpu)
{
	((struct rec *)o)->kicks[cpu]++;
}

static void state_changed(void *o, unsigned int cpu, enum mp_state s)
{
	struct rec *rec = o;

	rec->changes[cpu]++;
	rec->last_state[cpu] = s;
}

static bool extint_pending(void *o)
{
	return ((struct rec *)o)->extint;
}

static void eoi(void *o, uint8_t vector)
{
	struct rec *rec = o;

	rec->eois++;
	rec->eoi_vector = vector;
}

static void log_msg(void *o, uint32_t cpu, const char *msg)
{
	struct rec *rec = o;

	(void)cpu;
	rec->logs++;
	snprintf(rec->last_log, sizeof(rec->last_log), "%s", msg);
}

static const struct apic_bus_ops ops = {
	.load_reset = load_reset, .load_sipi = load_sipi, .kick = kick,
	.state_changed = state_changed, .extint_pending = extint_pending, .eoi = eoi, .log = log_msg,
};

struct fixture {
	struct rec rec;
	struct apic_bus *bus;
};

static struct apic_bus *make_bus(struct rec *rec, unsigned int boot_cpu)
{
	static const uint32_t ids[NCPUS] = { 0, 1, 2, 3 };
	struct apic_bus *b = apic_bus_create(NCPUS, ids, boot_cpu, &ops, rec);

	assert_non_null(b);
	return b;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->bus = make_bus(&f->rec, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	apic_bus_destroy(f->bus);
	free(f);
	return 0;
}

/* Software-enables every APIC (SVR bit 8), as an OS does before IPIs. */
static void enable_all(struct apic_bus *b)
{
	uint32_t svr = LAPIC_SVR_ENABLE | 0xff;

	for (unsigned int i = 0; i < NCPUS; i++)
		lapic_mmio_write(apic_bus_lapic(b, i), LAPIC_REG_SVR, &svr, 4);
}

static struct icr ipi(enum icr_delivery d, uint8_t vector, enum icr_shorthand sh, uint32_t dest)
{
	return (struct icr){ .vector = vector, .delivery = d, .level_assert = true,
			     .shorthand = sh, .dest = dest };
}

/* The owner thread's look before KVM_RUN; never sleeps in these tests. */
static bool runnable(struct apic_bus *b, unsigned int cpu)
{
	return apic_bus_runnable(b, cpu);
}

/* Starts AP `cpu` the universal way: INIT, then a SIPI with `vector`. */
static void start_ap(struct apic_bus *b, unsigned int cpu, uint8_t vector)
{
	struct icr init = ipi(ICR_INIT, 0, ICR_DEST_FIELD, cpu);
	struct icr sipi = ipi(ICR_STARTUP, vector, ICR_DEST_FIELD, cpu);

	assert_int_equal(apic_bus_deliver(b, &init, 0), 1);
	assert_false(runnable(b, cpu));
	assert_int_equal(apic_bus_mp_state(b, cpu), MP_STATE_INIT_RECEIVED);
	assert_int_equal(apic_bus_deliver(b, &sipi, 0), 1);
	assert_true(runnable(b, cpu));
}

/* mpvm-fault: a dropped SIPI leaves the AP waiting; the next one starts it. */
static void fault_drops_sipi(void **state)
{
	struct fixture *f = *state;
	struct icr init = ipi(ICR_INIT, 0, ICR_DEST_FIELD, 2), sipi = ipi(ICR_STARTUP, 0x10, ICR_DEST_FIELD, 2);

	apic_bus_set_fault(f->bus, 2, IPI_FAULT_DROP, IPI_FAULT_SIPI, 1, 0, false, 0);
	apic_bus_deliver(f->bus, &init, 0);
	assert_false(runnable(f->bus, 2));
	apic_bus_deliver(f->bus, &sipi, 0);
	assert_false(runnable(f->bus, 2));
	assert_int_equal(apic_bus_mp_state(f->bus, 2), MP_STATE_INIT_RECEIVED);
	assert_int_equal(apic_bus_faults_applied(f->bus, 2), 1);
	apic_bus_deliver(f->bus, &sipi, 0);
	assert_true(runnable(f->bus, 2));
	assert_int_equal(f->rec.sipis[2], 1);
	/* Other CPUs are untouched by CPU 2's fault. */
	start_ap(f->bus, 1, 0x10);
}

/* A delayed INIT is held until due (the owner's next look after it), then taken. */
static void fault_delays_init(void **state)
{
	struct fixture *f = *state;
	struct icr init = ipi(ICR_INIT, 0, ICR_DEST_FIELD, 3);
	uint64_t due;

	start_ap(f->bus, 3, 0x10);
	apic_bus_set_fault(f->bus, 3, IPI_FAULT_DELAY, IPI_FAULT_INIT | IPI_FAULT_SIPI, 1, 50000000, false, 0);
	apic_bus_deliver(f->bus, &init, 0);
	due = apic_bus_next_held_ns(f->bus, 3);
	assert_true(due > monotonic_ns());
	assert_true(runnable(f->bus, 3)); /* not yet */
	apic_bus_sleep(f->bus, 3, due);   /* the owner sleeps until it is due */
	while (monotonic_ns() < due)
		apic_bus_sleep(f->bus, 3, due);
	assert_false(runnable(f->bus, 3));
	assert_int_equal(apic_bus_mp_state(f->bus, 3), MP_STATE_INIT_RECEIVED);
	assert_int_equal(apic_bus_next_held_ns(f->bus, 3), 0);
}

/* A CPU loaded from a saved state (a restore, system_reset) has no message a fault held back. */
static void load_drops_held(void **state)
{
	struct fixture *f = *state;
	struct icr init = ipi(ICR_INIT, 0, ICR_DEST_FIELD, 3);
	struct apic_bus_cpu_state s;
	char err[160] = "";

	apic_bus_save(f->bus, 3, &s); /* power-on: UNINITIALIZED */
	apic_bus_set_fault(f->bus, 3, IPI_FAULT_DELAY, IPI_FAULT_INIT, 1, 50000000, false, 0);
	apic_bus_deliver(f->bus, &init, 0);
	assert_true(apic_bus_next_held_ns(f->bus, 3) > 0);
	assert_int_equal(apic_bus_load(f->bus, 3, &s, err, sizeof(err)), 0);
	assert_int_equal(apic_bus_next_held_ns(f->bus, 3), 0);
	assert_int_equal(apic_bus_mp_state(f->bus, 3), MP_STATE_UNINITIALIZED);
}

/* A duplicated SIPI: taken now; the copy, later, finds the AP running and is ignored. */
static void fault_duplicates_sipi(void **state)
{
	struct fixture *f = *state;
	struct icr init = ipi(ICR_INIT, 0, ICR_DEST_FIELD, 1), sipi = ipi(ICR_STARTUP, 0x20, ICR_DEST_FIELD, 1);
	uint64_t due;

	apic_bus_set_fault(f->bus, 1, IPI_FAULT_DUPLICATE, IPI_FAULT_SIPI, 1, 1000000, true, 9);
	apic_bus_deliver(f->bus, &init, 0);
	apic_bus_deliver(f->bus, &sipi, 0);
	assert_true(runnable(f->bus, 1));
	due = apic_bus_next_held_ns(f->bus, 1);
	assert_true(due != 0);
	while (monotonic_ns() < due)
		apic_bus_sleep(f->bus, 1, due);
	assert_true(runnable(f->bus, 1));
	assert_int_equal(f->rec.sipis[1], 1);
	assert_int_equal(apic_bus_sipis_dropped(f->bus, 1), 1);
}

static void initial_states(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(apic_bus_mp_state(f->bus, 0), MP_STATE_RUNNABLE);
	for (unsigned int i = 1; i < NCPUS; i++) {
		assert_int_equal(apic_bus_mp_state(f->bus, i), MP_STATE_UNINITIALIZED);
		assert_false(runnable(f->bus, i));
	}
	assert_true(runnable(f->bus, 0));
	/* Any CPU can be the BSP. */
	{
		struct rec rec = { 0 };
		struct apic_bus *b = make_bus(&rec, 3);

		assert_int_equal(apic_bus_mp_state(b, 3), MP_STATE_RUNNABLE);
		assert_int_equal(apic_bus_mp_state(b, 0), MP_STATE_UNINITIALIZED);
		assert_true(lapic_get_base(apic_bus_lapic(b, 3)) & LAPIC_BASE_BSP);
		assert_false(lapic_get_base(apic_bus_lapic(b, 0)) & LAPIC_BASE_BSP);
		apic_bus_destroy(b);
	}
}

static void init_sipi_starts_ap(void **state)
{
	struct fixture *f = *state;

	start_ap(f->bus, 2, 0x9a);
	assert_int_equal(f->rec.resets[2], 1);
	assert_int_equal(f->rec.sipis[2], 1);
	assert_int_equal(f->rec.sipi_regs[2].cs_selector, 0x9a00);
	assert_int_equal(f->rec.sipi_regs[2].cs_base, 0x9a000);
	assert_int_equal(f->rec.sipi_regs[2].ip, 0);
	assert_int_equal(apic_bus_mp_state(f->bus, 2), MP_STATE_RUNNABLE);
	assert_int_equal(f->rec.last_state[2], MP_STATE_RUNNABLE);
	assert_true(f->rec.kicks[2] >= 2);
	/* The others never moved. */
	assert_int_equal(apic_bus_mp_state(f->bus, 1), MP_STATE_UNINITIALIZED);
	assert_int_equal(f->rec.resets[1] + f->rec.sipis[1], 0);
}

static void second_sipi_ignored(void **state)
{
	struct fixture *f = *state;
	struct icr sipi = ipi(ICR_STARTUP, 0x10, ICR_DEST_FIELD, 1);

	start_ap(f->bus, 1, 0x08);
	/* Linux's second SIPI reaches a running AP: it does nothing. */
	assert_int_equal(apic_bus_deliver(f->bus, &sipi, 0), 1);
	assert_true(runnable(f->bus, 1));
	assert_int_equal(f->rec.sipis[1], 1);
	assert_int_equal(apic_bus_sipis_dropped(f->bus, 1), 1);
	assert_int_equal(f->rec.sipi_regs[1].cs_selector, 0x0800);
}

static void two_sipis_before_the_ap_looks(void **state)
{
	struct fixture *f = *state;
	struct icr init = ipi(ICR_INIT, 0, ICR_DEST_FIELD, 1);
	struct icr s1 = ipi(ICR_STARTUP, 0x11, ICR_DEST_FIELD, 1);
	struct icr s2 = ipi(ICR_STARTUP, 0x22, ICR_DEST_FIELD, 1);

	apic_bus_deliver(f->bus, &init, 0);
	apic_bus_deliver(f->bus, &s1, 0);
	apic_bus_deliver(f->bus, &s2, 0);
	assert_true(runnable(f->bus, 1));
	/* One start only: from wait-for-SIPI a single SIPI counts. */
	assert_int_equal(f->rec.sipis[1], 1);
	assert_int_equal(f->rec.resets[1], 1);
}

static void sipi_without_init_dropped(void **state)
{
	struct fixture *f = *state;
	struct icr sipi = ipi(ICR_STARTUP, 0x10, ICR_DEST_FIELD, 3);

	assert_int_equal(apic_bus_deliver(f->bus, &sipi, 0), 1);
	assert_false(runnable(f->bus, 3));
	assert_int_equal(apic_bus_mp_state(f->bus, 3), MP_STATE_UNINITIALIZED);
	assert_int_equal(f->rec.sipis[3], 0);
	assert_int_equal(apic_bus_sipis_dropped(f->bus, 3), 1);
}

static void sipi_before_init_is_void(void **state)
{
	struct fixture *f = *state;
	struct icr sipi = ipi(ICR_STARTUP, 0x10, ICR_DEST_FIELD, 1);
	struct icr init = ipi(ICR_INIT, 0, ICR_DEST_FIELD, 1);

	/* Both queued before the AP looks: the INIT voids the earlier SIPI. */
	apic_bus_deliver(f->bus, &sipi, 0);
	apic_bus_deliver(f->bus, &init, 0);
	assert_false(runnable(f->bus, 1));
	assert_int_equal(apic_bus_mp_state(f->bus, 1), MP_STATE_INIT_RECEIVED);
	assert_int_equal(f->rec.sipis[1], 0);
}

static void broadcast_init_then_one_sipi(void **state)
{
	struct fixture *f = *state;
	struct icr init = ipi(ICR_INIT, 0, ICR_ALL_EXCL_SELF, 0);
	struct icr sipi = ipi(ICR_STARTUP, 0x08, ICR_ALL_EXCL_SELF, 0);

	assert_int_equal(apic_bus_deliver(f->bus, &init, 0), NCPUS - 1);
	assert_int_equal(apic_bus_deliver(f->bus, &sipi, 0), NCPUS - 1);
	for (unsigned int i = 1; i < NCPUS; i++) {
		assert_true(runnable(f->bus, i));
		assert_int_equal(f->rec.resets[i], 1);
		assert_int_equal(f->rec.sipis[i], 1);
	}
	assert_true(runnable(f->bus, 0));
	assert_int_equal(f->rec.resets[0] + f->rec.sipis[0], 0);
}

/* CPU hotplug: a CPU not plugged in takes no message, broadcast or not, until it is. */
static void absent_cpu_takes_nothing(void **state)
{
	struct fixture *f = *state;
	struct icr init = ipi(ICR_INIT, 0, ICR_ALL_EXCL_SELF, 0);
	struct icr sipi = ipi(ICR_STARTUP, 0x08, ICR_ALL_EXCL_SELF, 0);
	struct icr init3 = ipi(ICR_INIT, 0, ICR_DEST_FIELD, 3);

	apic_bus_set_present(f->bus, 3, false);
	assert_int_equal(apic_bus_deliver(f->bus, &init, 0), NCPUS - 2);
	assert_int_equal(apic_bus_deliver(f->bus, &sipi, 0), NCPUS - 2);
	assert_int_equal(apic_bus_deliver(f->bus, &init3, 0), 0);
	assert_false(runnable(f->bus, 3));
	assert_int_equal(apic_bus_mp_state(f->bus, 3), MP_STATE_UNINITIALIZED);
	assert_int_equal(f->rec.resets[3] + f->rec.sipis[3], 0);
	assert_true(runnable(f->bus, 2));
	/* plugged in: the usual INIT-SIPI starts it */
	apic_bus_set_present(f->bus, 3, true);
	start_ap(f->bus, 3, 0x08);
	assert_int_equal(f->rec.sipis[3], 1);
}

static void init_to_bsp(void **state)
{
	struct fixture *f = *state;
	struct icr init = ipi(ICR_INIT, 0, ICR_SELF, 0);
	struct icr sipi = ipi(ICR_STARTUP, 0x10, ICR_DEST_FIELD, 0);

	/*
	 * INIT resets the BSP, which restarts at the reset vector at once
	 * rather than waiting for a SIPI (core/mp_machine.c; KVM does the same).
	 */
	apic_bus_deliver(f->bus, &init, 0);
	assert_true(runnable(f->bus, 0));
	assert_int_equal(apic_bus_mp_state(f->bus, 0), MP_STATE_RUNNABLE);
	assert_int_equal(f->rec.resets[0], 1);
	/* IA32_APIC_BASE (and with it the BSP flag) survives INIT. */
	assert_true(lapic_get_base(apic_bus_lapic(f->bus, 0)) & LAPIC_BASE_BSP);
	/* So a SIPI finds it running, and is dropped. */
	apic_bus_deliver(f->bus, &sipi, 1);
	assert_true(runnable(f->bus, 0));
	assert_int_equal(f->rec.sipis[0], 0);
	assert_int_equal(apic_bus_sipis_dropped(f->bus, 0), 1);
}

static void init_deassert_does_nothing(void **state)
{
	struct fixture *f = *state;
	struct icr d = ipi(ICR_INIT, 0, ICR_ALL_INCL_SELF, 0);

	d.level_assert = false;
	d.level_trigger = true;
	d.init_deassert = true;
	apic_bus_deliver(f->bus, &d, 0);
	for (unsigned int i = 0; i < NCPUS; i++)
		assert_int_equal(f->rec.resets[i], 0);
	assert_int_equal(f->rec.logs, 0);
	assert_true(runnable(f->bus, 0));
}

static void fixed_ipis_and_shorthands(void **state)
{
	struct fixture *f = *state;
	struct icr self = ipi(ICR_FIXED, 0x40, ICR_SELF, 0);
	struct icr all = ipi(ICR_FIXED, 0x41, ICR_ALL_INCL_SELF, 0);
	struct icr others = ipi(ICR_FIXED, 0x42, ICR_ALL_EXCL_SELF, 0);
	struct icr one = ipi(ICR_FIXED, 0x43, ICR_DEST_FIELD, 2);

	enable_all(f->bus);
	assert_int_equal(apic_bus_deliver(f->bus, &self, 1), 1);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 1)), 0x40);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 0)), -1);
	assert_int_equal(apic_bus_deliver(f->bus, &all, 1), NCPUS);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 3)), 0x41);
	assert_int_equal(apic_bus_deliver(f->bus, &others, 3), NCPUS - 1);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 0)), 0x42);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 3)), 0x41);
	assert_int_equal(apic_bus_deliver(f->bus, &one, 0), 1);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 2)), 0x43);
	assert_true(f->rec.kicks[2] >= 1);
}

static void software_disabled_apic_drops_fixed(void **state)
{
	struct fixture *f = *state;
	struct icr one = ipi(ICR_FIXED, 0x50, ICR_DEST_FIELD, 1);
	struct icr nmi = ipi(ICR_NMI, 0, ICR_DEST_FIELD, 1);

	/* After reset SVR bit 8 is clear: fixed interrupts are dropped, NMIs are not (§10.4.7.2). */
	apic_bus_deliver(f->bus, &one, 0);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 1)), -1);
	assert_int_equal(apic_bus_deliver(f->bus, &nmi, 0), 1);
	assert_int_equal(apic_bus_take_nmis(f->bus, 1), 1);
}

static void logical_destinations(void **state)
{
	struct fixture *f = *state;
	uint32_t ldr;
	struct icr flat = ipi(ICR_FIXED, 0x60, ICR_DEST_FIELD, 0x06);

	enable_all(f->bus);
	/* Flat model (DFR reset value): CPU i gets logical ID bit i. */
	for (unsigned int i = 0; i < NCPUS; i++) {
		ldr = (1u << i) << 24;
		lapic_mmio_write(apic_bus_lapic(f->bus, i), LAPIC_REG_LDR, &ldr, 4);
	}
	flat.logical = true;
	assert_int_equal(apic_bus_deliver(f->bus, &flat, 0), 2);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 1)), 0x60);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 2)), 0x60);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 0)), -1);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 3)), -1);
	/* The map follows an LDR rewrite (lapic_ops.dest_changed). */
	ldr = 0;
	lapic_mmio_write(apic_bus_lapic(f->bus, 1), LAPIC_REG_LDR, &ldr, 4);
	flat.vector = 0x61;
	assert_int_equal(apic_bus_deliver(f->bus, &flat, 0), 1);
}

static void physical_id_change_followed(void **state)
{
	struct fixture *f = *state;
	uint32_t id = 9u << 24;
	struct icr to9 = ipi(ICR_FIXED, 0x70, ICR_DEST_FIELD, 9);
	struct icr to3 = ipi(ICR_FIXED, 0x71, ICR_DEST_FIELD, 3);

	enable_all(f->bus);
	assert_int_equal(apic_bus_deliver(f->bus, &to9, 0), 0); /* nobody has ID 9 yet */
	lapic_mmio_write(apic_bus_lapic(f->bus, 3), LAPIC_REG_ID, &id, 4);
	assert_int_equal(apic_bus_deliver(f->bus, &to9, 0), 1);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 3)), 0x70);
	assert_int_equal(apic_bus_deliver(f->bus, &to3, 0), 0);
}

static void x2apic_destinations(void **state)
{
	struct fixture *f = *state;
	struct icr phys = ipi(ICR_FIXED, 0x80, ICR_DEST_FIELD, 3);
	struct icr logical = ipi(ICR_FIXED, 0x81, ICR_DEST_FIELD, (0u << 16) | 0x5);
	struct icr broadcast = ipi(ICR_FIXED, 0x82, ICR_DEST_FIELD, 0xffffffffu);

	enable_all(f->bus);
	for (unsigned int i = 0; i < NCPUS; i++) {
		struct lapic *l = apic_bus_lapic(f->bus, i);

		assert_int_equal(lapic_set_base(l, lapic_get_base(l) | LAPIC_BASE_EXTD), 0);
	}
	phys.x2apic = logical.x2apic = broadcast.x2apic = true;
	assert_int_equal(apic_bus_deliver(f->bus, &phys, 0), 1);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 3)), 0x80);
	/* Cluster 0, bits 0 and 2: x2APIC IDs 0 and 2 (§10.12.10.2). */
	logical.logical = true;
	assert_int_equal(apic_bus_deliver(f->bus, &logical, 1), 2);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 2)), 0x81);
	assert_int_equal(apic_bus_deliver(f->bus, &broadcast, 1), NCPUS);
}

static void absent_destination_logged(void **state)
{
	struct fixture *f = *state;
	struct icr nobody = ipi(ICR_FIXED, 0x40, ICR_DEST_FIELD, 0x77);
	struct icr init = ipi(ICR_INIT, 0, ICR_DEST_FIELD, 0x55);

	enable_all(f->bus);
	assert_int_equal(apic_bus_deliver(f->bus, &nobody, 0), 0);
	assert_int_equal(f->rec.logs, 1);
	assert_non_null(strstr(f->rec.last_log, "reaches no CPU"));
	assert_int_equal(apic_bus_deliver(f->bus, &init, 0), 0);
	assert_int_equal(f->rec.logs, 2);
	for (unsigned int i = 0; i < NCPUS; i++)
		assert_int_equal(f->rec.resets[i], 0);
}

static void smi_logged_and_dropped(void **state)
{
	struct fixture *f = *state;
	struct icr smi = ipi(ICR_SMI, 0, ICR_DEST_FIELD, 1);

	assert_int_equal(apic_bus_deliver(f->bus, &smi, 0), 1);
	assert_non_null(strstr(f->rec.last_log, "SMI"));
	assert_int_equal(apic_bus_take_nmis(f->bus, 1), 0);
}

static void nmis_count_to_two(void **state)
{
	struct fixture *f = *state;
	struct icr nmi = ipi(ICR_NMI, 0, ICR_DEST_FIELD, 2);

	for (int i = 0; i < 5; i++)
		apic_bus_deliver(f->bus, &nmi, 0);
	assert_int_equal(apic_bus_take_nmis(f->bus, 2), 2);
	assert_int_equal(apic_bus_take_nmis(f->bus, 2), 0);
}

static void lowest_priority(void **state)
{
	struct fixture *f = *state;
	struct icr low = ipi(ICR_LOWEST, 0x90, ICR_DEST_FIELD, 0x0f);
	uint32_t ldr, tpr = 0x20;

	enable_all(f->bus);
	for (unsigned int i = 0; i < NCPUS; i++) {
		ldr = (1u << i) << 24;
		lapic_mmio_write(apic_bus_lapic(f->bus, i), LAPIC_REG_LDR, &ldr, 4);
		/* Everyone busy but CPU 2: the arbitration must read the TPRs now. */
		if (i != 2)
			lapic_mmio_write(apic_bus_lapic(f->bus, i), LAPIC_REG_TPR, &tpr, 4);
	}
	low.logical = true;
	assert_int_equal(apic_bus_deliver(f->bus, &low, 0), 1);
	assert_int_equal(lapic_pending_vector(apic_bus_lapic(f->bus, 2)), 0x90);
}

static void hlt_and_wake_ups(void **state)
{
	struct fixture *f = *state;
	struct icr fixed = ipi(ICR_FIXED, 0x40, ICR_DEST_FIELD, 1);
	struct icr nmi = ipi(ICR_NMI, 0, ICR_DEST_FIELD, 1);
	struct lapic *l;

	start_ap(f->bus, 1, 0x08);
	enable_all(f->bus); /* INIT left the AP's APIC software-disabled */
	l = apic_bus_lapic(f->bus, 1);
	apic_bus_halt(f->bus, 1, true);
	assert_int_equal(apic_bus_mp_state(f->bus, 1), MP_STATE_HALTED);
	assert_false(runnable(f->bus, 1));
	/* A fixed interrupt wakes it. */
	apic_bus_deliver(f->bus, &fixed, 0);
	assert_true(runnable(f->bus, 1));
	lapic_ack_vector(l, 0x40);
	/* An NMI wakes it too. */
	apic_bus_halt(f->bus, 1, false);
	assert_false(runnable(f->bus, 1));
	apic_bus_deliver(f->bus, &nmi, 0);
	assert_true(runnable(f->bus, 1));
	assert_int_equal(apic_bus_take_nmis(f->bus, 1), 1);
	/* The PIC's INTR wakes only a CPU that takes ExtINT. */
	apic_bus_halt(f->bus, 1, true);
	f->rec.extint = true;
	assert_false(apic_bus_takes_extint(f->bus, 1));
	assert_false(runnable(f->bus, 1));
	{
		uint32_t lint0 = LAPIC_DM_EXTINT << 8;

		lapic_mmio_write(l, LAPIC_REG_LVT_LINT0, &lint0, 4);
	}
	assert_true(apic_bus_takes_extint(f->bus, 1));
	assert_true(runnable(f->bus, 1));
}

static void level_eoi_reaches_the_ioapic(void **state)
{
	struct fixture *f = *state;
	struct icr msg = ipi(ICR_FIXED, 0x33, ICR_DEST_FIELD, 0);
	uint32_t zero = 0;
	struct lapic *l = apic_bus_lapic(f->bus, 0);

	enable_all(f->bus);
	msg.level_trigger = true;
	apic_bus_deliver(f->bus, &msg, APIC_DEST_NO_SENDER);
	lapic_ack_vector(l, 0x33);
	lapic_mmio_write(l, LAPIC_REG_EOI, &zero, 4);
	assert_int_equal(f->rec.eois, 1);
	assert_int_equal(f->rec.eoi_vector, 0x33);
}

/* apic_bus_sleep() returns at its deadline, and at once after a wake-up since the last look. */
static void sleep_and_wake(void **state)
{
	struct fixture *f = *state;

	assert_false(runnable(f->bus, 1));
	apic_bus_sleep(f->bus, 1, 1); /* a deadline long past */
	apic_bus_wake(f->bus, 1);
	apic_bus_sleep(f->bus, 1, 0); /* no deadline: returns only because of the wake-up */
	assert_int_equal(apic_bus_mp_state(f->bus, 1), MP_STATE_UNINITIALIZED);
}

struct sleeper {
	struct apic_bus *bus;
	bool ran;
};

static void *sleeper_thread(void *arg)
{
	struct sleeper *s = arg;

	while (!apic_bus_runnable(s->bus, 1))
		apic_bus_sleep(s->bus, 1, 0);
	s->ran = true;
	return NULL;
}

/* An AP sleeping for its SIPI on its own thread is woken by INIT and SIPI from another. */
static void sleeping_ap_started_by_another_thread(void **state)
{
	struct fixture *f = *state;
	struct sleeper s = { .bus = f->bus };
	struct icr init = ipi(ICR_INIT, 0, ICR_DEST_FIELD, 1);
	struct icr sipi = ipi(ICR_STARTUP, 0x08, ICR_DEST_FIELD, 1);
	pthread_t t;

	pthread_create(&t, NULL, sleeper_thread, &s);
	apic_bus_deliver(f->bus, &init, 0);
	apic_bus_deliver(f->bus, &sipi, 0);
	pthread_join(t, NULL);
	assert_true(s.ran);
	assert_int_equal(apic_bus_mp_state(f->bus, 1), MP_STATE_RUNNABLE);
}

/*
 * CPU 1 saved between INIT and SIPI, CPU 2 halted: another bus loaded from
 * it has the same MP states, starts CPU 1 on the next SIPI and wakes CPU 2
 * on its next interrupt. The BSP waiting for a SIPI is refused.
 */
static void save_load(void **state)
{
	struct fixture *f = *state;
	struct rec rec2 = { 0 };
	struct apic_bus *b = make_bus(&rec2, 0);
	struct apic_bus_cpu_state s[NCPUS], t;
	struct icr init = ipi(ICR_INIT, 0, ICR_DEST_FIELD, 1), sipi = ipi(ICR_STARTUP, 0x9a, ICR_DEST_FIELD, 1);
	struct icr fixed = ipi(ICR_FIXED, 0x40, ICR_DEST_FIELD, 2);
	char err[160] = "";

	start_ap(f->bus, 2, 0x10);
	enable_all(f->bus);                    /* after the INIT, which software-disables an APIC */
	apic_bus_halt(f->bus, 2, true);
	assert_false(runnable(f->bus, 2));
	assert_int_equal(apic_bus_deliver(f->bus, &init, 0), 1);
	assert_false(runnable(f->bus, 1));
	for (unsigned int i = 0; i < NCPUS; i++)
		apic_bus_save(f->bus, i, &s[i]);
	for (unsigned int i = 0; i < NCPUS; i++)
		assert_int_equal(apic_bus_load(b, i, &s[i], err, sizeof(err)), 0);
	for (unsigned int i = 0; i < NCPUS; i++) {
		apic_bus_save(b, i, &t);
		assert_memory_equal(&t, &s[i], sizeof(t));
		assert_int_equal(apic_bus_mp_state(b, i), apic_bus_mp_state(f->bus, i));
	}
	assert_int_equal(apic_bus_mp_state(b, 1), MP_STATE_INIT_RECEIVED);
	assert_int_equal(apic_bus_mp_state(b, 2), MP_STATE_HALTED);
	assert_int_equal(apic_bus_mp_state(b, 3), MP_STATE_UNINITIALIZED);
	assert_int_equal(apic_bus_deliver(b, &sipi, 0), 1);   /* the loaded destination map finds CPU 1 */
	assert_true(runnable(b, 1));
	assert_int_equal(rec2.sipis[1], 1);
	assert_int_equal(apic_bus_deliver(b, &fixed, 0), 1);
	assert_true(runnable(b, 2));                           /* woken by its interrupt */

	t = s[0];
	t.state = MP_STATE_INIT_RECEIVED;
	assert_int_equal(apic_bus_load(b, 0, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "CPU 0 is the BSP and in INIT_RECEIVED: only an AP waits for a SIPI");
	t.state = 7;
	assert_int_equal(apic_bus_load(b, 1, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "CPU 1: MP state 7, which x86 does not have");
	t = s[1];
	t.nmi_pending = 3;
	assert_int_equal(apic_bus_load(b, 1, &t, err, sizeof(err)), -1);
	apic_bus_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(initial_states, setup, teardown),
		cmocka_unit_test_setup_teardown(save_load, setup, teardown),
		cmocka_unit_test_setup_teardown(fault_drops_sipi, setup, teardown),
		cmocka_unit_test_setup_teardown(fault_delays_init, setup, teardown),
		cmocka_unit_test_setup_teardown(load_drops_held, setup, teardown),
		cmocka_unit_test_setup_teardown(fault_duplicates_sipi, setup, teardown),
		cmocka_unit_test_setup_teardown(init_sipi_starts_ap, setup, teardown),
		cmocka_unit_test_setup_teardown(second_sipi_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(two_sipis_before_the_ap_looks, setup, teardown),
		cmocka_unit_test_setup_teardown(sipi_without_init_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(sipi_before_init_is_void, setup, teardown),
		cmocka_unit_test_setup_teardown(broadcast_init_then_one_sipi, setup, teardown),
		cmocka_unit_test_setup_teardown(absent_cpu_takes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(init_to_bsp, setup, teardown),
		cmocka_unit_test_setup_teardown(init_deassert_does_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(fixed_ipis_and_shorthands, setup, teardown),
		cmocka_unit_test_setup_teardown(software_disabled_apic_drops_fixed, setup, teardown),
		cmocka_unit_test_setup_teardown(logical_destinations, setup, teardown),
		cmocka_unit_test_setup_teardown(physical_id_change_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(x2apic_destinations, setup, teardown),
		cmocka_unit_test_setup_teardown(absent_destination_logged, setup, teardown),
		cmocka_unit_test_setup_teardown(smi_logged_and_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(nmis_count_to_two, setup, teardown),
		cmocka_unit_test_setup_teardown(lowest_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(hlt_and_wake_ups, setup, teardown),
		cmocka_unit_test_setup_teardown(level_eoi_reaches_the_ioapic, setup, teardown),
		cmocka_unit_test_setup_teardown(sleep_and_wake, setup, teardown),
		cmocka_unit_test_setup_teardown(sleeping_ap_started_by_another_thread, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
