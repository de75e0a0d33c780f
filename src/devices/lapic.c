/*
 * Local APIC device model (see lapic.h). References are to the Intel SDM
 * vol. 3A chapter 10.
 *
 * State and modes (§10.4.3, §10.12.5). IA32_APIC_BASE holds EN (global
 * enable) and EXTD (x2APIC); together they give four states: disabled
 * (EN=0 EXTD=0), xAPIC (1 0), x2APIC (1 1) and an invalid one (0 1). The
 * legal moves are disabled <-> xAPIC, xAPIC -> x2APIC and x2APIC ->
 * disabled; the rest raise #GP. Clearing EN may lose the APIC's programming
 * (§10.4.3: "may return to the state described in §10.4.7.1"): here it
 * always does, everything but the ID returning to its reset value, the
 * timer stopping. Entering x2APIC keeps every register but gives the APIC
 * its 32-bit x2APIC ID (the initial one) and the logical ID derived from
 * it (§10.12.10.2); state not defined across that move is kept as it was.
 *
 * The software enable (SVR bit 8, §10.4.7.2) is separate: a software-
 * disabled APIC keeps IRR and ISR, still sends IPIs and still takes INIT,
 * NMI, SMI and SIPI (that is the VMM's part), but drops fixed and lowest-
 * priority interrupts and holds every LVT entry masked.
 *
 * Registers live in struct lapic as named fields, not as a 4 KiB image:
 * the xAPIC MMIO and x2APIC MSR paths both go through reg_read_locked()
 * and reg_write_locked(), which take the register offset and the mode.
 * They check the access, then hand each register group to its own step
 * (LVT, SVR, ESR, ICR, EOI, ...), which says what the register does and
 * where the SDM says so. The timer and its registers (LVT timer mode,
 * TMICT, TMCCT, TDCR, IA32_TSC_DEADLINE) are in lapic_timer.c; what the two
 * files share is in lapic_internal.h.
 *
 * Interrupt flow (§10.8): an accepted interrupt sets its IRR bit (and its
 * TMR bit for level, clears it for edge); the VMM asks
 * lapic_pending_vector() for the highest IRR vector whose priority class
 * beats PPR, injects it and calls lapic_ack_vector(), which moves it to
 * ISR; the guest's EOI clears the highest ISR bit, and for a level-
 * triggered vector the VMM hears of it (ops->eoi) for its IOAPIC.
 *
 * Locking: one mutex per APIC. Work that calls out (send_ipi, kick, eoi,
 * log) is collected in a struct deferred while the lock is held and run
 * after it is released (la_unlock_and_run()).
 */
#include "devices/lapic_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apic_dest.h"
#include "core/errmsg.h"
#include "core/icr.h"

/* ICR bits the xAPIC ICR low register keeps (Figure 10-12): vector,
 * delivery mode, destination mode, level, trigger, shorthand. Bit 12
 * (delivery status) reads 0: delivery is instant. */
#define ICR_LOW_WRITABLE   0x000ccfffu
#define X2APIC_ICR_STATUS  (1ull << 12)
#define XAPIC_ID_MASK      0xff000000u
#define DFR_MODEL_MASK     0xf0000000u

/* ---- deferred callbacks ---------------------------------------------- */

/* A message for ops->log, prefixed with the vCPU. */
void la_dlog(const struct lapic *l, struct deferred *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->nlog >= LOG_SLOTS || !l->ops.log)
		return;
	n = snprintf(d->log[d->nlog], LOG_LEN, "vCPU %u: local APIC: ", l->vcpu_id);
	if (n < 0 || n >= LOG_LEN)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(d->log[d->nlog] + n, (size_t)(LOG_LEN - n), fmt, ap);
	va_end(ap);
	d->nlog++;
}

/* Releases the lock, then makes the calls collected in `d`. */
void la_unlock_and_run(struct lapic *l, struct deferred *d)
{
	const struct lapic_ops *ops = &l->ops;   /* set at create, never changed */

	pthread_mutex_unlock(&l->lock);
	for (unsigned int i = 0; i < d->nlog; i++)
		ops->log(l->opaque, l->vcpu_id, d->log[i]);
	if (d->eoi >= 0 && ops->eoi)
		ops->eoi(l->opaque, l->vcpu_id, (uint8_t)d->eoi);
	if (d->kick && ops->kick)
		ops->kick(l->opaque, l->vcpu_id);
	if (d->dest_changed && ops->dest_changed)
		ops->dest_changed(l->opaque, l->vcpu_id);
	if (d->send && ops->send_ipi)
		ops->send_ipi(l->opaque, l, &d->icr);
}

/* ---- small helpers ----------------------------------------------------- */

static bool vec_test(const uint32_t *r, unsigned int v)
{
	return (r[v >> 5] >> (v & 31)) & 1u;
}

static void vec_set(uint32_t *r, unsigned int v)
{
	r[v >> 5] |= 1u << (v & 31);
}

static void vec_clear(uint32_t *r, unsigned int v)
{
	r[v >> 5] &= ~(1u << (v & 31));
}

static int vec_highest(const uint32_t *r)
{
	for (int i = 7; i >= 0; i--)
		if (r[i])
			return i * 32 + 31 - __builtin_clz(r[i]);
	return -1;
}

static bool x2apic(const struct lapic *l)
{
	return (l->base & (LAPIC_BASE_EN | LAPIC_BASE_EXTD)) == (LAPIC_BASE_EN | LAPIC_BASE_EXTD);
}

static bool sw_enabled(const struct lapic *l)
{
	return l->svr & LAPIC_SVR_ENABLE;
}

/*
 * PPR (§10.8.3.1): with ISRV the highest in-service vector (0 if none),
 * PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] << 4 (low bits 0).
 */
static uint32_t ppr_locked(const struct lapic *l)
{
	int isrv = vec_highest(l->isr);
	uint32_t isr_class = isrv < 0 ? 0 : ((uint32_t)isrv & 0xf0u);

	if ((l->tpr & 0xf0u) >= isr_class)
		return l->tpr & 0xffu;
	return isr_class;
}

/* Sets IRR (and TMR for level, §10.8.4); kicks if the bit was clear. */
static void set_irr(struct lapic *l, uint8_t v, bool level, struct deferred *d)
{
	if (!vec_test(l->irr, v)) {
		vec_set(l->irr, v);
		d->kick = true;
	}
	if (level)
		vec_set(l->tmr, v);
	else
		vec_clear(l->tmr, v);
}

/*
 * An error the APIC detected (§10.5.3): the bits collect in the ESR until
 * the next ESR write makes them readable, and each error raises the LVT
 * error interrupt unless it is masked. An error LVT whose own vector is
 * illegal adds "receive illegal vector" and raises nothing.
 */
static void raise_error(struct lapic *l, uint32_t bits, struct deferred *d)
{
	uint32_t lvt = l->lvt[LAPIC_LVT_ERROR];

	l->esr_pending |= bits & 0xffu;
	if (lvt & LAPIC_LVT_MASKED)
		return;
	if (LAPIC_LVT_VECTOR(lvt) < 16) {
		l->esr_pending |= LAPIC_ESR_RECV_ILLEGAL_VECTOR;
		return;
	}
	set_irr(l, LAPIC_LVT_VECTOR(lvt), false, d);
}

/*
 * An interrupt this APIC generated or received for itself (LVT, self-IPI,
 * accepted message). Vectors 0-15 are illegal (§10.5.2): "receive illegal
 * vector", never an IRR bit.
 */
bool la_deliver_local(struct lapic *l, uint8_t v, bool level, struct deferred *d)
{
	if (v < 16) {
		raise_error(l, LAPIC_ESR_RECV_ILLEGAL_VECTOR, d);
		return false;
	}
	set_irr(l, v, level, d);
	return true;
}

/* ---- reset -------------------------------------------------------------- */

/*
 * Every register but the ID and IA32_APIC_BASE to its power-up value
 * (§10.4.7.1, §10.12.5.1): IRR, ISR, TMR, ICR, LDR, TPR, ESR, timer counts
 * and divide 0; DFR all 1s; LVT entries 0 with the mask bit set; SVR FFH
 * (software-disabled).
 */
static void reset_regs(struct lapic *l)
{
	l->tpr = 0;
	l->ldr = 0;
	l->dfr = 0xffffffffu;
	l->svr = 0xffu;
	memset(l->isr, 0, sizeof(l->isr));
	memset(l->tmr, 0, sizeof(l->tmr));
	memset(l->irr, 0, sizeof(l->irr));
	l->esr = l->esr_pending = 0;
	l->icr = 0;
	for (int i = 0; i < LAPIC_LVT_COUNT; i++)
		l->lvt[i] = LAPIC_LVT_MASKED;
	l->tmict = 0;
	l->tdcr = 0;
	la_timer_disarm(l);
}

static void reset_locked(struct lapic *l, bool init)
{
	reset_regs(l);
	if (init)
		return;   /* INIT keeps the ID and IA32_APIC_BASE (§10.4.7.3, §10.12.5.1) */
	l->base = LAPIC_DEFAULT_BASE | LAPIC_BASE_EN | (l->bsp_at_reset ? LAPIC_BASE_BSP : 0);
	l->id_reg = (l->initial_id & 0xffu) << 24;
}

struct lapic *lapic_create(unsigned int vcpu_id, uint32_t apic_id, bool bsp,
			   const struct lapic_ops *ops, void *opaque)
{
	struct lapic *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	if (pthread_mutex_init(&l->lock, NULL) != 0) {
		free(l);
		return NULL;
	}
	l->vcpu_id = vcpu_id;
	l->initial_id = apic_id;
	l->bsp_at_reset = bsp;
	if (ops)
		l->ops = *ops;
	l->opaque = opaque;
	l->maxphyaddr = 52;
	la_clock_init(l);
	reset_locked(l, false);
	return l;
}

void lapic_destroy(struct lapic *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

void lapic_reset(struct lapic *l, bool init)
{
	struct deferred d = { .eoi = -1, .dest_changed = true };

	lock(l);
	reset_locked(l, init);
	la_unlock_and_run(l, &d);
}

/* ---- IA32_APIC_BASE (§10.4.4, §10.12.5) -------------------------------- */

enum apic_state { ST_DISABLED, ST_INVALID, ST_XAPIC, ST_X2APIC };

static enum apic_state base_state(uint64_t base)
{
	bool en = base & LAPIC_BASE_EN, extd = base & LAPIC_BASE_EXTD;

	return en ? (extd ? ST_X2APIC : ST_XAPIC) : (extd ? ST_INVALID : ST_DISABLED);
}

uint64_t lapic_get_base(struct lapic *l)
{
	uint64_t v;

	lock(l);
	v = l->base;
	pthread_mutex_unlock(&l->lock);
	return v;
}

int lapic_set_base(struct lapic *l, uint64_t value)
{
	struct deferred d = DEFERRED_INIT;
	uint64_t reserved = 0xffull | (1ull << 9);
	enum apic_state from, to;
	int rc = -1;

	lock(l);
	if (l->maxphyaddr < 64)
		reserved |= ~((1ull << l->maxphyaddr) - 1);
	from = base_state(l->base);
	to = base_state(value);
	if (value & reserved) {
		la_dlog(l, &d, "IA32_APIC_BASE write 0x%016" PRIx64 ": reserved bits 0x%" PRIx64 " set: #GP",
		        value, value & reserved);
	} else if (to == ST_INVALID) {
		la_dlog(l, &d, "IA32_APIC_BASE write 0x%016" PRIx64 ": EXTD=1 with EN=0 is invalid: #GP", value);
	} else if (from == ST_X2APIC && to == ST_XAPIC) {
		la_dlog(l, &d, "IA32_APIC_BASE write 0x%016" PRIx64 ": x2APIC -> xAPIC must go through disabled: #GP",
		        value);
	} else if (from == ST_DISABLED && to == ST_X2APIC) {
		la_dlog(l, &d, "IA32_APIC_BASE write 0x%016" PRIx64 ": disabled -> x2APIC must go through xAPIC: #GP",
		        value);
	} else {
		/* Leaving the enabled states loses the APIC's programming (§10.4.3). */
		if (from != ST_DISABLED && to == ST_DISABLED)
			reset_regs(l);
		/* Entering x2APIC: the x2APIC ID is the initial one, whose low
		 * byte is the legacy xAPIC ID (§10.12.5.1); the LDR follows from it. */
		if (from == ST_XAPIC && to == ST_X2APIC)
			l->id_reg = (l->initial_id & 0xffu) << 24;
		/* The BSP flag is read/write (IA32_APIC_BASE in vol. 4, Table 2-2). */
		l->base = value;
		d.dest_changed = true;
		rc = 0;
	}
	la_unlock_and_run(l, &d);
	return rc;
}

void lapic_set_maxphyaddr(struct lapic *l, unsigned int bits)
{
	lock(l);
	l->maxphyaddr = bits < 32 ? 32 : bits > 64 ? 64 : bits;
	pthread_mutex_unlock(&l->lock);
}

bool lapic_hw_enabled(struct lapic *l)
{
	bool r;

	lock(l);
	r = hw_enabled(l);
	pthread_mutex_unlock(&l->lock);
	return r;
}

bool lapic_x2apic_mode(struct lapic *l)
{
	bool r;

	lock(l);
	r = x2apic(l);
	pthread_mutex_unlock(&l->lock);
	return r;
}

bool lapic_xapic_mmio_enabled(struct lapic *l)
{
	bool r;

	lock(l);
	r = base_state(l->base) == ST_XAPIC;
	pthread_mutex_unlock(&l->lock);
	return r;
}

/* ---- the register file -------------------------------------------------- */

/* Which access each register allows in each mode (Table 10-1, Table 10-6). */
enum {
	XR = 1,   /* xAPIC read */
	XW = 2,   /* xAPIC write */
	X2R = 4,  /* x2APIC RDMSR */
	X2W = 8,  /* x2APIC WRMSR */
};

struct reg_info {
	const char *name;
	unsigned int access;
	uint32_t x2_defined;  /* x2APIC: bits a WRMSR may set; the rest are reserved (#GP, §10.12.1.3) */
};

static uint32_t svr_writable(const struct lapic *l)
{
	/* Vector 7:0, software enable 8, focus processor checking 9, and
	 * EOI-broadcast suppression 12 when offered (Figure 10-23). */
	return 0x3ffu | (l->eoi_suppress_ok ? LAPIC_SVR_EOI_SUPPRESS : 0);
}

/*
 * Writable bits of each LVT entry (Figure 10-8). Delivery status (12) and
 * remote IRR (14) exist but are read-only; the rest are reserved.
 *   timer:           vector, mask, timer mode 18:17
 *   thermal/perf/CMCI: vector, delivery mode 10:8, mask
 *   LINT0/LINT1:     vector, delivery mode, polarity 13, trigger 15, mask
 *   error:           vector, mask
 */
static uint32_t lvt_writable(enum lapic_lvt which)
{
	switch (which) {
	case LAPIC_LVT_TIMER:   return 0x000700ffu;
	case LAPIC_LVT_THERMAL:
	case LAPIC_LVT_PERF:
	case LAPIC_LVT_CMCI:    return 0x000107ffu;
	case LAPIC_LVT_LINT0:
	case LAPIC_LVT_LINT1:   return 0x0001a7ffu;
	case LAPIC_LVT_ERROR:   return 0x000100ffu;
	}
	return 0;
}

static int lvt_of(uint32_t off)
{
	switch (off) {
	case LAPIC_REG_LVT_TIMER:   return LAPIC_LVT_TIMER;
	case LAPIC_REG_LVT_THERMAL: return LAPIC_LVT_THERMAL;
	case LAPIC_REG_LVT_PERF:    return LAPIC_LVT_PERF;
	case LAPIC_REG_LVT_LINT0:   return LAPIC_LVT_LINT0;
	case LAPIC_REG_LVT_LINT1:   return LAPIC_LVT_LINT1;
	case LAPIC_REG_LVT_ERROR:   return LAPIC_LVT_ERROR;
	case LAPIC_REG_LVT_CMCI:    return LAPIC_LVT_CMCI;
	}
	return -1;
}

static struct reg_info lvt_reg_info(enum lapic_lvt lvt)
{
	/* Delivery status, and remote IRR of LINT0/1, are read-only, not reserved. */
	uint32_t ro = LAPIC_LVT_PENDING |
		      (lvt == LAPIC_LVT_LINT0 || lvt == LAPIC_LVT_LINT1 ? LAPIC_LVT_REMOTE_IRR : 0);

	static const char *const names[LAPIC_LVT_COUNT] = {
		"LVT timer", "LVT thermal", "LVT perf", "LVT LINT0", "LVT LINT1",
		"LVT error", "LVT CMCI",
	};

	return (struct reg_info){ names[lvt], XR | XW | X2R | X2W, lvt_writable(lvt) | ro };
}

static bool reg_lookup(const struct lapic *l, uint32_t off, struct reg_info *ri)
{
	int lvt = lvt_of(off);

	if (lvt >= 0) {
		*ri = lvt_reg_info((enum lapic_lvt)lvt);
		return true;
	}
	if (off >= LAPIC_REG_ISR && off < LAPIC_REG_ISR + 0x80) {
		*ri = (struct reg_info){ "ISR", XR | X2R, 0 };
		return true;
	}
	if (off >= LAPIC_REG_TMR && off < LAPIC_REG_TMR + 0x80) {
		*ri = (struct reg_info){ "TMR", XR | X2R, 0 };
		return true;
	}
	if (off >= LAPIC_REG_IRR && off < LAPIC_REG_IRR + 0x80) {
		*ri = (struct reg_info){ "IRR", XR | X2R, 0 };
		return true;
	}
	switch (off) {
	case LAPIC_REG_ID:    *ri = (struct reg_info){ "ID", XR | XW | X2R, 0 }; return true;
	case LAPIC_REG_VER:   *ri = (struct reg_info){ "version", XR | X2R, 0 }; return true;
	case LAPIC_REG_TPR:   *ri = (struct reg_info){ "TPR", XR | XW | X2R | X2W, 0xffu }; return true;
	case LAPIC_REG_APR:   *ri = (struct reg_info){ "APR", XR, 0 }; return true;
	case LAPIC_REG_PPR:   *ri = (struct reg_info){ "PPR", XR | X2R, 0 }; return true;
	case LAPIC_REG_EOI:   *ri = (struct reg_info){ "EOI", XW | X2W, 0 }; return true;
	case LAPIC_REG_RRD:   *ri = (struct reg_info){ "RRD", XR, 0 }; return true;
	case LAPIC_REG_LDR:   *ri = (struct reg_info){ "LDR", XR | XW | X2R, 0 }; return true;
	case LAPIC_REG_DFR:   *ri = (struct reg_info){ "DFR", XR | XW, 0 }; return true;
	case LAPIC_REG_SVR:   *ri = (struct reg_info){ "SVR", XR | XW | X2R | X2W, svr_writable(l) }; return true;
	case LAPIC_REG_ESR:   *ri = (struct reg_info){ "ESR", XR | XW | X2R | X2W, 0 }; return true;
	case LAPIC_REG_ICR:   *ri = (struct reg_info){ "ICR", XR | XW | X2R | X2W, 0xffffffffu }; return true;
	case LAPIC_REG_ICR2:  *ri = (struct reg_info){ "ICR high", XR | XW, 0 }; return true;
	case LAPIC_REG_TMICT: *ri = (struct reg_info){ "timer initial count", XR | XW | X2R | X2W, 0xffffffffu }; return true;
	case LAPIC_REG_TMCCT: *ri = (struct reg_info){ "timer current count", XR | X2R, 0 }; return true;
	case LAPIC_REG_TDCR:  *ri = (struct reg_info){ "timer divide", XR | XW | X2R | X2W, TDCR_MASK }; return true;
	case LAPIC_REG_SELF_IPI: *ri = (struct reg_info){ "SELF IPI", X2W, 0xffu }; return true;
	}
	return false;
}

/* ---- register reads ----------------------------------------------------- */

/* ISR, TMR, IRR (§10.8.4): 8 x 32 bits each, vector v at register v / 32,
 * bit v % 32; vectors 0-15 never set. */
static uint32_t vector_reg_read(const struct lapic *l, uint32_t off)
{
	unsigned int i = (off & 0x70u) >> 4;

	return off < LAPIC_REG_TMR ? l->isr[i] : off < LAPIC_REG_IRR ? l->tmr[i] : l->irr[i];
}

static uint64_t icr_reg_read(const struct lapic *l, uint32_t off, bool x2)
{
	if (off == LAPIC_REG_ICR2)
		return (uint32_t)(l->icr >> 32);
	/* xAPIC: the low half, delivery status 0 (sent at once). x2APIC:
	 * the 64-bit ICR, destination in 63:32 (§10.12.9). */
	return x2 ? l->icr : (uint32_t)l->icr;
}

/*
 * The APIC's identity, priority, SVR and ESR registers: the ones with no
 * group of their own. -1 for an offset that is none of them.
 */
static int config_reg_read(struct lapic *l, uint32_t off, bool x2, uint64_t *out)
{
	switch (off) {
	case LAPIC_REG_ID:
		/* §10.4.6: xAPIC ID in bits 31:24 (writable in xAPIC mode);
		 * x2APIC: the 32-bit x2APIC ID, read-only (§10.12.5.1). */
		*out = x2 ? l->initial_id : l->id_reg;
		break;
	case LAPIC_REG_VER:
		/* §10.4.8: version 14H (integrated APIC), max LVT entry in 23:16,
		 * bit 24 when EOI-broadcast suppression may be turned on. */
		*out = LAPIC_VERSION | (l->eoi_suppress_ok ? LAPIC_VERSION_EOI_SUPPRESS : 0);
		break;
	case LAPIC_REG_TPR:
		*out = l->tpr;   /* §10.8.3.1: task priority, bits 7:0 */
		break;
	case LAPIC_REG_APR:
		*out = 0;        /* §10.8.3.1 arbitration priority: no bus to arbitrate */
		break;
	case LAPIC_REG_PPR:
		*out = ppr_locked(l);
		break;
	case LAPIC_REG_RRD:
		*out = 0;        /* remote read (Table 10-1): a P6/Pentium bus feature, not modelled */
		break;
	case LAPIC_REG_LDR:
		/* §10.6.2.2: logical APIC ID in 31:24; x2APIC: derived from
		 * the x2APIC ID, read-only (§10.12.10.2). */
		*out = x2 ? x2apic_ldr(l->initial_id) : l->ldr;
		break;
	case LAPIC_REG_DFR:
		*out = l->dfr;   /* §10.6.2.2: model in 31:28, 27:0 read 1s */
		break;
	case LAPIC_REG_SVR:
		*out = l->svr;
		break;
	case LAPIC_REG_ESR:
		*out = l->esr;   /* §10.5.3: what the last ESR write latched */
		break;
	default:
		return -1;
	}
	return 0;
}

/*
 * Reads register `off`. Returns 0, or -1 if it has no readable register
 * in this mode (the caller decides: 0 / ESR in xAPIC, #GP in x2APIC).
 */
static int reg_read_locked(struct lapic *l, uint32_t off, bool x2, uint64_t *out)
{
	struct reg_info ri;
	int lvt;

	*out = 0;
	if (!reg_lookup(l, off, &ri) || !(ri.access & (x2 ? X2R : XR)))
		return -1;
	if ((lvt = lvt_of(off)) >= 0) {
		/* Delivery status and remote IRR read 0: delivery is instant. */
		*out = l->lvt[lvt];
		return 0;
	}
	if (off >= LAPIC_REG_ISR && off < LAPIC_REG_IRR + 0x80) {
		*out = vector_reg_read(l, off);
		return 0;
	}
	switch (off) {
	case LAPIC_REG_ICR:
	case LAPIC_REG_ICR2:
		*out = icr_reg_read(l, off, x2);
		return 0;
	case LAPIC_REG_TMICT:
	case LAPIC_REG_TMCCT:
	case LAPIC_REG_TDCR:
		*out = la_timer_reg_read(l, off);   /* §10.5.4, lapic_timer.c */
		return 0;
	}
	return config_reg_read(l, off, x2, out);
}

/* ---- register writes ---------------------------------------------------- */

/*
 * Whether a write of `v` to `off` may go ahead: a register exists there,
 * is writable in this mode (Table 10-1, Table 10-6) and, in x2APIC mode,
 * no reserved bit is set. If not, the reason is logged, and in xAPIC mode
 * a reserved offset sets ESR "illegal register address" (§10.5.3).
 */
static bool reg_write_allowed(struct lapic *l, uint32_t off, uint64_t v, bool x2, struct deferred *d)
{
	struct reg_info ri;
	uint32_t v32 = (uint32_t)v;

	if (!reg_lookup(l, off, &ri) || !(ri.access & (x2 ? (X2R | X2W) : (XR | XW)))) {
		if (x2) {
			la_dlog(l, d, "WRMSR 0x%x: no such x2APIC register: #GP", LAPIC_MSR(off));
			return false;
		}
		raise_error(l, LAPIC_ESR_ILLEGAL_REGISTER, d);
		la_dlog(l, d, "write 0x%08" PRIx32 " to reserved offset 0x%03x ignored", v32, off);
		return false;
	}
	if (!(ri.access & (x2 ? X2W : XW))) {
		if (x2) {
			la_dlog(l, d, "WRMSR 0x%x (%s) = 0x%" PRIx64 ": read-only register: #GP",
			        LAPIC_MSR(off), ri.name, v);
			return false;
		}
		la_dlog(l, d, "write 0x%08" PRIx32 " to read-only register %s (0x%03x) ignored",
		        v32, ri.name, off);
		return false;
	}
	/* x2APIC reserved-bit checking (§10.12.1.3): non-zero writes to
	 * reserved bits, 63:32 of every register but the ICR included, #GP. */
	if (x2 && off != LAPIC_REG_ICR && (v & ~(uint64_t)ri.x2_defined)) {
		la_dlog(l, d, "WRMSR 0x%x (%s) = 0x%" PRIx64 ": reserved bits set: #GP",
		        LAPIC_MSR(off), ri.name, v);
		return false;
	}
	return true;
}

static void lvt_write(struct lapic *l, enum lapic_lvt lvt, uint32_t v, struct deferred *d)
{
	/*
	 * LVT (§10.5.1): reserved and read-only bits dropped. While the
	 * APIC is software-disabled the mask bit cannot be cleared
	 * (§10.4.7.2). The timer entry's mode field also starts and stops
	 * the timer (§10.5.4.1): lapic_timer.c stores that one.
	 */
	uint32_t nv = v & lvt_writable(lvt);

	if (!sw_enabled(l))
		nv |= LAPIC_LVT_MASKED;
	if (lvt == LAPIC_LVT_TIMER)
		la_timer_lvt_write(l, nv, d);
	else
		l->lvt[lvt] = nv;
}

/* ID, LDR, DFR: which destinations this APIC answers to (§10.6.2), so the
 * VMM's destination map hears of every write (ops->dest_changed). */
static void dest_reg_write(struct lapic *l, uint32_t off, uint32_t v, struct deferred *d)
{
	if (off == LAPIC_REG_ID)
		l->id_reg = v & XAPIC_ID_MASK;   /* xAPIC only (§10.4.6) */
	else if (off == LAPIC_REG_LDR)
		l->ldr = v & XAPIC_ID_MASK;      /* §10.6.2.2, xAPIC only */
	else
		l->dfr = (v & DFR_MODEL_MASK) | ~DFR_MODEL_MASK;   /* §10.6.2.2 */
	d->dest_changed = true;
}

static void svr_write(struct lapic *l, uint32_t v, struct deferred *d)
{
	/*
	 * §10.9: spurious vector 7:0, APIC software enable 8, focus
	 * checking 9 (kept, no effect: no arbitration), EOI-broadcast
	 * suppression 12 if offered. Clearing bit 8 masks every LVT
	 * entry (§10.4.7.2); setting it again leaves them masked.
	 */
	l->svr = v & svr_writable(l);
	d->dest_changed = true;
	if (!sw_enabled(l))
		for (int i = 0; i < LAPIC_LVT_COUNT; i++)
			l->lvt[i] |= LAPIC_LVT_MASKED;
}

static void esr_write(struct lapic *l)
{
	/* §10.5.3: a write (of 0; x2APIC: must be 0) makes the errors
	 * since the previous write readable and starts collecting anew. */
	l->esr = l->esr_pending;
	l->esr_pending = 0;
}

static void do_eoi(struct lapic *l, struct deferred *d)
{
	/*
	 * §10.8.5: EOI retires the highest-priority in-service vector (the
	 * highest ISR bit). If it was accepted level-triggered (TMR set), the
	 * EOI is broadcast to the I/O APICs, unless the guest turned on EOI-
	 * broadcast suppression (SVR bit 12), in which case it EOIs the
	 * I/O APIC itself. An EOI with nothing in service does nothing.
	 */
	int v = vec_highest(l->isr);

	if (v < 0)
		return;
	vec_clear(l->isr, (unsigned int)v);
	if (vec_test(l->tmr, (unsigned int)v) &&
	    !(l->eoi_suppress_ok && (l->svr & LAPIC_SVR_EOI_SUPPRESS)))
		d->eoi = v;
}

/*
 * A complete ICR value written (§10.6.1; x2APIC §10.12.9): decode; a valid
 * command goes to ops->send_ipi, a bad one is logged and not sent, with the
 * ESR bit the SDM gives (§10.5.3): "send illegal vector" for fixed/lowest
 * with vector 0-15. Lowest priority goes out in x2APIC mode too, as KVM
 * sends it (§10.6.1: sending it is model specific), so "redirectable IPI"
 * is never set. x2APIC reserved bits: #GP, nothing stored.
 */
static int icr_send(struct lapic *l, uint64_t v, bool x2, struct deferred *d)
{
	struct icr ic;
	char err[128];
	uint32_t esr;

	if (icr_decode(v, x2, &ic, err, sizeof(err)) == 0) {
		l->icr = x2 ? v & ~X2APIC_ICR_STATUS : v;
		d->send = true;
		d->icr = ic;
		return 0;
	}
	if (ic.gp) {
		la_dlog(l, d, "WRMSR ICR 0x%016" PRIx64 ": %s", v, err);
		return -1;
	}
	l->icr = x2 ? v & ~X2APIC_ICR_STATUS : v;
	esr = ic.esr;
	if (x2)
		la_dlog(l, d, "ICR write 0x%016" PRIx64 " not sent: %s", v, err);
	else
		la_dlog(l, d, "ICR write 0x%08" PRIx32 ":%08" PRIx32 " (high:low) not sent: %s",
		        (uint32_t)(v >> 32), (uint32_t)v, err);
	if (esr)
		raise_error(l, esr, d);
	return 0;
}

/* A write to the ICR (x2APIC: the whole 64 bits) or to xAPIC ICR high. */
static int icr_reg_write(struct lapic *l, uint32_t off, uint64_t v, bool x2, struct deferred *d)
{
	uint32_t v32 = (uint32_t)v;

	if (off == LAPIC_REG_ICR2) {
		/* xAPIC ICR high: destination in 31:24 (§10.6.1); does not send. */
		l->icr = (uint64_t)(v32 & XAPIC_ID_MASK) << 32 | (uint32_t)l->icr;
		return 0;
	}
	if (x2)
		return icr_send(l, v, true, d);
	/* xAPIC: a write to the low half sends, with the high half as it is. */
	return icr_send(l, (l->icr & 0xffffffff00000000ull) | (v32 & ICR_LOW_WRITABLE), false, d);
}

static void self_ipi_write(struct lapic *l, uint8_t vector, struct deferred *d)
{
	/*
	 * x2APIC SELF IPI (§10.12.11): a fixed, edge-triggered IPI to
	 * this APIC with vector 7:0, delivered here without a trip
	 * through the VMM. Vector 0-15: "send illegal vector", nothing
	 * sent. A software-disabled APIC drops it on receipt.
	 */
	if (vector < 16) {
		la_dlog(l, d, "SELF IPI with illegal vector %u not sent", (unsigned int)vector);
		raise_error(l, LAPIC_ESR_SEND_ILLEGAL_VECTOR, d);
	} else if (sw_enabled(l)) {
		la_deliver_local(l, vector, false, d);
	}
}

/*
 * Writes register `off`. xAPIC: `v` is 32 bits, reserved bits are dropped,
 * and -1 means "ignored" (already logged / ESR set). x2APIC: -1 is #GP.
 */
static int reg_write_locked(struct lapic *l, uint32_t off, uint64_t v, bool x2, struct deferred *d)
{
	uint32_t v32 = (uint32_t)v;
	int lvt;

	if (!reg_write_allowed(l, off, v, x2, d))
		return -1;
	if ((lvt = lvt_of(off)) >= 0) {
		lvt_write(l, (enum lapic_lvt)lvt, v32, d);
		return 0;
	}
	switch (off) {
	case LAPIC_REG_ID:
	case LAPIC_REG_LDR:
	case LAPIC_REG_DFR:
		dest_reg_write(l, off, v32, d);
		break;
	case LAPIC_REG_TPR:
		/* §10.8.3.1: bits 7:4 task-priority class, 3:0 sub-class. */
		l->tpr = v32 & 0xffu;
		break;
	case LAPIC_REG_EOI:
		/* §10.8.5; x2APIC: only 0 may be written (reg_write_allowed). */
		do_eoi(l, d);
		break;
	case LAPIC_REG_SVR:
		svr_write(l, v32, d);
		break;
	case LAPIC_REG_ESR:
		esr_write(l);
		break;
	case LAPIC_REG_ICR:
	case LAPIC_REG_ICR2:
		return icr_reg_write(l, off, v, x2, d);
	case LAPIC_REG_TMICT:
	case LAPIC_REG_TDCR:
		la_timer_reg_write(l, off, v32, d);   /* §10.5.4, lapic_timer.c */
		break;
	case LAPIC_REG_SELF_IPI:
		self_ipi_write(l, (uint8_t)v, d);
		break;
	default:
		return -1;
	}
	return 0;
}

/* ---- xAPIC MMIO ----------------------------------------------------------- */

void lapic_mmio_read(struct lapic *l, uint32_t offset, void *data, unsigned int len)
{
	struct deferred d = DEFERRED_INIT;
	uint8_t *out = data;
	uint32_t slot = UINT32_MAX;
	uint64_t val = 0;

	memset(data, 0, len);
	lock(l);
	if (base_state(l->base) != ST_XAPIC) {
		la_unlock_and_run(l, &d);
		return;
	}
	for (unsigned int i = 0; i < len; i++) {
		uint32_t a = offset + i;

		if ((a & ~0xfu) != slot) {
			slot = a & ~0xfu;
			if (slot > 0xff0u || reg_read_locked(l, slot, false, &val) != 0) {
				struct reg_info ri;

				val = 0;
				/* A write-only register (EOI) reads 0; an address with
				 * no register sets "illegal register address" (§10.5.3). */
				if (slot > 0xff0u || !reg_lookup(l, slot, &ri)) {
					raise_error(l, LAPIC_ESR_ILLEGAL_REGISTER, &d);
					la_dlog(l, &d, "read of reserved offset 0x%03x", slot);
				}
			}
		}
		out[i] = (a & 0xfu) < 4 ? (uint8_t)(val >> (8 * (a & 3u))) : 0;
	}
	la_unlock_and_run(l, &d);
}

void lapic_mmio_write(struct lapic *l, uint32_t offset, const void *data, unsigned int len)
{
	struct deferred d = DEFERRED_INIT;
	uint32_t v = 0;

	if (len == 4)
		memcpy(&v, data, 4);
	lock(l);
	if (base_state(l->base) != ST_XAPIC) {
		la_dlog(l, &d, "MMIO write at offset 0x%03x while the xAPIC page is off: ignored", offset);
	} else if (len != 4 || (offset & 0xfu) || offset > 0xff0u) {
		la_dlog(l, &d, "MMIO write of %u bytes at offset 0x%03x ignored: registers take aligned 32-bit writes",
		        len, offset);
	} else {
		reg_write_locked(l, offset, v, false, &d);
	}
	la_unlock_and_run(l, &d);
}

/* ---- x2APIC MSRs ---------------------------------------------------------- */

int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *value)
{
	struct deferred d = DEFERRED_INIT;
	int rc = -1;

	*value = 0;
	lock(l);
	if (msr < LAPIC_MSR_X2APIC_FIRST || msr > LAPIC_MSR_X2APIC_LAST)
		la_dlog(l, &d, "RDMSR 0x%x: not an x2APIC MSR: #GP", msr);
	else if (!x2apic(l))
		la_dlog(l, &d, "RDMSR 0x%x outside x2APIC mode: #GP", msr);
	else if ((rc = reg_read_locked(l, (msr - LAPIC_MSR_X2APIC_FIRST) << 4, true, value)) != 0)
		la_dlog(l, &d, "RDMSR 0x%x: no readable x2APIC register: #GP", msr);
	la_unlock_and_run(l, &d);
	return rc;
}

int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t value)
{
	struct deferred d = DEFERRED_INIT;
	int rc = -1;

	lock(l);
	if (msr < LAPIC_MSR_X2APIC_FIRST || msr > LAPIC_MSR_X2APIC_LAST)
		la_dlog(l, &d, "WRMSR 0x%x: not an x2APIC MSR: #GP", msr);
	else if (!x2apic(l))
		la_dlog(l, &d, "WRMSR 0x%x = 0x%" PRIx64 " outside x2APIC mode: #GP", msr, value);
	else
		rc = reg_write_locked(l, (msr - LAPIC_MSR_X2APIC_FIRST) << 4, value, true, &d);
	la_unlock_and_run(l, &d);
	return rc;
}

/* ---- receiving and delivering --------------------------------------------- */

bool lapic_accept_irq(struct lapic *l, uint8_t vector, bool level_trigger)
{
	struct deferred d = DEFERRED_INIT;
	bool ok = false;

	lock(l);
	if (!hw_enabled(l) || !sw_enabled(l)) {
		/* §10.4.3 / §10.4.7.2: discarded. */
	} else if (vector < 16) {
		la_dlog(l, &d, "received illegal vector %u: dropped", vector);
		la_deliver_local(l, vector, level_trigger, &d);
	} else {
		ok = la_deliver_local(l, vector, level_trigger, &d);
	}
	la_unlock_and_run(l, &d);
	return ok;
}

uint32_t lapic_lvt(struct lapic *l, enum lapic_lvt which)
{
	uint32_t v = 0;

	lock(l);
	if ((unsigned int)which < LAPIC_LVT_COUNT)
		v = l->lvt[which];
	pthread_mutex_unlock(&l->lock);
	return v;
}

int lapic_raise_lvt(struct lapic *l, enum lapic_lvt which)
{
	struct deferred d = DEFERRED_INIT;
	int rc = -1;

	lock(l);
	if ((unsigned int)which < LAPIC_LVT_COUNT && hw_enabled(l) &&
	    !(l->lvt[which] & LAPIC_LVT_MASKED)) {
		uint32_t lvt = l->lvt[which];
		/* The timer and error entries have no delivery mode: always fixed. */
		unsigned int dm = (which == LAPIC_LVT_TIMER || which == LAPIC_LVT_ERROR) ?
				  LAPIC_DM_FIXED : LAPIC_LVT_DELIVERY(lvt);

		rc = (int)dm;
		if (dm == LAPIC_DM_FIXED) {
			bool level = (which == LAPIC_LVT_LINT0 || which == LAPIC_LVT_LINT1) &&
				     (lvt & LAPIC_LVT_LEVEL);

			la_deliver_local(l, LAPIC_LVT_VECTOR(lvt), level, &d);
		}
	}
	la_unlock_and_run(l, &d);
	return rc;
}

void lapic_set_error(struct lapic *l, uint32_t esr_bits)
{
	struct deferred d = DEFERRED_INIT;

	lock(l);
	if (hw_enabled(l) && (esr_bits & 0xffu))
		raise_error(l, esr_bits, &d);
	la_unlock_and_run(l, &d);
}

int lapic_pending_vector(struct lapic *l)
{
	int v;

	lock(l);
	v = hw_enabled(l) ? vec_highest(l->irr) : -1;
	/* §10.8.3.1: only a class above PPR[7:4] is dispatched. */
	if (v >= 0 && ((uint32_t)v & 0xf0u) <= (ppr_locked(l) & 0xf0u))
		v = -1;
	pthread_mutex_unlock(&l->lock);
	return v;
}

void lapic_ack_vector(struct lapic *l, uint8_t vector)
{
	struct deferred d = DEFERRED_INIT;

	lock(l);
	/* §10.8.4: on acceptance by the processor the IRR bit moves to ISR. */
	if (vec_test(l->irr, vector)) {
		vec_clear(l->irr, vector);
		vec_set(l->isr, vector);
	} else {
		la_dlog(l, &d, "ack of vector %u which is not pending: ignored", vector);
	}
	la_unlock_and_run(l, &d);
}

uint8_t lapic_get_tpr(struct lapic *l)
{
	uint8_t v;

	lock(l);
	v = (uint8_t)l->tpr;
	pthread_mutex_unlock(&l->lock);
	return v;
}

void lapic_set_tpr(struct lapic *l, uint8_t tpr)
{
	lock(l);
	l->tpr = tpr;
	pthread_mutex_unlock(&l->lock);
}

uint8_t lapic_get_ppr(struct lapic *l)
{
	uint8_t v;

	lock(l);
	v = (uint8_t)ppr_locked(l);
	pthread_mutex_unlock(&l->lock);
	return v;
}

void lapic_set_eoi_suppression(struct lapic *l, bool supported)
{
	lock(l);
	l->eoi_suppress_ok = supported;
	if (!supported)
		l->svr &= ~LAPIC_SVR_EOI_SUPPRESS;
	pthread_mutex_unlock(&l->lock);
}

/* ---- identity ------------------------------------------------------------- */

void lapic_dest_info(struct lapic *l, struct apic_cpu *out)
{
	lock(l);
	out->x2apic = x2apic(l);
	out->apic_id = out->x2apic ? l->initial_id : l->id_reg >> 24;
	out->sw_enabled = hw_enabled(l) && sw_enabled(l);
	out->ldr = out->x2apic ? x2apic_ldr(l->initial_id) : l->ldr;
	out->dfr = apic_dfr_model(l->dfr);
	out->priority = (uint8_t)ppr_locked(l);
	pthread_mutex_unlock(&l->lock);
}

uint32_t lapic_id(struct lapic *l)
{
	uint32_t v;

	lock(l);
	v = x2apic(l) ? l->initial_id : l->id_reg >> 24;
	pthread_mutex_unlock(&l->lock);
	return v;
}

unsigned int lapic_vcpu_id(const struct lapic *l)
{
	return l->vcpu_id;
}

void lapic_save(struct lapic *l, struct lapic_state *s)
{
	memset(s, 0, sizeof(*s));
	lock(l);
	s->base = l->base;
	s->icr = l->icr;
	s->id_reg = l->id_reg;
	s->tpr = l->tpr;
	s->ldr = l->ldr;
	s->dfr = l->dfr;
	s->svr = l->svr;
	s->esr_pending = l->esr_pending;
	s->esr = l->esr;
	s->tmict = l->tmict;
	s->tdcr = l->tdcr;
	memcpy(s->isr, l->isr, sizeof(s->isr));
	memcpy(s->tmr, l->tmr, sizeof(s->tmr));
	memcpy(s->irr, l->irr, sizeof(s->irr));
	memcpy(s->lvt, l->lvt, sizeof(s->lvt));
	s->timer_armed = l->timer_armed;
	s->timer_start_ns = l->timer_start_ns;
	s->timer_period_ns = l->timer_period_ns;
	s->tsc_deadline = l->tsc_deadline;
	s->deadline_ns = l->deadline_ns;
	pthread_mutex_unlock(&l->lock);
}

int lapic_load(struct lapic *l, const struct lapic_state *s, char *err, size_t errlen)
{
	/* IA32_APIC_BASE (SDM vol. 3A §10.4.4): bits 0-7 and 9 reserved; EXTD only with EN (Figure 10-27). */
	if ((s->base & 0x2ffu) || ((s->base & LAPIC_BASE_EXTD) && !(s->base & LAPIC_BASE_EN)) ||
	    (s->base >> l->maxphyaddr && l->maxphyaddr < 64))
		return errmsg(err, errlen, "local APIC %u: IA32_APIC_BASE 0x%llx is not a value it can hold", l->vcpu_id,
			      (unsigned long long)s->base);
	if (s->tdcr & ~TDCR_MASK || s->timer_armed > 1 || s->pad)
		return errmsg(err, errlen, "local APIC %u: timer state out of range", l->vcpu_id);
	lock(l);
	l->base = s->base;
	l->icr = s->icr;
	l->id_reg = s->id_reg;
	l->tpr = s->tpr;
	l->ldr = s->ldr;
	l->dfr = s->dfr;
	l->svr = s->svr;
	l->esr_pending = s->esr_pending;
	l->esr = s->esr;
	l->tmict = s->tmict;
	l->tdcr = s->tdcr;
	memcpy(l->isr, s->isr, sizeof(l->isr));
	memcpy(l->tmr, s->tmr, sizeof(l->tmr));
	memcpy(l->irr, s->irr, sizeof(l->irr));
	memcpy(l->lvt, s->lvt, sizeof(l->lvt));
	l->timer_armed = s->timer_armed;
	l->timer_start_ns = s->timer_start_ns;
	l->timer_period_ns = s->timer_period_ns;
	l->tsc_deadline = s->tsc_deadline;
	l->deadline_ns = s->deadline_ns;
	pthread_mutex_unlock(&l->lock);
	if (l->ops.dest_changed)
		l->ops.dest_changed(l->opaque, l->vcpu_id);
	return 0;
}
