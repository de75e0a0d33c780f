/*
 * The local APIC Interrupt Command Register: decode and encode.
 *
 * SDM vol. 3A §10.6.1 (Figure 10-12, Tables 10-3 and 10-4) for xAPIC mode,
 * where the ICR is two 32-bit MMIO registers (FEE00300H low, FEE00310H
 * high) read here as one 64-bit value, high << 32 | low; §10.12.9 (Figure
 * 10-28) for x2APIC mode, where it is the 64-bit MSR 830H.
 */
#ifndef MPVM_CORE_ICR_H
#define MPVM_CORE_ICR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Delivery mode, ICR bits 10:8. 3 and 7 are reserved. */
enum icr_delivery {
	ICR_FIXED = 0,
	ICR_LOWEST = 1,
	ICR_SMI = 2,
	ICR_NMI = 4,
	ICR_INIT = 5,   /* also INIT level de-assert: level 0, trigger 1 */
	ICR_STARTUP = 6,
};

/* Destination shorthand, ICR bits 19:18. */
enum icr_shorthand {
	ICR_DEST_FIELD = 0,
	ICR_SELF = 1,
	ICR_ALL_INCL_SELF = 2,
	ICR_ALL_EXCL_SELF = 3,
};

/* Error Status Register bits a bad ICR write sets (§10.5.3, Figure 10-9). */
#define APIC_ESR_SEND_ILLEGAL_VECTOR (1u << 5)

struct icr {
	uint8_t vector;
	enum icr_delivery delivery;
	bool logical;        /* destination mode: 0 physical, 1 logical */
	bool level_assert;   /* level: 0 de-assert, 1 assert */
	bool level_trigger;  /* trigger mode: 0 edge, 1 level */
	enum icr_shorthand shorthand;
	uint32_t dest;       /* 8-bit in xAPIC mode, 32-bit in x2APIC mode */
	bool x2apic;         /* which layout: decides dest width and broadcast ID */
	bool init_deassert;  /* INIT with level trigger and level de-assert */
	/* Filled in by icr_decode() when it fails, else 0 / false: */
	uint8_t esr;         /* APIC_ESR_* bits the sending APIC sets */
	bool gp;             /* x2APIC: the WRMSR raises #GP, nothing is sent */
};

/*
 * Decodes `icr` (xAPIC: high << 32 | low). Returns 0, or -1 with a reason
 * in `err` (if not NULL) for: a reserved delivery mode; a fixed or
 * lowest-priority vector below 16 (out->esr = APIC_ESR_SEND_ILLEGAL_VECTOR);
 * a shorthand the delivery mode may not use; in x2APIC mode a reserved bit
 * set (out->gp). Lowest priority is valid in both modes, as in KVM. On
 * failure `out` still holds
 * every field as read.
 */
int icr_decode(uint64_t icr, bool x2apic, struct icr *out, char *err, size_t errlen);

/* The register value for `icr`, in the layout icr->x2apic names. */
uint64_t icr_encode(const struct icr *icr);

/* "FIXED", "LOWEST", "SMI", "NMI", "INIT", "STARTUP"; "RESERVED" otherwise. */
const char *icr_delivery_name(enum icr_delivery delivery);
/* "DEST", "SELF", "ALL_INCL_SELF", "ALL_EXCL_SELF"; "?" otherwise. */
const char *icr_shorthand_name(enum icr_shorthand shorthand);

#endif
