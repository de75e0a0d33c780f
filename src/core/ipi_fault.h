/*
 * Faults injected into INIT and SIPI messages on their way to one CPU
 * (the control socket's mpvm-fault, --irqchip user): the next K matching
 * messages are dropped, delayed, or delivered twice (now and once more
 * later), so that tests can see how a guest's bring-up copes with a lost
 * or late IPI and mpvm's watchdog can be checked against a stuck AP.
 *
 * KVM-free and pure: the APIC bus (devices/apic_bus.c) asks it what to do
 * with each message and does it.
 */
#ifndef MPVM_CORE_IPI_FAULT_H
#define MPVM_CORE_IPI_FAULT_H

#include <stdbool.h>
#include <stdint.h>

enum ipi_fault_action {
	IPI_FAULT_PASS,      /* deliver as usual */
	IPI_FAULT_DROP,      /* the message is lost */
	IPI_FAULT_DELAY,     /* delivered after *delay_ns instead of now */
	IPI_FAULT_DUPLICATE, /* delivered now and again after *delay_ns */
};

/* Which messages a fault applies to. */
#define IPI_FAULT_INIT 1u
#define IPI_FAULT_SIPI 2u

struct ipi_fault {
	enum ipi_fault_action action; /* PASS: no fault set */
	unsigned int kinds;           /* IPI_FAULT_INIT | IPI_FAULT_SIPI */
	uint32_t remaining;           /* matching messages still to fault */
	uint64_t delay_ns;            /* DELAY and DUPLICATE: how late (with a seed: the most) */
	bool jitter;                  /* a seed was given: each delay drawn from [1 ns, delay_ns] */
	uint64_t rng;                 /* the seed's xorshift64 state */
	uint64_t applied;             /* messages faulted so far */
};

/* "drop", "delay", "duplicate" -> the action; IPI_FAULT_PASS for anything else. */
enum ipi_fault_action ipi_fault_action_of(const char *word);
const char *ipi_fault_action_name(enum ipi_fault_action a);

/* Sets the fault (a seed of 0 means none: fixed delays). */
void ipi_fault_set(struct ipi_fault *f, enum ipi_fault_action action, unsigned int kinds, uint32_t count,
		   uint64_t delay_ns, bool seeded, uint64_t seed);

/*
 * A message of kind IPI_FAULT_INIT or IPI_FAULT_SIPI is on its way: what
 * to do with it, and for DELAY and DUPLICATE how late (*delay_ns).
 */
enum ipi_fault_action ipi_fault_apply(struct ipi_fault *f, unsigned int kind, uint64_t *delay_ns);

#endif
