/*
 * The PC's real-time clock and CMOS RAM: a Motorola MC146818A (as its
 * successors, the Dallas DS12887 and the RTC of every PC chipset) at I/O
 * ports 0x70 (index) and 0x71 (data).
 *
 *   0x70 write  bits 0-6: register index; bit 7: NMI mask (kept, readable
 *               through rtc_nmi_masked(); it gates nothing in mpvm)
 *   0x70 read   all ones (the index register is write-only)
 *   0x71        the register the index selects:
 *     0x00-0x09 seconds, alarm seconds, minutes, alarm minutes, hours,
 *               alarm hours, day of week, day of month, month, year
 *     0x0a-0x0d registers A-D
 *     0x32      century (the IBM AT's CMOS location; the FADT's CENTURY
 *               field names it)
 *     the rest  CMOS RAM, kept as written
 *
 * The clock runs off the caller's wall clock (ops->wall_ns, CLOCK_REALTIME
 * in mpvm), in UTC, plus an offset the guest sets by writing the time.
 * Semantics and data-sheet references in rtc.c. Thread-safe (one lock per
 * device); no interrupt (IRQ 8) is ever raised.
 */
#ifndef MPVM_DEVICES_RTC_H
#define MPVM_DEVICES_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"

#define RTC_PORT 0x70
#define RTC_PORTS 2
#define RTC_CMOS_SIZE 128

/* Register indexes (MC146818A address map) */
enum {
	RTC_SECONDS = 0x00, RTC_SECONDS_ALARM = 0x01,
	RTC_MINUTES = 0x02, RTC_MINUTES_ALARM = 0x03,
	RTC_HOURS = 0x04, RTC_HOURS_ALARM = 0x05,
	RTC_DAY_OF_WEEK = 0x06, RTC_DAY_OF_MONTH = 0x07,
	RTC_MONTH = 0x08, RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a, RTC_REG_B = 0x0b, RTC_REG_C = 0x0c, RTC_REG_D = 0x0d,
	RTC_CENTURY = 0x32,
};

/* Register A */
#define RTC_A_UIP      0x80 /* update in progress (read-only) */
#define RTC_A_DV_32K   0x20 /* DV2-0 = 010: 32.768 kHz time base, running */
#define RTC_A_RS_1024  0x06 /* RS3-0 = 0110: 1024 Hz periodic rate */
/* Register B */
#define RTC_B_SET      0x80
#define RTC_B_PIE      0x40
#define RTC_B_AIE      0x20
#define RTC_B_UIE      0x10
#define RTC_B_SQWE     0x08
#define RTC_B_DM       0x04 /* 1: binary, 0: BCD */
#define RTC_B_24H      0x02 /* 1: 24-hour, 0: 12-hour with bit 7 of the hour = PM */
#define RTC_B_DSE      0x01
/* Register C */
#define RTC_C_IRQF     0x80
#define RTC_C_PF       0x40
#define RTC_C_AF       0x20
#define RTC_C_UF       0x10
/* Register D */
#define RTC_D_VRT      0x80 /* valid RAM and time */

/* UIP is set this long before each update (MC146818A: tBUC = 244 us). */
#define RTC_UIP_NS     244000

/* A broken-down time, in binary; wday 0-6 with Sunday 0. */
struct rtc_time {
	int64_t year;
	int mon, mday, hour, min, sec;
	int wday;
};

struct rtc_ops {
	/* Nanoseconds since 1970-01-01 00:00:00 UTC (CLOCK_REALTIME, or a test's). */
	int64_t (*wall_ns)(void *opaque);
};

struct rtc {
	pthread_mutex_t lock;
	const struct rtc_ops *ops;
	void *opaque;
	uint8_t index;          /* bits 0-6 of the last write to 0x70 */
	bool nmi_masked;        /* bit 7 of it */
	uint8_t cmos[RTC_CMOS_SIZE]; /* everything but the clock registers and C, D */
	int64_t offset_sec;     /* guest time = wall clock + offset, in whole seconds */
	struct rtc_time held;   /* while register B's SET bit is 1: the stopped time, as written */
	int64_t uf_sec;         /* the guest second register C was last read in */
	uint8_t wday_adjust;    /* day of week written by the guest minus computed, mod 7 */
};

/*
 * Time = the host's wall clock; registers A = 0x26, B = 0x02 (24-hour,
 * BCD: what a PC BIOS leaves), D = VRT; CMOS RAM zero.
 */
void rtc_init(struct rtc *rtc, const struct rtc_ops *ops, void *opaque);
void rtc_destroy(struct rtc *rtc);

/* For the VMM before the guest runs: a CMOS RAM byte (index 0x0e-0x7f, not 0x32). */
void rtc_set_cmos(struct rtc *rtc, uint8_t index, uint8_t value);
bool rtc_nmi_masked(struct rtc *rtc);

/* The port-bus handler for RTC_PORT..RTC_PORT+1; opaque is the struct rtc. */
int rtc_pio(void *opaque, uint16_t port, bool is_write,
	    uint32_t *data, unsigned int size);

/*
 * What a snapshot keeps (kvm/snapshot.c). The guest's time stays an offset
 * from the wall clock, as on a PC whose RTC ran on its battery while it was
 * off: a guest restored an hour later reads an hour later.
 */
struct rtc_state {
	uint8_t cmos[RTC_CMOS_SIZE];
	int64_t offset_sec, uf_sec, held_year;
	int32_t held_mon, held_mday, held_hour, held_min, held_sec, held_wday;
	uint8_t index, nmi_masked, wday_adjust, pad[5];
};

void rtc_save(struct rtc *rtc, struct rtc_state *s);
/* -1 with the reason in err for a state no guest could have made; rtc unchanged then. */
int rtc_load(struct rtc *rtc, const struct rtc_state *s, char *err, size_t errlen);

#endif
