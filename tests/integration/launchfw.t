#!/usr/bin/env bash
# bench/launch's firmware (bench/launchfw.S, built by make into
# BUILD/bench): under --bios it prints "S" at the reset vector, starts every
# AP by INIT-SIPI-SIPI one at a time or by one broadcast, prints "A" once all
# have checked in and ends through isa-debug-exit with 0x10 (status 33), in
# every irqchip mode. Its kvmtool build (KVMTOOL=1) is 64 KiB too and, when
# lkvm is found (LKVM=/path/to/lkvm or PATH), prints S, then A, under lkvm
# run -k and ends it with status 0. And bench/launch itself, one round on
# mpvm.
. "$(dirname "$0")/lib.sh"
need_kvm

B=$(dirname "$MPVM")/bench
for f in launchfw.bin launchfw-broadcast.bin launch-probe; do
	[ -e "$B/$f" ]
	ok $? "make built $B/$f"
done
is "$(stat -c %s "$B/launchfw.bin" 2>/dev/null)" 65536 "the image is 64 KiB"

for mode in kernel split user; do
	for img in launchfw launchfw-broadcast; do
		for n in 1 2 5; do
			name="$img --irqchip $mode --cpus $n"
			run_mpvm 60 run --bios "$B/$img.bin" --cpus "$n" --irqchip "$mode" --debug-exit
			is "$STATUS" 33 "$name: ends through isa-debug-exit, status 33"
			is "$(tr '\n' ' ' <"$OUT")" "S A " "$name: prints S, then A"
			# an AP may still be between its check-in and its HLT when the BSP ends the run
			is "$(count "$ERR" '^mpvm: +[0-9]+ +[0-9]+ +AP +(HALTED|RUNNABLE) ')" $((n - 1)) "$name: every AP started"
		done
	done
done

# Without the exit port the image halts after "A": --timeout ends it.
run_mpvm 60 run --bios "$B/launchfw.bin" --cpus 2 --timeout 2
is "$STATUS" 124 "without --debug-exit: halts, --timeout ends it"
is "$(tr '\n' ' ' <"$OUT")" "S A " "without --debug-exit: still prints S, then A"

# The kvmtool build: loaded at 0x10000 by lkvm run -k, ended by the i8042
# reset command (status 0).
for img in launchfw-kvmtool launchfw-kvmtool-broadcast; do
	is "$(stat -c %s "$B/$img.bin" 2>/dev/null)" 65536 "make built $B/$img.bin, 64 KiB"
done
lkvm=$(command -v "${LKVM:-lkvm}" || true)
if [ -n "$lkvm" ]; then
	for img in launchfw-kvmtool launchfw-kvmtool-broadcast; do
		for n in 1 2 5; do
			timeout 60 "$lkvm" run -k "$B/$img.bin" -c "$n" -m 256M --console serial \
				--nodefaults --network mode=none </dev/null >"$T_DIR/lkvm.out" 2>"$T_DIR/lkvm.err"
			is "$?" 0 "lkvm $img -c $n: ends with status 0"
			is "$(grep -x '[SAFT]' "$T_DIR/lkvm.out" | tr '\n' ' ')" "S A " "lkvm $img -c $n: prints S, then A"
		done
	done
else
	diag "kvmtool (${LKVM:-lkvm}) not found: its runs not checked"
fi

# bench/launch, one round, split mode and kvmtool (a note where it is
# absent), N = 2.
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(dirname "$MPVM") RUNS=1 VMMS="split lkvm" "$top/bench/launch" 2 >"$T_DIR/bench" 2>"$T_DIR/bench.err"
ok $? "bench/launch RUNS=1 VMMS='split lkvm' 2: exit status 0"
like "$T_DIR/bench" '^ +2 one +split +1/1 +[0-9.]+ \[' "bench/launch: a line for N=2, one at a time"
like "$T_DIR/bench" '^ +2 broadcast +split +1/1 +[0-9.]+ \[' "bench/launch: a line for N=2, broadcast"
if [ -n "$lkvm" ]; then
	like "$T_DIR/bench" '^ +2 one +lkvm +1/1 +[0-9.]+ \[.* 1\.00/1\.00/1\.00 *$' "bench/launch: kvmtool's line for N=2, one at a time, / lkvm 1.00"
	like "$T_DIR/bench" '^ +2 broadcast +lkvm +1/1 +[0-9.]+ \[' "bench/launch: kvmtool's line for N=2, broadcast"
else
	like "$T_DIR/bench" '^# note: .*lkvm' "bench/launch: a note about kvmtool"
fi
like "$T_DIR/bench" '^ +2( +[0-9.]+)+$' "bench/launch: the peak RSS line"

done_testing
