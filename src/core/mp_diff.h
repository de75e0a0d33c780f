/*
 * `mpvm mp-diff A B`: two runs compared vCPU by vCPU, times left out: the
 * ordered sequence of MP states each vCPU went through, and the IPIs it
 * received (kind, vector, sender), from a --trace file (core/trace.h; the
 * IPIs come from mpvm's target-end instants) or a --report file (its
 * mp_states; no IPIs there).
 *
 * The known differences between KVM's local APICs and mpvm's can be left
 * out on request (MP_DIFF_IGNORE_*), each for a reason:
 *   sipi-received  mpvm's MP-state machine shows the SIPI latched
 *                  (SIPI_RECEIVED) before RUNNABLE; KVM takes INIT_RECEIVED
 *                  to RUNNABLE in one step (kvm_apic_accept_events()).
 *   init-deassert  mpvm delivers a level INIT de-assert to every local APIC
 *                  (SDM vol. 3A §10.6.1: it goes to all, to synchronize
 *                  arbitration IDs); KVM's tracepoints show it only at the
 *                  ICR's destination. It changes no MP state either way.
 *   halt-cycles    how often a vCPU halts and wakes, and whether it is
 *                  halted when the VM stops, is timing: an AP that reaches
 *                  HLT before the second SIPI, an IPI that lands before or
 *                  after the HLT, the BSP ending the run while an AP is on
 *                  its way to HLT. A run of RUNNABLE and HALTED is kept as
 *                  its first state.
 *   ipi-interleaving  IPIs from different senders to one vCPU race: which
 *                  lands first is timing. Each vCPU's IPIs are compared
 *                  sender by sender, each sender's in its own order.
 * "kvm" means the first three: what differs between the modes for one
 * sender and one target; ipi-interleaving is for guests whose vCPUs send
 * at the same time.
 */
#ifndef MPVM_CORE_MP_DIFF_H
#define MPVM_CORE_MP_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define MP_DIFF_IGNORE_SIPI_RECEIVED 1u
#define MP_DIFF_IGNORE_INIT_DEASSERT 2u
#define MP_DIFF_IGNORE_HALT_CYCLES 4u
#define MP_DIFF_IGNORE_IPI_INTERLEAVING 8u
#define MP_DIFF_IGNORE_KVM 7u

struct mp_seq {
	char **tok;
	size_t n, cap;
};

struct mp_run_vcpu {
	unsigned int id;      /* the vCPU index */
	char *label;          /* "vCPU N (APIC ID M)" or "vCPU N" */
	struct mp_seq states, ipis;
};

struct mp_run {
	struct mp_run_vcpu *v; /* by id, ascending */
	unsigned int n;
	bool has_ipis;         /* a trace (a report has no IPIs) */
};

/*
 * Reads a trace or a report from `in` (the kind is told by its content).
 * 0, or -1 with the reason in err (not JSON, neither a trace nor a report,
 * no vCPU in it).
 */
int mp_run_load(struct mp_run *r, FILE *in, char *err, size_t errlen);
void mp_run_free(struct mp_run *r);

/* Parses "sipi-received,init-deassert,halt-cycles,ipi-interleaving" ("kvm": the first three) into MP_DIFF_IGNORE_* bits. -1 if a word is unknown. */
int mp_diff_parse_ignore(const char *list, unsigned int *flags);

/* Leaves out what `flags` says (see above). */
void mp_run_normalize(struct mp_run *r, unsigned int flags);

/*
 * Prints, vCPU by vCPU, where a and b differ (named an, bn) and a last
 * line with the totals. Returns the number of vCPUs that differ.
 */
unsigned int mp_diff_print(FILE *out, const struct mp_run *a, const char *an, const struct mp_run *b, const char *bn);

#endif
