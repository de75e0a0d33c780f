/*
 * --cpu-features (see cpu_features.h). Bit positions: Intel SDM vol. 2A,
 * CPUID; AMD APM vol. 3, appendix E; names as Linux's /proc/cpuinfo shows
 * them (the speculation-control bits, which /proc/cpuinfo does not show
 * under their CPUID names, after Linux's X86_FEATURE_ macros).
 */
#include "core/cpu_features.h"

#include "core/errmsg.h"

#include <string.h>

#define B CPUF_BASELINE
#define L1D(n, b, f)  { n, 1, 0, CPUID_EDX, b, f }
#define L1C(n, b, f)  { n, 1, 0, CPUID_ECX, b, f }
#define L7B(n, b, f)  { n, 7, 0, CPUID_EBX, b, f }
#define L7C(n, b, f)  { n, 7, 0, CPUID_ECX, b, f }
#define L7D(n, b, f)  { n, 7, 0, CPUID_EDX, b, f }
#define L71A(n, b, f) { n, 7, 1, CPUID_EAX, b, f }
#define LDA(n, b, f)  { n, 0xd, 1, CPUID_EAX, b, f }
#define E1C(n, b, f)  { n, 0x80000001u, 0, CPUID_ECX, b, f }
#define E1D(n, b, f)  { n, 0x80000001u, 0, CPUID_EDX, b, f }

static const struct cpu_feature table[] = {
	/* CPUID.1:EDX */
	L1D("fpu", 0, B), L1D("vme", 1, B), L1D("de", 2, B), L1D("pse", 3, B),
	L1D("tsc", 4, B), L1D("msr", 5, B), L1D("pae", 6, B), L1D("mce", 7, B),
	L1D("cx8", 8, B), L1D("apic", 9, B | CPUF_FIXED), L1D("sep", 11, B),
	L1D("mtrr", 12, B), L1D("pge", 13, B), L1D("mca", 14, B), L1D("cmov", 15, B),
	L1D("pat", 16, B), L1D("pse36", 17, B), L1D("clflush", 19, B), L1D("mmx", 23, B),
	L1D("fxsr", 24, B), L1D("sse", 25, B), L1D("sse2", 26, B), L1D("ss", 27, 0),
	L1D("ht", 28, B),
	/* CPUID.1:ECX */
	L1C("pni", 0, B), L1C("pclmulqdq", 1, B), L1C("monitor", 3, 0), L1C("vmx", 5, 0),
	L1C("ssse3", 9, B), L1C("fma", 12, 0), L1C("cx16", 13, B), L1C("pdcm", 15, 0),
	L1C("pcid", 17, 0), L1C("sse4_1", 19, B), L1C("sse4_2", 20, B),
	L1C("x2apic", 21, B), L1C("movbe", 22, 0), L1C("popcnt", 23, B),
	L1C("tsc_deadline_timer", 24, B), L1C("aes", 25, B), L1C("xsave", 26, 0),
	L1C("avx", 28, 0), L1C("f16c", 29, 0), L1C("rdrand", 30, 0),
	L1C("hypervisor", 31, B),
	/* CPUID.(EAX=7,ECX=0):EBX */
	L7B("fsgsbase", 0, 0), L7B("tsc_adjust", 1, 0), L7B("sgx", 2, 0), L7B("bmi1", 3, 0),
	L7B("hle", 4, 0), L7B("avx2", 5, 0), L7B("smep", 7, 0), L7B("bmi2", 8, 0),
	L7B("erms", 9, 0), L7B("invpcid", 10, 0), L7B("rtm", 11, 0), L7B("mpx", 14, 0),
	L7B("avx512f", 16, 0), L7B("avx512dq", 17, 0), L7B("rdseed", 18, 0),
	L7B("adx", 19, 0), L7B("smap", 20, 0), L7B("avx512ifma", 21, 0),
	L7B("clflushopt", 23, 0), L7B("clwb", 24, 0), L7B("intel_pt", 25, 0),
	L7B("avx512pf", 26, 0), L7B("avx512er", 27, 0), L7B("avx512cd", 28, 0),
	L7B("sha_ni", 29, 0), L7B("avx512bw", 30, 0), L7B("avx512vl", 31, 0),
	/* CPUID.(EAX=7,ECX=0):ECX */
	L7C("avx512vbmi", 1, 0), L7C("umip", 2, 0), L7C("pku", 3, 0), L7C("waitpkg", 5, 0),
	L7C("avx512_vbmi2", 6, 0), L7C("gfni", 8, 0), L7C("vaes", 9, 0),
	L7C("vpclmulqdq", 10, 0), L7C("avx512_vnni", 11, 0), L7C("avx512_bitalg", 12, 0),
	L7C("avx512_vpopcntdq", 14, 0), L7C("la57", 16, 0), L7C("rdpid", 22, 0),
	L7C("bus_lock_detect", 24, 0), L7C("cldemote", 25, 0), L7C("movdiri", 27, 0),
	L7C("movdir64b", 28, 0), L7C("enqcmd", 29, 0), L7C("sgx_lc", 30, 0),
	/* CPUID.(EAX=7,ECX=0):EDX */
	L7D("avx512_4vnniw", 2, 0), L7D("avx512_4fmaps", 3, 0), L7D("fsrm", 4, 0),
	L7D("avx512_vp2intersect", 8, 0), L7D("md_clear", 10, 0), L7D("serialize", 14, 0),
	L7D("tsxldtrk", 16, 0), L7D("pconfig", 18, 0), L7D("arch_lbr", 19, 0),
	L7D("ibt", 20, 0), L7D("amx_bf16", 22, 0), L7D("avx512_fp16", 23, 0),
	L7D("amx_tile", 24, 0), L7D("amx_int8", 25, 0), L7D("spec_ctrl", 26, 0),
	L7D("intel_stibp", 27, 0), L7D("flush_l1d", 28, 0), L7D("arch_capabilities", 29, 0),
	L7D("core_capabilities", 30, 0), L7D("spec_ctrl_ssbd", 31, 0),
	/* CPUID.(EAX=7,ECX=1):EAX */
	L71A("avx_vnni", 4, 0), L71A("avx512_bf16", 5, 0),
	/* CPUID.(EAX=0xd,ECX=1):EAX */
	LDA("xsaveopt", 0, 0), LDA("xsavec", 1, 0), LDA("xgetbv1", 2, 0), LDA("xsaves", 3, 0),
	/* CPUID.80000001H:ECX */
	E1C("lahf_lm", 0, B), E1C("cmp_legacy", 1, 0), E1C("svm", 2, 0), E1C("extapic", 3, 0),
	E1C("cr8_legacy", 4, 0), E1C("abm", 5, 0), E1C("sse4a", 6, 0), E1C("misalignsse", 7, 0),
	E1C("3dnowprefetch", 8, 0), E1C("osvw", 9, 0), E1C("ibs", 10, 0), E1C("xop", 11, 0),
	E1C("skinit", 12, 0), E1C("wdt", 13, 0), E1C("lwp", 15, 0), E1C("fma4", 16, 0),
	E1C("tce", 17, 0), E1C("nodeid_msr", 19, 0), E1C("tbm", 21, 0), E1C("topoext", 22, 0),
	E1C("perfctr_core", 23, 0), E1C("perfctr_nb", 24, 0), E1C("bpext", 26, 0),
	E1C("ptsc", 27, 0), E1C("perfctr_llc", 28, 0), E1C("mwaitx", 29, 0),
	/* CPUID.80000001H:EDX */
	E1D("syscall", 11, B), E1D("nx", 20, B), E1D("mmxext", 22, 0), E1D("fxsr_opt", 25, 0),
	E1D("pdpe1gb", 26, 0), E1D("rdtscp", 27, B), E1D("lm", 29, B), E1D("3dnowext", 30, 0),
	E1D("3dnow", 31, 0),
};
#undef B

#define NFEAT (sizeof(table) / sizeof(table[0]))
_Static_assert(NFEAT <= 64 * CPU_FEATURE_WORDS, "CPU_FEATURE_WORDS is too small");

const struct cpu_feature *const cpu_feature_table = table;
const size_t cpu_feature_count = NFEAT;

/* Other spellings people use: QEMU's and the instruction-set names. */
static const struct { const char *alias, *name; } aliases[] = {
	{ "sse3", "pni" }, { "sse4.1", "sse4_1" }, { "sse4.2", "sse4_2" },
	{ "tsc-deadline", "tsc_deadline_timer" }, { "lzcnt", "abm" }, { "sha", "sha_ni" },
	{ "pclmul", "pclmulqdq" }, { "lahf", "lahf_lm" },
};

/*
 * Architectural dependencies: `feature` needs `needs`. Hiding `needs`
 * hides `feature`; showing `feature` shows `needs`. Kept to what the
 * architecture requires (state a feature lives in, instructions it extends):
 *  - the SSE family runs on the SSE state, which FXSAVE/FXRSTOR manage;
 *  - AVX needs the XSAVE-managed YMM state (SDM vol. 1 §14.3), and the VEX
 *    and EVEX extensions build on AVX and AVX-512F;
 *  - MPX, PKU and AMX keep state in XSAVE components; XSAVEOPT, XSAVEC,
 *    XGETBV1 and XSAVES extend XSAVE;
 *  - x2APIC and the TSC-deadline timer are modes of the local APIC;
 *  - long mode and NX use PAE paging; 1 GiB pages and 5-level paging are
 *    long-mode paging;
 *  - STIBP and SSBD are bits of IA32_SPEC_CTRL.
 */
static const struct { const char *feature, *needs; } deps[] = {
	{ "sse", "fxsr" }, { "sse2", "sse" },
	{ "pni", "sse2" }, { "pclmulqdq", "sse2" }, { "ssse3", "sse2" }, { "sse4_1", "sse2" },
	{ "sse4_2", "sse2" }, { "aes", "sse2" }, { "sha_ni", "sse2" }, { "gfni", "sse2" },
	{ "sse4a", "sse2" }, { "avx", "sse2" },
	{ "avx", "xsave" }, { "xsaveopt", "xsave" }, { "xsavec", "xsave" }, { "xgetbv1", "xsave" },
	{ "xsaves", "xsave" }, { "mpx", "xsave" }, { "pku", "xsave" }, { "amx_tile", "xsave" },
	{ "fma", "avx" }, { "f16c", "avx" }, { "avx2", "avx" }, { "vaes", "avx" },
	{ "vpclmulqdq", "avx" }, { "avx_vnni", "avx" }, { "xop", "avx" }, { "fma4", "avx" },
	{ "avx512f", "avx" },
	{ "avx512dq", "avx512f" }, { "avx512ifma", "avx512f" }, { "avx512pf", "avx512f" },
	{ "avx512er", "avx512f" }, { "avx512cd", "avx512f" }, { "avx512bw", "avx512f" },
	{ "avx512vl", "avx512f" }, { "avx512vbmi", "avx512f" }, { "avx512_vbmi2", "avx512f" },
	{ "avx512_vnni", "avx512f" }, { "avx512_bitalg", "avx512f" },
	{ "avx512_vpopcntdq", "avx512f" }, { "avx512_4vnniw", "avx512f" },
	{ "avx512_4fmaps", "avx512f" }, { "avx512_vp2intersect", "avx512f" },
	{ "avx512_bf16", "avx512f" }, { "avx512_fp16", "avx512f" },
	{ "amx_bf16", "amx_tile" }, { "amx_int8", "amx_tile" },
	{ "x2apic", "apic" }, { "tsc_deadline_timer", "apic" },
	{ "lm", "pae" }, { "nx", "pae" }, { "pdpe1gb", "lm" }, { "la57", "lm" },
	{ "intel_stibp", "spec_ctrl" }, { "spec_ctrl_ssbd", "spec_ctrl" },
};

/*
 * XSAVE state components (SDM vol. 1 §13.1) of a feature: hidden with it,
 * from XCR0's supported bits (0xd.0 EAX/EDX) or IA32_XSS's (0xd.1 ECX/EDX),
 * so a guest cannot enable the state of a feature it was not shown (KVM
 * refuses XSETBV bits the guest's leaf 0xd lacks).
 */
static const struct { const char *feature; uint64_t components; } xstate[] = {
	{ "sse", 1u << 1 }, { "avx", 1u << 2 }, { "mpx", (1u << 3) | (1u << 4) },
	{ "avx512f", (1u << 5) | (1u << 6) | (1u << 7) }, { "intel_pt", 1u << 8 },
	{ "pku", 1u << 9 }, { "arch_lbr", 1u << 15 }, { "amx_tile", (1u << 17) | (1u << 18) },
};

/* AMD mirrors these CPUID.1:EDX bits in CPUID.80000001H:EDX (APM vol. 3, E.4.2). */
#define AMD_EDX_MIRROR 0x0183f3ffu

/* x87 state: component 0, always there with XSAVE. */
#define XSTATE_X87 1u
/* The legacy XSAVE area and the XSAVE header: the least XSAVE needs. */
#define XSAVE_LEGACY_AND_HEADER 576u

static bool test(const uint64_t *w, size_t i) { return (w[i / 64] >> (i % 64)) & 1; }
static void set(uint64_t *w, size_t i) { w[i / 64] |= 1ull << (i % 64); }
static void clear(uint64_t *w, size_t i) { w[i / 64] &= ~(1ull << (i % 64)); }

int cpu_feature_find(const char *name)
{
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcmp(name, aliases[i].alias))
			name = aliases[i].name;
	for (size_t i = 0; i < NFEAT; i++)
		if (!strcmp(name, table[i].name))
			return (int)i;
	return -1;
}

#define NDEPS (sizeof(deps) / sizeof(deps[0]))

/* The dependency pairs by table index: [k][0] needs [k][1]. */
static void resolve_deps(uint8_t idx[][2])
{
	for (size_t k = 0; k < NDEPS; k++) {
		idx[k][0] = (uint8_t)cpu_feature_find(deps[k].feature);
		idx[k][1] = (uint8_t)cpu_feature_find(deps[k].needs);
	}
}

/*
 * down: hides whatever needs a hidden feature; up: shows whatever a shown
 * feature needs. Either until nothing changes.
 */
static void close_deps(uint64_t *on, bool up)
{
	uint8_t idx[NDEPS][2];
	bool changed = true;

	resolve_deps(idx);
	while (changed) {
		changed = false;
		for (size_t k = 0; k < NDEPS; k++) {
			if (!test(on, idx[k][0]) || test(on, idx[k][1]))
				continue;
			if (up)
				set(on, idx[k][1]);
			else
				clear(on, idx[k][0]);
			changed = true;
		}
	}
}

static void start_from(struct cpu_feature_set *s, bool baseline)
{
	*s = (struct cpu_feature_set){ .baseline = baseline };
	for (size_t i = 0; i < NFEAT; i++)
		if (!baseline || (table[i].flags & CPUF_BASELINE))
			set(s->on, i);
}

int cpu_features_parse(const char *list, struct cpu_feature_set *out, char *err, size_t errlen)
{
	const char *p = list;
	bool first = true;

	start_from(out, false);
	if (!list)
		return 0;
	if (!*list)
		return errmsg(err, errlen, "--cpu-features: empty list (host, baseline, +name, -name)");
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char item[64];
		int i;

		if (!len)
			return errmsg(err, errlen, "--cpu-features: empty item in '%s'", list);
		if (len >= sizeof(item))
			return errmsg(err, errlen, "--cpu-features: unknown feature '%.*s' "
				      "(mpvm run --cpu-features help lists them)", (int)len, p);
		memcpy(item, p, len);
		item[len] = '\0';

		if (!strcmp(item, "host") || !strcmp(item, "baseline")) {
			if (!first)
				return errmsg(err, errlen, "--cpu-features: '%s' must come first", item);
			start_from(out, item[0] == 'b');
		} else if (!strcmp(item, "help")) {
			return errmsg(err, errlen, "--cpu-features: 'help' goes alone (mpvm run --cpu-features help)");
		} else if (item[0] != '+' && item[0] != '-') {
			if (cpu_feature_find(item) < 0)
				return errmsg(err, errlen, "--cpu-features: unknown feature '%s' "
					      "(mpvm run --cpu-features help lists them)", item);
			return errmsg(err, errlen, "--cpu-features: '%s': write +%s to show it or -%s to hide it",
				      item, item, item);
		} else if ((i = cpu_feature_find(item + 1)) < 0) {
			return errmsg(err, errlen, "--cpu-features: %s '%s' (mpvm run --cpu-features help lists them)",
				      item[1] ? "unknown feature" : "no feature name after", item[1] ? item + 1 : item);
		} else if (item[0] == '+') {
			set(out->on, (size_t)i);
			set(out->added, (size_t)i);
			close_deps(out->on, true);
		} else if (table[i].flags & CPUF_FIXED) {
			return errmsg(err, errlen, "--cpu-features: -%s: KVM shows CPUID.1:EDX.APIC whenever the "
				      "local APIC is enabled (IA32_APIC_BASE.EN); it cannot be hidden", table[i].name);
		} else {
			clear(out->on, (size_t)i);
			close_deps(out->on, false);
			for (size_t w = 0; w < CPU_FEATURE_WORDS; w++)
				out->added[w] &= out->on[w];
		}
		first = false;
		if (!end)
			return 0;
		p = end + 1;
	}
}

bool cpu_feature_set_shows(const struct cpu_feature_set *s, const char *name)
{
	int i = cpu_feature_find(name);

	return i >= 0 && test(s->on, (size_t)i);
}

/* The entry for exactly (function, index): an entry without the significant-index flag only answers index 0. */
static struct cpuid_leaf *find_exact(struct cpuid_table *t, uint32_t function, uint32_t index)
{
	struct cpuid_leaf *l = cpuid_find(t, function, index);

	if (l && index && !(l->flags & CPUID_FLAG_SIGNIFICANT_INDEX))
		return NULL;
	return l;
}

static uint32_t *reg_of(struct cpuid_leaf *l, unsigned int reg)
{
	switch (reg) {
	case CPUID_EAX: return &l->eax;
	case CPUID_EBX: return &l->ebx;
	case CPUID_ECX: return &l->ecx;
	default: return &l->edx;
	}
}

/* The state components of the features `on` shows (shown) and hides (hidden). */
static void xstate_of(const uint64_t *on, uint64_t *shown, uint64_t *hidden)
{
	*shown = *hidden = 0;
	for (size_t k = 0; k < sizeof(xstate) / sizeof(xstate[0]); k++) {
		if (test(on, (size_t)cpu_feature_find(xstate[k].feature)))
			*shown |= xstate[k].components;
		else
			*hidden |= xstate[k].components;
	}
}

/*
 * Leaf 0xd as the set says: all zeros if it hides xsave; else without the
 * state components of hidden features (under baseline: with only x87 and
 * the shown features' components), and without supervisor components
 * (IA32_XSS) if it hides xsaves. What the host lacks is KVM's business.
 */
static void apply_xstate(const struct cpu_feature_set *s, struct cpuid_table *t)
{
	struct cpuid_leaf *l0 = find_exact(t, 0xd, 0), *l1 = find_exact(t, 0xd, 1);
	uint64_t shown, hidden, xcr0 = 0, xss = 0, xcr0_was = 0;
	uint32_t size = XSAVE_LEGACY_AND_HEADER;

	if (!cpu_feature_set_shows(s, "xsave")) {
		for (size_t i = 0; i < t->len; i++)
			if (t->leaf[i].function == 0xd)
				t->leaf[i].eax = t->leaf[i].ebx = t->leaf[i].ecx = t->leaf[i].edx = 0;
		return;
	}
	xstate_of(s->on, &shown, &hidden);
	if (l0) {
		xcr0 = xcr0_was = ((uint64_t)l0->edx << 32) | l0->eax;
		xcr0 &= s->baseline ? (shown | XSTATE_X87) : ~hidden;
		l0->eax = (uint32_t)xcr0;
		l0->edx = (uint32_t)(xcr0 >> 32);
	}
	if (l1) {
		xss = ((uint64_t)l1->edx << 32) | l1->ecx;
		xss &= s->baseline ? shown : ~hidden;
		if (!cpu_feature_set_shows(s, "xsaves"))
			xss = 0;
		l1->ecx = (uint32_t)xss;
		l1->edx = (uint32_t)(xss >> 32);
	}
	/* Subleaf i >= 2 describes component i: gone with it. */
	for (size_t i = 0; i < t->len; i++) {
		struct cpuid_leaf *l = &t->leaf[i];

		if (l->function != 0xd || l->index < 2 || !(l->flags & CPUID_FLAG_SIGNIFICANT_INDEX))
			continue;
		if (l->index >= 64 || !(((xcr0 | xss) >> l->index) & 1)) {
			l->eax = l->ebx = l->ecx = l->edx = 0;
			continue;
		}
		/* A user component (XCR0) sits at offset EBX in the standard format. */
		if (((xcr0 >> l->index) & 1) && l->eax + l->ebx > size)
			size = l->eax + l->ebx;
	}
	/* ECX: the standard-format size for every component XCR0 may still enable. */
	if (l0 && xcr0 != xcr0_was && size < l0->ecx) {
		l0->ecx = size;
		if (l0->ebx > size)
			l0->ebx = size;
	}
}

size_t cpu_features_apply(const struct cpu_feature_set *s, struct cpuid_table *t,
			  char *msg, size_t msglen)
{
	uint64_t eff[CPU_FEATURE_WORDS] = { 0 };
	uint32_t show_1edx = 0, hide_1edx = 0;
	size_t missing = 0, used = 0;

	/* What the guest gets: what the set shows and the table has, and what that needs. */
	for (size_t i = 0; i < NFEAT; i++) {
		struct cpuid_leaf *l = find_exact(t, table[i].leaf, table[i].subleaf);

		if (test(s->on, i) && l && ((*reg_of(l, table[i].reg) >> table[i].bit) & 1))
			set(eff, i);
	}
	close_deps(eff, false);

	/* Each feature register, by the features in it (and, for the baseline, nothing else). */
	for (size_t i = 0; i < NFEAT; i++) {
		const struct cpu_feature *f = &table[i];
		struct cpuid_leaf *l;
		uint32_t show = 0, hide = 0, *r;

		if (i && f->leaf == table[i - 1].leaf && f->subleaf == table[i - 1].subleaf &&
		    f->reg == table[i - 1].reg)
			continue; /* registers come in runs: done with the run's first entry */
		for (size_t j = i; j < NFEAT && table[j].leaf == f->leaf &&
		     table[j].subleaf == f->subleaf && table[j].reg == f->reg; j++) {
			if (test(eff, j))
				show |= 1u << table[j].bit;
			else
				hide |= 1u << table[j].bit;
		}
		if (f->leaf == 1 && f->reg == CPUID_EDX) {
			show_1edx = show;
			hide_1edx = hide;
		}
		if (f->leaf == 0x80000001u && f->reg == CPUID_EDX) {
			show |= show_1edx & AMD_EDX_MIRROR;
			hide |= hide_1edx & AMD_EDX_MIRROR;
		}
		l = find_exact(t, f->leaf, f->subleaf);
		if (!l)
			continue;
		r = reg_of(l, f->reg);
		*r &= s->baseline ? show : ~hide;
	}
	apply_xstate(s, t);

	for (size_t i = 0; i < NFEAT; i++) {
		if (!test(s->added, i) || !test(s->on, i) || test(eff, i))
			continue;
		missing++;
		if (!msg || !msglen)
			continue;
		if (!used)
			used = (size_t)snprintf(msg, msglen, "--cpu-features: this host's KVM does not offer %s",
						table[i].name);
		else if (used < msglen)
			used += (size_t)snprintf(msg + used, msglen - used, ", %s", table[i].name);
	}
	if (missing && msg && msglen && used < msglen)
		snprintf(msg + used, msglen - used, ": %s hidden", missing == 1 ? "it stays" : "they stay");
	return missing;
}

static const char *reg_name(const struct cpu_feature *f)
{
	static const char *const names[] = { "EAX", "EBX", "ECX", "EDX" };

	return names[f->reg];
}

/* Prints words wrapped at 78 columns, each line starting with `indent`. */
struct wrap { FILE *f; size_t col; const char *indent; };

static void wrap_word(struct wrap *w, const char *word, const char *suffix)
{
	size_t len = strlen(word) + strlen(suffix);

	if (w->col && w->col + 1 + len > 78) {
		fputc('\n', w->f);
		w->col = 0;
	}
	if (!w->col) {
		fputs(w->indent, w->f);
		w->col = strlen(w->indent);
	} else {
		fputc(' ', w->f);
		w->col++;
	}
	fprintf(w->f, "%s%s", word, suffix);
	w->col += len;
}

static void wrap_end(struct wrap *w)
{
	if (w->col)
		fputc('\n', w->f);
	w->col = 0;
}

void cpu_features_help(FILE *f)
{
	struct wrap w = { .f = f, .indent = "    " };

	fputs("--cpu-features LIST: the CPUID features the guest sees.\n"
	      "\n"
	      "LIST is comma-separated: first, optionally, host (every feature this host's\n"
	      "KVM offers; the default) or baseline (below); then +name to show a feature\n"
	      "and -name to hide one, applied left to right. +name also shows what name\n"
	      "needs; -name also hides what needs name. A feature the host's KVM lacks stays\n"
	      "hidden whatever the list says (mpvm warns). Example: baseline,+avx2,-aes\n"
	      "\n"
	      "Features by CPUID leaf and register (* = in baseline):\n", f);
	for (size_t i = 0; i < NFEAT; i++) {
		const struct cpu_feature *c = &table[i];

		if (!i || c->leaf != table[i - 1].leaf || c->subleaf != table[i - 1].subleaf ||
		    c->reg != table[i - 1].reg) {
			wrap_end(&w);
			fprintf(f, "  leaf 0x%x", c->leaf);
			if (c->leaf == 7 || c->leaf == 0xd)
				fprintf(f, " subleaf %u", c->subleaf);
			fprintf(f, " %s:\n", reg_name(c));
		}
		wrap_word(&w, c->name, (c->flags & CPUF_BASELINE) ? "*" : "");
	}
	wrap_end(&w);
	fputs("\nbaseline: x86-64-v2 plus aes, pclmulqdq and rdtscp (every x86-64 server since\n"
	      "about 2013 has them) and what the VMM provides on any host (x2apic,\n"
	      "tsc_deadline_timer, hypervisor, ht); no XSAVE, AVX or later, whose state and\n"
	      "availability differ between hosts. Under baseline, bits of these registers\n"
	      "that are not shown features are cleared too.\n"
	      "\nDependencies (hiding the feature before a colon hides those after it, and\n"
	      "what needs them in turn; showing one of those shows the first):\n", f);
	for (size_t k = 0; k < NDEPS; k++) {
		/* deps[] lists each prerequisite's dependents in one run. */
		if (!k || strcmp(deps[k].needs, deps[k - 1].needs)) {
			wrap_end(&w);
			fprintf(f, "  %s:", deps[k].needs);
			w.col = 3 + strlen(deps[k].needs);
		}
		wrap_word(&w, deps[k].feature, "");
	}
	wrap_end(&w);
	fputs("  (-xsave also removes every XSAVE state component from leaf 0xd; hiding sse,\n"
	      "  avx, mpx, avx512f, pku, amx_tile, intel_pt or arch_lbr removes its own)\n"
	      "\nAliases: sse3 (pni), sse4.1, sse4.2, tsc-deadline, lzcnt (abm), sha (sha_ni),\n"
	      "pclmul, lahf. apic cannot be hidden: KVM shows it whenever the local APIC is on.\n", f);
}
