/* Unit tests of core/x86_insn.c: byte sequences as guests have them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "core/x86_insn.h"

static void named(void **state)
{
	static const struct {
		uint8_t code[8];
		size_t n;
		const char *want; /* NULL: not one of them */
	} cases[] = {
		/* Linux 6.1's slab code on KVM-PVM: lock cmpxchg16b 0x20(%rbp) */
		{ { 0xf0, 0x48, 0x0f, 0xc7, 0x4d, 0x20 }, 6, "lock cmpxchg16b" },
		{ { 0x48, 0x0f, 0xc7, 0x0e }, 4, "cmpxchg16b" },
		{ { 0xf0, 0x0f, 0xc7, 0x0e }, 4, "lock cmpxchg8b" },
		{ { 0x0f, 0xc7, 0xf0 }, 3, NULL },            /* rdrand %eax: mod = 11 */
		{ { 0x48, 0x0f, 0xae, 0x27 }, 4, "xsave" },    /* xsave64 (%rdi) */
		{ { 0x48, 0x0f, 0xae, 0x2f }, 4, "xrstor" },
		{ { 0x0f, 0xae, 0x37 }, 3, "xsaveopt" },
		{ { 0x0f, 0xae, 0xf0 }, 3, NULL },            /* mfence */
		{ { 0x48, 0x0f, 0xc7, 0x1f }, 4, "xrstors" },
		{ { 0x0f, 0xc7, 0x27 }, 3, "xsavec" },
		{ { 0x0f, 0xc7, 0x2f }, 3, "xsaves" },
		{ { 0x0f, 0x01, 0xd0 }, 3, "xgetbv" },
		{ { 0x0f, 0x01, 0xd1 }, 3, "xsetbv" },
		{ { 0x0f, 0x01, 0xc1 }, 3, "vmcall" },
		{ { 0x0f, 0x01, 0xd9 }, 3, "vmmcall" },
		{ { 0x0f, 0x01, 0xf8 }, 3, NULL },            /* swapgs */
		{ { 0xf0, 0x48, 0x0f, 0xc7 }, 4, NULL },      /* cut before ModR/M */
		{ { 0x90 }, 1, NULL },
		{ { 0 }, 0, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = x86_insn_unemulated(cases[i].code, cases[i].n);

		if (cases[i].want ? !got || strcmp(got, cases[i].want) : got != NULL)
			fail_msg("case %zu: got %s, want %s", i, got ? got : "NULL",
				 cases[i].want ? cases[i].want : "NULL");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(named) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
