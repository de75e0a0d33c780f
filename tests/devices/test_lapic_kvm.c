/*
 * Unit tests of devices/lapic_kvm.c: KVM's local APIC page and MP state
 * to mpvm's APIC bus state and back, each way a round trip that changes
 * nothing, and the places where the two differ (ID format in x2APIC mode,
 * the timer's current count and TSC deadline, SIPI_RECEIVED, a queued
 * INIT or SIPI, an expired one-shot).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/apic_dest.h"
#include "devices/lapic_kvm.h"

static const struct lapic_kvm_clock clk = { .vm_ns = 5000000000ull, .tsc = 9000000000ull, .tsc_khz = 2000000 };

static uint32_t reg(const struct lapic_kvm *k, unsigned int off)
{
	uint32_t v;

	memcpy(&v, k->page.regs + off, 4);
	return v;
}

static void set_reg(struct lapic_kvm *k, unsigned int off, uint32_t v)
{
	memcpy(k->page.regs + off, &v, 4);
}

/* A running xAPIC CPU with interrupts pending and in service, LVTs set, a periodic timer mid-count. */
static struct apic_bus_cpu_state busy_xapic(void)
{
	struct apic_bus_cpu_state b;

	memset(&b, 0, sizeof(b));
	b.state = MP_STATE_RUNNABLE;
	b.lapic.base = LAPIC_DEFAULT_BASE | LAPIC_BASE_EN;
	b.lapic.id_reg = 3u << 24;
	b.lapic.tpr = 0x20;
	b.lapic.ldr = 0x08000000;
	b.lapic.dfr = 0xffffffff;
	b.lapic.svr = 0x1ff;
	b.lapic.esr = LAPIC_ESR_SEND_ILLEGAL_VECTOR;
	b.lapic.icr = (uint64_t)2 << 56 | 0x4500;
	b.lapic.irr[1] = 1u << 3;      /* vector 0x23 */
	b.lapic.isr[2] = 1u << 0;      /* vector 0x40 in service */
	b.lapic.tmr[2] = 1u << 0;
	for (int i = 0; i < LAPIC_LVT_COUNT; i++)
		b.lapic.lvt[i] = LAPIC_LVT_MASKED;
	b.lapic.lvt[LAPIC_LVT_TIMER] = 0xec | 1u << 17;   /* periodic, vector 0xec */
	b.lapic.lvt[LAPIC_LVT_LINT0] = 0x700;             /* ExtINT */
	b.lapic.tmict = 100000;
	b.lapic.tdcr = 0x3;                                /* divide by 16 */
	b.lapic.timer_armed = 1;
	b.lapic.timer_period_ns = 100000ull * 16;
	b.lapic.timer_start_ns = clk.vm_ns - 16 * 2500;    /* 2500 ticks in */
	return b;
}

static void assert_bus_equal(const struct apic_bus_cpu_state *a, const struct apic_bus_cpu_state *b)
{
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->init_pending, b->init_pending);
	assert_int_equal(a->sipi_pending, b->sipi_pending);
	assert_int_equal(a->nmi_pending, b->nmi_pending);
	assert_int_equal(a->halt_if, b->halt_if);
	if (a->sipi_pending)
		assert_int_equal(a->sipi_vector, b->sipi_vector);
	assert_memory_equal(&a->lapic, &b->lapic, sizeof(a->lapic));
}

static void bus_round_trip(const struct apic_bus_cpu_state *b, uint32_t apic_id, bool x2ids, bool bsp)
{
	struct lapic_kvm k, k2;
	struct apic_bus_cpu_state back;
	char err[160];

	lapic_kvm_from_bus(b, apic_id, x2ids, bsp, &clk, &k);
	assert_int_equal(lapic_kvm_to_bus(&k, apic_id, x2ids, &clk, &back, err, sizeof(err)), 0);
	assert_bus_equal(b, &back);
	/* and KVM's side, made from it, goes back to the same page */
	lapic_kvm_from_bus(&back, apic_id, x2ids, bsp, &clk, &k2);
	assert_memory_equal(&k, &k2, sizeof(k));
}

static void round_trip_xapic(void **state)
{
	struct apic_bus_cpu_state b = busy_xapic();
	struct lapic_kvm k;

	bus_round_trip(&b, 3, false, false);
	lapic_kvm_from_bus(&b, 3, false, false, &clk, &k);
	assert_int_equal(reg(&k, LAPIC_REG_ID), 3u << 24);
	assert_int_equal(reg(&k, LAPIC_REG_IRR + 16), 1u << 3);
	assert_int_equal(reg(&k, LAPIC_REG_ISR + 32), 1);
	assert_int_equal(reg(&k, LAPIC_REG_PPR), 0x40);            /* the vector in service outranks TPR 0x20 */
	assert_int_equal(reg(&k, LAPIC_REG_TMICT), 100000);
	assert_int_equal(reg(&k, LAPIC_REG_TMCCT), 100000 - 2500);  /* the remaining count */
	assert_int_equal(reg(&k, LAPIC_REG_ICR2), 2u << 24);
	assert_int_equal(reg(&k, LAPIC_REG_LVT_LINT0), 0x700);
	assert_int_equal(k.mp_state, KVM_MP_STATE_RUNNABLE);
}

static void round_trip_x2apic_deadline(void **state)
{
	struct apic_bus_cpu_state b = busy_xapic();
	struct lapic_kvm k;

	b.lapic.base |= LAPIC_BASE_EXTD;
	b.lapic.id_reg = (300u & 0xff) << 24;
	b.lapic.ldr = 0;
	b.lapic.lvt[LAPIC_LVT_TIMER] = 0xef | 2u << 17;   /* TSC deadline */
	b.lapic.tmict = 0;
	b.lapic.tdcr = 0;
	b.lapic.timer_armed = 0;
	b.lapic.timer_start_ns = b.lapic.timer_period_ns = 0;
	b.lapic.tsc_deadline = clk.tsc + 4000;            /* 2 µs at 2 GHz */
	b.lapic.deadline_ns = clk.vm_ns + 2000;
	bus_round_trip(&b, 300, true, false);
	lapic_kvm_from_bus(&b, 300, true, false, &clk, &k);
	assert_int_equal(reg(&k, LAPIC_REG_ID), 300);     /* KVM_CAP_X2APIC_API: the 32-bit ID */
	assert_int_equal(reg(&k, LAPIC_REG_LDR), x2apic_ldr(300));
	assert_int_equal(k.tsc_deadline, clk.tsc + 4000);
	assert_int_equal(reg(&k, LAPIC_REG_TMCCT), 0);

	/* without 32-bit IDs KVM's x2APIC page holds the ID in bits 31:24 */
	b.lapic.id_reg = 7u << 24;
	bus_round_trip(&b, 7, false, false);
	lapic_kvm_from_bus(&b, 7, false, false, &clk, &k);
	assert_int_equal(reg(&k, LAPIC_REG_ID), 7u << 24);
}

/* Each MP state, with what may be queued for it, crosses and comes back. */
static void round_trip_mp_states(void **state)
{
	struct apic_bus_cpu_state b = busy_xapic();
	struct lapic_kvm k;

	for (uint32_t st = MP_STATE_RUNNABLE; st <= MP_STATE_HALTED; st++) {
		b.state = st;
		b.halt_if = st == MP_STATE_HALTED;
		bus_round_trip(&b, 3, false, false);
		lapic_kvm_from_bus(&b, 3, false, false, &clk, &k);
		assert_int_equal(k.mp_state, st);
		assert_false(k.latched_init);
	}
	/* an AP waiting for its SIPI with one queued: KVM's SIPI_RECEIVED */
	b.state = MP_STATE_INIT_RECEIVED;
	b.halt_if = 0;
	b.sipi_pending = 1;
	b.sipi_vector = 0x08;
	bus_round_trip(&b, 3, false, false);
	lapic_kvm_from_bus(&b, 3, false, false, &clk, &k);
	assert_int_equal(k.mp_state, KVM_MP_STATE_SIPI_RECEIVED);
	assert_int_equal(k.sipi_vector, 0x08);
	/* an INIT queued for a running AP: KVM's latched INIT */
	b.state = MP_STATE_RUNNABLE;
	b.sipi_pending = 0;
	b.init_pending = 1;
	b.nmi_pending = 2;
	bus_round_trip(&b, 3, false, false);
	lapic_kvm_from_bus(&b, 3, false, false, &clk, &k);
	assert_int_equal(k.mp_state, KVM_MP_STATE_RUNNABLE);
	assert_true(k.latched_init);
	assert_int_equal(k.nmi_pending, 2);
}

/* A page as KVM gives it goes to mpvm's model and back unchanged. */
static void kvm_round_trip(void **state)
{
	struct apic_bus_cpu_state b = busy_xapic(), mid;
	struct lapic_kvm k, back;
	char err[160];

	b.state = MP_STATE_HALTED;
	b.halt_if = 1;
	lapic_kvm_from_bus(&b, 3, false, false, &clk, &k);
	k.nmi_pending = 1;
	assert_int_equal(lapic_kvm_to_bus(&k, 3, false, &clk, &mid, err, sizeof(err)), 0);
	assert_int_equal(mid.state, MP_STATE_HALTED);
	assert_int_equal(mid.nmi_pending, 1);
	lapic_kvm_from_bus(&mid, 3, false, false, &clk, &back);
	assert_memory_equal(&k, &back, sizeof(k));

	/* KVM's SIPI_RECEIVED is INIT_RECEIVED with the SIPI to take */
	memset(&k.page, 0, sizeof(k.page));
	k.apic_base = LAPIC_DEFAULT_BASE | LAPIC_BASE_EN;
	set_reg(&k, LAPIC_REG_ID, 1u << 24);
	set_reg(&k, LAPIC_REG_SVR, 0xff);
	set_reg(&k, LAPIC_REG_DFR, 0xffffffff);
	k.mp_state = KVM_MP_STATE_SIPI_RECEIVED;
	k.sipi_vector = 0x9f;
	k.nmi_pending = 0;
	k.if_flag = 0;
	assert_int_equal(lapic_kvm_to_bus(&k, 1, false, &clk, &mid, err, sizeof(err)), 0);
	assert_int_equal(mid.state, MP_STATE_INIT_RECEIVED);
	assert_int_equal(mid.sipi_pending, 1);
	assert_int_equal(mid.sipi_vector, 0x9f);
	lapic_kvm_from_bus(&mid, 1, false, false, &clk, &back);
	assert_int_equal(back.mp_state, KVM_MP_STATE_SIPI_RECEIVED);
	assert_int_equal(back.sipi_vector, 0x9f);
}

/* KVM's current count becomes mpvm's start time; the count goes on from there. */
static void timer_count(void **state)
{
	struct apic_bus_cpu_state b;
	struct lapic_kvm k;
	char err[160];

	memset(&k, 0, sizeof(k));
	k.apic_base = LAPIC_DEFAULT_BASE | LAPIC_BASE_EN;
	set_reg(&k, LAPIC_REG_SVR, 0x1ff);
	set_reg(&k, LAPIC_REG_LVT_TIMER, 0x30);            /* one-shot, vector 0x30 */
	set_reg(&k, LAPIC_REG_TMICT, 1000);
	set_reg(&k, LAPIC_REG_TMCCT, 600);
	set_reg(&k, LAPIC_REG_TDCR, 0);                    /* divide by 2 */
	assert_int_equal(lapic_kvm_to_bus(&k, 0, false, &clk, &b, err, sizeof(err)), 0);
	assert_int_equal(b.lapic.timer_armed, 1);
	assert_int_equal(b.lapic.timer_period_ns, 2000);
	assert_int_equal(b.lapic.timer_start_ns, clk.vm_ns - 800);
	assert_int_equal(lapic_state_timer_count(&b.lapic, clk.vm_ns), 600);
	assert_int_equal(lapic_state_timer_count(&b.lapic, clk.vm_ns + 100), 550);
	assert_int_equal(lapic_state_timer_count(&b.lapic, clk.vm_ns + 1200), 0);

	/* a one-shot that ran out: stopped on mpvm's side, and KVM gets TMICT 0 rather than a second expiry */
	set_reg(&k, LAPIC_REG_TMCCT, 0);
	assert_int_equal(lapic_kvm_to_bus(&k, 0, false, &clk, &b, err, sizeof(err)), 0);
	assert_int_equal(b.lapic.timer_armed, 0);
	assert_int_equal(b.lapic.tmict, 1000);
	lapic_kvm_from_bus(&b, 0, false, true, &clk, &k);
	assert_int_equal(reg(&k, LAPIC_REG_TMICT), 0);

	/* periodic at 0 has just reloaded: a full period */
	set_reg(&k, LAPIC_REG_LVT_TIMER, 0x30 | 1u << 17);
	set_reg(&k, LAPIC_REG_TMICT, 1000000);
	set_reg(&k, LAPIC_REG_TMCCT, 0);
	assert_int_equal(lapic_kvm_to_bus(&k, 0, false, &clk, &b, err, sizeof(err)), 0);
	assert_int_equal(lapic_state_timer_count(&b.lapic, clk.vm_ns), 1000000);

	/* TSC deadline: the MSR's value and its estimate on mpvm's clock */
	set_reg(&k, LAPIC_REG_LVT_TIMER, 0x30 | 2u << 17);
	set_reg(&k, LAPIC_REG_TMICT, 0);
	k.tsc_deadline = clk.tsc + 2000000;                /* 1 ms at 2 GHz */
	assert_int_equal(lapic_kvm_to_bus(&k, 0, false, &clk, &b, err, sizeof(err)), 0);
	assert_int_equal(b.lapic.tsc_deadline, clk.tsc + 2000000);
	assert_int_equal(b.lapic.deadline_ns, clk.vm_ns + 1000000);
	k.tsc_deadline = clk.tsc - 5;                      /* already passed: due now */
	assert_int_equal(lapic_kvm_to_bus(&k, 0, false, &clk, &b, err, sizeof(err)), 0);
	assert_int_equal(b.lapic.deadline_ns, clk.vm_ns);
}

static void refused(void **state)
{
	struct lapic_kvm k;
	struct apic_bus_cpu_state b;
	char err[160];

	memset(&k, 0, sizeof(k));
	k.mp_state = 7;
	assert_int_equal(lapic_kvm_to_bus(&k, 0, false, &clk, &b, err, sizeof(err)), -1);
	assert_string_equal(err, "MP state 7, which x86 KVM does not have");
	k.mp_state = KVM_MP_STATE_RUNNABLE;
	k.apic_base = LAPIC_DEFAULT_BASE | LAPIC_BASE_EN | LAPIC_BASE_EXTD;
	set_reg(&k, LAPIC_REG_ID, 5);
	assert_int_equal(lapic_kvm_to_bus(&k, 6, true, &clk, &b, err, sizeof(err)), -1);
	assert_string_equal(err, "KVM's local APIC page has x2APIC ID 0x5, the CPU's is 0x6");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_xapic),
		cmocka_unit_test(round_trip_x2apic_deadline),
		cmocka_unit_test(round_trip_mp_states),
		cmocka_unit_test(kvm_round_trip),
		cmocka_unit_test(timer_count),
		cmocka_unit_test(refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
