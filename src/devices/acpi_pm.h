/*
 * The ACPI fixed hardware registers the FADT describes (core/acpi.h), as
 * on a PIIX4/ICH power-management function: the PM1a event block (PM1_STS,
 * PM1_EN), the PM1a control block (PM1_CNT) and the power-management timer
 * (PM_TMR). Section numbers are those of ACPI 6.3; the register semantics
 * are spelled out in acpi_pm.c.
 *
 *   port   width  register
 *   0x600  16     PM1_STS   write 1 to clear; TMR_STS the only bit that sets
 *   0x602  16     PM1_EN    read/write (no SCI is ever raised: see below)
 *   0x604  16     PM1_CNT   SCI_EN reads 1; SLP_TYP=5 with SLP_EN: power off
 *   0x608  32     PM_TMR    3.579545 MHz, 24 bits, read-only
 *   0x60c  16     GPE0_STS  write 1 to clear; set by acpi_pm_gpe_raise()
 *   0x60e  16     GPE0_EN   read/write; the SCI (IRQ 9, level) is asserted
 *                           while GPE0_STS & GPE0_EN is not zero
 *
 * Every register takes byte, word and dword accesses at any offset within
 * its block (ACPICA uses word accesses for PM1 and dword for the timer;
 * Linux's clocksource reads the timer with inl). Bytes of an access that
 * fall outside the three blocks read as all ones and ignore writes.
 *
 * Power off is a callback (the VMM ends the VM); time is the caller's
 * monotonic clock, so tests drive it. Thread-safe: one lock per device;
 * the callbacks run without it.
 */
#ifndef MPVM_DEVICES_ACPI_PM_H
#define MPVM_DEVICES_ACPI_PM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/acpi.h"
#include "devices/bus.h"

#define ACPI_PM_EVT_LEN 4
#define ACPI_PM_CNT_LEN 2
#define ACPI_PM_TMR_LEN 4
#define ACPI_PM_GPE0_LEN ACPI_GPE0_BLK_LEN

#define ACPI_PM_TIMER_HZ 3579545u
#define ACPI_PM_TIMER_BITS 24  /* the FADT leaves TMR_VAL_EXT clear */

/* 4.8.3.1.1 PM1 Status Registers (Table 4-16) */
#define ACPI_PM1_TMR_STS     (1u << 0)
#define ACPI_PM1_BM_STS      (1u << 4)
#define ACPI_PM1_GBL_STS     (1u << 5)
#define ACPI_PM1_PWRBTN_STS  (1u << 8)
#define ACPI_PM1_SLPBTN_STS  (1u << 9)
#define ACPI_PM1_RTC_STS     (1u << 10)
#define ACPI_PM1_PCIEXP_WAKE_STS (1u << 14)
#define ACPI_PM1_WAK_STS     (1u << 15)
/* 4.8.3.1.2 PM1 Enable Registers (Table 4-17) */
#define ACPI_PM1_TMR_EN      (1u << 0)
#define ACPI_PM1_GBL_EN      (1u << 5)
#define ACPI_PM1_PWRBTN_EN   (1u << 8)
#define ACPI_PM1_SLPBTN_EN   (1u << 9)
#define ACPI_PM1_RTC_EN      (1u << 10)
#define ACPI_PM1_PCIEXP_WAKE_DIS (1u << 14)
/* 4.8.3.2.1 PM1 Control Registers (Table 4-18) */
#define ACPI_PM1_SCI_EN      (1u << 0)
#define ACPI_PM1_BM_RLD      (1u << 1)
#define ACPI_PM1_GBL_RLS     (1u << 2)
#define ACPI_PM1_SLP_TYP_SHIFT 10
#define ACPI_PM1_SLP_TYP     (7u << ACPI_PM1_SLP_TYP_SHIFT)
#define ACPI_PM1_SLP_EN      (1u << 13)

struct acpi_pm_ops {
	/* CLOCK_MONOTONIC in nanoseconds (or a test's clock). */
	uint64_t (*now_ns)(void *opaque);
	/*
	 * The guest wrote SLP_EN with SLP_TYP = ACPI_S5_SLP_TYP: soft off
	 * (7.4.2 \_S5). The port handler returns what this returns (-1: the
	 * vCPU stops here).
	 */
	int (*poweroff)(void *opaque);
	/* SLP_EN with any other SLP_TYP, which mpvm ignores; may be NULL. */
	void (*sleep_ignored)(void *opaque, unsigned int slp_typ);
	/* The SCI's new level (1 asserted), called on each change; may be NULL. */
	void (*set_sci)(void *opaque, int level);
};

struct acpi_pm {
	pthread_mutex_t lock;
	const struct acpi_pm_ops *ops;
	void *opaque;
	uint64_t t0_ns;          /* the timer counts from 0 at acpi_pm_init() */
	uint64_t tmr_sts_epoch;  /* ticks >> (BITS - 1) when TMR_STS was last cleared */
	uint16_t pm1_sts;        /* status bits other than TMR_STS (none ever set) */
	uint16_t pm1_en;
	uint16_t pm1_cnt;        /* the stored bits: BM_RLD, SLP_TYP */
	uint16_t gpe0_sts, gpe0_en;
	int sci;                 /* the level last given to ops->set_sci */
};

void acpi_pm_init(struct acpi_pm *pm, const struct acpi_pm_ops *ops, void *opaque);
void acpi_pm_destroy(struct acpi_pm *pm);

/* The timer's count now (ACPI_PM_TIMER_BITS wide), as PM_TMR reads. */
uint32_t acpi_pm_timer(struct acpi_pm *pm);

/*
 * A hardware event for general-purpose event `gpe` (0-15): sets its
 * GPE0_STS bit, which asserts the SCI if GPE0_EN enables it (ACPI 6.3
 * §4.8.4.1). Any thread.
 */
void acpi_pm_gpe_raise(struct acpi_pm *pm, unsigned int gpe);

/*
 * The port-bus handler for all four blocks (register each of
 * ACPI_PM1_EVT_BLK, ACPI_PM1_CNT_BLK, ACPI_PM_TMR_BLK, ACPI_GPE0_BLK with
 * it); opaque is the struct acpi_pm.
 */
int acpi_pm_pio(void *opaque, uint16_t port, bool is_write,
		uint32_t *data, unsigned int size);

/*
 * What a snapshot keeps (kvm/snapshot.c). The timer as a count of ticks,
 * not the host's clock: after a load it goes on from that count, so a
 * guest restored in another process, later, sees it neither jump nor go
 * back.
 */
struct acpi_pm_state {
	uint64_t ticks;          /* timer ticks since init, not wrapped */
	uint64_t tmr_sts_epoch;
	uint16_t pm1_sts, pm1_en, pm1_cnt;
	uint16_t gpe0_sts, gpe0_en; /* in what was padding (zero) before: an older file loads as GPE0 clear */
	uint16_t pad;
};

void acpi_pm_save(struct acpi_pm *pm, struct acpi_pm_state *s);
/*
 * -1 with the reason in err for a state no guest could have made; pm
 * unchanged then. The SCI is set to what GPE0_STS & GPE0_EN make it.
 */
int acpi_pm_load(struct acpi_pm *pm, const struct acpi_pm_state *s, char *err, size_t errlen);

#endif
