#!/usr/bin/env bash
# The benchmark scenario of the built-in guest, scenario=ipi-bench: it runs
# in every irqchip mode, prints both result lines with numbers, and refuses
# a single CPU.
. "$(dirname "$0")/lib.sh"
need_kvm

num='[0-9]+ cycles \([0-9]+\.[0-9]{2} us\), min [0-9]+, max [0-9]+'

# check_line WHAT ROUNDS NAME: the result line is there and min <= median <= max.
check_line() {
	like "$OUT" "^mpvm-guest: $1: median $num, over $2 rounds\$" "$3: '$1' line with numbers"
	is "$(sed -n "s/^mpvm-guest: $1: median \([0-9]*\) cycles .*, min \([0-9]*\), max \([0-9]*\), .*/\1 \2 \3/p" "$OUT" |
		awk '{ print ($2 <= $1 && $1 <= $3 && $1 > 0) ? "ok" : "median " $1 ", min " $2 ", max " $3 }')" ok \
	   "$3: '$1' has 0 < min <= median <= max"
}

for mode in kernel split user; do
	name="--irqchip $mode ipi-bench rounds=50"
	run_mpvm 300 run --cpus 2 --irqchip $mode --cmdline "scenario=ipi-bench rounds=50"
	is "$STATUS" 0 "$name: exit status 0"
	check_line "ipi round trip" 50 "$name"
	check_line "hlt wake-up" 50 "$name"
	like "$OUT" '^2/2 CPUs online$' "$name: summary line"
	unlike "$OUT" 'FAIL' "$name: no failures"
done

# The BSP spinning for the replies instead of halting.
run_mpvm 300 run --cpus 2 --irqchip user --cmdline "scenario=ipi-bench rounds=20 wait=spin"
is "$STATUS" 0 "wait=spin: exit status 0"
like "$OUT" 'the BSP waits for replies spinning' "wait=spin: the guest says so"
check_line "ipi round trip" 20 "wait=spin"

# More rounds than the HLT wake-up part does: it stops at 200.
run_mpvm 300 run --cpus 2 --cmdline "scenario=ipi-bench rounds=250"
is "$STATUS" 0 "rounds=250: exit status 0"
check_line "ipi round trip" 250 "rounds=250"
check_line "hlt wake-up" 200 "rounds=250"

run_mpvm 60 run --cpus 1 --cmdline "scenario=ipi-bench"
is "$STATUS" 1 "--cpus 1 ipi-bench: exit status 1"
like "$OUT" '^mpvm-guest: ipi-bench needs an AP \(--cpus 2 or more\)$' "--cpus 1 ipi-bench: says it needs an AP"
unlike "$OUT" 'round trip' "--cpus 1 ipi-bench: no results"

run_mpvm 60 run --cpus 2 --cmdline "scenario=ipi-bench rounds=0"
is "$STATUS" 1 "rounds=0: exit status 1"
like "$OUT" "^mpvm-guest: bad command line: bad rounds '0'" "rounds=0: bad command line"

run_mpvm 60 run --cpus 2 --cmdline "rounds=10"
is "$STATUS" 1 "rounds= without ipi-bench: exit status 1"
like "$OUT" "bad command line: rounds= and wait= need scenario=ipi-bench" "rounds= without ipi-bench: says why"

done_testing
