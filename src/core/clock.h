/*
 * Time in nanoseconds, the one unit mpvm's clocks use: CLOCK_MONOTONIC for
 * intervals and deadlines, and the conversions to the timespec that
 * pthread_cond_timedwait(), timer_settime() and sigtimedwait() take.
 */
#ifndef MPVM_CORE_CLOCK_H
#define MPVM_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_SEC 1000000000ull

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t monotonic_ns(void);
/* CLOCK_REALTIME in nanoseconds (wall time: the RTC's source). */
int64_t realtime_ns(void);
/* `ns` (an absolute time or an interval) as a timespec. */
struct timespec ns_to_timespec(uint64_t ns);

#endif
