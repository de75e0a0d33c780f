#!/usr/bin/env bash
# The built-in guest brings up every AP with INIT-SIPI-SIPI, for 1 to 64
# vCPUs (64 on 2 host cores is overcommitted) and with any vCPU as the BSP.
. "$(dirname "$0")/lib.sh"
need_kvm

for n in 1 2 4 8 64; do
	run_mpvm 900 run --cpus $n --report "$T_DIR/r.json"
	check_bringup $n 0
	is "$(report_field "$T_DIR/r.json" 'scalar @{$r->{vcpus}}')" $n "--cpus $n: the JSON report lists $n vCPUs"
	is "$(report_field "$T_DIR/r.json" 'join ",", map { $_->{mp_states}[0]{state} } grep { $_->{role} eq "AP" } @{$r->{vcpus}}')" \
	   "$(for ((i = 1; i < n; i++)); do printf '%sUNINITIALIZED' "$([ $i -gt 1 ] && echo ,)"; done)" \
	   "--cpus $n: every AP's MP-state sequence starts UNINITIALIZED"
	is "$(report_field "$T_DIR/r.json" 'join ",", map { $_->{mp_states}[-1]{state} } grep { $_->{role} eq "AP" } @{$r->{vcpus}}')" \
	   "$(for ((i = 1; i < n; i++)); do printf '%sHALTED' "$([ $i -gt 1 ] && echo ,)"; done)" \
	   "--cpus $n: every AP's MP-state sequence ends HALTED"
done

for args in "8 1" "8 7" "4 3" "64 63"; do
	set -- $args
	run_mpvm 900 run --cpus $1 --boot-cpu $2 --report "$T_DIR/r.json"
	check_bringup $1 $2
	is "$(report_field "$T_DIR/r.json" '$r->{vcpus}[$r->{boot_cpu}]{role} . " " . $r->{boot_cpu}')" "BSP $2" \
	   "--cpus $1 --boot-cpu $2: the JSON report names vCPU $2 the BSP"
done

# More than 255 vCPUs: x2APIC IDs from the start (mpvm sets x2APIC mode, as
# firmware does), ACPI x2APIC entries, no MP table.
run_mpvm 900 run --cpus 300 --boot-cpu 299
check_bringup 300 299
like "$ERR" "^mpvm: note: no MP table for this VM \\(vCPU 255 has APIC ID 255" "--cpus 300: mpvm says why there is no MP table"
run_mpvm 900 run --cpus 300 --cmdline "scenario=partial start=3"
is "$STATUS" 0 "--cpus 300 partial start=3: exit status 0"
is "$(count "$ERR" '^mpvm: +[0-9]+ +[0-9]+ +AP +UNINITIALIZED ')" 296 "--cpus 300 partial start=3: no AP but the 3 started left UNINITIALIZED"

# Without ACPI the guest falls back to the MP table.
run_mpvm 300 run --cpus 4 --no-acpi
is "$STATUS" 0 "--no-acpi: exit status 0"
like "$OUT" "^mpvm-guest: found 4 CPUs in the MP table" "--no-acpi: the guest finds 4 CPUs in the MP table"
like "$OUT" "^4/4 CPUs online$" "--no-acpi: 4/4 CPUs online"

run_mpvm 300 run --cpus 4 --cmdline tables=mptable
is "$STATUS" 0 "tables=mptable: exit status 0"
like "$OUT" "^mpvm-guest: found 4 CPUs in the MP table" "tables=mptable: the guest reads the MP table"

done_testing
