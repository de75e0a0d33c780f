/* Unit tests of core/mpstate.c: names and the observed-state history. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/mpstate.h"

static void names(void **state)
{
	(void)state;
	assert_string_equal(mp_state_name(MP_STATE_RUNNABLE), "RUNNABLE");
	assert_string_equal(mp_state_name(MP_STATE_UNINITIALIZED), "UNINITIALIZED");
	assert_string_equal(mp_state_name(MP_STATE_INIT_RECEIVED), "INIT_RECEIVED");
	assert_string_equal(mp_state_name(MP_STATE_HALTED), "HALTED");
	assert_string_equal(mp_state_name(MP_STATE_SIPI_RECEIVED), "SIPI_RECEIVED");
	assert_null(mp_state_name(5));
	assert_null(mp_state_name(0xffffffffu));
}

static void history_records_changes_only(void **state)
{
	struct mp_history h = { 0 };

	(void)state;
	assert_int_equal(mp_history_last(&h, MP_STATE_UNINITIALIZED), MP_STATE_UNINITIALIZED);
	assert_true(mp_history_observe(&h, MP_STATE_UNINITIALIZED, 10));
	assert_false(mp_history_observe(&h, MP_STATE_UNINITIALIZED, 20));
	assert_true(mp_history_observe(&h, MP_STATE_INIT_RECEIVED, 30));
	assert_true(mp_history_observe(&h, MP_STATE_RUNNABLE, 40));
	assert_true(mp_history_observe(&h, MP_STATE_HALTED, 50));
	assert_int_equal(h.len, 4);
	assert_int_equal(h.obs[1].state, MP_STATE_INIT_RECEIVED);
	assert_true(h.obs[1].t_ns == 30);
	assert_int_equal(mp_history_last(&h, MP_STATE_RUNNABLE), MP_STATE_HALTED);
	mp_history_free(&h);
	assert_int_equal(h.len, 0);
}

static void history_is_bounded(void **state)
{
	struct mp_history h = { 0 };

	(void)state;
	for (uint64_t i = 0; i < MP_HISTORY_MAX + 10; i++)
		mp_history_observe(&h, i % 2 ? MP_STATE_HALTED : MP_STATE_RUNNABLE, i);
	assert_int_equal(h.len, MP_HISTORY_MAX);
	assert_true(h.dropped == 10);
	mp_history_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(history_records_changes_only),
		cmocka_unit_test(history_is_bounded),
	};

	return cmocka_run_group_tests_name("mpstate", tests, NULL, NULL);
}
