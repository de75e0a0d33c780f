/*
 * The APIC bus of --irqchip user: the local APICs of every CPU, how an
 * interrupt message (an IPI from a local APIC's ICR, or a message from the
 * IOAPIC) reaches them, and each CPU's MP state, driven by INIT, SIPI,
 * NMI, HLT and interrupts through the pure core/mp_machine.c.
 *
 * KVM-free: the VMM gives callbacks to load a CPU's INIT or SIPI register
 * state and to interrupt a CPU that runs guest code; the bus does the rest,
 * and unit tests drive it directly (tests/devices/test_apic_bus.c).
 *
 * Threads. A CPU's owner (its vCPU thread) calls apic_bus_runnable(), apic_bus_sleep(),
 * apic_bus_halt() and apic_bus_take_nmis(); any thread may deliver, kick or
 * read a CPU's MP state. Each CPU has one lock for its event queue and MP
 * state; delivering an IPI takes only the targets' locks (and the shared
 * read lock of the destination map), and allocates nothing.
 *
 * The destination map. Which APICs an IPI reaches depends on each APIC's
 * ID, LDR, DFR, software enable and mode (core/apic_dest.c). The bus keeps
 * a copy of each APIC's answer, refreshed when the APIC says it changed
 * (lapic_ops.dest_changed), as KVM keeps its APIC map: a fixed IPI then
 * reads one shared table instead of locking every APIC. Lowest-priority
 * delivery needs every candidate's current priority, so it refreshes the
 * whole map first (SDM vol. 3A §10.6.2.4; rare: Linux never sends it).
 */
#ifndef MPVM_DEVICES_APIC_BUS_H
#define MPVM_DEVICES_APIC_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ipi_fault.h"
#include "core/mp_machine.h"
#include "core/mpstate.h"
#include "devices/lapic.h"

struct apic_bus;
struct icr;
struct lapic;

/* `cpu` in a log callback for a message from the IOAPIC (no local APIC sent it). */
#define APIC_BUS_FROM_IOAPIC UINT32_MAX

struct apic_bus_ops {
	/* The owner thread, while it takes an INIT: load the reset register state. */
	void (*load_reset)(void *opaque, unsigned int cpu);
	/* The owner thread, while it takes a SIPI: load the start state `r`. */
	void (*load_sipi)(void *opaque, unsigned int cpu, const struct mp_sipi_regs *r);
	/* Any thread: `cpu` has something to look at; interrupt its KVM_RUN. */
	void (*kick)(void *opaque, unsigned int cpu);
	/* The owner thread: the MP state of `cpu` is now `state` (for its history). */
	void (*state_changed)(void *opaque, unsigned int cpu, enum mp_state state);
	/* Whether the PIC's INTR waits (for a CPU that takes ExtINT). May be NULL. */
	bool (*extint_pending)(void *opaque);
	/* A local APIC's EOI of a level-triggered vector: the IOAPIC's remote IRR. May be NULL. */
	void (*eoi)(void *opaque, uint8_t vector);
	/* A guest error worth a line (bad ICR, IPI to nobody, SMI). */
	void (*log)(void *opaque, uint32_t cpu, const char *msg);
	/*
	 * The sending thread: a message from `sender` (a CPU index, or
	 * APIC_DEST_NO_SENDER) reached CPU `cpu` (--trace). May be NULL.
	 */
	void (*delivered)(void *opaque, uint32_t sender, unsigned int cpu, const struct icr *icr);
	/*
	 * The sending thread: a fault (apic_bus_set_fault()) took the INIT or
	 * SIPI `icr` to `cpu`: dropped, or held for delay_ns (a duplicate was
	 * also delivered now). May be NULL.
	 */
	void (*faulted)(void *opaque, unsigned int cpu, const struct icr *icr, enum ipi_fault_action action,
			uint64_t delay_ns);
};

/*
 * CPU i has local APIC ID apic_ids[i]; CPU boot_cpu is the BSP (it starts
 * RUNNABLE, the others UNINITIALIZED). NULL if out of memory.
 */
struct apic_bus *apic_bus_create(unsigned int ncpus, const uint32_t *apic_ids, unsigned int boot_cpu,
				 const struct apic_bus_ops *ops, void *opaque);
void apic_bus_destroy(struct apic_bus *b);

/* CPU `cpu`'s local APIC (for its register exits, timer and injection). */
struct lapic *apic_bus_lapic(struct apic_bus *b, unsigned int cpu);

/*
 * Delivers an interrupt message sent by CPU `sender` (or
 * APIC_DEST_NO_SENDER for the IOAPIC) to every APIC it reaches, by its
 * delivery mode (SDM vol. 3A §10.6.1): fixed and lowest priority into the
 * IRR; NMI, INIT and SIPI into the target's event queue (an INIT level
 * de-assert does nothing since the Pentium 4); SMI is logged and dropped
 * (no SMM). Returns how many CPUs it reached.
 */
int apic_bus_deliver(struct apic_bus *b, const struct icr *icr, uint32_t sender);

/* Any thread: wakes `cpu` if it sleeps in apic_bus_sleep() (or makes its next sleep return at once). */
void apic_bus_wake(struct apic_bus *b, unsigned int cpu);
/* Any thread: apic_bus_wake(), then the kick callback (interrupt KVM_RUN). */
void apic_bus_kick(struct apic_bus *b, unsigned int cpu);

/*
 * The owner thread, before each KVM_RUN: takes a queued INIT and SIPI,
 * wakes a halted CPU that has an NMI or an interrupt waiting, and returns
 * true if the CPU may run (RUNNABLE).
 */
bool apic_bus_runnable(struct apic_bus *b, unsigned int cpu);
/*
 * The owner thread, after apic_bus_runnable() said no: sleeps until an
 * event or a wake-up that came since that call, or `deadline_ns`
 * (CLOCK_MONOTONIC; 0: none). The caller then looks at its own state
 * (stop, pause, its timer) and asks apic_bus_runnable() again.
 */
void apic_bus_sleep(struct apic_bus *b, unsigned int cpu, uint64_t deadline_ns);

/* The owner thread: the CPU executed HLT with RFLAGS.IF = if_flag. */
void apic_bus_halt(struct apic_bus *b, unsigned int cpu, bool if_flag);
/* The owner thread: the NMIs queued since the last call (at most 2, SDM vol. 3A §6.7.1). */
unsigned int apic_bus_take_nmis(struct apic_bus *b, unsigned int cpu);
/* Whether the CPU takes the PIC's ExtINT: LINT0 unmasked in ExtINT mode, or its APIC off and it is the BSP. */
bool apic_bus_takes_extint(struct apic_bus *b, unsigned int cpu);

/* Any thread: the CPU's MP state and the SIPIs it ignored. */
enum mp_state apic_bus_mp_state(struct apic_bus *b, unsigned int cpu);
/*
 * CPU hotplug: a CPU not present (not added yet, or ejected) takes no
 * message, as a socket with no processor in it; every CPU is present
 * after apic_bus_create(). Any thread.
 */
void apic_bus_set_present(struct apic_bus *b, unsigned int cpu, bool present);
uint64_t apic_bus_sipis_dropped(struct apic_bus *b, unsigned int cpu);

/*
 * What a snapshot keeps of CPU `cpu` (kvm/irqchip_user.c): its one MP
 * state, its queued INIT, SIPI and NMIs, and its local APIC.
 */
struct apic_bus_cpu_state {
	uint32_t state;          /* enum mp_state */
	uint8_t halt_if, init_pending, sipi_pending, sipi_vector;
	uint32_t nmi_pending, pad;
	struct lapic_state lapic;
};

void apic_bus_save(struct apic_bus *b, unsigned int cpu, struct apic_bus_cpu_state *s);
/*
 * -1 with the reason in err (an MP state x86 does not have, the BSP
 * waiting for a SIPI, more than two NMIs queued, a bad local APIC state);
 * nothing changed then. The owner thread does not run yet.
 */
int apic_bus_load(struct apic_bus *b, unsigned int cpu, const struct apic_bus_cpu_state *s, char *err,
		  size_t errlen);

/*
 * Any thread: a fault on the next `count` INIT and/or SIPI messages (kinds:
 * IPI_FAULT_INIT, IPI_FAULT_SIPI) that reach `cpu` (core/ipi_fault.h);
 * count 0 clears it. A delayed or duplicated message is held by the bus
 * (at most 8 per CPU; past that a delayed one goes at once) and queued
 * when the owner first looks after its due time (apic_bus_runnable()).
 */
void apic_bus_set_fault(struct apic_bus *b, unsigned int cpu, enum ipi_fault_action action, unsigned int kinds,
			uint32_t count, uint64_t delay_ns, bool seeded, uint64_t seed);
/* Any thread: how many messages to `cpu` a fault has taken so far. */
uint64_t apic_bus_faults_applied(struct apic_bus *b, unsigned int cpu);
/* Any thread: when the earliest held-back message to `cpu` is due (CLOCK_MONOTONIC ns); 0: none. */
uint64_t apic_bus_next_held_ns(struct apic_bus *b, unsigned int cpu);

#endif
