/*
 * Per-vCPU CPUID: identity (initial APIC ID) and topology on top of what
 * KVM supports (KVM_GET_SUPPORTED_CPUID). KVM-free: works on a plain array
 * of leaves that the KVM layer copies to and from struct kvm_cpuid_entry2.
 *
 * Topology given to the guest: packages of `cores` cores of `threads`
 * threads (core/topology.h lays out the APIC IDs). SDM vol. 3A §8.9
 * (identifying the topology): the APIC ID's thread field is
 * ceil(log2(threads)) bits wide and the core field above it
 * ceil(log2(cores)); the package number is above both.
 */
#ifndef MPVM_CORE_CPUID_H
#define MPVM_CORE_CPUID_H

#include <stddef.h>
#include <stdint.h>

/* Same meaning and value as KVM_CPUID_FLAG_SIGNIFCANT_INDEX. */
#define CPUID_FLAG_SIGNIFICANT_INDEX 1u

struct cpuid_leaf {
	uint32_t function, index, flags;
	uint32_t eax, ebx, ecx, edx;
};

struct cpuid_table {
	struct cpuid_leaf *leaf;
	size_t len, cap;
};

struct cpuid_topology {
	uint32_t apic_id;
	unsigned int cores;     /* per package */
	unsigned int threads;   /* per core (0 counts as 1) */
	uint32_t tsc_khz;       /* for the timing leaf 0x40000010 */
	uint32_t apic_bus_khz;
};

/* The leaf (function, index), honouring the significant-index flag, or NULL. */
struct cpuid_leaf *cpuid_find(struct cpuid_table *t, uint32_t function, uint32_t index);

/*
 * Applies identity and topology to `t` (leaves 1, 4, 0xb, 0x1f, 0x80000008,
 * and the hypervisor timing leaf). Needs room for up to 4 more leaves
 * (t->cap - t->len); returns -1 if there is none.
 */
int cpuid_apply_topology(struct cpuid_table *t, const struct cpuid_topology *topo);

/* Bits of an APIC ID field that numbers n things: ceil(log2(n)). */
unsigned int cpuid_core_bits(unsigned int n);

#endif
