#!/usr/bin/env bash
# Bounded resources: nothing a guest does grows mpvm's memory without bound.
# Each storm runs with mpvm's resident memory (VmRSS in /proc/PID/status)
# sampled every 50 ms; the peak (and VmHWM) must stay under RSS_BOUND_KB.
# The built-in guest touches only a few MiB of its RAM, so the bound covers
# mpvm's own memory plus that; a storm that leaked even a few bytes per IPI,
# NMI, log line or console byte would cross it (the IPI storms send tens of
# thousands, the floods a MiB). Measured on the KVM-PVM CI host: 4.1-4.8
# MiB peak in every mode and storm (README, "Resource bounds").
#   ipi/nmi    scenario=hostile-ipi and nmi-storm, 4 vCPUs, every irqchip mode
#   io         scenario=hostile-io (garbage in the IOAPIC: guest-error lines,
#              which must be limited too), --unknown-io ignore
#   console    scenario=console-flood: 1 MiB to stdout through COM1 (REP
#              OUTSB: one exit per byte on KVM-PVM, so 1 MiB takes ~8 s)
#   no reader  the same flood into a pipe nobody reads: mpvm waits for the
#              reader (no buffering), and --timeout still stops it
# BOUNDS_MODES (default "kernel split user") picks the irqchip modes.
. "$(dirname "$0")/lib.sh"
need_kvm

# A sanitizer build carries its runtime's shadow memory and allocator
# caches (ThreadSanitizer: 20-25 MiB here before the guest does anything):
# there the bound only catches gross growth; the release build's is the
# one README states.
RSS_DEFAULT_KB=16384
if ldd "$MPVM" 2>/dev/null | grep -Eq 'lib(a|t)san'; then
	RSS_DEFAULT_KB=98304
fi
RSS_BOUND_KB=${RSS_BOUND_KB:-$RSS_DEFAULT_KB}
MODES=${BOUNDS_MODES:-kernel split user}

# sampled LIMIT ARGS...: runs mpvm like run_mpvm, sampling its RSS; leaves $PEAK_KB and $HWM_KB.
sampled() {
	local limit=$1 pid line
	shift
	PEAK_KB=0 HWM_KB=0
	timeout --kill-after=10 "$limit" "$MPVM" "$@" >"$T_DIR/out" 2>"$T_DIR/err" </dev/null &
	pid=$!
	sample_until_gone "$pid"
	wait "$pid"
	STATUS=$?
	OUT=$T_DIR/out
	ERR=$T_DIR/err
}

# sample_until_gone PID: PID is timeout(1) or mpvm itself; samples mpvm.
sample_until_gone() {
	local pid=$1 child rss hwm
	while kill -0 "$pid" 2>/dev/null; do
		child=$(pgrep -P "$pid" -x mpvm | head -1)
		[ -n "$child" ] || child=$pid
		if [ "$(cat /proc/"$child"/comm 2>/dev/null)" = mpvm ]; then
			rss=$(awk '/^VmRSS:/ { print $2 }' /proc/"$child"/status 2>/dev/null)
			hwm=$(awk '/^VmHWM:/ { print $2 }' /proc/"$child"/status 2>/dev/null)
			[ -n "$rss" ] && [ "$rss" -gt "$PEAK_KB" ] && PEAK_KB=$rss
			[ -n "$hwm" ] && [ "$hwm" -gt "$HWM_KB" ] && HWM_KB=$hwm
		fi
		sleep 0.05
	done
}

bounded() { # NAME: the peak stayed under the bound
	diag "$1: peak VmRSS $PEAK_KB kB, VmHWM $HWM_KB kB"
	ok $(( PEAK_KB > 0 && PEAK_KB < RSS_BOUND_KB && HWM_KB < RSS_BOUND_KB ? 0 : 1 )) \
	   "$1: mpvm's resident memory stays under $RSS_BOUND_KB kB"
}

for mode in $MODES; do
	n="--irqchip $mode hostile-ipi"
	sampled 300 run --irqchip $mode --cpus 4 --cmdline scenario=hostile-ipi
	is "$STATUS" 0 "$n: exit status 0"
	bounded "$n"

	n="--irqchip $mode nmi-storm"
	sampled 300 run --irqchip $mode --cpus 4 --cmdline scenario=nmi-storm
	is "$STATUS" 0 "$n: exit status 0"
	bounded "$n"

	n="--irqchip $mode hostile-io"
	sampled 300 run --irqchip $mode --cpus 4 --unknown-io ignore --cmdline scenario=hostile-io
	is "$STATUS" 0 "$n: exit status 0"
	bounded "$n"
	# 32 from the local APICs, 32 from the IOAPIC and PICs (and a "not shown" line each)
	ok $(( $(count "$ERR" 'guest error') <= 66 ? 0 : 1 )) \
	   "$n: guest-error lines are limited ($(count "$ERR" 'guest error') printed)"
done

# The console: 1 MiB through COM1 into a file; every byte arrives.
sampled 300 run --cmdline "scenario=console-flood bytes=1M"
is "$STATUS" 0 "console-flood 1 MiB: exit status 0"
bounded "console-flood 1 MiB"
is "$(count "$OUT" '^mpvm-guest: flood [0-9a-f]{4}\.+$')" 16384 "console-flood 1 MiB: every line arrives"

# A pipe nobody reads: the guest waits (no byte piles up in mpvm), and
# --timeout 3 still ends the run, within the timeout plus the 1 s grace.
mkfifo "$T_DIR/fifo"
exec 3<>"$T_DIR/fifo" # a reader that never reads
start=$(date +%s%N)
"$MPVM" run --timeout 3 --cmdline "scenario=console-flood bytes=1M" >"$T_DIR/fifo" 2>"$T_DIR/err" </dev/null &
pid=$!
PEAK_KB=0 HWM_KB=0
sample_until_gone "$pid"
wait "$pid"
echo $? >"$T_DIR/status"
took=$(( ($(date +%s%N) - start) / 1000000 ))
exec 3<&-
is "$(cat "$T_DIR/status")" 124 "stdout nobody reads: --timeout stops the run (status 124)"
ok $(( took < 6000 ? 0 : 1 )) "stdout nobody reads: mpvm ends ${took} ms after its start (timeout 3 s + 1 s grace)"
like "$T_DIR/err" "^mpvm: COM1: stdout did not take [0-9]+ bytes of the guest's output by the stop: dropped$" \
     "stdout nobody reads: mpvm says how much output it dropped"
bounded "console-flood into a pipe nobody reads"

done_testing
