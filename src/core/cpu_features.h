/*
 * --cpu-features: which CPUID feature bits the guest sees. KVM-free: the
 * list is parsed into a set, and the set is applied to a plain CPUID table
 * (core/cpuid.h) that the KVM layer copies to KVM_SET_CPUID2.
 *
 * LIST is comma-separated: an optional first item `host` (the default:
 * every feature KVM_GET_SUPPORTED_CPUID offers) or `baseline` (below), then
 * `+name` and `-name` items, applied left to right. Names are spelled as
 * Linux's /proc/cpuinfo spells them (`pni` for SSE3; `sse3` is accepted
 * too). `+name` also shows the features name needs; `-name` also hides the
 * features that need name (the dependency table in cpu_features.c: e.g.
 * -xsave hides avx, avx2, fma, avx512*, xsaveopt, xsavec, xsaves, mpx, pku
 * and empties leaf 0xd). A feature the host's KVM does not offer stays
 * hidden whatever the list says: cpu_features_apply() names the ones a
 * `+name` asked for, and mpvm prints a warning.
 *
 * `baseline` is x86-64-v2 (cx16, lahf_lm, popcnt, pni, sse4_1, sse4_2,
 * ssse3 on top of x86-64's fpu..sse2, syscall, nx, lm) plus aes, pclmulqdq
 * and rdtscp, which every x86-64 server CPU since 2011-2013 has (Intel
 * Westmere/Sandy Bridge, AMD Bulldozer and later), plus what the VMM
 * provides on any host (x2apic and tsc_deadline_timer: KVM's or mpvm's
 * local APIC; hypervisor; ht: mpvm's topology). Left out on purpose:
 *  - xsave and everything built on it (avx, avx2, fma, f16c, avx512*, ...):
 *    the XSAVE area's size and layout differ between CPU generations, so a
 *    guest that saved state on one host may not restore it on another; and
 *    KVM's instruction emulator has neither XSAVE nor VEX-encoded
 *    instructions, so a guest kernel kept off them stays emulatable (KVM-PVM
 *    runs guest kernel code through that emulator).
 *  - newer or vendor-specific features (movbe, rdrand, fsgsbase, smep,
 *    smap, pcid, bmi*, abm, sse4a, ...): not on every such server.
 *  - speculation-control bits (spec_ctrl, md_clear, arch_capabilities,
 *    ...): microcode-dependent, and a guest that found IA32_SPEC_CTRL on one
 *    host faults writing it on a host without it.
 * Under `baseline` every bit of the feature registers this table covers
 * (CPUID 1 ECX/EDX, 7.0 EBX/ECX/EDX, 7.1 EAX, 0xd.1 EAX, 0x80000001
 * ECX/EDX) that is not a shown feature is cleared, named or not, so the
 * guest sees the same set on every host that has the baseline.
 */
#ifndef MPVM_CORE_CPU_FEATURES_H
#define MPVM_CORE_CPU_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/cpuid.h"

enum cpuid_reg { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };

#define CPUF_BASELINE 1u /* in the `baseline` set */
#define CPUF_FIXED    2u /* KVM decides the bit at run time: cannot be hidden */

struct cpu_feature {
	const char *name;
	uint32_t leaf, subleaf;
	uint8_t reg;   /* enum cpuid_reg */
	uint8_t bit;
	uint8_t flags; /* CPUF_* */
};

extern const struct cpu_feature *const cpu_feature_table;
extern const size_t cpu_feature_count;

#define CPU_FEATURE_WORDS 3 /* room for 192 features */

struct cpu_feature_set {
	bool baseline;                     /* started from `baseline`, not `host` */
	uint64_t on[CPU_FEATURE_WORDS];    /* shown if the host has them */
	uint64_t added[CPU_FEATURE_WORDS]; /* asked for with +name (and not taken back) */
};

/* Index into cpu_feature_table of a name (or alias), or -1. */
int cpu_feature_find(const char *name);

/*
 * Parses LIST (NULL: host). Returns 0, or -1 with a message starting
 * "--cpu-features: " in err.
 */
int cpu_features_parse(const char *list, struct cpu_feature_set *out, char *err, size_t errlen);

/* Whether the set shows `name` (on a host that has it). False for unknown names. */
bool cpu_feature_set_shows(const struct cpu_feature_set *s, const char *name);

/*
 * Applies the set to a CPUID table: clears the hidden features' bits, the
 * bits of features whose prerequisites end up hidden, and the XSAVE state
 * components (leaf 0xd) of hidden features; never sets a bit. Returns how
 * many features a `+name` asked for that the table lacks; if any, writes
 * a one-line message naming them to msg (if msg and msglen).
 */
size_t cpu_features_apply(const struct cpu_feature_set *s, struct cpuid_table *t,
			  char *msg, size_t msglen);

/* `--cpu-features help`: the names by leaf, the baseline and the dependencies. */
void cpu_features_help(FILE *f);

#endif
