#include "core/cpuid.h"

#include "core/guest_abi.h"

#include <string.h>

#define KVM_CPUID_SIGNATURE_LEAF 0x40000000u

unsigned int cpuid_core_bits(unsigned int n)
{
	unsigned int bits = 0;

	while ((1ull << bits) < n)
		bits++;
	return bits;
}

struct cpuid_leaf *cpuid_find(struct cpuid_table *t, uint32_t function, uint32_t index)
{
	for (size_t i = 0; i < t->len; i++) {
		struct cpuid_leaf *l = &t->leaf[i];

		if (l->function != function)
			continue;
		if ((l->flags & CPUID_FLAG_SIGNIFICANT_INDEX) && l->index != index)
			continue;
		return l;
	}
	return NULL;
}

static void remove_function(struct cpuid_table *t, uint32_t function)
{
	size_t out = 0;

	for (size_t i = 0; i < t->len; i++)
		if (t->leaf[i].function != function)
			t->leaf[out++] = t->leaf[i];
	t->len = out;
}

static struct cpuid_leaf *append(struct cpuid_table *t, uint32_t function, uint32_t index, uint32_t flags)
{
	struct cpuid_leaf *l;

	if (t->len >= t->cap)
		return NULL;
	l = &t->leaf[t->len++];
	*l = (struct cpuid_leaf){ .function = function, .index = index, .flags = flags };
	return l;
}

static uint32_t max_std_leaf(struct cpuid_table *t)
{
	struct cpuid_leaf *l0 = cpuid_find(t, 0, 0);

	return l0 ? l0->eax : 0;
}

static unsigned int threads_of(const struct cpuid_topology *topo)
{
	return topo->threads ? topo->threads : 1;
}

/*
 * Leaf 0xb / 0x1f (SDM vol. 2A, CPUID "Extended Topology Enumeration"):
 * subleaf 0 is the SMT level (EAX: shift past the thread field, EBX:
 * threads per core), subleaf 1 the core level (EAX: shift past thread and
 * core fields, i.e. to the package number; EBX: logical processors per
 * package), subleaf 2 ends the list. EDX is the full x2APIC ID on every
 * subleaf.
 */
static int set_extended_topology(struct cpuid_table *t, uint32_t function,
				 const struct cpuid_topology *topo)
{
	unsigned int tb = cpuid_core_bits(threads_of(topo)), cb = cpuid_core_bits(topo->cores);
	struct cpuid_leaf *l;

	remove_function(t, function);
	l = append(t, function, 0, CPUID_FLAG_SIGNIFICANT_INDEX);
	if (!l)
		return -1;
	l->eax = tb;
	l->ebx = threads_of(topo) & 0xffff;
	l->ecx = (1u << 8) | 0; /* level type 1 = SMT, level number 0 */
	l->edx = topo->apic_id;

	l = append(t, function, 1, CPUID_FLAG_SIGNIFICANT_INDEX);
	if (!l)
		return -1;
	l->eax = tb + cb;
	l->ebx = (topo->cores * threads_of(topo)) & 0xffff;
	l->ecx = (2u << 8) | 1; /* level type 2 = core, level number 1 */
	l->edx = topo->apic_id;

	l = append(t, function, 2, CPUID_FLAG_SIGNIFICANT_INDEX);
	if (!l)
		return -1;
	l->ecx = 2; /* level type 0 = invalid: the end */
	l->edx = topo->apic_id;
	return 0;
}

int cpuid_apply_topology(struct cpuid_table *t, const struct cpuid_topology *topo)
{
	unsigned int thread_bits = cpuid_core_bits(threads_of(topo));
	unsigned int core_bits = cpuid_core_bits(topo->cores);
	unsigned int per_pkg = topo->cores * threads_of(topo); /* logical processors */
	uint32_t ids_per_pkg = 1u << (thread_bits + core_bits), ids_per_core = 1u << thread_bits;
	uint32_t max_leaf = max_std_leaf(t);
	struct cpuid_leaf *l;

	/*
	 * Leaf 1: EBX[31:24] initial APIC ID, EBX[23:16] addressable logical
	 * processor IDs in the package (8 bits: saturate), EDX[28] HTT says
	 * that field is valid (SDM vol. 2A, CPUID leaf 01H).
	 */
	l = cpuid_find(t, 1, 0);
	if (l) {
		uint32_t count = ids_per_pkg > 255 ? 255 : ids_per_pkg;

		l->ebx = (l->ebx & 0x0000ffffu) | (count << 16) | ((topo->apic_id & 0xff) << 24);
		if (per_pkg > 1)
			l->edx |= 1u << 28;
		else
			l->edx &= ~(1u << 28);
	}

	/*
	 * Leaf 4 (deterministic cache parameters), every subleaf:
	 * EAX[31:26] addressable core IDs in the package - 1 (6 bits),
	 * EAX[25:14] addressable IDs of logical processors sharing the cache
	 * - 1: a core's threads for the per-core L1/L2, the whole package for
	 * L3 and beyond.
	 */
	for (size_t i = 0; i < t->len; i++) {
		uint32_t level, sharing, cores;

		l = &t->leaf[i];
		if (l->function != 4 || (l->eax & 0x1f) == 0)
			continue;
		level = (l->eax >> 5) & 7;
		sharing = level >= 3 ? ids_per_pkg - 1 : ids_per_core - 1;
		if (sharing > 0xfff)
			sharing = 0xfff;
		cores = (1u << core_bits) - 1 > 63 ? 63 : (1u << core_bits) - 1;
		l->eax = (l->eax & 0x00003fffu) | (sharing << 14) | (cores << 26);
	}

	if (max_leaf >= 0xb && set_extended_topology(t, 0xb, topo))
		return -1;
	if (max_leaf >= 0x1f && set_extended_topology(t, 0x1f, topo))
		return -1;

	/* AMD: leaf 0x80000008 ECX[7:0] = threads in package - 1, [15:12] = APIC ID bits below the package. */
	l = cpuid_find(t, 0, 0);
	if (l && l->ebx == 0x68747541u /* "Auth"enticAMD */) {
		l = cpuid_find(t, 0x80000008u, 0);
		if (l)
			l->ecx = (l->ecx & ~0xf0ffu) | (((thread_bits + core_bits) & 0xf) << 12) | ((per_pkg - 1) & 0xff);
	}

	/*
	 * The hypervisor timing leaf: TSC and APIC-timer frequencies, so the
	 * guest can turn TSC ticks into microseconds without calibrating.
	 */
	l = cpuid_find(t, KVM_CPUID_SIGNATURE_LEAF, 0);
	if (l && l->eax < MPVM_CPUID_TIMING_LEAF)
		l->eax = MPVM_CPUID_TIMING_LEAF;
	remove_function(t, MPVM_CPUID_TIMING_LEAF);
	l = append(t, MPVM_CPUID_TIMING_LEAF, 0, 0);
	if (!l)
		return -1;
	l->eax = topo->tsc_khz;
	l->ebx = topo->apic_bus_khz;
	return 0;
}
