/*
 * MC146818A real-time clock and CMOS RAM. References are to the Motorola
 * MC146818A data sheet (its address map, "Registers" A-D, and the
 * "Update cycle" section); the Dallas DS12887 data sheet describes the
 * same registers.
 *
 * Time. The clock keeps no count of its own: the time registers read the
 * caller's wall clock plus offset_sec, broken down in UTC (the PC
 * convention Linux assumes unless told the RTC is in local time). Writing
 * a time register moves offset_sec (whole seconds: a guest may set any
 * year from 0 to 25599, further than nanoseconds reach) so that the clock goes on from the
 * written value (the sub-second phase is kept, as the chip's divider
 * chain keeps running). While register B's SET bit is 1 the clock is
 * stopped: the registers hold the fields as written (so a guest may write
 * them in any order: on January 31, month 2 and then day 15 give February
 * 15, not March), and clearing SET starts the clock again from them. Written values are decoded in the
 * current mode and kept in binary; once the clock runs, out-of-range
 * values (minute 75, day 31 of a 30-day month) are normalised where the
 * chip would keep them as they are, and a field written without SET is
 * normalised at once. Switching register B between BCD and binary or 12-
 * and 24-hour changes how the time reads, where the chip would need the
 * time written again.
 *
 * Registers (MC146818A address map):
 *   0, 2, 4   seconds, minutes, hours. Hours in 12-hour mode (register B
 *             bit 1 clear) are 1-12 with bit 7 set for PM.
 *   1, 3, 5   the alarm registers: kept as written; no alarm is raised.
 *   6         day of week, 1-7, Sunday = 1. Computed from the date; a
 *             guest that writes it gets its own numbering carried forward
 *             (the chip only counts it).
 *   7, 8, 9   day of month, month, year (00-99).
 *   0x32      century (IBM PC AT CMOS map), same encoding as the year.
 *   All are BCD unless register B's DM bit (bit 2) is set.
 *   A         bit 7 UIP (read-only): set during the 244 us before each
 *             update of the time registers (tBUC), which happens on every
 *             second boundary of the guest's time and not while SET is 1.
 *             A reader that sees UIP = 0 has at least 244 us to read the
 *             time before it changes, as on the chip; UIP is never stuck.
 *             Bits 6-4 (DV, time base) and 3-0 (RS, periodic rate) are
 *             kept as written and change nothing: the clock always runs.
 *   B         kept as written, except that setting SET clears UIE (data
 *             sheet, register B, UIE). PIE, AIE, UIE, SQWE: no interrupt
 *             and no square wave is ever produced.
 *   C         read-only flags, cleared by the read. UF (bit 4) is set when
 *             an update has happened since C was last read (so a guest
 *             can poll for the next second); IRQF follows UF & UIE. PF and
 *             AF are never set: no periodic or alarm event is modelled.
 *   D         bit 7 VRT (valid RAM and time) reads 1; read-only. Bit 6 reads
 *             0, which Linux's rtc-cmos probe checks.
 *   the rest  (0x0e-0x7f but 0x32) CMOS RAM.
 *
 * No interrupt (IRQ 8) at all: Linux reads the RTC at boot (and on
 * `hwclock`) by polling UIP; its rtc-cmos driver asks for IRQ 8 but
 * needs it only for alarms and update/periodic events, which user space
 * would have to request.
 */
#include "devices/rtc.h"

#include <string.h>

#include "core/acpi.h"
#include "core/errmsg.h"

_Static_assert(RTC_CENTURY == ACPI_RTC_CENTURY, "the FADT names the century register");

#define NS 1000000000ll

void rtc_init(struct rtc *rtc, const struct rtc_ops *ops, void *opaque)
{
	*rtc = (struct rtc){ .ops = ops, .opaque = opaque };
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->cmos[RTC_REG_A] = RTC_A_DV_32K | RTC_A_RS_1024;
	rtc->cmos[RTC_REG_B] = RTC_B_24H;
	rtc->uf_sec = ops->wall_ns(opaque) / NS;
}

void rtc_destroy(struct rtc *rtc)
{
	pthread_mutex_destroy(&rtc->lock);
}

void rtc_set_cmos(struct rtc *rtc, uint8_t index, uint8_t value)
{
	pthread_mutex_lock(&rtc->lock);
	if (index > RTC_REG_D && index < RTC_CMOS_SIZE && index != RTC_CENTURY)
		rtc->cmos[index] = value;
	pthread_mutex_unlock(&rtc->lock);
}

bool rtc_nmi_masked(struct rtc *rtc)
{
	bool m;

	pthread_mutex_lock(&rtc->lock);
	m = rtc->nmi_masked;
	pthread_mutex_unlock(&rtc->lock);
	return m;
}

/* ---- calendar: days since 1970-01-01 <-> proleptic Gregorian date ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static struct rtc_time tm_split(int64_t t)
{
	int64_t days = floor_div(t, 86400), rem = t - days * 86400;
	int64_t z = days + 719468, era = floor_div(z, 146097), doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	struct rtc_time tm;

	tm.mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	tm.mon = (int)(mp < 10 ? mp + 3 : mp - 9);
	tm.year = yoe + era * 400 + (tm.mon <= 2);
	tm.hour = (int)(rem / 3600);
	tm.min = (int)(rem / 60 % 60);
	tm.sec = (int)(rem % 60);
	tm.wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
	return tm;
}

/* Months past 12 carry into the year; days, hours, minutes, seconds carry too. */
static int64_t tm_join(const struct rtc_time *tm)
{
	int64_t m0 = tm->mon > 0 ? tm->mon - 1 : 0;
	int64_t days = days_from_civil(tm->year + m0 / 12, (int)(m0 % 12) + 1, 1) + tm->mday - 1;

	return days * 86400 + tm->hour * 3600 + tm->min * 60 + tm->sec;
}

/* ---- registers ----------------------------------------------------------- */

static bool binary(const struct rtc *rtc)
{
	return rtc->cmos[RTC_REG_B] & RTC_B_DM;
}

static uint8_t encode(const struct rtc *rtc, int v)
{
	v %= 100;
	return (uint8_t)(binary(rtc) ? v : (v / 10) << 4 | v % 10);
}

static int decode(const struct rtc *rtc, uint8_t b)
{
	return binary(rtc) ? b : (b >> 4) * 10 + (b & 0xf);
}

/* Where the divider chain is within the current second: the wall clock's, as the offset is whole seconds. */
static int64_t subsecond_ns(const struct rtc *rtc)
{
	int64_t wall = rtc->ops->wall_ns(rtc->opaque);

	return wall - floor_div(wall, NS) * NS;
}

static bool stopped(const struct rtc *rtc)
{
	return rtc->cmos[RTC_REG_B] & RTC_B_SET;
}

static int64_t running_sec(const struct rtc *rtc)
{
	return floor_div(rtc->ops->wall_ns(rtc->opaque), NS) + rtc->offset_sec;
}

/* The time the registers show: while SET is 1, the fields as written. */
static struct rtc_time shown(const struct rtc *rtc)
{
	struct rtc_time tm;

	if (!stopped(rtc))
		return tm_split(running_sec(rtc));
	tm = rtc->held;
	tm.wday = tm_split(tm_join(&tm)).wday;
	return tm;
}

static uint8_t read_time(const struct rtc *rtc, uint8_t index)
{
	struct rtc_time tm = shown(rtc);

	switch (index) {
	case RTC_SECONDS: return encode(rtc, tm.sec);
	case RTC_MINUTES: return encode(rtc, tm.min);
	case RTC_HOURS:
		if (rtc->cmos[RTC_REG_B] & RTC_B_24H)
			return encode(rtc, tm.hour);
		return (uint8_t)(encode(rtc, tm.hour % 12 ? tm.hour % 12 : 12) | (tm.hour >= 12 ? 0x80 : 0));
	case RTC_DAY_OF_WEEK: return encode(rtc, (tm.wday + rtc->wday_adjust) % 7 + 1);
	case RTC_DAY_OF_MONTH: return encode(rtc, tm.mday);
	case RTC_MONTH: return encode(rtc, tm.mon);
	case RTC_YEAR: return encode(rtc, (int)(tm.year % 100));
	default: /* RTC_CENTURY */ return encode(rtc, (int)(tm.year / 100));
	}
}

static void write_time(struct rtc *rtc, uint8_t index, uint8_t b)
{
	int64_t from = running_sec(rtc);
	struct rtc_time tm = stopped(rtc) ? shown(rtc) : tm_split(from);
	int v = decode(rtc, b);

	switch (index) {
	case RTC_SECONDS: tm.sec = v; break;
	case RTC_MINUTES: tm.min = v; break;
	case RTC_HOURS:
		if (rtc->cmos[RTC_REG_B] & RTC_B_24H)
			tm.hour = v;
		else
			tm.hour = decode(rtc, b & 0x7f) % 12 + (b & 0x80 ? 12 : 0);
		break;
	case RTC_DAY_OF_WEEK:
		rtc->wday_adjust = (uint8_t)(((v - 1 - tm.wday) % 7 + 7) % 7);
		return;
	case RTC_DAY_OF_MONTH: tm.mday = v; break;
	case RTC_MONTH: tm.mon = v; break;
	case RTC_YEAR: tm.year = tm.year / 100 * 100 + v; break;
	default: /* RTC_CENTURY */ tm.year = (int64_t)v * 100 + tm.year % 100; break;
	}
	if (stopped(rtc))
		rtc->held = tm;
	else
		rtc->offset_sec += tm_join(&tm) - from;
}

static bool is_time(uint8_t index)
{
	return (index <= RTC_YEAR && index != RTC_SECONDS_ALARM && index != RTC_MINUTES_ALARM &&
		index != RTC_HOURS_ALARM) || index == RTC_CENTURY;
}

static uint8_t read_reg(struct rtc *rtc, uint8_t index)
{
	uint8_t v;
	int64_t ns, sec;

	if (is_time(index))
		return read_time(rtc, index);
	switch (index) {
	case RTC_REG_A:
		v = rtc->cmos[RTC_REG_A] & (uint8_t)~RTC_A_UIP;
		ns = subsecond_ns(rtc);
		if (!stopped(rtc) && ns >= NS - RTC_UIP_NS)
			v |= RTC_A_UIP;
		return v;
	case RTC_REG_C:
		v = 0;
		if (!stopped(rtc)) {
			sec = running_sec(rtc);
			if (sec != rtc->uf_sec)
				v |= RTC_C_UF;
			rtc->uf_sec = sec;
		}
		if ((v & RTC_C_UF) && (rtc->cmos[RTC_REG_B] & RTC_B_UIE))
			v |= RTC_C_IRQF;
		return v;
	case RTC_REG_D:
		return RTC_D_VRT;
	default:
		return rtc->cmos[index];
	}
}

static void write_reg(struct rtc *rtc, uint8_t index, uint8_t v)
{
	uint8_t old;

	if (is_time(index)) {
		write_time(rtc, index, v);
		return;
	}
	switch (index) {
	case RTC_REG_A:
		rtc->cmos[RTC_REG_A] = v & (uint8_t)~RTC_A_UIP;
		break;
	case RTC_REG_B:
		old = rtc->cmos[RTC_REG_B];
		if (v & RTC_B_SET)
			v &= (uint8_t)~RTC_B_UIE;
		if (!(old & RTC_B_SET) && (v & RTC_B_SET)) {
			rtc->held = tm_split(running_sec(rtc));
		} else if ((old & RTC_B_SET) && !(v & RTC_B_SET)) {
			int64_t to = tm_join(&rtc->held);

			rtc->offset_sec += to - running_sec(rtc);
			rtc->uf_sec = to;
		}
		rtc->cmos[RTC_REG_B] = v;
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		rtc->cmos[index] = v;
		break;
	}
}

int rtc_pio(void *opaque, uint16_t port, bool is_write,
	    uint32_t *data, unsigned int size)
{
	struct rtc *rtc = opaque;
	uint32_t v = 0;

	pthread_mutex_lock(&rtc->lock);
	/* Byte lanes: 0x70 is the index, 0x71 the data; past 0x71 nothing. */
	for (unsigned int i = 0; i < size; i++) {
		unsigned int p = (unsigned int)port + i;
		uint8_t b = (uint8_t)(*data >> (8 * i)), r = 0xff;

		if (p == RTC_PORT && is_write) {
			rtc->index = b & 0x7f;
			rtc->nmi_masked = b & 0x80;
		} else if (p == RTC_PORT + 1) {
			if (is_write)
				write_reg(rtc, rtc->index, b);
			else
				r = read_reg(rtc, rtc->index);
		}
		v |= (uint32_t)r << (8 * i);
	}
	pthread_mutex_unlock(&rtc->lock);
	if (!is_write)
		*data = v;
	return 0;
}

void rtc_save(struct rtc *rtc, struct rtc_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&rtc->lock);
	memcpy(s->cmos, rtc->cmos, sizeof(s->cmos));
	s->offset_sec = rtc->offset_sec;
	s->uf_sec = rtc->uf_sec;
	s->held_year = rtc->held.year;
	s->held_mon = rtc->held.mon;
	s->held_mday = rtc->held.mday;
	s->held_hour = rtc->held.hour;
	s->held_min = rtc->held.min;
	s->held_sec = rtc->held.sec;
	s->held_wday = rtc->held.wday;
	s->index = rtc->index;
	s->nmi_masked = rtc->nmi_masked;
	s->wday_adjust = rtc->wday_adjust;
	pthread_mutex_unlock(&rtc->lock);
}

/*
 * Bounds of what a guest can reach: a year of at most 99 centuries plus 99
 * years in BCD (or 255 and 255 binary), fields of one byte decoded.
 */
#define RTC_MAX_YEAR 26000
#define RTC_MAX_SEC ((int64_t)RTC_MAX_YEAR * 366 * 86400)

static bool field_ok(int32_t v)
{
	return v >= 0 && v <= 255;
}

int rtc_load(struct rtc *rtc, const struct rtc_state *s, char *err, size_t errlen)
{
	if (s->index >= RTC_CMOS_SIZE || s->nmi_masked > 1 || s->wday_adjust > 6)
		return errmsg(err, errlen, "RTC: index 0x%x, NMI mask %u or day-of-week adjustment %u out of range",
			      s->index, s->nmi_masked, s->wday_adjust);
	if (s->offset_sec < -RTC_MAX_SEC || s->offset_sec > RTC_MAX_SEC || s->uf_sec < -RTC_MAX_SEC ||
	    s->uf_sec > 2 * RTC_MAX_SEC)
		return errmsg(err, errlen, "RTC: a time offset of %lld s is out of range", (long long)s->offset_sec);
	if (s->held_year < 0 || s->held_year > RTC_MAX_YEAR || !field_ok(s->held_mon) || !field_ok(s->held_mday) ||
	    !field_ok(s->held_hour) || !field_ok(s->held_min) || !field_ok(s->held_sec) || s->held_wday < 0 ||
	    s->held_wday > 6)
		return errmsg(err, errlen, "RTC: the held time is out of range");
	for (unsigned int i = 0; i < sizeof(s->pad); i++)
		if (s->pad[i])
			return errmsg(err, errlen, "RTC: nonzero padding");
	pthread_mutex_lock(&rtc->lock);
	memcpy(rtc->cmos, s->cmos, sizeof(rtc->cmos));
	rtc->cmos[RTC_REG_A] &= (uint8_t)~RTC_A_UIP; /* computed on each read, never stored */
	rtc->offset_sec = s->offset_sec;
	rtc->uf_sec = s->uf_sec;
	rtc->held = (struct rtc_time){ .year = s->held_year, .mon = s->held_mon, .mday = s->held_mday,
				       .hour = s->held_hour, .min = s->held_min, .sec = s->held_sec,
				       .wday = s->held_wday };
	rtc->index = s->index;
	rtc->nmi_masked = s->nmi_masked;
	rtc->wday_adjust = s->wday_adjust;
	pthread_mutex_unlock(&rtc->lock);
	return 0;
}
