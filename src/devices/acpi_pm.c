/*
 * ACPI fixed hardware (ACPI 6.3 §4.8.3, the fixed register blocks): what the
 * FADT's PM1a_EVT_BLK, PM1a_CNT_BLK and PM_TMR_BLK point at.
 *
 * PM1_STS (§4.8.3.1.1, Table 4-16). Status bits are set by hardware events
 * and cleared by writing 1 to them; writing 0 leaves them alone. The only
 * event this machine has is the timer's: TMR_STS is set each time bit 23
 * of PM_TMR (its most significant bit, §4.8.2.1) changes. There is no
 * power or sleep button, no RTC alarm, no bus master and no BIOS to
 * release the global lock, and nothing wakes the machine, so PWRBTN_STS,
 * SLPBTN_STS, RTC_STS, BM_STS, GBL_STS, PCIEXP_WAKE_STS and WAK_STS read 0.
 *
 * PM1_EN (§4.8.3.1.2, Table 4-17): the enable bits are stored as written
 * (reserved bits read 0). An SCI is due whenever a status bit and its
 * enable bit are both set (§4.8.3.1); mpvm raises no SCI (IRQ 9): the
 * timer's is the only status bit that can set, and no OS enables
 * TMR_EN (Linux does not; its PM-timer clocksource reads PM_TMR). A guest
 * that did would wait for that interrupt in vain.
 *
 * PM1_CNT (§4.8.3.2.1, Table 4-18):
 *   SCI_EN  (bit 0)      reads 1 and ignores writes: the FADT gives no
 *                        SMI_CMD port (§5.2.9: zero without SMM), so the
 *                        hardware is always in ACPI mode, and ACPICA,
 *                        finding no SMI_CMD, never asks to change it.
 *   BM_RLD  (bit 1)      stored; no effect (no C3).
 *   GBL_RLS (bit 2)      write-only, reads 0; no BIOS listens.
 *   SLP_TYP (bits 10-12) stored.
 *   SLP_EN  (bit 13)     write-only, reads 0. Writing 1 enters the sleeping
 *                        state SLP_TYP names (§16.1). The
 *                        DSDT has only \_S5 (core/acpi.c), so an OS enters
 *                        only S5, soft off: SLP_TYP ACPI_S5_SLP_TYP with
 *                        SLP_EN calls ops->poweroff. S1-S4 are not
 *                        supported (mpvm cannot keep or resume a sleeping
 *                        guest); a write of SLP_EN with any other SLP_TYP
 *                        is reported through ops->sleep_ignored and
 *                        otherwise dropped, as if the state were not
 *                        there.
 *
 * GPE0_STS and GPE0_EN (§4.8.4.1, General-Purpose Event Register Blocks):
 * the FADT's GPE0_BLK, its first half status bits, its second half enable
 * bits, one of each per GPE (16 here). A device raises a GPE by setting
 * its status bit (acpi_pm_gpe_raise(): GPE 2 is CPU hotplug); the OS
 * clears it by writing 1. The SCI is the OR of every enabled status bit
 * (§4.8.4.1.1), a level on IRQ 9 (the MADT's override says level, active
 * high), given to ops->set_sci each time it changes. The PM1 status bits
 * do not take part: TMR_STS is the only one that sets, and no OS enables
 * TMR_EN (Linux does not; its PM-timer clocksource reads PM_TMR).
 *
 * PM_TMR (§4.8.3.3, and §4.8.2.1 "Power Management Timer"): a free-running
 * count at 3.579545 MHz that reads the host's monotonic clock, so it
 * never stops, never goes back, and agrees with other vCPUs. The FADT
 * leaves TMR_VAL_EXT clear, so it is 24 bits wide and bits 24-31 read 0;
 * it wraps every 4.69 s. Writes are ignored (it is read-only).
 *
 * Widths: ACPICA splits PM1_EVT_BLK into two 16-bit registers and reads
 * and writes PM1_STS, PM1_EN and PM1_CNT with word accesses (its generic
 * address for them has "any" access width and 16 bits); Linux's
 * clocksource reads PM_TMR with a 32-bit inl. The handler works byte by
 * byte, so any width at any offset of a block behaves as those would; the
 * timer is sampled once per access.
 */
#include "devices/acpi_pm.h"

#include <string.h>

#include "core/errmsg.h"

#define PM1_EN_BITS (ACPI_PM1_TMR_EN | ACPI_PM1_GBL_EN | ACPI_PM1_PWRBTN_EN | \
		     ACPI_PM1_SLPBTN_EN | ACPI_PM1_RTC_EN | ACPI_PM1_PCIEXP_WAKE_DIS)
#define PM1_CNT_BITS (ACPI_PM1_BM_RLD | ACPI_PM1_SLP_TYP)

/* Byte offsets from ACPI_PM_BASE (core/acpi.h). */
#define OFF_STS (ACPI_PM1_EVT_BLK - ACPI_PM_BASE)
#define OFF_EN  (OFF_STS + 2)
#define OFF_CNT (ACPI_PM1_CNT_BLK - ACPI_PM_BASE)
#define OFF_TMR (ACPI_PM_TMR_BLK - ACPI_PM_BASE)
#define OFF_GPE_STS (ACPI_GPE0_BLK - ACPI_PM_BASE)
#define OFF_GPE_EN  (OFF_GPE_STS + ACPI_PM_GPE0_LEN / 2)

_Static_assert(OFF_GPE_STS >= OFF_TMR + ACPI_PM_TMR_LEN, "GPE0 after PM_TMR");

_Static_assert(OFF_CNT == OFF_STS + ACPI_PM_EVT_LEN, "PM1_CNT follows the PM1 event block");
_Static_assert(OFF_TMR >= OFF_CNT + ACPI_PM_CNT_LEN, "PM_TMR after PM1_CNT");

void acpi_pm_init(struct acpi_pm *pm, const struct acpi_pm_ops *ops, void *opaque)
{
	*pm = (struct acpi_pm){ .ops = ops, .opaque = opaque };
	pthread_mutex_init(&pm->lock, NULL);
	pm->t0_ns = ops->now_ns(opaque);
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	pthread_mutex_destroy(&pm->lock);
}

/* Timer ticks since init, not wrapped: 3579545 per second. */
static uint64_t pm_ticks(struct acpi_pm *pm)
{
	uint64_t ns = pm->ops->now_ns(pm->opaque) - pm->t0_ns;

	return ns / 1000000000u * ACPI_PM_TIMER_HZ +
	       ns % 1000000000u * ACPI_PM_TIMER_HZ / 1000000000u;
}

#define TMR_MASK ((1u << ACPI_PM_TIMER_BITS) - 1)
#define TMR_MSB_SHIFT (ACPI_PM_TIMER_BITS - 1)

uint32_t acpi_pm_timer(struct acpi_pm *pm)
{
	return (uint32_t)(pm_ticks(pm) & TMR_MASK);
}

/* The 16-bit PM1_STS as read at `ticks`. */
static uint16_t pm1_sts(const struct acpi_pm *pm, uint64_t ticks)
{
	uint16_t sts = pm->pm1_sts;

	if (ticks >> TMR_MSB_SHIFT != pm->tmr_sts_epoch)
		sts |= ACPI_PM1_TMR_STS;
	return sts;
}

static uint8_t read_byte(const struct acpi_pm *pm, unsigned int off, uint64_t ticks)
{
	unsigned int shift = 8 * (off & 1);

	if (off < OFF_EN)
		return (uint8_t)(pm1_sts(pm, ticks) >> shift);
	if (off < OFF_CNT)
		return (uint8_t)(pm->pm1_en >> shift);
	if (off < OFF_CNT + ACPI_PM_CNT_LEN)
		return (uint8_t)((pm->pm1_cnt | ACPI_PM1_SCI_EN) >> shift);
	if (off >= OFF_TMR && off < OFF_TMR + ACPI_PM_TMR_LEN)
		return (uint8_t)((ticks & TMR_MASK) >> (8 * (off - OFF_TMR)));
	if (off >= OFF_GPE_STS && off < OFF_GPE_EN)
		return (uint8_t)(pm->gpe0_sts >> shift);
	if (off >= OFF_GPE_EN && off < OFF_GPE_STS + ACPI_PM_GPE0_LEN)
		return (uint8_t)(pm->gpe0_en >> shift);
	return 0xff; /* between or past the blocks: no register */
}

/* A write of byte b at off; returns true if it sets SLP_EN. */
static bool write_byte(struct acpi_pm *pm, unsigned int off, uint8_t b, uint64_t ticks)
{
	unsigned int shift = 8 * (off & 1);
	uint16_t bits = (uint16_t)(b << shift), lane = (uint16_t)(0xff << shift);

	if (off < OFF_EN) {                     /* PM1_STS: write 1 to clear */
		if (bits & ACPI_PM1_TMR_STS)
			pm->tmr_sts_epoch = ticks >> TMR_MSB_SHIFT;
		pm->pm1_sts &= (uint16_t)~bits;
	} else if (off < OFF_CNT) {             /* PM1_EN */
		pm->pm1_en = (uint16_t)((pm->pm1_en & ~lane) | (bits & PM1_EN_BITS));
	} else if (off < OFF_CNT + ACPI_PM_CNT_LEN) { /* PM1_CNT */
		pm->pm1_cnt = (uint16_t)((pm->pm1_cnt & ~lane) | (bits & PM1_CNT_BITS));
		return (bits & ACPI_PM1_SLP_EN) != 0;
	} else if (off >= OFF_GPE_STS && off < OFF_GPE_EN) { /* GPE0_STS: write 1 to clear */
		pm->gpe0_sts &= (uint16_t)~bits;
	} else if (off >= OFF_GPE_EN && off < OFF_GPE_STS + ACPI_PM_GPE0_LEN) {
		pm->gpe0_en = (uint16_t)((pm->gpe0_en & ~lane) | bits);
	}
	return false;                           /* PM_TMR is read-only */
}

/* With the lock held: the SCI's level if it changed, else -1, for the caller
 * to pass on once it has let go of the lock. */
static int sci_update(struct acpi_pm *pm)
{
	int level = (pm->gpe0_sts & pm->gpe0_en) != 0;

	if (level == pm->sci)
		return -1;
	pm->sci = level;
	return level;
}

static void sci_tell(struct acpi_pm *pm, int level)
{
	if (level >= 0 && pm->ops->set_sci)
		pm->ops->set_sci(pm->opaque, level);
}

void acpi_pm_gpe_raise(struct acpi_pm *pm, unsigned int gpe)
{
	int sci;

	pthread_mutex_lock(&pm->lock);
	pm->gpe0_sts |= (uint16_t)(1u << (gpe & 15));
	sci = sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
	sci_tell(pm, sci);
}

int acpi_pm_pio(void *opaque, uint16_t port, bool is_write,
		uint32_t *data, unsigned int size)
{
	struct acpi_pm *pm = opaque;
	unsigned int off = (unsigned int)port - ACPI_PM_BASE;
	unsigned int slp_typ = 0;
	bool slp_en = false;
	int sci = -1;
	uint64_t ticks;
	uint32_t v = 0;

	pthread_mutex_lock(&pm->lock);
	ticks = pm_ticks(pm);
	for (unsigned int i = 0; i < size; i++) {
		if (is_write)
			slp_en |= write_byte(pm, off + i, (uint8_t)(*data >> (8 * i)), ticks);
		else
			v |= (uint32_t)read_byte(pm, off + i, ticks) << (8 * i);
	}
	if (slp_en)
		slp_typ = (pm->pm1_cnt & ACPI_PM1_SLP_TYP) >> ACPI_PM1_SLP_TYP_SHIFT;
	if (is_write)
		sci = sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
	sci_tell(pm, sci);

	if (!is_write) {
		*data = v;
		return 0;
	}
	if (!slp_en)
		return 0;
	if (slp_typ == ACPI_S5_SLP_TYP)
		return pm->ops->poweroff ? pm->ops->poweroff(pm->opaque) : 0;
	if (pm->ops->sleep_ignored)
		pm->ops->sleep_ignored(pm->opaque, slp_typ);
	return 0;
}

void acpi_pm_save(struct acpi_pm *pm, struct acpi_pm_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&pm->lock);
	s->ticks = pm_ticks(pm);
	s->tmr_sts_epoch = pm->tmr_sts_epoch;
	s->pm1_sts = pm->pm1_sts;
	s->pm1_en = pm->pm1_en;
	s->pm1_cnt = pm->pm1_cnt;
	s->gpe0_sts = pm->gpe0_sts;
	s->gpe0_en = pm->gpe0_en;
	pthread_mutex_unlock(&pm->lock);
}

int acpi_pm_load(struct acpi_pm *pm, const struct acpi_pm_state *s, char *err, size_t errlen)
{
	uint64_t ns;
	int sci;

	if (s->pm1_sts)
		return errmsg(err, errlen, "ACPI PM: PM1_STS 0x%x has bits this machine never sets", s->pm1_sts);
	if (s->pm1_en & ~PM1_EN_BITS)
		return errmsg(err, errlen, "ACPI PM: PM1_EN 0x%x has reserved bits set", s->pm1_en);
	if (s->pm1_cnt & ~PM1_CNT_BITS)
		return errmsg(err, errlen, "ACPI PM: PM1_CNT 0x%x has bits that are not stored", s->pm1_cnt);
	if (s->ticks > 100ull * 366 * 86400 * ACPI_PM_TIMER_HZ)
		return errmsg(err, errlen, "ACPI PM: the timer counted more than a century");
	if (s->tmr_sts_epoch > s->ticks >> TMR_MSB_SHIFT || s->pad)
		return errmsg(err, errlen, "ACPI PM: the timer's status epoch is after its count");
	/* Rounded up, so that exactly s->ticks have passed at the load (pm_ticks() rounds down). */
	ns = s->ticks / ACPI_PM_TIMER_HZ * 1000000000u +
	     ((s->ticks % ACPI_PM_TIMER_HZ) * 1000000000u + ACPI_PM_TIMER_HZ - 1) / ACPI_PM_TIMER_HZ;
	pthread_mutex_lock(&pm->lock);
	pm->t0_ns = pm->ops->now_ns(pm->opaque) - ns; /* modulo 2^64: pm_ticks() subtracts it back */
	pm->tmr_sts_epoch = s->tmr_sts_epoch;
	pm->pm1_sts = s->pm1_sts;
	pm->pm1_en = s->pm1_en;
	pm->pm1_cnt = s->pm1_cnt;
	pm->gpe0_sts = s->gpe0_sts;
	pm->gpe0_en = s->gpe0_en;
	sci = sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
	sci_tell(pm, sci);
	return 0;
}
