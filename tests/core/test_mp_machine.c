/*
 * Unit tests of core/mp_machine.c: every MP state against every event, for
 * the BSP and an AP, with IF=0 and IF=1, against a table written out by
 * hand (each of the 180 combinations must match exactly one row).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/mp_machine.h"

#define UNINIT   MP_STATE_UNINITIALIZED
#define INIT_RCV MP_STATE_INIT_RECEIVED
#define SIPI_RCV MP_STATE_SIPI_RECEIVED
#define RUN      MP_STATE_RUNNABLE
#define HALT     MP_STATE_HALTED

enum who { AP, BSP, ANY_CPU };
enum ifv { IF0, IF1, ANY_IF };

struct row {
	enum mp_state cur;
	enum mp_event_type ev;
	enum who who;
	enum ifv ifv;
	enum mp_state next;
	enum mp_action act;
};

static const struct row rows[] = {
	/* INIT: AP -> wait-for-SIPI, BSP -> reset vector; from every state */
	{ UNINIT,   MP_EV_INIT, AP,  ANY_IF, INIT_RCV, MP_ACT_RESET_CPU },
	{ INIT_RCV, MP_EV_INIT, AP,  ANY_IF, INIT_RCV, MP_ACT_RESET_CPU },
	{ SIPI_RCV, MP_EV_INIT, AP,  ANY_IF, INIT_RCV, MP_ACT_RESET_CPU },
	{ RUN,      MP_EV_INIT, AP,  ANY_IF, INIT_RCV, MP_ACT_RESET_CPU },
	{ HALT,     MP_EV_INIT, AP,  ANY_IF, INIT_RCV, MP_ACT_RESET_CPU },
	{ UNINIT,   MP_EV_INIT, BSP, ANY_IF, RUN,      MP_ACT_RESET_CPU },
	{ INIT_RCV, MP_EV_INIT, BSP, ANY_IF, RUN,      MP_ACT_RESET_CPU },
	{ SIPI_RCV, MP_EV_INIT, BSP, ANY_IF, RUN,      MP_ACT_RESET_CPU },
	{ RUN,      MP_EV_INIT, BSP, ANY_IF, RUN,      MP_ACT_RESET_CPU },
	{ HALT,     MP_EV_INIT, BSP, ANY_IF, RUN,      MP_ACT_RESET_CPU },

	/* INIT level de-assert: nothing, anywhere */
	{ UNINIT,   MP_EV_INIT_DEASSERT, ANY_CPU, ANY_IF, UNINIT,   MP_ACT_NONE },
	{ INIT_RCV, MP_EV_INIT_DEASSERT, ANY_CPU, ANY_IF, INIT_RCV, MP_ACT_NONE },
	{ SIPI_RCV, MP_EV_INIT_DEASSERT, ANY_CPU, ANY_IF, SIPI_RCV, MP_ACT_NONE },
	{ RUN,      MP_EV_INIT_DEASSERT, ANY_CPU, ANY_IF, RUN,      MP_ACT_NONE },
	{ HALT,     MP_EV_INIT_DEASSERT, ANY_CPU, ANY_IF, HALT,     MP_ACT_NONE },

	/* SIPI: only wait-for-SIPI acts on it */
	{ UNINIT,   MP_EV_SIPI, ANY_CPU, ANY_IF, UNINIT,   MP_ACT_DROP },
	{ INIT_RCV, MP_EV_SIPI, ANY_CPU, ANY_IF, SIPI_RCV, MP_ACT_START_AT_VECTOR },
	{ SIPI_RCV, MP_EV_SIPI, ANY_CPU, ANY_IF, SIPI_RCV, MP_ACT_DROP },
	{ RUN,      MP_EV_SIPI, ANY_CPU, ANY_IF, RUN,      MP_ACT_DROP },
	{ HALT,     MP_EV_SIPI, ANY_CPU, ANY_IF, HALT,     MP_ACT_DROP },

	/* HLT: only a running vCPU executes it */
	{ UNINIT,   MP_EV_HLT, ANY_CPU, ANY_IF, UNINIT,   MP_ACT_ILLEGAL },
	{ INIT_RCV, MP_EV_HLT, ANY_CPU, ANY_IF, INIT_RCV, MP_ACT_ILLEGAL },
	{ SIPI_RCV, MP_EV_HLT, ANY_CPU, ANY_IF, SIPI_RCV, MP_ACT_ILLEGAL },
	{ RUN,      MP_EV_HLT, ANY_CPU, ANY_IF, HALT,     MP_ACT_SLEEP },
	{ HALT,     MP_EV_HLT, ANY_CPU, ANY_IF, HALT,     MP_ACT_ILLEGAL },

	/* maskable interrupt */
	{ UNINIT,   MP_EV_INTR, ANY_CPU, ANY_IF, UNINIT,   MP_ACT_DROP },
	{ INIT_RCV, MP_EV_INTR, ANY_CPU, ANY_IF, INIT_RCV, MP_ACT_DROP },
	{ SIPI_RCV, MP_EV_INTR, ANY_CPU, ANY_IF, SIPI_RCV, MP_ACT_DROP },
	{ RUN,      MP_EV_INTR, ANY_CPU, IF1,    RUN,      MP_ACT_DELIVER },
	{ RUN,      MP_EV_INTR, ANY_CPU, IF0,    RUN,      MP_ACT_HOLD },
	{ HALT,     MP_EV_INTR, ANY_CPU, IF1,    RUN,      MP_ACT_WAKE },
	{ HALT,     MP_EV_INTR, ANY_CPU, IF0,    HALT,     MP_ACT_HOLD },

	/* NMI */
	{ UNINIT,   MP_EV_NMI, ANY_CPU, ANY_IF, UNINIT,   MP_ACT_DROP },
	{ INIT_RCV, MP_EV_NMI, ANY_CPU, ANY_IF, INIT_RCV, MP_ACT_HOLD },
	{ SIPI_RCV, MP_EV_NMI, ANY_CPU, ANY_IF, SIPI_RCV, MP_ACT_HOLD },
	{ RUN,      MP_EV_NMI, ANY_CPU, ANY_IF, RUN,      MP_ACT_DELIVER },
	{ HALT,     MP_EV_NMI, ANY_CPU, ANY_IF, RUN,      MP_ACT_WAKE },

	/* SMI */
	{ UNINIT,   MP_EV_SMI, ANY_CPU, ANY_IF, UNINIT,   MP_ACT_DROP },
	{ INIT_RCV, MP_EV_SMI, ANY_CPU, ANY_IF, INIT_RCV, MP_ACT_HOLD },
	{ SIPI_RCV, MP_EV_SMI, ANY_CPU, ANY_IF, SIPI_RCV, MP_ACT_HOLD },
	{ RUN,      MP_EV_SMI, ANY_CPU, ANY_IF, RUN,      MP_ACT_DELIVER },
	{ HALT,     MP_EV_SMI, ANY_CPU, ANY_IF, RUN,      MP_ACT_WAKE },

	/* the vCPU thread loaded the SIPI start state */
	{ UNINIT,   MP_EV_SIPI_DONE, ANY_CPU, ANY_IF, UNINIT,   MP_ACT_ILLEGAL },
	{ INIT_RCV, MP_EV_SIPI_DONE, ANY_CPU, ANY_IF, INIT_RCV, MP_ACT_ILLEGAL },
	{ SIPI_RCV, MP_EV_SIPI_DONE, ANY_CPU, ANY_IF, RUN,      MP_ACT_RUN },
	{ RUN,      MP_EV_SIPI_DONE, ANY_CPU, ANY_IF, RUN,      MP_ACT_ILLEGAL },
	{ HALT,     MP_EV_SIPI_DONE, ANY_CPU, ANY_IF, HALT,     MP_ACT_ILLEGAL },

	/* RESET: AP -> UNINITIALIZED, BSP -> RUNNABLE; from every state */
	{ UNINIT,   MP_EV_RESET, AP,  ANY_IF, UNINIT, MP_ACT_RESET_CPU },
	{ INIT_RCV, MP_EV_RESET, AP,  ANY_IF, UNINIT, MP_ACT_RESET_CPU },
	{ SIPI_RCV, MP_EV_RESET, AP,  ANY_IF, UNINIT, MP_ACT_RESET_CPU },
	{ RUN,      MP_EV_RESET, AP,  ANY_IF, UNINIT, MP_ACT_RESET_CPU },
	{ HALT,     MP_EV_RESET, AP,  ANY_IF, UNINIT, MP_ACT_RESET_CPU },
	{ UNINIT,   MP_EV_RESET, BSP, ANY_IF, RUN,    MP_ACT_RESET_CPU },
	{ INIT_RCV, MP_EV_RESET, BSP, ANY_IF, RUN,    MP_ACT_RESET_CPU },
	{ SIPI_RCV, MP_EV_RESET, BSP, ANY_IF, RUN,    MP_ACT_RESET_CPU },
	{ RUN,      MP_EV_RESET, BSP, ANY_IF, RUN,    MP_ACT_RESET_CPU },
	{ HALT,     MP_EV_RESET, BSP, ANY_IF, RUN,    MP_ACT_RESET_CPU },
};

static bool row_matches(const struct row *r, enum mp_state s, enum mp_event_type ev,
			bool bsp, bool ifl)
{
	return r->cur == s && r->ev == ev &&
	       (r->who == ANY_CPU || (r->who == BSP) == bsp) &&
	       (r->ifv == ANY_IF || (r->ifv == IF1) == ifl);
}

static void every_state_every_event(void **state)
{
	unsigned checked = 0;

	(void)state;
	for (unsigned s = 0; s < MP_STATE_COUNT; s++)
		for (unsigned e = 0; e < MP_EV_COUNT; e++)
			for (int bsp = 0; bsp < 2; bsp++)
				for (int ifl = 0; ifl < 2; ifl++) {
					struct mp_event ev = { .type = e, .vector = 0x08, .if_flag = ifl };
					struct mp_step st = mp_machine_step(s, bsp, &ev);
					const struct row *hit = NULL;
					unsigned hits = 0;
					char where[96];

					for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
						if (row_matches(&rows[i], s, e, bsp, ifl)) {
							hit = &rows[i];
							hits++;
						}
					snprintf(where, sizeof(where), "%s + %s, %s, IF=%d",
						 mp_state_name(s), mp_event_name(e), bsp ? "BSP" : "AP", ifl);
					if (hits != 1)
						fail_msg("%s: %u table rows", where, hits);
					if (st.next != hit->next || st.action != hit->act)
						fail_msg("%s: got %s/%s, want %s/%s (%s)", where,
							 mp_state_name(st.next), mp_action_name(st.action),
							 mp_state_name(hit->next), mp_action_name(hit->act),
							 st.why);
					assert_non_null(st.why);
					assert_true(strlen(st.why) > 2);
					checked++;
				}
	assert_int_equal(checked, MP_STATE_COUNT * MP_EV_COUNT * 2 * 2);
}

/* The reasons a caller logs say what happened. */
static void reasons(void **state)
{
	struct mp_event sipi = { .type = MP_EV_SIPI, .vector = 0x10 };
	struct mp_event hlt = { .type = MP_EV_HLT };
	struct mp_event intr0 = { .type = MP_EV_INTR, .if_flag = false };

	(void)state;
	assert_string_equal(mp_machine_step(RUN, false, &sipi).why,
			    "SIPI ignored: not in wait-for-SIPI");
	assert_string_equal(mp_machine_step(HALT, false, &sipi).why,
			    "SIPI ignored: not in wait-for-SIPI");
	assert_string_equal(mp_machine_step(UNINIT, false, &sipi).why,
			    "SIPI ignored: no INIT since RESET");
	assert_string_equal(mp_machine_step(SIPI_RCV, false, &sipi).why,
			    "SIPI ignored: a SIPI was already accepted");
	assert_string_equal(mp_machine_step(INIT_RCV, false, &hlt).why,
			    "HLT by a vCPU that is not running");
	assert_string_equal(mp_machine_step(HALT, false, &intr0).why,
			    "interrupt pending, stays in HLT: IF=0");
}

/* Out-of-range inputs are illegal and leave the state alone. */
static void out_of_range(void **state)
{
	struct mp_event init = { .type = MP_EV_INIT };
	struct mp_event bad = { .type = (enum mp_event_type)MP_EV_COUNT };
	struct mp_step st;

	(void)state;
	st = mp_machine_step((enum mp_state)5, false, &init);
	assert_int_equal(st.next, 5);
	assert_int_equal(st.action, MP_ACT_ILLEGAL);
	st = mp_machine_step(RUN, false, &bad);
	assert_int_equal(st.next, RUN);
	assert_int_equal(st.action, MP_ACT_ILLEGAL);
	st = mp_machine_step(HALT, true, NULL);
	assert_int_equal(st.next, HALT);
	assert_int_equal(st.action, MP_ACT_ILLEGAL);
	assert_non_null(st.why);
}

/* What an OS does to an AP (SDM §8.4.4.1), step by step. */
static void ap_bringup_sequence(void **state)
{
	static const struct {
		struct mp_event ev;
		enum mp_state next;
		enum mp_action act;
	} seq[] = {
		{ { .type = MP_EV_NMI },                       UNINIT,   MP_ACT_DROP },
		{ { .type = MP_EV_INIT },                      INIT_RCV, MP_ACT_RESET_CPU },
		{ { .type = MP_EV_INIT_DEASSERT },             INIT_RCV, MP_ACT_NONE },
		{ { .type = MP_EV_NMI },                       INIT_RCV, MP_ACT_HOLD },
		{ { .type = MP_EV_SIPI, .vector = 0x08 },      SIPI_RCV, MP_ACT_START_AT_VECTOR },
		{ { .type = MP_EV_SIPI, .vector = 0x08 },      SIPI_RCV, MP_ACT_DROP },
		{ { .type = MP_EV_SIPI_DONE },                 RUN,      MP_ACT_RUN },
		{ { .type = MP_EV_SIPI, .vector = 0x08 },      RUN,      MP_ACT_DROP },
		{ { .type = MP_EV_HLT },                       HALT,     MP_ACT_SLEEP },
		{ { .type = MP_EV_INTR, .if_flag = false },    HALT,     MP_ACT_HOLD },
		{ { .type = MP_EV_INTR, .if_flag = true },     RUN,      MP_ACT_WAKE },
		{ { .type = MP_EV_INIT },                      INIT_RCV, MP_ACT_RESET_CPU },
		{ { .type = MP_EV_SIPI, .vector = 0x0a },      SIPI_RCV, MP_ACT_START_AT_VECTOR },
		{ { .type = MP_EV_SIPI_DONE },                 RUN,      MP_ACT_RUN },
		{ { .type = MP_EV_RESET },                     UNINIT,   MP_ACT_RESET_CPU },
	};
	enum mp_state s = mp_initial_state(false);

	(void)state;
	assert_int_equal(s, UNINIT);
	assert_int_equal(mp_initial_state(true), RUN);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		struct mp_step st = mp_machine_step(s, false, &seq[i].ev);

		if (st.next != seq[i].next || st.action != seq[i].act)
			fail_msg("step %zu (%s in %s): got %s/%s", i, mp_event_name(seq[i].ev.type),
				 mp_state_name(s), mp_state_name(st.next), mp_action_name(st.action));
		s = st.next;
	}
}

static void sipi_start_state(void **state)
{
	static const struct {
		uint8_t v;
		uint16_t sel;
		uint32_t base;
	} t[] = {
		{ 0x00, 0x0000, 0x00000 },
		{ 0x08, 0x0800, 0x08000 },
		{ 0x9f, 0x9f00, 0x9f000 },
		{ 0xff, 0xff00, 0xff000 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct mp_sipi_regs r;

		memset(&r, 0xa5, sizeof(r));
		mp_sipi_start_state(t[i].v, &r);
		assert_int_equal(r.cs_selector, t[i].sel);
		assert_int_equal(r.cs_base, t[i].base);
		assert_int_equal(r.ip, 0);
		/* real mode: linear address of CS:IP is the start page */
		assert_int_equal((uint32_t)r.cs_selector * 16 + r.ip, t[i].base);
	}
}

static void names(void **state)
{
	(void)state;
	assert_string_equal(mp_event_name(MP_EV_INIT), "INIT");
	assert_string_equal(mp_event_name(MP_EV_INIT_DEASSERT), "INIT_DEASSERT");
	assert_string_equal(mp_event_name(MP_EV_SIPI), "SIPI");
	assert_string_equal(mp_event_name(MP_EV_HLT), "HLT");
	assert_string_equal(mp_event_name(MP_EV_INTR), "INTR");
	assert_string_equal(mp_event_name(MP_EV_NMI), "NMI");
	assert_string_equal(mp_event_name(MP_EV_SMI), "SMI");
	assert_string_equal(mp_event_name(MP_EV_SIPI_DONE), "SIPI_DONE");
	assert_string_equal(mp_event_name(MP_EV_RESET), "RESET");
	assert_string_equal(mp_event_name((enum mp_event_type)MP_EV_COUNT), "?");
	assert_string_equal(mp_event_name((enum mp_event_type)-1), "?");

	assert_string_equal(mp_action_name(MP_ACT_NONE), "NONE");
	assert_string_equal(mp_action_name(MP_ACT_DELIVER), "DELIVER");
	assert_string_equal(mp_action_name(MP_ACT_HOLD), "HOLD");
	assert_string_equal(mp_action_name(MP_ACT_DROP), "DROP");
	assert_string_equal(mp_action_name(MP_ACT_RESET_CPU), "RESET_CPU");
	assert_string_equal(mp_action_name(MP_ACT_START_AT_VECTOR), "START_AT_VECTOR");
	assert_string_equal(mp_action_name(MP_ACT_RUN), "RUN");
	assert_string_equal(mp_action_name(MP_ACT_WAKE), "WAKE");
	assert_string_equal(mp_action_name(MP_ACT_SLEEP), "SLEEP");
	assert_string_equal(mp_action_name(MP_ACT_ILLEGAL), "ILLEGAL");
	assert_string_equal(mp_action_name((enum mp_action)MP_ACT_COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_state_every_event),
		cmocka_unit_test(reasons),
		cmocka_unit_test(out_of_range),
		cmocka_unit_test(ap_bringup_sequence),
		cmocka_unit_test(sipi_start_state),
		cmocka_unit_test(names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
