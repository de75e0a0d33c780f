/*
 * Which local APICs an IPI reaches (SDM vol. 3A §10.6.2; x2APIC §10.12.10).
 *
 * The caller describes every vCPU's local APIC as it is now and passes a
 * decoded ICR (core/icr.h); the answer is the set of vCPU indices (not
 * APIC IDs) that accept the IPI.
 */
#ifndef MPVM_CORE_APIC_DEST_H
#define MPVM_CORE_APIC_DEST_H

#include <stdbool.h>
#include <stdint.h>

#include "core/icr.h"

#define APIC_DEST_MAX_CPUS 4096
/* `sender` for an interrupt that comes from no local APIC (I/O APIC, MSI). */
#define APIC_DEST_NO_SENDER UINT32_MAX

/* xAPIC Destination Format Register model, DFR bits 31:28 (§10.6.2.2). */
enum apic_dfr_model {
	APIC_DFR_FLAT,     /* 1111B, the reset value */
	APIC_DFR_CLUSTER,  /* 0000B */
	APIC_DFR_INVALID,  /* anything else: matches no logical destination */
};

struct apic_cpu {
	uint32_t apic_id;         /* xAPIC: 8-bit; x2APIC: 32-bit */
	bool x2apic;              /* IA32_APIC_BASE.EXTD */
	bool sw_enabled;          /* SVR bit 8 (§10.4.3) */
	uint32_t ldr;             /* xAPIC LDR, logical ID in bits 31:24; in
				   * x2APIC mode ignored: x2apic_ldr(apic_id) */
	enum apic_dfr_model dfr;  /* xAPIC only */
	uint8_t priority;         /* PPR (or TPR), for lowest-priority delivery */
};

struct apic_dest_set {
	uint64_t words[APIC_DEST_MAX_CPUS / 64];
};

/* Logical x2APIC ID (§10.12.10.2): cluster ID[19:4] << 16 | 1 << ID[3:0]. */
uint32_t x2apic_ldr(uint32_t x2apic_id);

/* The model a DFR register value selects. */
enum apic_dfr_model apic_dfr_model(uint32_t dfr);

/*
 * Fills `out` with the vCPUs (indices into cpus[0..ncpus-1]) that accept
 * `icr` sent by vCPU `sender` (or APIC_DEST_NO_SENDER). Returns how many,
 * 0 when the IPI reaches no CPU (log it: the destination is absent), or -1
 * if ncpus > APIC_DEST_MAX_CPUS or a pointer is NULL.
 */
int apic_dest_resolve(const struct icr *icr, uint32_t sender,
		      const struct apic_cpu *cpus, uint32_t ncpus,
		      struct apic_dest_set *out);

static inline bool apic_dest_has(const struct apic_dest_set *s, uint32_t cpu)
{
	return cpu < APIC_DEST_MAX_CPUS && (s->words[cpu / 64] >> (cpu % 64) & 1);
}

#endif
