/* Unit tests of core/ipi_fault.c: which INIT and SIPI messages a fault takes, and how late. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/ipi_fault.h"

static void no_fault_passes_everything(void **state)
{
	struct ipi_fault f = { 0 };
	uint64_t d = 7;

	(void)state;
	assert_int_equal(ipi_fault_apply(&f, IPI_FAULT_INIT, &d), IPI_FAULT_PASS);
	assert_int_equal(d, 0);
	assert_int_equal(ipi_fault_apply(&f, IPI_FAULT_SIPI, &d), IPI_FAULT_PASS);
}

/* The next K matching messages, no more; other kinds pass untouched and uncounted. */
static void drops_the_next_k_of_its_kind(void **state)
{
	struct ipi_fault f = { 0 };
	uint64_t d;

	(void)state;
	ipi_fault_set(&f, IPI_FAULT_DROP, IPI_FAULT_SIPI, 2, 0, false, 0);
	assert_int_equal(ipi_fault_apply(&f, IPI_FAULT_INIT, &d), IPI_FAULT_PASS);
	assert_int_equal(ipi_fault_apply(&f, IPI_FAULT_SIPI, &d), IPI_FAULT_DROP);
	assert_int_equal(ipi_fault_apply(&f, IPI_FAULT_INIT, &d), IPI_FAULT_PASS);
	assert_int_equal(ipi_fault_apply(&f, IPI_FAULT_SIPI, &d), IPI_FAULT_DROP);
	assert_int_equal(ipi_fault_apply(&f, IPI_FAULT_SIPI, &d), IPI_FAULT_PASS);
	assert_int_equal(f.applied, 2);
	assert_int_equal(f.action, IPI_FAULT_PASS);
}

static void delay_and_duplicate_give_the_delay(void **state)
{
	struct ipi_fault f = { 0 };
	uint64_t d;

	(void)state;
	ipi_fault_set(&f, IPI_FAULT_DELAY, IPI_FAULT_INIT | IPI_FAULT_SIPI, 1, 5000000, false, 0);
	assert_int_equal(ipi_fault_apply(&f, IPI_FAULT_INIT, &d), IPI_FAULT_DELAY);
	assert_int_equal(d, 5000000);
	ipi_fault_set(&f, IPI_FAULT_DUPLICATE, IPI_FAULT_INIT, 1, 3000, false, 0);
	assert_int_equal(ipi_fault_apply(&f, IPI_FAULT_INIT, &d), IPI_FAULT_DUPLICATE);
	assert_int_equal(d, 3000);
	assert_int_equal(f.applied, 2); /* kept across a new setting */
}

/* A seed spreads the delays over [1, delay] and gives the same sequence each time. */
static void seed_spreads_reproducibly(void **state)
{
	struct ipi_fault a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t da, db, dc;
	int differ = 0, same_as_other_seed = 0;

	(void)state;
	ipi_fault_set(&a, IPI_FAULT_DELAY, IPI_FAULT_SIPI, 100, 1000, true, 42);
	ipi_fault_set(&b, IPI_FAULT_DELAY, IPI_FAULT_SIPI, 100, 1000, true, 42);
	ipi_fault_set(&c, IPI_FAULT_DELAY, IPI_FAULT_SIPI, 100, 1000, true, 43);
	for (int i = 0; i < 100; i++) {
		static uint64_t first;

		ipi_fault_apply(&a, IPI_FAULT_SIPI, &da);
		ipi_fault_apply(&b, IPI_FAULT_SIPI, &db);
		ipi_fault_apply(&c, IPI_FAULT_SIPI, &dc);
		assert_int_equal(da, db);
		assert_true(da >= 1 && da <= 1000);
		if (!i)
			first = da;
		differ += da != first;
		same_as_other_seed += da == dc;
	}
	assert_true(differ > 50);
	assert_true(same_as_other_seed < 10);
}

static void words(void **state)
{
	(void)state;
	assert_int_equal(ipi_fault_action_of("drop"), IPI_FAULT_DROP);
	assert_int_equal(ipi_fault_action_of("delay"), IPI_FAULT_DELAY);
	assert_int_equal(ipi_fault_action_of("duplicate"), IPI_FAULT_DUPLICATE);
	assert_int_equal(ipi_fault_action_of("none"), IPI_FAULT_PASS);
	assert_int_equal(ipi_fault_action_of("lose"), IPI_FAULT_PASS);
	assert_string_equal(ipi_fault_action_name(IPI_FAULT_DUPLICATE), "duplicate");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_fault_passes_everything),
		cmocka_unit_test(drops_the_next_k_of_its_kind),
		cmocka_unit_test(delay_and_duplicate_give_the_delay),
		cmocka_unit_test(seed_spreads_reproducibly),
		cmocka_unit_test(words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
