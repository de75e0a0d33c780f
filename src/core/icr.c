/*
 * Interrupt Command Register decode/encode (see icr.h).
 *
 * Layout, SDM vol. 3A §10.6.1 Figure 10-12 (xAPIC) and §10.12.9 Figure
 * 10-28 (x2APIC); the same low 20 bits in both:
 *
 *   7:0    vector      Fixed/lowest: the IDT vector, 16..255 (0..15 set
 *                      "send illegal vector" in the ESR, §10.5.3).
 *                      STARTUP: page number of the start address, VV ->
 *                      000VV000H (§8.4.4.1). SMI, INIT: should be 0. NMI:
 *                      ignored.
 *   10:8   delivery    000 fixed, 001 lowest priority, 010 SMI, 100 NMI,
 *                      101 INIT (or INIT level de-assert), 110 STARTUP;
 *                      011 and 111 reserved. x2APIC: Figure 10-28 shows
 *                      001 reserved, but §10.6.1 makes sending lowest
 *                      priority model specific, and KVM's local APIC sends
 *                      it in x2APIC mode as in xAPIC mode: so do we (a
 *                      guest sees the same in every --irqchip mode).
 *   11     dest mode   0 physical, 1 logical (§10.6.2.1, §10.6.2.2)
 *   12     delivery    xAPIC: read-only send-pending flag; x2APIC: removed,
 *          status      WRMSR ignores it. Ignored here.
 *   13     reserved
 *   14     level       0 de-assert, 1 assert. Meaningful only for INIT:
 *                      level 0 with trigger 1 is "INIT level de-assert"
 *                      (P6 and older: resync arbitration IDs; not supported
 *                      since Pentium 4, which always sends 1). Other modes
 *                      should use 1; Linux sends fixed IPIs with 0 and
 *                      hardware and KVM deliver them, so it is not checked.
 *   15     trigger     0 edge, 1 level; only INIT de-assert uses it, other
 *                      modes are sent edge-triggered (Table 10-3, note 2).
 *   17:16  reserved
 *   19:18  shorthand   00 destination field, 01 self, 10 all including
 *                      self, 11 all excluding self (§10.6.1)
 *   xAPIC  55:20 reserved, 63:56 destination (8-bit APIC ID or MDA; 0xFF
 *          broadcast). Reserved bits of the MMIO registers are ignored.
 *   x2APIC 31:20 reserved, 63:32 destination (32-bit; 0xFFFFFFFF
 *          broadcast). Writing a reserved bit (13, 16-17, 20-31) raises #GP
 *          (§10.12.1.3 "Reserved Bit Checking").
 *
 * Valid shorthand/mode combinations (Table 10-3, Pentium 4 and later):
 * "self" and "all including self" are only for fixed delivery; lowest
 * priority, SMI, NMI, INIT and STARTUP may not name the sender that way
 * ("all excluding self" and the destination field may carry every mode).
 * The INIT level de-assert goes to every APIC whatever the destination
 * (§10.6.1), and software should use "all including self" for it, so it
 * is exempt.
 */
#include "core/icr.h"

#include "core/errmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ICR_VECTOR(v)        ((v) & 0xffu)
#define ICR_DELIVERY(v)      (((v) >> 8) & 0x7u)
#define ICR_LOGICAL          (1ull << 11)
#define ICR_LEVEL_ASSERT     (1ull << 14)
#define ICR_LEVEL_TRIGGER    (1ull << 15)
#define ICR_SHORTHAND(v)     (((v) >> 18) & 0x3u)
#define X2APIC_ICR_RESERVED  ((1ull << 13) | (3ull << 16) | (0xfffull << 20))

int icr_decode(uint64_t v, bool x2apic, struct icr *out, char *err, size_t errlen)
{
	unsigned dm = ICR_DELIVERY(v);

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return errmsg(err, errlen, "no output");
	memset(out, 0, sizeof(*out));
	out->vector = (uint8_t)ICR_VECTOR(v);
	out->delivery = (enum icr_delivery)dm;
	out->logical = v & ICR_LOGICAL;
	out->level_assert = v & ICR_LEVEL_ASSERT;
	out->level_trigger = v & ICR_LEVEL_TRIGGER;
	out->shorthand = (enum icr_shorthand)ICR_SHORTHAND(v);
	out->x2apic = x2apic;
	out->dest = x2apic ? (uint32_t)(v >> 32) : (uint32_t)(v >> 56);
	out->init_deassert = dm == ICR_INIT && out->level_trigger && !out->level_assert;

	if (x2apic && (v & X2APIC_ICR_RESERVED)) {
		out->gp = true;
		return errmsg(err, errlen, "x2APIC ICR reserved bits set (0x%llx): WRMSR #GP",
			    (unsigned long long)(v & X2APIC_ICR_RESERVED));
	}
	if (dm == 3 || dm == 7)
		return errmsg(err, errlen, "reserved delivery mode %u", dm);
	if ((dm == ICR_FIXED || dm == ICR_LOWEST) && out->vector < 16) {
		out->esr = APIC_ESR_SEND_ILLEGAL_VECTOR;
		return errmsg(err, errlen, "illegal vector %u for %s delivery (0-15 are reserved)",
			    out->vector, icr_delivery_name(out->delivery));
	}
	if ((out->shorthand == ICR_SELF || out->shorthand == ICR_ALL_INCL_SELF) &&
	    dm != ICR_FIXED && !out->init_deassert)
		return errmsg(err, errlen, "%s delivery may not use the \"%s\" shorthand",
			    icr_delivery_name(out->delivery),
			    out->shorthand == ICR_SELF ? "self" : "all including self");
	return 0;
}

uint64_t icr_encode(const struct icr *icr)
{
	unsigned dm = (unsigned)icr->delivery & 0x7u;
	bool assert = icr->level_assert, trigger = icr->level_trigger;
	uint64_t v;

	if (icr->init_deassert) {
		dm = ICR_INIT;
		assert = false;
		trigger = true;
	}
	v = icr->vector | (uint64_t)dm << 8 | ((unsigned)icr->shorthand & 0x3ull) << 18;
	if (icr->logical)
		v |= ICR_LOGICAL;
	if (assert)
		v |= ICR_LEVEL_ASSERT;
	if (trigger)
		v |= ICR_LEVEL_TRIGGER;
	if (icr->x2apic)
		v |= (uint64_t)icr->dest << 32;
	else
		v |= (uint64_t)(icr->dest & 0xffu) << 56;
	return v;
}

const char *icr_delivery_name(enum icr_delivery delivery)
{
	switch (delivery) {
	case ICR_FIXED:   return "FIXED";
	case ICR_LOWEST:  return "LOWEST";
	case ICR_SMI:     return "SMI";
	case ICR_NMI:     return "NMI";
	case ICR_INIT:    return "INIT";
	case ICR_STARTUP: return "STARTUP";
	}
	return "RESERVED";
}

const char *icr_shorthand_name(enum icr_shorthand shorthand)
{
	switch (shorthand) {
	case ICR_DEST_FIELD:    return "DEST";
	case ICR_SELF:          return "SELF";
	case ICR_ALL_INCL_SELF: return "ALL_INCL_SELF";
	case ICR_ALL_EXCL_SELF: return "ALL_EXCL_SELF";
	}
	return "?";
}
