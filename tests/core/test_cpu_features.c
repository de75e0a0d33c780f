/* Unit tests of core/cpu_features.c: the --cpu-features list, dependencies, the baseline, leaf 0xd. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu_features.h"

#define BIT(n) (1u << (n))

static bool shows(const char *list, const char *name)
{
	struct cpu_feature_set s;
	char err[256];

	assert_int_equal(cpu_features_parse(list, &s, err, sizeof(err)), 0);
	return cpu_feature_set_shows(&s, name);
}

static void parse_fails(const char *list, const char *want)
{
	struct cpu_feature_set s;
	char err[256] = "";

	assert_int_equal(cpu_features_parse(list, &s, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("--cpu-features '%s': got '%s', want '%s'", list, err, want);
	assert_int_equal(strncmp(err, "--cpu-features: ", 16), 0);
}

static void table_is_consistent(void **state)
{
	(void)state;
	assert_true(cpu_feature_count > 100);
	for (size_t i = 0; i < cpu_feature_count; i++) {
		const struct cpu_feature *a = &cpu_feature_table[i];

		assert_true(a->bit < 32);
		assert_int_equal(cpu_feature_find(a->name), (int)i);
		for (size_t j = i + 1; j < cpu_feature_count; j++) {
			const struct cpu_feature *b = &cpu_feature_table[j];

			assert_string_not_equal(a->name, b->name);
			assert_false(a->leaf == b->leaf && a->subleaf == b->subleaf && a->reg == b->reg &&
				     a->bit == b->bit);
			/* Each register's features form one run (cpu_features_apply relies on it). */
			if (j > i + 1 && a->leaf == b->leaf && a->subleaf == b->subleaf && a->reg == b->reg) {
				const struct cpu_feature *p = &cpu_feature_table[j - 1];

				assert_true(p->leaf == b->leaf && p->subleaf == b->subleaf && p->reg == b->reg);
			}
		}
	}
	assert_int_equal(cpu_feature_find("avx3"), -1);
	assert_int_equal(cpu_feature_find("sse3"), cpu_feature_find("pni"));
	assert_int_equal(cpu_feature_find("sse4.2"), cpu_feature_find("sse4_2"));
}

static void known_bits(void **state)
{
	static const struct { const char *name; uint32_t leaf, sub; unsigned reg, bit; } want[] = {
		{ "sse4_2", 1, 0, CPUID_ECX, 20 }, { "xsave", 1, 0, CPUID_ECX, 26 },
		{ "avx", 1, 0, CPUID_ECX, 28 }, { "x2apic", 1, 0, CPUID_ECX, 21 },
		{ "hypervisor", 1, 0, CPUID_ECX, 31 }, { "sse2", 1, 0, CPUID_EDX, 26 },
		{ "avx2", 7, 0, CPUID_EBX, 5 }, { "avx512f", 7, 0, CPUID_EBX, 16 },
		{ "la57", 7, 0, CPUID_ECX, 16 }, { "md_clear", 7, 0, CPUID_EDX, 10 },
		{ "avx512_bf16", 7, 1, CPUID_EAX, 5 }, { "xsaves", 0xd, 1, CPUID_EAX, 3 },
		{ "lahf_lm", 0x80000001u, 0, CPUID_ECX, 0 }, { "lm", 0x80000001u, 0, CPUID_EDX, 29 },
		{ "rdtscp", 0x80000001u, 0, CPUID_EDX, 27 },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		int i = cpu_feature_find(want[k].name);

		assert_true(i >= 0);
		assert_int_equal(cpu_feature_table[i].leaf, want[k].leaf);
		assert_int_equal(cpu_feature_table[i].subleaf, want[k].sub);
		assert_int_equal(cpu_feature_table[i].reg, want[k].reg);
		assert_int_equal(cpu_feature_table[i].bit, want[k].bit);
	}
}

static void parse_lists(void **state)
{
	struct cpu_feature_set s;
	char err[256];

	(void)state;
	/* NULL and "host": everything. */
	assert_int_equal(cpu_features_parse(NULL, &s, err, sizeof(err)), 0);
	assert_false(s.baseline);
	for (size_t i = 0; i < cpu_feature_count; i++)
		assert_true(cpu_feature_set_shows(&s, cpu_feature_table[i].name));
	assert_true(shows("host", "avx512f"));
	assert_false(shows("host", "avx3"));

	assert_true(shows("baseline", "sse4_2"));
	assert_true(shows("baseline", "x2apic"));
	assert_false(shows("baseline", "avx"));
	assert_false(shows("baseline", "xsave"));
	assert_int_equal(cpu_features_parse("baseline", &s, err, sizeof(err)), 0);
	assert_true(s.baseline);

	/* -name hides what needs it. */
	assert_false(shows("-sse4_2", "sse4_2"));
	assert_true(shows("-sse4_2", "sse4_1"));
	assert_false(shows("-avx", "avx2"));
	assert_false(shows("-avx", "avx512vl"));
	assert_false(shows("-avx", "vaes"));
	assert_true(shows("-avx", "xsave"));
	assert_true(shows("-avx", "aes"));
	assert_false(shows("-xsave", "xsaves"));
	assert_false(shows("-xsave", "avx512bw"));
	assert_false(shows("-xsave", "pku"));
	assert_false(shows("host,-sse", "pni"));
	assert_false(shows("-fxsr", "sse4_2"));
	assert_false(shows("-sse3", "pni"));

	/* +name shows what it needs; later items win. */
	assert_true(shows("baseline,+avx2", "avx2"));
	assert_true(shows("baseline,+avx2", "avx"));
	assert_true(shows("baseline,+avx2", "xsave"));
	assert_false(shows("baseline,+avx2", "avx512f"));
	assert_false(shows("baseline,+avx2", "xsaveopt"));
	assert_false(shows("+avx2,-avx", "avx2"));
	assert_true(shows("-avx,+avx2", "avx2"));
	assert_true(shows("-avx,+avx2", "avx"));
	assert_false(shows("-avx,+avx2", "fma"));
	assert_true(shows("baseline,+pdpe1gb", "pdpe1gb"));
	assert_true(shows("baseline,-aes,+avx512bw", "avx512f"));
	assert_false(shows("baseline,-aes,+avx512bw", "aes"));

	/* Taking back a +name also takes it out of the asked-for set. */
	assert_int_equal(cpu_features_parse("baseline,+avx2,-xsave", &s, err, sizeof(err)), 0);
	for (size_t w = 0; w < CPU_FEATURE_WORDS; w++)
		assert_true(s.added[w] == 0);
}

static void parse_errors(void **state)
{
	(void)state;
	parse_fails("", "empty list");
	parse_fails("-avx,,-aes", "empty item in '-avx,,-aes'");
	parse_fails("-avx,", "empty item");
	parse_fails(",-avx", "empty item");
	parse_fails("+avx3", "unknown feature 'avx3' (mpvm run --cpu-features help lists them)");
	parse_fails("baseline,-avx3", "unknown feature 'avx3'");
	parse_fails("-avx,baseline", "'baseline' must come first");
	parse_fails("baseline,host", "'host' must come first");
	parse_fails("avx2", "'avx2': write +avx2 to show it or -avx2 to hide it");
	parse_fails("avx3", "unknown feature 'avx3'");
	parse_fails("-", "no feature name after '-'");
	parse_fails("-apic", "cannot be hidden");
	parse_fails("help,-avx", "'help' goes alone");
	parse_fails("-avx, +aes", "unknown feature ' +aes'");
	parse_fails("+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    "unknown feature '+aaaa");
}

/* The baseline is closed: showing any of its features again adds nothing it needs. */
static void baseline_closed(void **state)
{
	struct cpu_feature_set base, more;
	char err[256], list[128];

	(void)state;
	assert_int_equal(cpu_features_parse("baseline", &base, err, sizeof(err)), 0);
	for (size_t i = 0; i < cpu_feature_count; i++) {
		if (!(cpu_feature_table[i].flags & CPUF_BASELINE))
			continue;
		assert_true(cpu_feature_set_shows(&base, cpu_feature_table[i].name));
		snprintf(list, sizeof(list), "baseline,+%s", cpu_feature_table[i].name);
		assert_int_equal(cpu_features_parse(list, &more, err, sizeof(err)), 0);
		assert_memory_equal(base.on, more.on, sizeof(base.on));
	}
}

/* A Skylake-server-like host, as KVM_GET_SUPPORTED_CPUID gives it (AVX-512, no AMX). */
enum { L0, L1, L7, L71, LD0, LD1, LD2, LD5, LD6, LD7, LD9, LE0, LE1, LE8, NLEAF };
static void intel_host(struct cpuid_leaf *l, struct cpuid_table *t)
{
	l[L0] = (struct cpuid_leaf){ .function = 0, .eax = 0xd, .ebx = 0x756e6547 };
	l[L1] = (struct cpuid_leaf){ .function = 1, .eax = 0x50657, .ebx = 0x800,
				     .ecx = 0xfffa3203u, .edx = 0x1f8bfbffu };
	l[L7] = (struct cpuid_leaf){ .function = 7, .index = 0, .flags = 1, .eax = 1,
				     .ebx = 0xd19f67ebu, .ecx = 0x0000081cu, .edx = 0xbc000400u };
	l[L71] = (struct cpuid_leaf){ .function = 7, .index = 1, .flags = 1, .eax = BIT(5) | BIT(4) };
	/* XCR0: x87, SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM, PKRU; max size 0xa88. */
	l[LD0] = (struct cpuid_leaf){ .function = 0xd, .index = 0, .flags = 1,
				      .eax = 0x2e7, .ebx = 0x240, .ecx = 0xa88 };
	l[LD1] = (struct cpuid_leaf){ .function = 0xd, .index = 1, .flags = 1, .eax = 0xf, .ecx = 0x100 };
	l[LD2] = (struct cpuid_leaf){ .function = 0xd, .index = 2, .flags = 1, .eax = 0x100, .ebx = 0x240 };
	l[LD5] = (struct cpuid_leaf){ .function = 0xd, .index = 5, .flags = 1, .eax = 0x40, .ebx = 0x440 };
	l[LD6] = (struct cpuid_leaf){ .function = 0xd, .index = 6, .flags = 1, .eax = 0x200, .ebx = 0x480 };
	l[LD7] = (struct cpuid_leaf){ .function = 0xd, .index = 7, .flags = 1, .eax = 0x400, .ebx = 0x680 };
	l[LD9] = (struct cpuid_leaf){ .function = 0xd, .index = 9, .flags = 1, .eax = 0x8, .ebx = 0xa80 };
	l[LE0] = (struct cpuid_leaf){ .function = 0x80000000u, .eax = 0x80000008u };
	l[LE1] = (struct cpuid_leaf){ .function = 0x80000001u, .ecx = 0x121, .edx = 0x2c100800u };
	l[LE8] = (struct cpuid_leaf){ .function = 0x80000008u, .eax = 0x3027 };
	*t = (struct cpuid_table){ .leaf = l, .len = NLEAF, .cap = NLEAF };
}

static size_t apply(const char *list, struct cpuid_table *t, char *msg)
{
	struct cpu_feature_set s;
	char err[256];

	assert_int_equal(cpu_features_parse(list, &s, err, sizeof(err)), 0);
	return cpu_features_apply(&s, t, msg, 256);
}

static void host_is_untouched(void **state)
{
	struct cpuid_leaf l[NLEAF], orig[NLEAF];
	struct cpuid_table t;
	char msg[256];

	(void)state;
	intel_host(l, &t);
	memcpy(orig, l, sizeof(l));
	assert_int_equal(apply("host", &t, msg), 0);
	assert_memory_equal(l, orig, sizeof(l));
}

static void hide_one(void **state)
{
	struct cpuid_leaf l[NLEAF], orig[NLEAF];
	struct cpuid_table t;
	char msg[256];

	(void)state;
	intel_host(l, &t);
	memcpy(orig, l, sizeof(l));
	assert_int_equal(apply("-sse4_2", &t, msg), 0);
	assert_int_equal(l[L1].ecx, orig[L1].ecx & ~BIT(20));
	l[L1].ecx = orig[L1].ecx;
	assert_memory_equal(l, orig, sizeof(l)); /* nothing else */

	intel_host(l, &t);
	assert_int_equal(apply("-lahf_lm,-rdtscp,-hypervisor", &t, msg), 0);
	assert_int_equal(l[LE1].ecx, 0x120);
	assert_int_equal(l[LE1].edx, 0x2c100800u & ~BIT(27));
	assert_int_equal(l[L1].ecx, 0xfffa3203u & ~BIT(31));
}

static void hide_xsave(void **state)
{
	struct cpuid_leaf l[NLEAF];
	struct cpuid_table t;
	char msg[256];

	(void)state;
	intel_host(l, &t);
	assert_int_equal(apply("-xsave", &t, msg), 0);
	assert_int_equal(l[L1].ecx & (BIT(26) | BIT(28) | BIT(29) | BIT(12)), 0); /* xsave avx f16c fma */
	assert_true(l[L1].ecx & BIT(25));                                          /* aes stays */
	assert_int_equal(l[L7].ebx & (BIT(5) | BIT(16) | BIT(17) | BIT(28) | BIT(30) | BIT(31)), 0);
	assert_true(l[L7].ebx & BIT(3));                                           /* bmi1 stays */
	assert_int_equal(l[L7].ecx & BIT(3), 0);                                   /* pku */
	assert_int_equal(l[L71].eax, 0);                                           /* avx_vnni, avx512_bf16 */
	for (int i = LD0; i <= LD9; i++) {
		assert_int_equal(l[i].eax, 0);
		assert_int_equal(l[i].ebx, 0);
		assert_int_equal(l[i].ecx, 0);
		assert_int_equal(l[i].edx, 0);
	}
	assert_int_equal(l[L7].eax, 1); /* the max subleaf is no feature */
}

static void hide_avx(void **state)
{
	struct cpuid_leaf l[NLEAF];
	struct cpuid_table t;
	char msg[256];

	(void)state;
	intel_host(l, &t);
	assert_int_equal(apply("-avx", &t, msg), 0);
	assert_true(l[L1].ecx & BIT(26));
	assert_int_equal(l[L1].ecx & BIT(28), 0);
	assert_int_equal(l[L7].ebx & BIT(5), 0);
	assert_int_equal(l[L7].ecx & (BIT(9) | BIT(10)), 0);                       /* vaes vpclmulqdq */
	/* XCR0 keeps x87, SSE, PKRU; the AVX and AVX-512 components go. */
	assert_int_equal(l[LD0].eax, 0x203);
	assert_int_equal(l[LD2].eax, 0);
	assert_int_equal(l[LD5].ebx, 0);
	assert_int_equal(l[LD7].eax, 0);
	assert_int_equal(l[LD9].eax, 8);
	assert_int_equal(l[LD0].ecx, 0xa88); /* PKRU still ends at 0xa88 */
	assert_int_equal(l[LD1].eax, 0xf);   /* xsaveopt..xsaves stay */

	/* Without PKRU the maximum size shrinks to the legacy area and header. */
	intel_host(l, &t);
	assert_int_equal(apply("-avx,-pku", &t, msg), 0);
	assert_int_equal(l[LD0].eax, 0x3);
	assert_int_equal(l[LD9].eax, 0);
	assert_int_equal(l[LD0].ecx, 576);

	/* -avx512f keeps AVX (component 2): size = 0x240 + 0x100. */
	intel_host(l, &t);
	assert_int_equal(apply("-avx512f,-pku", &t, msg), 0);
	assert_int_equal(l[LD0].eax, 0x7);
	assert_int_equal(l[LD0].ecx, 0x340);
	assert_true(l[L7].ebx & BIT(5));

	/* -xsaves: no supervisor state. */
	intel_host(l, &t);
	assert_int_equal(apply("-xsaves", &t, msg), 0);
	assert_int_equal(l[LD1].eax, 0x7);
	assert_int_equal(l[LD1].ecx, 0);
	assert_int_equal(l[LD0].eax, 0x2e7);
}

static void baseline_on_host(void **state)
{
	struct cpuid_leaf l[NLEAF];
	struct cpuid_table t;
	char msg[256];
	uint32_t want_1ecx = BIT(0) | BIT(1) | BIT(9) | BIT(13) | BIT(19) | BIT(20) | BIT(21) |
			     BIT(23) | BIT(24) | BIT(25) | BIT(31);

	(void)state;
	intel_host(l, &t);
	assert_int_equal(apply("baseline", &t, msg), 0);
	assert_int_equal(l[L1].ecx, want_1ecx);        /* OSXSAVE, PCID, FMA, AVX, ... gone */
	assert_int_equal(l[L1].edx, 0x1f8bfbffu & ~BIT(27)); /* all but ss */
	assert_int_equal(l[L7].ebx, 0);
	assert_int_equal(l[L7].ecx, 0);
	assert_int_equal(l[L7].edx, 0);                /* md_clear, spec_ctrl, ... too */
	assert_int_equal(l[L7].eax, 1);
	assert_int_equal(l[L71].eax, 0);
	assert_int_equal(l[LD0].eax, 0);
	assert_int_equal(l[LD0].ecx, 0);
	assert_int_equal(l[LE1].ecx, BIT(0));          /* lahf_lm; abm, 3dnowprefetch gone */
	assert_int_equal(l[LE1].edx, BIT(11) | BIT(20) | BIT(27) | BIT(29));
	assert_int_equal(l[L1].eax, 0x50657);          /* not a feature register */
	assert_int_equal(l[LE8].eax, 0x3027);

	/* +avx2 brings AVX and XSAVE back, with their state components only. */
	intel_host(l, &t);
	assert_int_equal(apply("baseline,+avx2", &t, msg), 0);
	assert_int_equal(l[L1].ecx, want_1ecx | BIT(26) | BIT(28));
	assert_int_equal(l[L7].ebx, BIT(5));
	assert_int_equal(l[LD0].eax, 0x7);
	assert_int_equal(l[LD0].ecx, 0x340);
	assert_int_equal(l[LD1].eax, 0);
	assert_int_equal(l[LD1].ecx, 0);
	assert_int_equal(l[LD9].eax, 0);
}

static void plus_not_on_host(void **state)
{
	struct cpuid_leaf l[NLEAF];
	struct cpuid_table t;
	char msg[256];

	(void)state;
	intel_host(l, &t);
	assert_int_equal(apply("baseline,+amx_tile", &t, msg), 1);
	assert_string_equal(msg, "--cpu-features: this host's KVM does not offer amx_tile: it stays hidden");
	assert_int_equal(l[L7].edx, 0);
	assert_true(l[L1].ecx & BIT(26)); /* xsave, which amx_tile needs, the host has */

	intel_host(l, &t);
	assert_int_equal(apply("+skinit,+avx2,+3dnow", &t, msg), 2);
	assert_string_equal(msg, "--cpu-features: this host's KVM does not offer skinit, 3dnow: they stay hidden");
	assert_true(l[L7].ebx & BIT(5));

	/* Shown by default but not asked for: no message. */
	intel_host(l, &t);
	assert_int_equal(apply("-aes", &t, msg), 0);

	/* A prerequisite the host lacks hides the feature too. */
	intel_host(l, &t);
	l[L1].ecx &= ~BIT(28); /* no AVX, but AVX2 claimed */
	assert_int_equal(apply("host,+avx2", &t, msg), 1);
	assert_int_equal(l[L7].ebx & BIT(5), 0);
	assert_string_equal(msg, "--cpu-features: this host's KVM does not offer avx2: it stays hidden");

	/* No buffer: just the count. */
	intel_host(l, &t);
	{
		struct cpu_feature_set s;

		assert_int_equal(cpu_features_parse("+skinit", &s, NULL, 0), 0);
		assert_int_equal(cpu_features_apply(&s, &t, NULL, 0), 1);
	}
}

/* AMD repeats most of CPUID.1:EDX in CPUID.80000001H:EDX. */
static void amd_mirror(void **state)
{
	struct cpuid_leaf l[2] = {
		{ .function = 1, .ecx = 0x7ed8320b, .edx = 0x178bfbff },
		{ .function = 0x80000001u, .ecx = 0x75c237ff, .edx = 0x2fd3fbff },
	};
	struct cpuid_table t = { .leaf = l, .len = 2, .cap = 2 };
	char msg[256];

	(void)state;
	assert_int_equal(apply("-mmx,-pse36", &t, msg), 0);
	assert_int_equal(l[0].edx & (BIT(23) | BIT(17)), 0);
	assert_int_equal(l[1].edx, 0x2fd3fbffu & ~(BIT(23) | BIT(17)));

	l[0].edx = 0x178bfbff;
	l[1].edx = 0x2fd3fbff;
	assert_int_equal(apply("baseline", &t, msg), 0);
	/* The mirrored baseline bits (fpu..pat, pse36, mmx, fxsr) stay; mmxext, fxsr_opt, pdpe1gb go. */
	assert_int_equal(l[1].edx, (0x2fd3fbffu & 0x0183f3ffu) | BIT(11) | BIT(20) | BIT(27) | BIT(29));
	assert_int_equal(l[1].ecx, BIT(0));
}

/* An entry without the significant-index flag describes subleaf 0 only. */
static void subleaf_needs_flag(void **state)
{
	struct cpuid_leaf l[1] = { { .function = 7, .eax = 1, .ebx = BIT(5) | BIT(3) } };
	struct cpuid_table t = { .leaf = l, .len = 1, .cap = 1 };
	char msg[256];

	(void)state;
	assert_int_equal(apply("baseline,+bmi1", &t, msg), 0);
	assert_int_equal(l[0].ebx, BIT(3));
	assert_int_equal(l[0].eax, 1); /* 7.1 EAX's mask was not applied to it */
}

static void help_text(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	cpu_features_help(f);
	fclose(f);
	assert_non_null(strstr(buf, "sse4_2*"));
	assert_non_null(strstr(buf, " avx2 "));
	assert_non_null(strstr(buf, "tsc_deadline_timer*"));
	assert_non_null(strstr(buf, "xsave: avx xsaveopt"));
	assert_non_null(strstr(buf, "baseline"));
	for (char *p = buf, *nl; (nl = strchr(p, '\n')); p = nl + 1)
		assert_true(nl - p <= 80);

	/* Every name in the dependency list is a feature (the table there is by name). */
	{
		char *deps = strstr(buf, "\nDependencies"), *end = strstr(buf, "  (-xsave");
		size_t words = 0;

		assert_non_null(deps);
		assert_non_null(end);
		*end = '\0';
		deps = strstr(deps, "):\n"); /* the heading ends there */
		assert_non_null(deps);
		deps += 3;
		for (char *w = strtok(deps, " \n"); w; w = strtok(NULL, " \n")) {
			size_t n = strlen(w);

			if (w[n - 1] == ':')
				w[n - 1] = '\0';
			if (cpu_feature_find(w) < 0)
				fail_msg("dependency list names '%s', which is no feature", w);
			words++;
		}
		assert_true(words > 50);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_is_consistent),
		cmocka_unit_test(known_bits),
		cmocka_unit_test(parse_lists),
		cmocka_unit_test(parse_errors),
		cmocka_unit_test(baseline_closed),
		cmocka_unit_test(host_is_untouched),
		cmocka_unit_test(hide_one),
		cmocka_unit_test(hide_xsave),
		cmocka_unit_test(hide_avx),
		cmocka_unit_test(baseline_on_host),
		cmocka_unit_test(plus_not_on_host),
		cmocka_unit_test(amd_mirror),
		cmocka_unit_test(subleaf_needs_flag),
		cmocka_unit_test(help_text),
	};

	return cmocka_run_group_tests_name("cpu_features", tests, NULL, NULL);
}
