/*
 * IPI destination resolution (see apic_dest.h), SDM vol. 3A §10.6.2.
 *
 * Shorthand (ICR 19:18, §10.6.1): "self" is the sender, "all including
 * self" everyone, "all excluding self" everyone but the sender; only with
 * no shorthand is the destination field read. An INIT level de-assert goes
 * to every APIC whatever the ICR says (§10.6.1).
 *
 * Destination field, by destination mode:
 *
 *  - Physical (§10.6.2.1): the APIC whose ID equals the field. xAPIC: 8
 *    bits, 0xFF is a broadcast; x2APIC: 32 bits, 0xFFFFFFFF is a broadcast
 *    (§10.12.9) and 0xFF is just APIC ID 255. An xAPIC-format field cannot
 *    name an APIC ID above 255.
 *
 *  - Logical, xAPIC (§10.6.2.2): the field is an 8-bit message destination
 *    address (MDA), compared with the logical APIC ID in LDR[31:24] as the
 *    receiver's DFR model says:
 *      flat     MDA & LDR[31:24] != 0: one bit per APIC, up to 8 APICs;
 *      cluster  MDA[7:4] is a cluster (0-14), MDA[3:0] a bit per APIC in it:
 *               MDA[7:4] == LDR[31:28] && MDA[3:0] & LDR[27:24] != 0.
 *               Cluster 15 is the broadcast cluster: it "guarantees a match
 *               on all clusters" (§10.6.2.2), so MDA[7:4] = 0xF matches
 *               every cluster and MDA[3:0] still selects. (KVM treats only
 *               MDA = 0xFF that way.)
 *    MDA 0xFF is a broadcast to all APICs in both models, including those
 *    whose LDR is still 0 (§10.6.2.2 "setting the MDA to 1s"; KVM agrees).
 *    A DFR model other than 1111B/0000B matches nothing, as in KVM.
 *
 *  - Logical, x2APIC (§10.12.10.1): the LDR is derived from the x2APIC ID
 *    and read-only (x2apic_ldr()). The field is cluster[31:16] and a
 *    16-bit member mask[15:0]: dest[31:16] == LDR[31:16] && dest[15:0] &
 *    LDR[15:0] != 0. 0xFFFFFFFF is a broadcast. The SDM allows 2^16 - 1
 *    clusters, so cluster 0xFFFF names none; like xAPIC cluster 15, mpvm
 *    takes it as "every cluster", the mask still selecting. (KVM matches
 *    only a CPU whose cluster is 0xFFFF, that is none.)
 *
 *  - Logical destinations match only receivers in the same mode as the
 *    ICR: the SDM defines no mixed xAPIC/x2APIC logical addressing.
 *
 *  - A message from no local APIC (an I/O APIC redirection entry or an
 *    MSI, sender APIC_DEST_NO_SENDER) has one format only: an 8-bit
 *    destination (82093AA §3.2.4; SDM §10.11.1), up to 15 bits with the
 *    extended destination ID. Without interrupt remapping each receiver
 *    reads it in its own mode: an xAPIC as above (bits 7:0), an x2APIC as
 *    a 32-bit destination zero-extended, so a logical one names cluster 0
 *    (x2APIC IDs 0-15, one mask bit each) and 0xFF stays a broadcast. KVM
 *    does the same (kvm_apic_mda() and its x2APIC broadcast quirk), and
 *    OSes that run x2APIC without remapping rely on it. The ICR's x2apic
 *    field plays no part.
 *
 * Acceptance: a software-disabled local APIC (SVR bit 8 clear) still takes
 * INIT, NMI, SMI and STARTUP (§10.4.7.2); fixed and lowest-priority
 * interrupts to it are discarded (KVM: __apic_accept_irq), and it takes no
 * part in lowest-priority arbitration.
 *
 * Lowest priority (§10.6.2.4): of the APICs the destination selects, the
 * one whose processor priority is lowest gets the interrupt; the SDM
 * leaves ties to the model (focus processor, round robin). mpvm's rule is
 * deterministic: lowest `priority` value, ties to the lowest vCPU index.
 * KVM instead rotates through an arbitration counter, and turns a
 * physical-broadcast lowest-priority interrupt into a fixed one to all;
 * here a broadcast still picks one CPU. With "all excluding self" the
 * sender never takes part (real APICs may redirect it back, Table 10-3
 * note 4).
 */
#include "core/apic_dest.h"

#include <string.h>

uint32_t x2apic_ldr(uint32_t x2apic_id)
{
	return ((x2apic_id >> 4) & 0xffffu) << 16 | 1u << (x2apic_id & 0xfu);
}

enum apic_dfr_model apic_dfr_model(uint32_t dfr)
{
	switch (dfr >> 28) {
	case 0xf: return APIC_DFR_FLAT;
	case 0x0: return APIC_DFR_CLUSTER;
	default:  return APIC_DFR_INVALID;
	}
}

static bool match_logical_xapic(uint8_t mda, const struct apic_cpu *c)
{
	uint8_t lid = (uint8_t)(c->ldr >> 24);

	switch (c->dfr) {
	case APIC_DFR_FLAT:
		return (mda & lid) != 0;
	case APIC_DFR_CLUSTER:
		return ((mda >> 4) == 0xf || (mda >> 4) == (lid >> 4)) && (mda & lid & 0xf) != 0;
	default:
		return false;
	}
}

static bool match_logical_x2apic(uint32_t dest, const struct apic_cpu *c)
{
	uint32_t ldr = x2apic_ldr(c->apic_id);

	return ((dest >> 16) == 0xffff || (dest >> 16) == (ldr >> 16)) &&
	       (dest & ldr & 0xffff) != 0;
}

static bool match_dest_field(const struct icr *icr, bool from_apic, const struct apic_cpu *c)
{
	uint32_t broadcast = icr->x2apic ? 0xffffffffu : 0xffu;
	uint32_t dest = icr->x2apic ? icr->dest : (icr->dest & 0xffu);

	if (!from_apic) { /* I/O APIC or MSI: the receiver's mode decides (above) */
		dest = icr->dest & 0x7fffu;
		if (dest == 0xffu)
			return true;
		if (!c->x2apic)
			dest &= 0xffu;
		if (!icr->logical)
			return c->apic_id == dest;
		return c->x2apic ? match_logical_x2apic(dest, c) : match_logical_xapic((uint8_t)dest, c);
	}
	if (dest == broadcast)
		return true;
	if (!icr->logical)
		return c->apic_id == dest;
	if (c->x2apic != icr->x2apic)
		return false;
	return icr->x2apic ? match_logical_x2apic(dest, c) : match_logical_xapic((uint8_t)dest, c);
}

static bool selected(const struct icr *icr, enum icr_shorthand sh, uint32_t sender,
		     uint32_t i, const struct apic_cpu *c)
{
	switch (sh) {
	case ICR_SELF:          return i == sender;
	case ICR_ALL_INCL_SELF: return true;
	case ICR_ALL_EXCL_SELF: return i != sender;
	case ICR_DEST_FIELD:    return match_dest_field(icr, sender != APIC_DEST_NO_SENDER, c);
	}
	return false;
}

static void set_bit(struct apic_dest_set *s, uint32_t i)
{
	s->words[i / 64] |= 1ull << (i % 64);
}

int apic_dest_resolve(const struct icr *icr, uint32_t sender,
		      const struct apic_cpu *cpus, uint32_t ncpus,
		      struct apic_dest_set *out)
{
	enum icr_shorthand sh;
	bool fixed_like, lowest;
	uint32_t best = UINT32_MAX;
	int n = 0;

	if (!icr || !out || (ncpus && !cpus) || ncpus > APIC_DEST_MAX_CPUS)
		return -1;
	memset(out, 0, sizeof(*out));
	sh = icr->init_deassert ? ICR_ALL_INCL_SELF : icr->shorthand;
	lowest = icr->delivery == ICR_LOWEST;
	fixed_like = icr->delivery == ICR_FIXED || lowest;

	for (uint32_t i = 0; i < ncpus; i++) {
		const struct apic_cpu *c = &cpus[i];

		if (!selected(icr, sh, sender, i, c))
			continue;
		if (fixed_like && !c->sw_enabled)
			continue;
		if (lowest) {
			if (best == UINT32_MAX || c->priority < cpus[best].priority)
				best = i;
			continue;
		}
		set_bit(out, i);
		n++;
	}
	if (lowest && best != UINT32_MAX) {
		set_bit(out, best);
		n = 1;
	}
	return n;
}
