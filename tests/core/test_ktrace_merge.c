/*
 * Unit tests of core/ktrace_merge.c: KVM's tracepoints (as plain records)
 * replayed into MP-state transitions and IPIs, by KVM's rules for INIT,
 * SIPI, halts and wake-ups.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "core/ktrace_merge.h"

#define ICR_INIT (5u << 8)
#define ICR_SIPI (6u << 8)
#define ICR_NMI (4u << 8)
#define ICR_ASSERT (1u << 14)
#define ICR_LEVEL (1u << 15)

struct got {
	unsigned int n;
	struct { unsigned int cpu; enum mp_state s; uint64_t ts; } st[64];
	unsigned int nipi;
	struct { int from; unsigned int to; enum trace_ipi_kind kind; uint8_t vec; uint64_t ts; } ipi[64];
};

static void on_state(void *ctx, unsigned int cpu, enum mp_state s, uint64_t ts)
{
	struct got *g = ctx;

	assert_true(g->n < 64);
	g->st[g->n].cpu = cpu;
	g->st[g->n].s = s;
	g->st[g->n++].ts = ts;
}

static void on_ipi(void *ctx, int from, unsigned int to, enum trace_ipi_kind kind, uint8_t vec, uint64_t ts)
{
	struct got *g = ctx;

	assert_true(g->nipi < 64);
	g->ipi[g->nipi].from = from;
	g->ipi[g->nipi].to = to;
	g->ipi[g->nipi].kind = kind;
	g->ipi[g->nipi].vec = vec;
	g->ipi[g->nipi++].ts = ts;
}

/* vCPU 0 the BSP (APIC ID 0), vCPUs 1 and 2 APs with APIC IDs 2 and 4 (a topology with gaps). */
static const struct ktrace_vcpu cpus[3] = {
	{ .apic_id = 0, .bsp = true, .first = MP_STATE_RUNNABLE, .first_ns = 10 },
	{ .apic_id = 2, .first = MP_STATE_UNINITIALIZED, .first_ns = 11 },
	{ .apic_id = 4, .first = MP_STATE_UNINITIALIZED, .first_ns = 12 },
};

static struct ktrace_event ipi(uint64_t ts, uint32_t from, uint32_t icr, uint32_t dest)
{
	return (struct ktrace_event){ .ts_ns = ts, .cpu = from, .kind = KTRACE_IPI, .icr_low = icr, .apic_id = dest };
}

static struct ktrace_event acc(uint64_t ts, uint32_t thread, uint32_t apic, uint32_t icr, uint16_t tm)
{
	return (struct ktrace_event){ .ts_ns = ts, .cpu = thread, .kind = KTRACE_ACCEPT, .apic_id = apic,
				      .dm = (uint16_t)(icr & 0x700), .tm = tm, .vec = (uint8_t)icr };
}

static struct ktrace_event wakeup(uint64_t ts, uint32_t cpu, uint64_t waited)
{
	return (struct ktrace_event){ .ts_ns = ts, .cpu = cpu, .kind = KTRACE_WAKEUP, .wait_ns = waited };
}

static struct ktrace_event eintr(uint64_t ts, uint32_t cpu)
{
	return (struct ktrace_event){ .ts_ns = ts, .cpu = cpu, .kind = KTRACE_EINTR };
}

static void run(struct ktrace_event *ev, size_t n, struct got *g, struct ktrace_stats *st)
{
	struct ktrace_sink sink = { .ctx = g, .state = on_state, .ipi = on_ipi };

	memset(g, 0, sizeof(*g));
	assert_int_equal(ktrace_merge(ev, n, cpus, 3, &sink, st), 0);
}

/* The MP bring-up: INIT assert, INIT de-assert, SIPI, SIPI; the AP halts, wakes on a fixed IPI, halts again. */
static void bringup(void **state)
{
	struct ktrace_event ev[] = {
		ipi(100, 0, ICR_INIT | ICR_ASSERT, 2), acc(101, 0, 2, ICR_INIT, 0),
		ipi(110, 0, ICR_INIT | ICR_LEVEL, 2), acc(111, 0, 2, ICR_INIT, 1),
		ipi(200, 0, ICR_SIPI | ICR_ASSERT | 0x08, 2), acc(201, 0, 2, ICR_SIPI | 0x08, 0),
		ipi(210, 0, ICR_SIPI | ICR_ASSERT | 0x08, 2), acc(211, 0, 2, ICR_SIPI | 0x08, 0),
		ipi(400, 0, ICR_ASSERT | 0x40, 2), acc(401, 0, 2, 0x40, 0),
		wakeup(405, 1, 105),     /* halted from 300 */
		wakeup(900, 1, 400),     /* halted from 500, woken by the stop's kick... */
		eintr(901, 1),           /* ...so still HALTED */
	};
	struct ktrace_stats st;
	struct got g;

	(void)state;
	run(ev, sizeof(ev) / sizeof(ev[0]), &g, &st);
	assert_int_equal(g.n, 5);
	assert_int_equal(g.st[0].s, MP_STATE_INIT_RECEIVED);
	assert_int_equal(g.st[0].ts, 101);
	assert_int_equal(g.st[1].s, MP_STATE_RUNNABLE);
	assert_int_equal(g.st[1].ts, 201);
	assert_int_equal(g.st[2].s, MP_STATE_HALTED);
	assert_int_equal(g.st[2].ts, 300);
	assert_int_equal(g.st[3].s, MP_STATE_RUNNABLE);
	assert_int_equal(g.st[3].ts, 405);
	assert_int_equal(g.st[4].s, MP_STATE_HALTED);
	assert_int_equal(g.st[4].ts, 500);
	for (unsigned int i = 0; i < g.n; i++)
		assert_int_equal(g.st[i].cpu, 1);
	assert_int_equal(g.nipi, 5);
	assert_int_equal(g.ipi[0].kind, TRACE_IPI_INIT);
	assert_int_equal(g.ipi[1].kind, TRACE_IPI_INIT_DEASSERT);
	assert_int_equal(g.ipi[2].kind, TRACE_IPI_SIPI);
	assert_int_equal(g.ipi[2].vec, 0x08);
	assert_int_equal(g.ipi[4].kind, TRACE_IPI_FIXED);
	assert_int_equal(g.ipi[4].vec, 0x40);
	for (unsigned int i = 0; i < g.nipi; i++) {
		assert_int_equal(g.ipi[i].from, 0);
		assert_int_equal(g.ipi[i].to, 1);
	}
	assert_int_equal(st.transitions, 5);
	assert_int_equal(st.ipis, 5);
}

/* The records come per host CPU, not in time order: the replay sorts them. */
static void unordered(void **state)
{
	struct ktrace_event ev[] = {
		acc(201, 0, 4, ICR_SIPI | 0x10, 0), ipi(200, 0, ICR_SIPI | ICR_ASSERT | 0x10, 4),
		acc(101, 0, 4, ICR_INIT, 0), ipi(100, 0, ICR_INIT | ICR_ASSERT, 4),
	};
	struct ktrace_stats st;
	struct got g;

	(void)state;
	run(ev, 4, &g, &st);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.st[0].cpu, 2);
	assert_int_equal(g.st[0].s, MP_STATE_INIT_RECEIVED);
	assert_int_equal(g.st[1].s, MP_STATE_RUNNABLE);
	assert_int_equal(g.nipi, 2);
	assert_int_equal(g.ipi[1].vec, 0x10);
}

/* INIT and SIPI to a halted AP: it takes both when the INIT wakes it; a SIPI to a running AP is dropped. */
static void halted_target(void **state)
{
	struct ktrace_event ev[] = {
		ipi(100, 0, ICR_INIT | ICR_ASSERT, 2), acc(101, 0, 2, ICR_INIT, 0),
		ipi(200, 0, ICR_SIPI | ICR_ASSERT | 0x08, 2), acc(201, 0, 2, ICR_SIPI | 0x08, 0),
		ipi(300, 0, ICR_SIPI | ICR_ASSERT | 0x09, 2), acc(301, 0, 2, ICR_SIPI | 0x09, 0), /* RUNNABLE: dropped */
		wakeup(500, 1, 100),                                                                  /* halted 400..500 */
		ipi(450, 0, ICR_INIT | ICR_ASSERT, 2), acc(451, 0, 2, ICR_INIT, 0),
		ipi(460, 0, ICR_SIPI | ICR_ASSERT | 0x0a, 2), acc(461, 0, 2, ICR_SIPI | 0x0a, 0),
	};
	struct ktrace_stats st;
	struct got g;

	(void)state;
	run(ev, sizeof(ev) / sizeof(ev[0]), &g, &st);
	assert_int_equal(g.n, 5);
	assert_int_equal(g.st[0].s, MP_STATE_INIT_RECEIVED);
	assert_int_equal(g.st[1].s, MP_STATE_RUNNABLE);
	assert_int_equal(g.st[1].ts, 201);
	assert_int_equal(g.st[2].s, MP_STATE_HALTED);
	assert_int_equal(g.st[2].ts, 400);
	assert_int_equal(g.st[3].s, MP_STATE_INIT_RECEIVED);
	assert_int_equal(g.st[3].ts, 500);
	assert_int_equal(g.st[4].s, MP_STATE_RUNNABLE);
	assert_int_equal(g.st[4].ts, 500);
	assert_int_equal(g.nipi, 5);
}

/* INIT to the BSP resets it to RUNNABLE (no change); a device's NMI has no sender; its fixed interrupt is no IPI. */
static void bsp_and_devices(void **state)
{
	struct ktrace_event ev[] = {
		ipi(100, 1, ICR_INIT | ICR_ASSERT, 0), acc(101, 1, 0, ICR_INIT, 0),
		acc(200, 2, 2, ICR_NMI, 0),  /* on vCPU 2's thread, with no ICR write before: a device's */
		acc(300, 2, 2, 0x31, 0),     /* a device's or a timer's fixed interrupt */
		ipi(400, 2, 0x41 | ICR_ASSERT, 0), acc(401, 2, 0, 0x41, 0),
		acc(402, 2, 4, 0x30, 0),     /* after an ICR write with another vector: a timer's */
		acc(500, 0, 7, 0x41, 0),     /* no vCPU has APIC ID 7 */
	};
	struct ktrace_stats st;
	struct got g;

	(void)state;
	run(ev, sizeof(ev) / sizeof(ev[0]), &g, &st);
	assert_int_equal(g.n, 0);
	assert_int_equal(g.nipi, 3);
	assert_int_equal(g.ipi[0].from, 1);
	assert_int_equal(g.ipi[0].to, 0);
	assert_int_equal(g.ipi[0].kind, TRACE_IPI_INIT);
	assert_int_equal(g.ipi[1].from, TRACE_NO_CPU);
	assert_int_equal(g.ipi[1].to, 1);
	assert_int_equal(g.ipi[1].kind, TRACE_IPI_NMI);
	assert_int_equal(g.ipi[2].from, 2);
	assert_int_equal(g.ipi[2].kind, TRACE_IPI_FIXED);
	assert_int_equal(st.unknown_apic, 1);
}

static void empty(void **state)
{
	struct ktrace_stats st;
	struct got g;

	(void)state;
	run(NULL, 0, &g, &st);
	assert_int_equal(g.n, 0);
	assert_int_equal(st.transitions, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bringup), cmocka_unit_test(unordered), cmocka_unit_test(halted_target),
		cmocka_unit_test(bsp_and_devices), cmocka_unit_test(empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
