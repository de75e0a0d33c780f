/*
 * Unit tests of devices/lapic.c: reset values, IA32_APIC_BASE transitions,
 * the register file in xAPIC and x2APIC mode, priorities, EOI, ESR, ICR
 * sends, the timer on a fake clock, and concurrent acceptance (run this
 * binary under TSan too).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apic_dest.h"
#include "core/icr.h"
#include "devices/lapic.h"

#define MAX_REC 64

/* What the callbacks saw, and a fake clock. */
struct h {
	struct lapic *l;
	unsigned int nsend;
	struct icr sends[MAX_REC];
	struct lapic *send_from;
	atomic_uint nkick;
	unsigned int neoi;
	uint8_t eois[MAX_REC];
	unsigned int nlog;
	char log[MAX_REC][256];
	uint64_t now, tsc;
};

static void cb_send(void *o, struct lapic *from, const struct icr *icr)
{
	struct h *h = o;

	h->send_from = from;
	if (h->nsend < MAX_REC)
		h->sends[h->nsend] = *icr;
	h->nsend++;
}

static void cb_kick(void *o, unsigned int vcpu)
{
	struct h *h = o;

	atomic_fetch_add(&h->nkick, 1);
}

static void cb_eoi(void *o, unsigned int vcpu, uint8_t vector)
{
	struct h *h = o;

	if (h->neoi < MAX_REC)
		h->eois[h->neoi] = vector;
	h->neoi++;
}

static void cb_log(void *o, unsigned int vcpu, const char *msg)
{
	struct h *h = o;

	if (h->nlog < MAX_REC)
		snprintf(h->log[h->nlog], sizeof(h->log[0]), "%s", msg);
	h->nlog++;
}

static const struct lapic_ops ops = { cb_send, cb_kick, cb_eoi, cb_log, NULL };

static uint64_t fake_now(void *o)
{
	return ((struct h *)o)->now;
}

static uint64_t fake_tsc(void *o)
{
	return ((struct h *)o)->tsc;
}

#define VCPU 2
#define APIC_ID 0x23u
#define X2_ID 0x123u

static struct h *mk(uint32_t apic_id, bool bsp)
{
	struct h *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	h->l = lapic_create(VCPU, apic_id, bsp, &ops, h);
	assert_non_null(h->l);
	h->now = 1000000;   /* the fake clock starts at 1 ms */
	h->tsc = 5000000;
	lapic_set_clock(h->l, fake_now, fake_tsc, 1000000 /* 1 GHz: 1 tick = 1 ns */, h);
	return h;
}

static void rm(struct h *h)
{
	lapic_destroy(h->l);
	free(h);
}

static uint32_t xr(struct h *h, uint32_t off)
{
	uint32_t v = 0xdeadbeef;

	lapic_mmio_read(h->l, off, &v, 4);
	return v;
}

static void xw(struct h *h, uint32_t off, uint32_t v)
{
	lapic_mmio_write(h->l, off, &v, 4);
}

static uint64_t mr(struct h *h, uint32_t off)
{
	uint64_t v = 0xdeadbeef;

	if (lapic_msr_read(h->l, LAPIC_MSR(off), &v) != 0)
		fail_msg("RDMSR 0x%x #GP", LAPIC_MSR(off));
	return v;
}

static void mw(struct h *h, uint32_t off, uint64_t v)
{
	if (lapic_msr_write(h->l, LAPIC_MSR(off), v) != 0)
		fail_msg("WRMSR 0x%x = 0x%llx #GP", LAPIC_MSR(off), (unsigned long long)v);
}

static bool logged(const struct h *h, const char *needle)
{
	for (unsigned int i = 0; i < h->nlog && i < MAX_REC; i++)
		if (strstr(h->log[i], needle))
			return true;
	return false;
}

static void to_x2apic(struct h *h)
{
	uint64_t b = lapic_get_base(h->l);

	assert_int_equal(lapic_set_base(h->l, b | LAPIC_BASE_EXTD), 0);
	assert_true(lapic_x2apic_mode(h->l));
}

static void sw_enable(struct h *h)
{
	if (lapic_x2apic_mode(h->l))
		mw(h, LAPIC_REG_SVR, 0x1ff);
	else
		xw(h, LAPIC_REG_SVR, 0x1ff);
}

/* IRR/ISR/TMR bit of `v` through the xAPIC page. */
static bool xbit(struct h *h, uint32_t reg, unsigned int v)
{
	return (xr(h, reg + 0x10 * (v / 32)) >> (v % 32)) & 1;
}

static uint32_t read_esr(struct h *h)
{
	xw(h, LAPIC_REG_ESR, 0);
	return xr(h, LAPIC_REG_ESR);
}

/* ---- reset ------------------------------------------------------------- */

struct regval { uint32_t off; uint32_t want; };

/* §10.4.7.1: the xAPIC register file after power-up / RESET. */
static const struct regval reset_table[] = {
	{ LAPIC_REG_ID, APIC_ID << 24 },
	{ LAPIC_REG_VER, 0x00060014 },
	{ LAPIC_REG_TPR, 0 },
	{ LAPIC_REG_APR, 0 },
	{ LAPIC_REG_PPR, 0 },
	{ LAPIC_REG_LDR, 0 },
	{ LAPIC_REG_DFR, 0xffffffff },
	{ LAPIC_REG_SVR, 0xff },
	{ LAPIC_REG_ISR, 0 }, { LAPIC_REG_ISR + 0x70, 0 },
	{ LAPIC_REG_TMR, 0 }, { LAPIC_REG_TMR + 0x70, 0 },
	{ LAPIC_REG_IRR, 0 }, { LAPIC_REG_IRR + 0x70, 0 },
	{ LAPIC_REG_ESR, 0 },
	{ LAPIC_REG_LVT_CMCI, 0x10000 },
	{ LAPIC_REG_ICR, 0 },
	{ LAPIC_REG_ICR2, 0 },
	{ LAPIC_REG_LVT_TIMER, 0x10000 },
	{ LAPIC_REG_LVT_THERMAL, 0x10000 },
	{ LAPIC_REG_LVT_PERF, 0x10000 },
	{ LAPIC_REG_LVT_LINT0, 0x10000 },
	{ LAPIC_REG_LVT_LINT1, 0x10000 },
	{ LAPIC_REG_LVT_ERROR, 0x10000 },
	{ LAPIC_REG_TMICT, 0 },
	{ LAPIC_REG_TMCCT, 0 },
	{ LAPIC_REG_TDCR, 0 },
};

static void check_reset_table(struct h *h, bool check_id)
{
	for (size_t i = 0; i < sizeof(reset_table) / sizeof(reset_table[0]); i++) {
		uint32_t got = xr(h, reset_table[i].off);

		if (!check_id && reset_table[i].off == LAPIC_REG_ID)
			continue;
		if (got != reset_table[i].want)
			fail_msg("offset 0x%03x: 0x%08x, want 0x%08x", reset_table[i].off, got,
				 reset_table[i].want);
	}
}

/* Dirty every register a reset must clear. */
static void dirty(struct h *h)
{
	sw_enable(h);
	xw(h, LAPIC_REG_TPR, 0x20);
	xw(h, LAPIC_REG_LDR, 0x01000000);
	xw(h, LAPIC_REG_DFR, 0x0);
	xw(h, LAPIC_REG_LVT_TIMER, 0x20030);
	xw(h, LAPIC_REG_LVT_LINT0, 0x700);
	xw(h, LAPIC_REG_LVT_ERROR, 0xfe);
	xw(h, LAPIC_REG_TDCR, 0xb);
	xw(h, LAPIC_REG_TMICT, 123456);
	xw(h, LAPIC_REG_ICR2, 0x01000000);
	xw(h, LAPIC_REG_ICR, 0x000040f0);
	assert_true(lapic_accept_irq(h->l, 0x80, true));
	lapic_ack_vector(h->l, 0x80);
	assert_true(lapic_accept_irq(h->l, 0x90, false));
	lapic_accept_irq(h->l, 3, false);          /* an error for the ESR */
	xw(h, LAPIC_REG_ESR, 0);
	assert_int_not_equal(xr(h, LAPIC_REG_ESR), 0);
}

static void reset_values(void **state)
{
	struct h *h = mk(APIC_ID, false);

	(void)state;
	check_reset_table(h, true);
	assert_int_equal(lapic_get_base(h->l), 0xfee00800);
	assert_true(lapic_xapic_mmio_enabled(h->l));
	assert_false(lapic_x2apic_mode(h->l));
	assert_int_equal(lapic_timer_next_ns(h->l), 0);
	assert_int_equal(lapic_pending_vector(h->l), -1);

	/* RESET after use: everything back, the written ID too. */
	dirty(h);
	xw(h, LAPIC_REG_ID, 0x07000000);
	assert_int_equal(lapic_set_base(h->l, 0xfed00800), 0);
	lapic_reset(h->l, false);
	check_reset_table(h, true);
	assert_int_equal(lapic_get_base(h->l), 0xfee00800);
	assert_int_equal(lapic_timer_next_ns(h->l), 0);
	assert_int_equal(lapic_pending_vector(h->l), -1);

	/* INIT: the same, but the ID and IA32_APIC_BASE stay (§10.4.7.3). */
	dirty(h);
	xw(h, LAPIC_REG_ID, 0x07000000);
	assert_int_equal(lapic_set_base(h->l, 0xfed00800), 0);
	lapic_reset(h->l, true);
	check_reset_table(h, false);
	assert_int_equal(xr(h, LAPIC_REG_ID), 0x07000000);
	assert_int_equal(lapic_get_base(h->l), 0xfed00800);
	assert_int_equal(lapic_timer_next_ns(h->l), 0);
	rm(h);
}

static void init_keeps_x2apic(void **state)
{
	struct h *h = mk(X2_ID, false);

	(void)state;
	to_x2apic(h);
	sw_enable(h);
	mw(h, LAPIC_REG_TPR, 0x40);
	lapic_reset(h->l, true);      /* §10.12.5.1: INIT keeps x2APIC mode and the ID */
	assert_true(lapic_x2apic_mode(h->l));
	assert_int_equal(mr(h, LAPIC_REG_ID), X2_ID);
	assert_int_equal(mr(h, LAPIC_REG_TPR), 0);
	assert_int_equal(mr(h, LAPIC_REG_SVR), 0xff);
	assert_int_equal(mr(h, LAPIC_REG_LVT_LINT1), 0x10000);
	lapic_reset(h->l, false);     /* RESET: back to xAPIC with the low byte as ID */
	assert_false(lapic_x2apic_mode(h->l));
	assert_int_equal(xr(h, LAPIC_REG_ID), (X2_ID & 0xff) << 24);
	rm(h);
}

static void bsp_bit(void **state)
{
	struct h *b = mk(0, true), *a = mk(1, false);

	(void)state;
	assert_int_equal(lapic_get_base(b->l), 0xfee00900);
	assert_int_equal(lapic_get_base(a->l), 0xfee00800);
	/* Kept across INIT and restored by RESET. */
	lapic_reset(b->l, true);
	assert_true(lapic_get_base(b->l) & LAPIC_BASE_BSP);
	assert_int_equal(lapic_set_base(b->l, 0xfee00800), 0);    /* the BSP flag is R/W */
	assert_false(lapic_get_base(b->l) & LAPIC_BASE_BSP);
	lapic_reset(b->l, false);
	assert_int_equal(lapic_get_base(b->l), 0xfee00900);
	rm(b);
	rm(a);
}

/* ---- IA32_APIC_BASE transitions (§10.12.5, Figure 10-27) ---------------- */

enum st { DIS, XAPIC, X2APIC };

static void go(struct h *h, enum st s)
{
	lapic_reset(h->l, false);
	if (s == X2APIC)
		assert_int_equal(lapic_set_base(h->l, 0xfee00000 | LAPIC_BASE_EN | LAPIC_BASE_EXTD), 0);
	else if (s == DIS)
		assert_int_equal(lapic_set_base(h->l, 0xfee00000), 0);
}

static void base_transitions(void **state)
{
	static const struct {
		enum st from;
		uint64_t write;
		int rc;
		const char *why;
	} t[] = {
		{ XAPIC, 0xfee00000 | LAPIC_BASE_EN | LAPIC_BASE_EXTD, 0, "xAPIC -> x2APIC" },
		{ XAPIC, 0xfee00000, 0, "xAPIC -> disabled" },
		{ XAPIC, 0xfee00000 | LAPIC_BASE_EXTD, -1, "xAPIC -> invalid" },
		{ XAPIC, 0xfec00000 | LAPIC_BASE_EN, 0, "xAPIC relocated" },
		{ X2APIC, 0xfee00000, 0, "x2APIC -> disabled" },
		{ X2APIC, 0xfee00000 | LAPIC_BASE_EN, -1, "x2APIC -> xAPIC" },
		{ X2APIC, 0xfee00000 | LAPIC_BASE_EXTD, -1, "x2APIC -> invalid" },
		{ X2APIC, 0xfee00000 | LAPIC_BASE_EN | LAPIC_BASE_EXTD, 0, "x2APIC -> x2APIC" },
		{ DIS, 0xfee00000 | LAPIC_BASE_EN, 0, "disabled -> xAPIC" },
		{ DIS, 0xfee00000 | LAPIC_BASE_EN | LAPIC_BASE_EXTD, -1, "disabled -> x2APIC" },
		{ DIS, 0xfee00000 | LAPIC_BASE_EXTD, -1, "disabled -> invalid" },
		{ DIS, 0xfee00000, 0, "disabled -> disabled" },
		{ XAPIC, 0xfee00000 | LAPIC_BASE_EN | 1, -1, "reserved bit 0" },
		{ XAPIC, 0xfee00000 | LAPIC_BASE_EN | 0x80, -1, "reserved bit 7" },
		{ XAPIC, 0xfee00000 | LAPIC_BASE_EN | 0x200, -1, "reserved bit 9" },
		{ XAPIC, 0xfee00000 | LAPIC_BASE_EN | (1ull << 52), -1, "bit 52 (MAXPHYADDR 52)" },
		{ XAPIC, 0xfee00000 | LAPIC_BASE_EN | (1ull << 51), 0, "bit 51 (MAXPHYADDR 52)" },
	};
	struct h *h = mk(APIC_ID, false);

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t before;
		int rc;

		go(h, t[i].from);
		before = lapic_get_base(h->l);
		rc = lapic_set_base(h->l, t[i].write);
		if (rc != t[i].rc)
			fail_msg("%s: rc %d, want %d", t[i].why, rc, t[i].rc);
		assert_int_equal(lapic_get_base(h->l), rc == 0 ? t[i].write : before);
		assert_int_equal(lapic_xapic_mmio_enabled(h->l),
				 (lapic_get_base(h->l) & (LAPIC_BASE_EN | LAPIC_BASE_EXTD)) == LAPIC_BASE_EN);
		if (rc)
			assert_true(logged(h, "#GP"));
	}
	/* A narrower physical address width. */
	lapic_set_maxphyaddr(h->l, 39);
	go(h, XAPIC);
	assert_int_equal(lapic_set_base(h->l, (1ull << 39) | 0xfee00000 | LAPIC_BASE_EN), -1);
	assert_int_equal(lapic_set_base(h->l, (1ull << 38) | 0xfee00000 | LAPIC_BASE_EN), 0);
	rm(h);
}

static void disable_loses_state(void **state)
{
	struct h *h = mk(APIC_ID, false);

	(void)state;
	dirty(h);
	xw(h, LAPIC_REG_ID, 0x09000000);
	assert_int_equal(lapic_set_base(h->l, 0xfee00000), 0);
	assert_false(lapic_hw_enabled(h->l));
	/* Disabled: nothing is accepted or pending, the page does not answer. */
	assert_false(lapic_accept_irq(h->l, 0x40, false));
	assert_int_equal(lapic_pending_vector(h->l), -1);
	assert_int_equal(xr(h, LAPIC_REG_VER), 0);
	assert_int_equal(lapic_set_base(h->l, 0xfee00800), 0);
	check_reset_table(h, false);
	assert_int_equal(xr(h, LAPIC_REG_ID), 0x09000000);
	rm(h);
}

/* ---- identity in both modes --------------------------------------------- */

static void id_and_ldr(void **state)
{
	struct h *h = mk(X2_ID, false);
	struct apic_cpu c;
	uint64_t v;

	(void)state;
	/* xAPIC: the low byte; the ID and LDR are writable. */
	assert_int_equal(lapic_id(h->l), X2_ID & 0xff);
	assert_int_equal(xr(h, LAPIC_REG_ID), (X2_ID & 0xff) << 24);
	xw(h, LAPIC_REG_ID, 0x05abcdef);
	assert_int_equal(xr(h, LAPIC_REG_ID), 0x05000000);
	assert_int_equal(lapic_id(h->l), 5);
	xw(h, LAPIC_REG_LDR, 0x81ffffff);
	assert_int_equal(xr(h, LAPIC_REG_LDR), 0x81000000);
	xw(h, LAPIC_REG_DFR, 0x0);
	assert_int_equal(xr(h, LAPIC_REG_DFR), 0x0fffffff);
	sw_enable(h);
	lapic_dest_info(h->l, &c);
	assert_int_equal(c.apic_id, 5);
	assert_false(c.x2apic);
	assert_true(c.sw_enabled);
	assert_int_equal(c.ldr, 0x81000000);
	assert_int_equal(c.dfr, APIC_DFR_CLUSTER);
	assert_int_equal(c.priority, 0);
	xw(h, LAPIC_REG_TPR, 0x31);
	lapic_dest_info(h->l, &c);
	assert_int_equal(c.priority, 0x31);
	xw(h, LAPIC_REG_TPR, 0);
	/* The x2APIC MSRs #GP in xAPIC mode. */
	assert_int_equal(lapic_msr_read(h->l, 0x802, &v), -1);
	assert_int_equal(lapic_msr_write(h->l, 0x808, 0), -1);

	/* x2APIC: the 32-bit initial ID, the derived LDR, both read-only. */
	to_x2apic(h);
	assert_int_equal(lapic_id(h->l), X2_ID);
	assert_int_equal(mr(h, LAPIC_REG_ID), X2_ID);
	assert_int_equal(mr(h, LAPIC_REG_LDR), (0x12u << 16) | (1u << 3));
	assert_int_equal(mr(h, LAPIC_REG_LDR), x2apic_ldr(X2_ID));
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_ID), 7), -1);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_LDR), 0), -1);
	assert_int_equal(mr(h, LAPIC_REG_ID), X2_ID);
	/* No DFR, ICR high, APR, RRD in x2APIC mode (Table 10-6). */
	assert_int_equal(lapic_msr_read(h->l, LAPIC_MSR(LAPIC_REG_DFR), &v), -1);
	assert_int_equal(lapic_msr_read(h->l, LAPIC_MSR(LAPIC_REG_ICR2), &v), -1);
	assert_int_equal(lapic_msr_read(h->l, LAPIC_MSR(LAPIC_REG_APR), &v), -1);
	assert_int_equal(lapic_msr_read(h->l, LAPIC_MSR(LAPIC_REG_RRD), &v), -1);
	assert_int_equal(lapic_msr_read(h->l, 0x801, &v), -1);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_DFR), 0xffffffff), -1);
	assert_int_equal(lapic_msr_read(h->l, 0x1b, &v), -1);
	lapic_dest_info(h->l, &c);
	assert_int_equal(c.apic_id, X2_ID);
	assert_true(c.x2apic);
	assert_int_equal(c.ldr, x2apic_ldr(X2_ID));
	/* The MMIO page is off. */
	assert_false(lapic_xapic_mmio_enabled(h->l));
	assert_int_equal(xr(h, LAPIC_REG_VER), 0);
	assert_int_equal(mr(h, LAPIC_REG_VER), 0x00060014);
	rm(h);
}

/* ---- priorities (§10.8.3.1) -------------------------------------------- */

static void tpr_ppr(void **state)
{
	static const struct { uint8_t tpr; int isr; uint8_t ppr; } t[] = {
		{ 0x00, -1, 0x00 },
		{ 0x35, -1, 0x35 },
		{ 0x00, 0x41, 0x40 },
		{ 0x35, 0x41, 0x40 },   /* ISR class above TPR class: ISRV[7:4] */
		{ 0x45, 0x41, 0x45 },   /* equal classes: TPR, with its sub-class */
		{ 0x5f, 0x41, 0x5f },
		{ 0x40, 0xff, 0xf0 },
		{ 0xff, 0x20, 0xff },
	};
	struct h *h = mk(APIC_ID, false);

	(void)state;
	sw_enable(h);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		lapic_reset(h->l, true);
		sw_enable(h);
		xw(h, LAPIC_REG_TPR, t[i].tpr);
		if (t[i].isr >= 0) {
			assert_true(lapic_accept_irq(h->l, (uint8_t)t[i].isr, false));
			lapic_ack_vector(h->l, (uint8_t)t[i].isr);
		}
		if (xr(h, LAPIC_REG_PPR) != t[i].ppr)
			fail_msg("TPR 0x%02x ISR %d: PPR 0x%02x, want 0x%02x", t[i].tpr, t[i].isr,
				 xr(h, LAPIC_REG_PPR), t[i].ppr);
		assert_int_equal(lapic_get_ppr(h->l), t[i].ppr);
	}
	/* TPR keeps bits 7:0 only; lapic_set_tpr is the CR8 path. */
	xw(h, LAPIC_REG_TPR, 0x1234);
	assert_int_equal(xr(h, LAPIC_REG_TPR), 0x34);
	lapic_set_tpr(h->l, 0x70);
	assert_int_equal(xr(h, LAPIC_REG_TPR), 0x70);
	assert_int_equal(lapic_get_tpr(h->l), 0x70);
	rm(h);
}

static void irr_isr_order(void **state)
{
	struct h *h = mk(APIC_ID, false);

	(void)state;
	sw_enable(h);
	assert_true(lapic_accept_irq(h->l, 0x31, false));
	assert_true(lapic_accept_irq(h->l, 0x52, false));
	assert_true(lapic_accept_irq(h->l, 0x45, false));
	assert_int_equal(atomic_load(&h->nkick), 3);
	assert_true(xbit(h, LAPIC_REG_IRR, 0x31));
	assert_true(xbit(h, LAPIC_REG_IRR, 0x52));
	/* Highest first. */
	assert_int_equal(lapic_pending_vector(h->l), 0x52);
	lapic_ack_vector(h->l, 0x52);
	assert_false(xbit(h, LAPIC_REG_IRR, 0x52));
	assert_true(xbit(h, LAPIC_REG_ISR, 0x52));
	assert_int_equal(xr(h, LAPIC_REG_PPR), 0x50);
	/* 0x45 is in a lower class than the one in service: held. */
	assert_int_equal(lapic_pending_vector(h->l), -1);
	/* Same class as in service: held too. */
	assert_true(lapic_accept_irq(h->l, 0x5f, false));
	assert_int_equal(lapic_pending_vector(h->l), -1);
	/* A higher class nests. */
	assert_true(lapic_accept_irq(h->l, 0x60, false));
	assert_int_equal(lapic_pending_vector(h->l), 0x60);
	lapic_ack_vector(h->l, 0x60);
	assert_int_equal(lapic_pending_vector(h->l), -1);
	/* EOI retires the highest in service (0x60), then 0x52. */
	xw(h, LAPIC_REG_EOI, 0);
	assert_false(xbit(h, LAPIC_REG_ISR, 0x60));
	assert_true(xbit(h, LAPIC_REG_ISR, 0x52));
	assert_int_equal(lapic_pending_vector(h->l), -1);
	xw(h, LAPIC_REG_EOI, 0);
	assert_int_equal(lapic_pending_vector(h->l), 0x5f);
	lapic_ack_vector(h->l, 0x5f);
	xw(h, LAPIC_REG_EOI, 0);
	assert_int_equal(lapic_pending_vector(h->l), 0x45);
	/* TPR holds what is not above it. */
	xw(h, LAPIC_REG_TPR, 0x40);
	assert_int_equal(lapic_pending_vector(h->l), -1);
	xw(h, LAPIC_REG_TPR, 0x3f);
	assert_int_equal(lapic_pending_vector(h->l), 0x45);
	/* A second accept of a pending vector coalesces (no new kick). */
	{
		unsigned int k = atomic_load(&h->nkick);

		assert_true(lapic_accept_irq(h->l, 0x45, false));
		assert_int_equal(atomic_load(&h->nkick), k);
	}
	/* Acking something not pending is logged and ignored. */
	lapic_ack_vector(h->l, 0x99);
	assert_false(xbit(h, LAPIC_REG_ISR, 0x99));
	assert_true(logged(h, "not pending"));
	rm(h);
}

/* ---- EOI (§10.8.5) -------------------------------------------------------- */

static void eoi_tmr(void **state)
{
	struct h *h = mk(APIC_ID, false);

	(void)state;
	sw_enable(h);
	xw(h, LAPIC_REG_EOI, 0);                   /* nothing in service: nothing */
	assert_int_equal(h->neoi, 0);
	assert_true(lapic_accept_irq(h->l, 0x61, true));
	assert_true(xbit(h, LAPIC_REG_TMR, 0x61));
	lapic_ack_vector(h->l, 0x61);
	assert_true(lapic_accept_irq(h->l, 0x81, false));
	lapic_ack_vector(h->l, 0x81);
	xw(h, LAPIC_REG_EOI, 0);                   /* 0x81, edge: no callback */
	assert_int_equal(h->neoi, 0);
	xw(h, LAPIC_REG_EOI, 0);                   /* 0x61, level */
	assert_int_equal(h->neoi, 1);
	assert_int_equal(h->eois[0], 0x61);
	/* An edge accept clears TMR. */
	assert_true(lapic_accept_irq(h->l, 0x61, false));
	assert_false(xbit(h, LAPIC_REG_TMR, 0x61));
	lapic_ack_vector(h->l, 0x61);
	xw(h, LAPIC_REG_EOI, 0);
	assert_int_equal(h->neoi, 1);

	/* x2APIC: EOI is write-only and takes only 0. */
	to_x2apic(h);
	assert_true(lapic_accept_irq(h->l, 0x71, true));
	lapic_ack_vector(h->l, 0x71);
	{
		uint64_t v;

		assert_int_equal(lapic_msr_read(h->l, LAPIC_MSR(LAPIC_REG_EOI), &v), -1);
	}
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_EOI), 1), -1);
	assert_int_equal(h->neoi, 1);
	mw(h, LAPIC_REG_EOI, 0);
	assert_int_equal(h->neoi, 2);
	assert_int_equal(h->eois[1], 0x71);

	/* EOI-broadcast suppression: offered, then turned on: no callback. */
	assert_int_equal(mr(h, LAPIC_REG_VER), 0x00060014);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_SVR), 0x11ff), -1);
	lapic_set_eoi_suppression(h->l, true);
	assert_int_equal(mr(h, LAPIC_REG_VER), 0x01060014);
	mw(h, LAPIC_REG_SVR, 0x11ff);
	assert_int_equal(mr(h, LAPIC_REG_SVR), 0x11ff);
	assert_true(lapic_accept_irq(h->l, 0x71, true));
	lapic_ack_vector(h->l, 0x71);
	mw(h, LAPIC_REG_EOI, 0);
	assert_int_equal(h->neoi, 2);
	assert_int_equal(mr(h, LAPIC_REG_ISR + 0x30), 0);
	/* Withdrawn: bit 12 goes, EOIs are broadcast again. */
	lapic_set_eoi_suppression(h->l, false);
	assert_int_equal(mr(h, LAPIC_REG_SVR), 0x1ff);
	assert_true(lapic_accept_irq(h->l, 0x71, true));
	lapic_ack_vector(h->l, 0x71);
	mw(h, LAPIC_REG_EOI, 0);
	assert_int_equal(h->neoi, 3);
	rm(h);
}

/* ---- acceptance and errors ------------------------------------------------ */

static void accept_disabled(void **state)
{
	struct h *h = mk(APIC_ID, false);

	(void)state;
	/* Reset: software-disabled (SVR bit 8 = 0). */
	assert_false(lapic_accept_irq(h->l, 0x40, false));
	assert_false(xbit(h, LAPIC_REG_IRR, 0x40));
	assert_int_equal(atomic_load(&h->nkick), 0);
	sw_enable(h);
	assert_true(lapic_accept_irq(h->l, 0x40, false));
	/* Software-disabling holds what is pending (§10.4.7.2) but takes nothing new. */
	xw(h, LAPIC_REG_SVR, 0xff);
	assert_false(lapic_accept_irq(h->l, 0x41, false));
	assert_true(xbit(h, LAPIC_REG_IRR, 0x40));
	assert_false(xbit(h, LAPIC_REG_IRR, 0x41));
	assert_int_equal(lapic_pending_vector(h->l), 0x40);
	{
		struct apic_cpu c;

		lapic_dest_info(h->l, &c);
		assert_false(c.sw_enabled);
	}
	rm(h);
}

static void illegal_vectors_esr(void **state)
{
	struct h *h = mk(APIC_ID, false);
	uint32_t v;

	(void)state;
	sw_enable(h);
	/* Receive: dropped, ESR bit 6 only after the next ESR write (§10.5.3). */
	for (unsigned int vec = 0; vec < 16; vec++)
		assert_false(lapic_accept_irq(h->l, (uint8_t)vec, false));
	assert_int_equal(xr(h, LAPIC_REG_IRR), 0);
	assert_int_equal(xr(h, LAPIC_REG_ESR), 0);
	assert_true(logged(h, "illegal vector"));
	xw(h, LAPIC_REG_ESR, 0);
	assert_int_equal(xr(h, LAPIC_REG_ESR), LAPIC_ESR_RECV_ILLEGAL_VECTOR);
	xw(h, LAPIC_REG_ESR, 0);                   /* nothing new: reads 0 */
	assert_int_equal(xr(h, LAPIC_REG_ESR), 0);
	assert_true(lapic_accept_irq(h->l, 16, false));   /* 16 is the first legal one */

	/* With the error LVT unmasked, an error raises its vector. */
	xw(h, LAPIC_REG_LVT_ERROR, 0xee);
	assert_false(lapic_accept_irq(h->l, 7, false));
	assert_true(xbit(h, LAPIC_REG_IRR, 0xee));
	assert_int_equal(read_esr(h), LAPIC_ESR_RECV_ILLEGAL_VECTOR);

	/* Send: a fixed ICR with vector 2 sets bit 5 and is not sent. */
	xw(h, LAPIC_REG_ICR, 0x00000002);
	assert_int_equal(h->nsend, 0);
	assert_int_equal(read_esr(h), LAPIC_ESR_SEND_ILLEGAL_VECTOR);

	/* A reserved register: bit 7, read 0, write ignored. */
	assert_int_equal(xr(h, 0x040), 0);
	assert_int_equal(read_esr(h), LAPIC_ESR_ILLEGAL_REGISTER);
	xw(h, 0x3f0, 0x40);                        /* SELF IPI is x2APIC-only */
	assert_false(xbit(h, LAPIC_REG_IRR, 0x40));
	assert_int_equal(read_esr(h), LAPIC_ESR_ILLEGAL_REGISTER);
	/* Write-only EOI reads 0 without an error. */
	assert_int_equal(xr(h, LAPIC_REG_EOI), 0);
	assert_int_equal(read_esr(h), 0);

	/* An error LVT with an illegal vector of its own adds bit 6. */
	xw(h, LAPIC_REG_LVT_ERROR, 0x05);
	assert_int_equal(xr(h, 0x2a0), 0);
	v = read_esr(h);
	assert_int_equal(v, LAPIC_ESR_ILLEGAL_REGISTER | LAPIC_ESR_RECV_ILLEGAL_VECTOR);

	/* The VMM's report of an IPI nobody took. */
	lapic_set_error(h->l, LAPIC_ESR_SEND_ACCEPT);
	assert_int_equal(read_esr(h), LAPIC_ESR_SEND_ACCEPT | LAPIC_ESR_RECV_ILLEGAL_VECTOR);

	/* x2APIC: ESR writes must be 0. */
	to_x2apic(h);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_ESR), 1), -1);
	mw(h, LAPIC_REG_ESR, 0);
	assert_int_equal(mr(h, LAPIC_REG_ESR), 0);
	rm(h);
}

/* ---- ICR -------------------------------------------------------------------- */

struct icr_case {
	const char *name;
	enum icr_delivery dm;
	uint8_t vector;
	enum icr_shorthand sh;
	bool logical, assert_, trigger;
	uint32_t dest;
};

static const struct icr_case icr_cases[] = {
	{ "fixed phys", ICR_FIXED, 0x40, ICR_DEST_FIELD, false, true, false, 3 },
	{ "fixed logical", ICR_FIXED, 0x41, ICR_DEST_FIELD, true, true, false, 0x0f },
	{ "fixed level 0 (Linux)", ICR_FIXED, 0x42, ICR_DEST_FIELD, false, false, false, 1 },
	{ "fixed self", ICR_FIXED, 0x43, ICR_SELF, false, true, false, 0 },
	{ "fixed all incl", ICR_FIXED, 0x44, ICR_ALL_INCL_SELF, false, true, false, 0 },
	{ "fixed all excl", ICR_FIXED, 0xff, ICR_ALL_EXCL_SELF, false, true, false, 0 },
	{ "fixed broadcast", ICR_FIXED, 0x45, ICR_DEST_FIELD, false, true, false, 0xff },
	{ "lowest logical", ICR_LOWEST, 0x50, ICR_DEST_FIELD, true, true, false, 0x03 },
	{ "lowest all excl", ICR_LOWEST, 0x51, ICR_ALL_EXCL_SELF, false, true, false, 0 },
	{ "SMI", ICR_SMI, 0, ICR_DEST_FIELD, false, true, false, 2 },
	{ "SMI all excl", ICR_SMI, 0, ICR_ALL_EXCL_SELF, false, true, false, 0 },
	{ "NMI", ICR_NMI, 0, ICR_DEST_FIELD, false, true, false, 1 },
	{ "NMI all excl", ICR_NMI, 0, ICR_ALL_EXCL_SELF, false, true, false, 0 },
	{ "NMI logical", ICR_NMI, 0, ICR_DEST_FIELD, true, true, false, 0x02 },
	{ "INIT", ICR_INIT, 0, ICR_DEST_FIELD, false, true, false, 1 },
	{ "INIT all excl", ICR_INIT, 0, ICR_ALL_EXCL_SELF, false, true, false, 0 },
	{ "INIT level assert", ICR_INIT, 0, ICR_DEST_FIELD, false, true, true, 4 },
	{ "INIT de-assert", ICR_INIT, 0, ICR_ALL_INCL_SELF, false, false, true, 0 },
	{ "SIPI", ICR_STARTUP, 0x08, ICR_DEST_FIELD, false, true, false, 1 },
	{ "SIPI all excl", ICR_STARTUP, 0x9f, ICR_ALL_EXCL_SELF, false, true, false, 0 },
};

static struct icr mk_icr(const struct icr_case *c, bool x2)
{
	struct icr i = {
		.vector = c->vector, .delivery = c->dm, .logical = c->logical,
		.level_assert = c->assert_, .level_trigger = c->trigger,
		.shorthand = c->sh, .dest = c->dest, .x2apic = x2,
	};
	return i;
}

static void check_sent(struct h *h, const char *name, const struct icr *want)
{
	const struct icr *got = &h->sends[h->nsend - 1];

	if (got->vector != want->vector || got->delivery != want->delivery ||
	    got->logical != want->logical || got->level_assert != want->level_assert ||
	    got->level_trigger != want->level_trigger || got->shorthand != want->shorthand ||
	    got->dest != want->dest || got->x2apic != want->x2apic ||
	    got->init_deassert != (want->delivery == ICR_INIT && want->level_trigger && !want->level_assert))
		fail_msg("%s: sent %s vec 0x%x sh %s dest 0x%x log %d assert %d trig %d x2 %d", name,
			 icr_delivery_name(got->delivery), got->vector, icr_shorthand_name(got->shorthand),
			 got->dest, got->logical, got->level_assert, got->level_trigger, got->x2apic);
	assert_ptr_equal(h->send_from, h->l);
}

static void icr_xapic(void **state)
{
	struct h *h = mk(APIC_ID, false);

	(void)state;
	for (size_t i = 0; i < sizeof(icr_cases) / sizeof(icr_cases[0]); i++) {
		struct icr want = mk_icr(&icr_cases[i], false);
		uint64_t v = icr_encode(&want);
		unsigned int before = h->nsend;

		xw(h, LAPIC_REG_ICR2, (uint32_t)(v >> 32));
		assert_int_equal(h->nsend, before);        /* the high half does not send */
		xw(h, LAPIC_REG_ICR, (uint32_t)v | (1u << 12)); /* delivery status is read-only */
		if (h->nsend != before + 1)
			fail_msg("%s: %u sends", icr_cases[i].name, h->nsend - before);
		check_sent(h, icr_cases[i].name, &want);
		assert_int_equal(xr(h, LAPIC_REG_ICR), (uint32_t)v);   /* bit 12 reads 0 */
		assert_int_equal(xr(h, LAPIC_REG_ICR2), (uint32_t)(v >> 32));
	}
	/* Resending through the low half keeps the high half. */
	xw(h, LAPIC_REG_ICR2, 0x07000000);
	xw(h, LAPIC_REG_ICR, 0x4030);
	xw(h, LAPIC_REG_ICR, 0x4031);
	assert_int_equal(h->sends[h->nsend - 1].dest, 7);
	assert_int_equal(h->sends[h->nsend - 1].vector, 0x31);
	/* Reserved bits of the low half are dropped. */
	xw(h, LAPIC_REG_ICR, 0xfff32032);
	assert_int_equal(xr(h, LAPIC_REG_ICR), 0x00000032);
	assert_int_equal(atomic_load(&h->nkick), 0);
	rm(h);
}

static void icr_x2apic(void **state)
{
	struct h *h = mk(X2_ID, false);

	(void)state;
	to_x2apic(h);
	for (size_t i = 0; i < sizeof(icr_cases) / sizeof(icr_cases[0]); i++) {
		struct icr_case c = icr_cases[i];
		struct icr want;
		uint64_t v;
		unsigned int before = h->nsend;
		int rc;

		if (c.sh == ICR_DEST_FIELD && c.dest != 0xff)
			c.dest |= 0x12300;             /* 32-bit destinations */
		if (c.sh == ICR_DEST_FIELD && c.dest == 0xff)
			c.dest = 0xffffffff;
		want = mk_icr(&c, true);
		v = icr_encode(&want);
		rc = lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_ICR), v);
		assert_int_equal(rc, 0);
		/* Every case goes out, lowest priority too: KVM sends it in x2APIC mode. */
		if (h->nsend != before + 1)
			fail_msg("%s: %u sends", c.name, h->nsend - before);
		check_sent(h, c.name, &want);
		mw(h, LAPIC_REG_ESR, 0);
		assert_int_equal(mr(h, LAPIC_REG_ESR), 0);
		assert_int_equal(mr(h, LAPIC_REG_ICR), v);
	}
	/* Reserved bits (13, 17:16, 31:20): #GP, nothing sent or stored. */
	{
		static const uint64_t bad[] = { 1ull << 13, 1ull << 16, 1ull << 17, 1ull << 20, 1ull << 31 };
		unsigned int before = h->nsend;
		uint64_t keep = mr(h, LAPIC_REG_ICR);

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_ICR), 0x40 | bad[i]), -1);
		assert_int_equal(h->nsend, before);
		assert_int_equal(mr(h, LAPIC_REG_ICR), keep);
	}
	/* The delivery-status bit is ignored. */
	mw(h, LAPIC_REG_ICR, 0x0000000500001040ull);
	assert_int_equal(mr(h, LAPIC_REG_ICR), 0x0000000500000040ull);
	assert_int_equal(h->sends[h->nsend - 1].dest, 5);
	rm(h);
}

static void icr_bad_logged(void **state)
{
	static const struct { uint32_t low; const char *why; uint32_t esr; } t[] = {
		{ 0x00000300, "reserved delivery mode", 0 },
		{ 0x00000700, "reserved delivery mode", 0 },
		{ 0x00000005, "illegal vector", LAPIC_ESR_SEND_ILLEGAL_VECTOR },
		{ 0x00000108, "illegal vector", LAPIC_ESR_SEND_ILLEGAL_VECTOR },
		{ 0x00044400, "shorthand", 0 },           /* NMI to self */
		{ 0x00084500, "shorthand", 0 },           /* INIT assert to all incl self */
		{ 0x00044608, "shorthand", 0 },           /* SIPI to self */
	};
	struct h *h = mk(APIC_ID, false);

	(void)state;
	sw_enable(h);
	xw(h, LAPIC_REG_ICR2, 0x01000000);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char val[32];

		h->nlog = 0;
		xw(h, LAPIC_REG_ICR, t[i].low);
		assert_int_equal(h->nsend, 0);
		snprintf(val, sizeof(val), "01000000:%08x", t[i].low);
		if (!logged(h, t[i].why) || !logged(h, "vCPU 2") || !logged(h, val))
			fail_msg("ICR 0x%08x: log \"%s\", want \"%s\", \"vCPU 2\", \"%s\"", t[i].low,
				 h->nlog ? h->log[0] : "", t[i].why, val);
		assert_int_equal(read_esr(h), t[i].esr);
	}
	/* The error interrupt follows a send error when unmasked. */
	xw(h, LAPIC_REG_LVT_ERROR, 0xe0);
	xw(h, LAPIC_REG_ICR, 0x00000001);
	assert_true(xbit(h, LAPIC_REG_IRR, 0xe0));
	assert_int_equal(h->nsend, 0);
	rm(h);
}

static void self_ipi_msr(void **state)
{
	struct h *h = mk(X2_ID, false);
	uint64_t v;

	(void)state;
	to_x2apic(h);
	mw(h, LAPIC_REG_SELF_IPI, 0x40);          /* software-disabled: dropped */
	assert_int_equal(mr(h, LAPIC_REG_IRR + 0x20), 0);
	sw_enable(h);
	mw(h, LAPIC_REG_SELF_IPI, 0x40);
	assert_int_equal(mr(h, LAPIC_REG_IRR + 0x20), 1);
	assert_int_equal(mr(h, LAPIC_REG_TMR + 0x20), 0);
	assert_int_equal(atomic_load(&h->nkick), 1);
	assert_int_equal(h->nsend, 0);             /* handled in the APIC */
	assert_int_equal(lapic_pending_vector(h->l), 0x40);
	/* Write-only, reserved bits #GP, illegal vector: ESR bit 5. */
	assert_int_equal(lapic_msr_read(h->l, LAPIC_MSR(LAPIC_REG_SELF_IPI), &v), -1);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_SELF_IPI), 0x140), -1);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_SELF_IPI), 1ull << 32 | 0x41), -1);
	mw(h, LAPIC_REG_SELF_IPI, 0x0f);
	assert_int_equal(mr(h, LAPIC_REG_IRR), 0);
	mw(h, LAPIC_REG_ESR, 0);
	assert_int_equal(mr(h, LAPIC_REG_ESR), LAPIC_ESR_SEND_ILLEGAL_VECTOR);
	rm(h);
}

/* ---- LVT ----------------------------------------------------------------- */

static const uint32_t lvt_regs[] = {
	LAPIC_REG_LVT_CMCI, LAPIC_REG_LVT_TIMER, LAPIC_REG_LVT_THERMAL, LAPIC_REG_LVT_PERF,
	LAPIC_REG_LVT_LINT0, LAPIC_REG_LVT_LINT1, LAPIC_REG_LVT_ERROR,
};

static void lvt_masks(void **state)
{
	/* What an all-ones write leaves (reserved and read-only bits dropped). */
	static const struct regval ones[] = {
		{ LAPIC_REG_LVT_CMCI, 0x107ff },
		{ LAPIC_REG_LVT_TIMER, 0x700ff },
		{ LAPIC_REG_LVT_THERMAL, 0x107ff },
		{ LAPIC_REG_LVT_PERF, 0x107ff },
		{ LAPIC_REG_LVT_LINT0, 0x1a7ff },
		{ LAPIC_REG_LVT_LINT1, 0x1a7ff },
		{ LAPIC_REG_LVT_ERROR, 0x100ff },
		{ LAPIC_REG_SVR, 0x3ff },
		{ LAPIC_REG_TDCR, 0xb },
		{ LAPIC_REG_TPR, 0xff },
	};
	struct h *h = mk(APIC_ID, false);

	(void)state;
	sw_enable(h);
	for (size_t i = 0; i < sizeof(ones) / sizeof(ones[0]); i++) {
		lapic_reset(h->l, true);
		sw_enable(h);
		xw(h, ones[i].off, 0xffffffff);
		if (xr(h, ones[i].off) != ones[i].want)
			fail_msg("0x%03x: 0x%08x, want 0x%08x", ones[i].off, xr(h, ones[i].off), ones[i].want);
	}
	/* Unmask everything, then software-disable: all masked (§10.4.7.2). */
	lapic_reset(h->l, true);
	sw_enable(h);
	for (size_t i = 0; i < sizeof(lvt_regs) / sizeof(lvt_regs[0]); i++) {
		xw(h, lvt_regs[i], 0x30 + (uint32_t)i);
		assert_int_equal(xr(h, lvt_regs[i]), 0x30 + i);
	}
	xw(h, LAPIC_REG_SVR, 0xff);
	for (size_t i = 0; i < sizeof(lvt_regs) / sizeof(lvt_regs[0]); i++)
		assert_int_equal(xr(h, lvt_regs[i]), 0x10030 + i);
	/* The mask cannot be cleared while disabled, and stays after enabling. */
	xw(h, LAPIC_REG_LVT_LINT0, 0x700);
	assert_int_equal(xr(h, LAPIC_REG_LVT_LINT0), 0x10700);
	sw_enable(h);
	assert_int_equal(lapic_lvt(h->l, LAPIC_LVT_LINT0), 0x10700);
	xw(h, LAPIC_REG_LVT_LINT0, 0x700);
	assert_int_equal(lapic_lvt(h->l, LAPIC_LVT_LINT0), 0x700);

	/* x2APIC: reserved bits #GP, read-only bits do not. */
	to_x2apic(h);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_LVT_TIMER), 1u << 20), -1);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_LVT_ERROR), 0x700), -1);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_LVT_LINT1), 1ull << 32), -1);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_TPR), 0x100), -1);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_TDCR), 0x4), -1);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_SVR), 0x400), -1);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_VER), 0), -1);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_PPR), 0), -1);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_IRR), 0), -1);
	assert_int_equal(lapic_msr_write(h->l, LAPIC_MSR(LAPIC_REG_TMCCT), 0), -1);
	mw(h, LAPIC_REG_LVT_LINT1, 0x5400 | 0x400);   /* remote IRR and delivery status: read-only */
	assert_int_equal(mr(h, LAPIC_REG_LVT_LINT1), 0x400);
	mw(h, LAPIC_REG_LVT_TIMER, 0x1000 | 0x20);
	assert_int_equal(mr(h, LAPIC_REG_LVT_TIMER), 0x20);
	rm(h);
}

static void raise_lvt(void **state)
{
	struct h *h = mk(APIC_ID, false);

	(void)state;
	assert_int_equal(lapic_raise_lvt(h->l, LAPIC_LVT_LINT0), -1);      /* masked at reset */
	sw_enable(h);
	xw(h, LAPIC_REG_LVT_LINT0, 0x700);           /* ExtINT */
	xw(h, LAPIC_REG_LVT_LINT1, 0x400);           /* NMI */
	xw(h, LAPIC_REG_LVT_THERMAL, 0x10055);       /* masked */
	xw(h, LAPIC_REG_LVT_PERF, 0x0066);           /* fixed */
	xw(h, LAPIC_REG_LVT_CMCI, 0x0200);           /* SMI */
	assert_int_equal(lapic_raise_lvt(h->l, LAPIC_LVT_LINT0), LAPIC_DM_EXTINT);
	assert_int_equal(lapic_raise_lvt(h->l, LAPIC_LVT_LINT1), LAPIC_DM_NMI);
	assert_int_equal(lapic_raise_lvt(h->l, LAPIC_LVT_THERMAL), -1);
	assert_int_equal(lapic_raise_lvt(h->l, LAPIC_LVT_CMCI), LAPIC_DM_SMI);
	assert_int_equal(xr(h, LAPIC_REG_IRR + 0x30) | xr(h, LAPIC_REG_IRR + 0x20), 0);
	assert_int_equal(lapic_raise_lvt(h->l, LAPIC_LVT_PERF), LAPIC_DM_FIXED);
	assert_true(xbit(h, LAPIC_REG_IRR, 0x66));
	/* A fixed, level-triggered LINT0 sets TMR. */
	xw(h, LAPIC_REG_LVT_LINT0, 0x8077);
	assert_int_equal(lapic_raise_lvt(h->l, LAPIC_LVT_LINT0), LAPIC_DM_FIXED);
	assert_true(xbit(h, LAPIC_REG_TMR, 0x77));
	rm(h);
}

/* ---- timer (§10.5.4) ---------------------------------------------------- */

static void timer_oneshot(void **state)
{
	struct h *h = mk(APIC_ID, false);
	uint64_t t0;

	(void)state;
	sw_enable(h);
	xw(h, LAPIC_REG_TDCR, 0xb);                 /* divide by 1 */
	xw(h, LAPIC_REG_LVT_TIMER, 0x30);           /* one-shot, vector 0x30 */
	t0 = h->now;
	xw(h, LAPIC_REG_TMICT, 1000);
	assert_int_equal(lapic_timer_next_ns(h->l), t0 + 1000);
	assert_int_equal(xr(h, LAPIC_REG_TMCCT), 1000);
	h->now = t0 + 300;
	assert_int_equal(xr(h, LAPIC_REG_TMCCT), 700);
	lapic_timer_update(h->l, t0 + 999, h->tsc);
	assert_false(xbit(h, LAPIC_REG_IRR, 0x30));
	assert_int_equal(atomic_load(&h->nkick), 0);
	h->now = t0 + 1000;
	lapic_timer_update(h->l, h->now, h->tsc);
	assert_true(xbit(h, LAPIC_REG_IRR, 0x30));
	assert_int_equal(atomic_load(&h->nkick), 1);
	assert_int_equal(xr(h, LAPIC_REG_TMCCT), 0);
	assert_int_equal(xr(h, LAPIC_REG_TMICT), 1000);
	assert_int_equal(lapic_timer_next_ns(h->l), 0);
	/* It does not fire again. */
	lapic_ack_vector(h->l, 0x30);
	xw(h, LAPIC_REG_EOI, 0);
	h->now += 1000000;
	lapic_timer_update(h->l, h->now, h->tsc);
	assert_false(xbit(h, LAPIC_REG_IRR, 0x30));
	/* Rewriting TMICT restarts; 0 stops. */
	xw(h, LAPIC_REG_TMICT, 50);
	assert_int_equal(lapic_timer_next_ns(h->l), h->now + 50);
	xw(h, LAPIC_REG_TMICT, 0);
	assert_int_equal(lapic_timer_next_ns(h->l), 0);
	assert_int_equal(xr(h, LAPIC_REG_TMCCT), 0);
	rm(h);
}

static void timer_periodic_divides(void **state)
{
	static const struct { uint32_t tdcr; unsigned int div; } t[] = {
		{ 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 },
		{ 0x8, 32 }, { 0x9, 64 }, { 0xa, 128 }, { 0xb, 1 },
	};
	const uint32_t count = 100000;
	struct h *h = mk(APIC_ID, false);

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t t0, period = (uint64_t)count * t[i].div;

		lapic_reset(h->l, true);
		sw_enable(h);
		xw(h, LAPIC_REG_TDCR, t[i].tdcr);
		xw(h, LAPIC_REG_LVT_TIMER, 0x20000 | 0xec);
		t0 = h->now;
		xw(h, LAPIC_REG_TMICT, count);
		if (lapic_timer_next_ns(h->l) != t0 + period)
			fail_msg("divide %u: next %llu, want %llu", t[i].div,
				 (unsigned long long)(lapic_timer_next_ns(h->l) - t0),
				 (unsigned long long)period);
		h->now = t0 + period / 2;
		assert_int_equal(xr(h, LAPIC_REG_TMCCT), count / 2);
		h->now = t0 + period - 1;
		assert_int_equal(xr(h, LAPIC_REG_TMCCT), 1);
		lapic_timer_update(h->l, h->now, 0);
		assert_false(xbit(h, LAPIC_REG_IRR, 0xec));
		/* First period. */
		h->now = t0 + period;
		lapic_timer_update(h->l, h->now, 0);
		assert_true(xbit(h, LAPIC_REG_IRR, 0xec));
		assert_int_equal(lapic_timer_next_ns(h->l), t0 + 2 * period);
		assert_int_equal(xr(h, LAPIC_REG_TMCCT), count);   /* reloaded */
		lapic_ack_vector(h->l, 0xec);
		xw(h, LAPIC_REG_EOI, 0);
		/* Late by 3.5 periods: one interrupt, the next on the period grid. */
		h->now = t0 + 5 * period + period / 2;
		assert_int_equal(xr(h, LAPIC_REG_TMCCT), count / 2);
		lapic_timer_update(h->l, h->now, 0);
		assert_true(xbit(h, LAPIC_REG_IRR, 0xec));
		assert_int_equal(lapic_timer_next_ns(h->l), t0 + 6 * period);
		h->now += 1;
	}
	rm(h);
}

static void timer_ccr_decreases(void **state)
{
	struct h *h = mk(APIC_ID, false);
	uint32_t prev = UINT32_MAX;
	uint64_t t0;

	(void)state;
	sw_enable(h);
	xw(h, LAPIC_REG_TDCR, 0x3);                 /* divide by 16 */
	xw(h, LAPIC_REG_LVT_TIMER, 0x40);
	t0 = h->now;
	xw(h, LAPIC_REG_TMICT, 5000);
	for (uint64_t dt = 0; dt < 5000 * 16; dt += 777) {
		uint32_t c;

		h->now = t0 + dt;
		c = xr(h, LAPIC_REG_TMCCT);
		assert_true(c < prev);
		assert_int_equal(c, 5000 - dt / 16);
		prev = c;
	}
	/* A divide change mid-count keeps the count and slows it down. */
	h->now = t0 + 16 * 1000;
	assert_int_equal(xr(h, LAPIC_REG_TMCCT), 4000);
	xw(h, LAPIC_REG_TDCR, 0xa);                 /* divide by 128 */
	assert_int_equal(xr(h, LAPIC_REG_TMCCT), 4000);
	assert_int_equal(lapic_timer_next_ns(h->l), h->now + 4000ull * 128);
	h->now += 128 * 10;
	assert_int_equal(xr(h, LAPIC_REG_TMCCT), 3990);
	rm(h);
}

static void timer_masked(void **state)
{
	struct h *h = mk(APIC_ID, false);
	uint64_t t0;

	(void)state;
	sw_enable(h);
	xw(h, LAPIC_REG_TDCR, 0xb);
	xw(h, LAPIC_REG_LVT_TIMER, 0x30000 | 0x50);  /* periodic, masked */
	t0 = h->now;
	xw(h, LAPIC_REG_TMICT, 100000);
	h->now = t0 + 100000;
	lapic_timer_update(h->l, h->now, 0);
	assert_int_equal(xr(h, LAPIC_REG_IRR + 0x20), 0);
	assert_int_equal(atomic_load(&h->nkick), 0);
	assert_int_equal(read_esr(h), 0);
	/* It kept counting: the next period is armed; unmasking lets it through. */
	assert_int_equal(lapic_timer_next_ns(h->l), t0 + 200000);
	xw(h, LAPIC_REG_LVT_TIMER, 0x20000 | 0x50);
	h->now = t0 + 200000;
	lapic_timer_update(h->l, h->now, 0);
	assert_true(xbit(h, LAPIC_REG_IRR, 0x50));
	/* Software-disabled: LVT masked, nothing fires. */
	lapic_ack_vector(h->l, 0x50);
	xw(h, LAPIC_REG_EOI, 0);
	xw(h, LAPIC_REG_SVR, 0xff);
	h->now = t0 + 300000;
	lapic_timer_update(h->l, h->now, 0);
	assert_false(xbit(h, LAPIC_REG_IRR, 0x50));
	/* An illegal timer vector: receive illegal vector, no IRR. */
	sw_enable(h);
	xw(h, LAPIC_REG_LVT_TIMER, 0x20000 | 0x08);
	h->now = t0 + 400000;
	lapic_timer_update(h->l, h->now, 0);
	assert_int_equal(xr(h, LAPIC_REG_IRR), 0);
	assert_int_equal(read_esr(h), LAPIC_ESR_RECV_ILLEGAL_VECTOR);
	rm(h);
}

static void timer_min_period(void **state)
{
	struct h *h = mk(APIC_ID, false);
	uint64_t t0;

	(void)state;
	sw_enable(h);
	xw(h, LAPIC_REG_TDCR, 0xb);
	xw(h, LAPIC_REG_LVT_TIMER, 0x20000 | 0x50);
	t0 = h->now;
	xw(h, LAPIC_REG_TMICT, 10);                 /* 10 ns periodic: raised */
	assert_int_equal(lapic_timer_next_ns(h->l), t0 + LAPIC_TIMER_MIN_PERIOD_NS);
	assert_true(logged(h, "period raised"));
	/* One-shot is not limited. */
	xw(h, LAPIC_REG_LVT_TIMER, 0x50);
	xw(h, LAPIC_REG_TMICT, 10);
	assert_int_equal(lapic_timer_next_ns(h->l), t0 + 10);
	rm(h);
}

static void timer_tsc_deadline(void **state)
{
	struct h *h = mk(APIC_ID, false);

	(void)state;
	sw_enable(h);
	/* Not in TSC-deadline mode: the MSR reads 0 and ignores writes. */
	lapic_set_tsc_deadline(h->l, h->tsc + 100, h->tsc);
	assert_int_equal(lapic_get_tsc_deadline(h->l), 0);
	assert_int_equal(lapic_timer_next_ns(h->l), 0);

	/* A running one-shot count is disarmed by the move to TSC-deadline mode. */
	xw(h, LAPIC_REG_LVT_TIMER, 0x60);
	xw(h, LAPIC_REG_TMICT, 1000);
	assert_int_not_equal(lapic_timer_next_ns(h->l), 0);
	xw(h, LAPIC_REG_LVT_TIMER, 0x40000 | 0x60);
	assert_int_equal(lapic_timer_next_ns(h->l), 0);
	assert_int_equal(xr(h, LAPIC_REG_TMICT), 0);
	xw(h, LAPIC_REG_TMICT, 1000);               /* ignored in this mode */
	assert_int_equal(xr(h, LAPIC_REG_TMICT), 0);
	assert_int_equal(xr(h, LAPIC_REG_TMCCT), 0);

	/* Arm 4000 ticks (4000 ns at 1 GHz) ahead. */
	lapic_set_tsc_deadline(h->l, h->tsc + 4000, h->tsc);
	assert_int_equal(lapic_get_tsc_deadline(h->l), h->tsc + 4000);
	assert_int_equal(lapic_timer_next_ns(h->l), h->now + 4000);
	h->now += 3999;
	h->tsc += 3999;
	lapic_timer_update(h->l, h->now, h->tsc);
	assert_false(xbit(h, LAPIC_REG_IRR, 0x60));
	h->now += 1;
	h->tsc += 1;
	lapic_timer_update(h->l, h->now, h->tsc);
	assert_true(xbit(h, LAPIC_REG_IRR, 0x60));
	assert_int_equal(lapic_get_tsc_deadline(h->l), 0);   /* fired: disarmed */
	assert_int_equal(lapic_timer_next_ns(h->l), 0);
	lapic_ack_vector(h->l, 0x60);
	xw(h, LAPIC_REG_EOI, 0);

	/* A deadline already reached fires at once; 0 disarms. */
	lapic_set_tsc_deadline(h->l, h->tsc - 1, h->tsc);
	assert_true(xbit(h, LAPIC_REG_IRR, 0x60));
	lapic_ack_vector(h->l, 0x60);
	xw(h, LAPIC_REG_EOI, 0);
	lapic_set_tsc_deadline(h->l, h->tsc, h->tsc);
	assert_true(xbit(h, LAPIC_REG_IRR, 0x60));
	assert_int_equal(lapic_get_tsc_deadline(h->l), 0);
	lapic_ack_vector(h->l, 0x60);
	xw(h, LAPIC_REG_EOI, 0);
	lapic_set_tsc_deadline(h->l, h->tsc + 10, h->tsc);
	lapic_set_tsc_deadline(h->l, 0, h->tsc);
	h->tsc += 100;
	lapic_timer_update(h->l, h->now + 100, h->tsc);
	assert_false(xbit(h, LAPIC_REG_IRR, 0x60));

	/* A 2 GHz TSC: 1000 ticks are 500 ns. */
	lapic_set_clock(h->l, fake_now, NULL, 2000000, h);
	lapic_set_tsc_deadline(h->l, h->tsc + 1000, h->tsc);
	assert_int_equal(lapic_timer_next_ns(h->l), h->now + 500);
	/* The ns estimate running early re-arms on the TSC, never fires early. */
	lapic_timer_update(h->l, h->now + 500, h->tsc + 998);
	assert_false(xbit(h, LAPIC_REG_IRR, 0x60));
	assert_int_equal(lapic_timer_next_ns(h->l), h->now + 500 + 1);
	/* Masked: disarms, sets nothing. */
	xw(h, LAPIC_REG_LVT_TIMER, 0x50000 | 0x60);
	lapic_timer_update(h->l, h->now + 600, h->tsc + 1000);
	assert_false(xbit(h, LAPIC_REG_IRR, 0x60));
	assert_int_equal(lapic_get_tsc_deadline(h->l), 0);
	/* Leaving TSC-deadline mode disarms. */
	xw(h, LAPIC_REG_LVT_TIMER, 0x40000 | 0x60);
	lapic_set_tsc_deadline(h->l, h->tsc + 5000, h->tsc);
	xw(h, LAPIC_REG_LVT_TIMER, 0x60);
	assert_int_equal(lapic_get_tsc_deadline(h->l), 0);
	assert_int_equal(lapic_timer_next_ns(h->l), 0);
	rm(h);
}

/* ---- MMIO access sizes ----------------------------------------------------- */

static void mmio_sizes(void **state)
{
	struct h *h = mk(APIC_ID, false);
	uint8_t b;
	uint16_t w;
	uint64_t q;

	(void)state;
	lapic_mmio_read(h->l, LAPIC_REG_VER + 2, &b, 1);
	assert_int_equal(b, 0x06);
	lapic_mmio_read(h->l, LAPIC_REG_VER, &w, 2);
	assert_int_equal(w, 0x0014);
	lapic_mmio_read(h->l, LAPIC_REG_ID + 3, &b, 1);
	assert_int_equal(b, APIC_ID);
	lapic_mmio_read(h->l, LAPIC_REG_VER + 4, &b, 1);      /* padding */
	assert_int_equal(b, 0);
	lapic_mmio_read(h->l, LAPIC_REG_SVR, &q, 8);          /* the register and 4 bytes of padding */
	assert_int_equal(q, 0xff);
	assert_int_equal(read_esr(h), 0);
	/* Writes other than aligned 32-bit are ignored and logged. */
	w = 0x55;
	lapic_mmio_write(h->l, LAPIC_REG_TPR, &w, 2);
	assert_int_equal(xr(h, LAPIC_REG_TPR), 0);
	assert_true(logged(h, "ignored"));
	xw(h, LAPIC_REG_TPR + 4, 0x55);
	assert_int_equal(xr(h, LAPIC_REG_TPR), 0);
	/* Read-only registers: ignored, logged. */
	h->nlog = 0;
	xw(h, LAPIC_REG_VER, 0);
	xw(h, LAPIC_REG_PPR, 0x50);
	xw(h, LAPIC_REG_TMCCT, 5);
	assert_int_equal(xr(h, LAPIC_REG_VER), 0x00060014);
	assert_int_equal(h->nlog, 3);
	assert_true(logged(h, "read-only register version"));
	rm(h);
}

/* ---- concurrency (run under TSan) ---------------------------------------- */

#define SENDERS 4
#define ROUNDS 2000

struct conc {
	struct h *h;
	atomic_uint done[SENDERS];   /* interrupts of each sender the owner retired */
	atomic_bool stop;
	int idx;
};

struct sender_arg {
	struct conc *c;
	int idx;
	unsigned int dropped;
};

static void *sender(void *p)
{
	struct sender_arg *a = p;
	uint8_t vec = (uint8_t)(0x40 + 0x20 * a->idx);   /* one class per sender */

	for (unsigned int r = 0; r < ROUNDS; r++) {
		/* One interrupt in flight at a time, so none coalesce. */
		if (!lapic_accept_irq(a->c->h->l, vec, a->idx & 1))
			a->dropped++;
		while (atomic_load(&a->c->done[a->idx]) <= r && !atomic_load(&a->c->stop))
			sched_yield();
	}
	return NULL;
}

static void concurrent_accept(void **state)
{
	static struct conc c;
	struct sender_arg args[SENDERS];
	pthread_t th[SENDERS];
	struct h *h = mk(APIC_ID, false);
	unsigned int total = 0, spins = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.h = h;
	sw_enable(h);
	for (int i = 0; i < SENDERS; i++) {
		args[i] = (struct sender_arg){ &c, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, sender, &args[i]), 0);
	}
	/* The owner: take the highest pending, EOI it, count it. */
	while (total < SENDERS * ROUNDS && spins < 200000000u) {
		int v = lapic_pending_vector(h->l);

		if (v < 0) {
			spins++;
			(void)xr(h, LAPIC_REG_IRR + 0x20);
			sched_yield();
			continue;
		}
		lapic_ack_vector(h->l, (uint8_t)v);
		assert_true(xbit(h, LAPIC_REG_ISR, (unsigned int)v));
		xw(h, LAPIC_REG_EOI, 0);
		atomic_fetch_add(&c.done[(v - 0x40) / 0x20], 1);
		total++;
	}
	atomic_store(&c.stop, true);
	for (int i = 0; i < SENDERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].dropped, 0);
		assert_int_equal(atomic_load(&c.done[i]), ROUNDS);
	}
	assert_int_equal(total, SENDERS * ROUNDS);
	assert_int_equal(atomic_load(&h->nkick), SENDERS * ROUNDS);
	assert_int_equal(h->neoi, SENDERS * ROUNDS / 2);   /* the odd senders were level */
	for (unsigned int i = 0; i < 8; i++) {
		assert_int_equal(xr(h, LAPIC_REG_IRR + 0x10 * i), 0);
		assert_int_equal(xr(h, LAPIC_REG_ISR + 0x10 * i), 0);
	}
	rm(h);
}

/* A self-IPI through send_ipi may call back into the sending APIC: no deadlock. */
static void cb_send_deliver(void *o, struct lapic *from, const struct icr *icr)
{
	cb_send(o, from, icr);
	if (icr->delivery == ICR_FIXED)
		lapic_accept_irq(from, icr->vector, icr->level_trigger);
}

static void self_ipi_via_send(void **state)
{
	static const struct lapic_ops ops2 = { cb_send_deliver, cb_kick, cb_eoi, cb_log, NULL };
	struct h *h = calloc(1, sizeof(*h));

	(void)state;
	assert_non_null(h);
	h->l = lapic_create(0, 0, true, &ops2, h);
	assert_non_null(h->l);
	sw_enable(h);
	xw(h, LAPIC_REG_ICR, 0x00044077);          /* fixed 0x77 to self */
	assert_int_equal(h->nsend, 1);
	assert_true(xbit(h, LAPIC_REG_IRR, 0x77));
	assert_int_equal(lapic_pending_vector(h->l), 0x77);
	assert_int_equal(lapic_vcpu_id(h->l), 0);
	rm(h);
}

/*
 * Saved in x2APIC mode with an interrupt in service, another pending and
 * the one-shot timer running: another local APIC loaded from it reads the
 * same registers and fires its timer at the same time on the same clock.
 */
static void save_load(void **state)
{
	struct h *h = mk(X2_ID, false), *g = mk(X2_ID, false); /* the same CPU in another process */
	struct lapic_state s, s2;
	char err[160] = "";

	(void)state;
	to_x2apic(h);
	sw_enable(h);
	assert_true(lapic_accept_irq(h->l, 0x51, false));
	assert_int_equal(lapic_pending_vector(h->l), 0x51);
	lapic_ack_vector(h->l, 0x51);
	assert_true(lapic_accept_irq(h->l, 0x41, false));  /* below the one in service: waits */
	mw(h, LAPIC_REG_TDCR, 0xb);                         /* divide by 1 */
	mw(h, LAPIC_REG_LVT_TIMER, 0x60);
	mw(h, LAPIC_REG_TMICT, 5000);
	lapic_save(h->l, &s);
	g->now = h->now;
	assert_int_equal(lapic_load(g->l, &s, NULL, 0), 0);
	lapic_save(g->l, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	assert_true(lapic_x2apic_mode(g->l));
	assert_int_equal(lapic_id(g->l), X2_ID);
	static const uint32_t regs[] = { 0x20, 0x80, 0xd0, 0xf0, 0x100, 0x150, 0x180, 0x200, 0x240, 0x250,
					 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x3e0 };
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		assert_int_equal(mr(g, regs[i]), mr(h, regs[i]));
	assert_int_equal(lapic_timer_next_ns(g->l), lapic_timer_next_ns(h->l));
	assert_int_equal(lapic_pending_vector(g->l), -1);   /* 0x41 still held off by 0x51 */
	mw(g, 0xb0, 0);                                     /* EOI */
	assert_int_equal(lapic_pending_vector(g->l), 0x41);

	s.base |= 1;
	assert_int_equal(lapic_load(g->l, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "IA32_APIC_BASE"));
	s.base = LAPIC_BASE_EXTD | 0xfee00000u;             /* x2APIC without EN */
	assert_int_equal(lapic_load(g->l, &s, err, sizeof(err)), -1);
	s.base = LAPIC_BASE_EN | LAPIC_BASE_EXTD | 0xfee00000u;
	s.tdcr = 0x4;
	assert_int_equal(lapic_load(g->l, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "timer state"));
	rm(h);
	rm(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reset_values),
		cmocka_unit_test(save_load),
		cmocka_unit_test(init_keeps_x2apic),
		cmocka_unit_test(bsp_bit),
		cmocka_unit_test(base_transitions),
		cmocka_unit_test(disable_loses_state),
		cmocka_unit_test(id_and_ldr),
		cmocka_unit_test(tpr_ppr),
		cmocka_unit_test(irr_isr_order),
		cmocka_unit_test(eoi_tmr),
		cmocka_unit_test(accept_disabled),
		cmocka_unit_test(illegal_vectors_esr),
		cmocka_unit_test(icr_xapic),
		cmocka_unit_test(icr_x2apic),
		cmocka_unit_test(icr_bad_logged),
		cmocka_unit_test(self_ipi_msr),
		cmocka_unit_test(self_ipi_via_send),
		cmocka_unit_test(lvt_masks),
		cmocka_unit_test(raise_lvt),
		cmocka_unit_test(timer_oneshot),
		cmocka_unit_test(timer_periodic_divides),
		cmocka_unit_test(timer_ccr_decreases),
		cmocka_unit_test(timer_masked),
		cmocka_unit_test(timer_min_period),
		cmocka_unit_test(timer_tsc_deadline),
		cmocka_unit_test(mmio_sizes),
		cmocka_unit_test(concurrent_accept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
