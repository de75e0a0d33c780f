#!/usr/bin/env bash
# The built-in guest's scenarios: what an AP does with a second SIPI, with
# INIT while it runs, when only some APs are started, and with a broadcast.
. "$(dirname "$0")/lib.sh"
need_kvm

# A SIPI to a running AP is ignored (SDM vol. 3A §8.4.4): entries stay 1.
for bsp in 0 3; do
	run_mpvm 600 run --cpus 4 --boot-cpu $bsp --cmdline scenario=second-sipi
	is "$STATUS" 0 "second-sipi (BSP $bsp): exit status 0"
	like "$OUT" "^mpvm-guest: scenario second-sipi" "second-sipi (BSP $bsp): the guest runs the scenario"
	is "$(count "$OUT" '^mpvm-guest: second-sipi: AP [0-9]+ entries 1 \(SIPI ignored\)$')" 3 "second-sipi (BSP $bsp): every AP ignored the extra SIPI"
	like "$OUT" "^4/4 CPUs online$" "second-sipi (BSP $bsp): 4/4 CPUs online"
done

# INIT to a running AP sends it back to wait-for-SIPI; a SIPI with vector 0x0a restarts it there.
for bsp in 0 3; do
	run_mpvm 600 run --cpus 4 --boot-cpu $bsp --cmdline scenario=reinit --report "$T_DIR/r.json"
	is "$STATUS" 0 "reinit (BSP $bsp): exit status 0"
	is "$(count "$OUT" '^mpvm-guest: reinit: AP [0-9]+ restarted at vector 0x0a, entries 2$')" 3 "reinit (BSP $bsp): every AP restarted at the new vector"
	is "$(count "$ERR" '^mpvm: +[0-9]+ +[0-9]+ +AP +HALTED ')" 3 "reinit (BSP $bsp): every AP ends HALTED"
done

# Only some APs are started: mpvm reports the others UNINITIALIZED.
run_mpvm 600 run --cpus 8 --cmdline "scenario=partial start=3" --report "$T_DIR/r.json"
is "$STATUS" 0 "partial start=3: exit status 0"
like "$OUT" "^4/8 CPUs online$" "partial start=3: the guest says 4/8 CPUs online"
is "$(count "$ERR" '^mpvm: +[0-9]+ +[0-9]+ +AP +HALTED ')" 3 "partial start=3: 3 APs HALTED"
is "$(count "$ERR" '^mpvm: +[0-9]+ +[0-9]+ +AP +UNINITIALIZED ')" 4 "partial start=3: 4 APs UNINITIALIZED"
is "$(report_field "$T_DIR/r.json" 'join ",", map { scalar @{$_->{mp_states}} } @{$r->{vcpus}}[4..7]')" "1,1,1,1" \
   "partial start=3: the untouched APs were never seen in any other state"

run_mpvm 600 run --cpus 5 --boot-cpu 4 --cmdline "scenario=partial"
is "$STATUS" 0 "partial (default half): exit status 0"
like "$OUT" "^3/5 CPUs online$" "partial (default half): 3/5 CPUs online"
is "$(count "$ERR" '^mpvm: +[0-9]+ +[0-9]+ +AP +UNINITIALIZED ')" 2 "partial (default half): 2 APs UNINITIALIZED"

# All APs at once: INIT and a single SIPI with the all-excluding-self shorthand.
for n in 2 8; do
	run_mpvm 600 run --cpus $n --cmdline scenario=broadcast
	is "$STATUS" 0 "broadcast --cpus $n: exit status 0"
	like "$OUT" "^$n/$n CPUs online$" "broadcast --cpus $n: $n/$n CPUs online"
	is "$(count "$ERR" '^mpvm: +[0-9]+ +[0-9]+ +AP +HALTED ')" $((n - 1)) "broadcast --cpus $n: every AP HALTED"
done

run_mpvm 60 run --cmdline "scenario=bogus"
is "$STATUS" 1 "an unknown scenario: the guest exits 1"
like "$OUT" "bogus" "an unknown scenario is named by the guest"

done_testing
