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
	assert_int_equal(mp_history_count(&h), MP_HISTORY_MAX);
	assert_true(h.dropped == 10);
	mp_history_free(&h);
	assert_int_equal(mp_history_count(&h), 0);
}

/*
 * A guest that INITs and SIPIs an AP a million times: the history keeps
 * the first MP_HISTORY_HEAD changes and the last MP_HISTORY_TAIL, in
 * order, and counts the rest; the last state is the true last one.
 */
static void history_keeps_first_and_last(void **state)
{
	static const uint32_t cycle[] = { MP_STATE_INIT_RECEIVED, MP_STATE_SIPI_RECEIVED, MP_STATE_RUNNABLE };
	struct mp_history h = { 0 };
	const uint64_t n = 1000000;

	(void)state;
	assert_true(mp_history_observe(&h, MP_STATE_UNINITIALIZED, 0));
	for (uint64_t i = 1; i <= n; i++)
		mp_history_observe(&h, cycle[(i - 1) % 3], i);
	assert_int_equal(mp_history_count(&h), MP_HISTORY_HEAD + MP_HISTORY_TAIL);
	assert_true(h.dropped == n + 1 - MP_HISTORY_HEAD - MP_HISTORY_TAIL);
	assert_int_equal(h.len, MP_HISTORY_HEAD);
	/* The head: the first changes, from the start. */
	assert_int_equal(mp_history_at(&h, 0).state, MP_STATE_UNINITIALIZED);
	for (size_t i = 1; i < MP_HISTORY_HEAD; i++) {
		assert_true(mp_history_at(&h, i).t_ns == i);
		assert_int_equal(mp_history_at(&h, i).state, cycle[(i - 1) % 3]);
	}
	/* The tail: the last MP_HISTORY_TAIL changes, oldest first, ending with the last. */
	for (size_t k = 0; k < MP_HISTORY_TAIL; k++) {
		uint64_t t = n - MP_HISTORY_TAIL + 1 + k;

		assert_true(mp_history_at(&h, MP_HISTORY_HEAD + k).t_ns == t);
		assert_int_equal(mp_history_at(&h, MP_HISTORY_HEAD + k).state, cycle[(t - 1) % 3]);
	}
	assert_int_equal(mp_history_last(&h, MP_STATE_HALTED), cycle[(n - 1) % 3]);
	mp_history_free(&h);
}

/* A few changes past the head: the ring is not yet full and nothing is dropped. */
static void history_tail_partly_filled(void **state)
{
	struct mp_history h = { 0 };

	(void)state;
	for (uint64_t i = 0; i < MP_HISTORY_HEAD + 3; i++)
		mp_history_observe(&h, i % 2 ? MP_STATE_HALTED : MP_STATE_RUNNABLE, i);
	assert_int_equal(mp_history_count(&h), MP_HISTORY_HEAD + 3);
	assert_true(h.dropped == 0);
	for (size_t i = 0; i < MP_HISTORY_HEAD + 3; i++)
		assert_true(mp_history_at(&h, i).t_ns == i);
	mp_history_free(&h);
}

struct change_log {
	unsigned int n;
	uint32_t from[4], to[4];
};

static void log_change(void *ctx, uint32_t from, uint32_t to, uint64_t t_ns)
{
	struct change_log *l = ctx;

	(void)t_ns;
	if (l->n < 4) {
		l->from[l->n] = from;
		l->to[l->n] = to;
	}
	l->n++;
}

/* The change hook (the control socket's MP_STATE_CHANGE): changes only, not the first observation. */
static void history_change_hook(void **state)
{
	struct mp_history h = { 0 };
	struct change_log l = { 0 };

	(void)state;
	h.on_change = log_change;
	h.on_change_ctx = &l;
	mp_history_observe(&h, MP_STATE_UNINITIALIZED, 1);
	mp_history_observe(&h, MP_STATE_UNINITIALIZED, 2);
	mp_history_observe(&h, MP_STATE_INIT_RECEIVED, 3);
	mp_history_observe(&h, MP_STATE_RUNNABLE, 4);
	/* The first observation comes from nowhere (MP_STATE_NONE); a repeat is no change. */
	assert_int_equal(l.n, 3);
	assert_int_equal(l.from[0], MP_STATE_NONE);
	assert_int_equal(l.to[0], MP_STATE_UNINITIALIZED);
	assert_int_equal(l.from[1], MP_STATE_UNINITIALIZED);
	assert_int_equal(l.to[1], MP_STATE_INIT_RECEIVED);
	assert_int_equal(l.from[2], MP_STATE_INIT_RECEIVED);
	assert_int_equal(l.to[2], MP_STATE_RUNNABLE);
	mp_history_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(history_change_hook),
		cmocka_unit_test(history_records_changes_only),
		cmocka_unit_test(history_is_bounded),
		cmocka_unit_test(history_keeps_first_and_last),
		cmocka_unit_test(history_tail_partly_filled),
	};

	return cmocka_run_group_tests_name("mpstate", tests, NULL, NULL);
}
