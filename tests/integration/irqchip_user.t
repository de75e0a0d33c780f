#!/usr/bin/env bash
# --irqchip user: mpvm's own local APICs and MP-state machine bring up every
# AP, with every transition (INIT, SIPI, HLT, wake-up) in the report.
. "$(dirname "$0")/lib.sh"
need_kvm

for n in 2 8 64; do
	bsp=$((n - 1))
	run_mpvm 900 run --irqchip user --cpus $n --boot-cpu $bsp --report "$T_DIR/r.json"
	is "$STATUS" 0 "user --cpus $n --boot-cpu $bsp: exit status 0"
	# Every AP: UNINITIALIZED, INIT_RECEIVED, SIPI_RECEIVED, RUNNABLE, then HLT and wake-ups, ending HALTED.
	is "$(report_field "$T_DIR/r.json" 'join ",", map { my @s = map { $_->{state} } @{$_->{mp_states}}; join(" ", @s[0..3]) . "/" . $s[-1] } grep { $_->{role} eq "AP" } @{$r->{vcpus}}')" \
	   "$(for ((i = 1; i < n; i++)); do printf '%sUNINITIALIZED INIT_RECEIVED SIPI_RECEIVED RUNNABLE/HALTED' "$([ $i -gt 1 ] && echo ,)"; done)" \
	   "user --cpus $n --boot-cpu $bsp: each AP went UNINITIALIZED, INIT_RECEIVED, SIPI_RECEIVED, RUNNABLE ... HALTED"
	# Two IPI rounds wake each AP from HLT: it halts 3 times at least.
	is "$(report_field "$T_DIR/r.json" 'my $min = 1e9; for (grep { $_->{role} eq "AP" } @{$r->{vcpus}}) { my $h = grep { $_->{state} eq "HALTED" } @{$_->{mp_states}}; $min = $h if $h < $min } $min >= 3 ? "yes" : "no: $min"')" yes \
	   "user --cpus $n --boot-cpu $bsp: every AP halted and was woken (3 HLTs or more)"
done

run_mpvm 600 run --irqchip user --cpus 4 --cmdline scenario=reinit --report "$T_DIR/r.json"
is "$(report_field "$T_DIR/r.json" 'scalar grep { $_->{state} eq "INIT_RECEIVED" } @{$r->{vcpus}[1]{mp_states}}')" 2 \
   "user reinit: AP 1 went through INIT_RECEIVED twice"

fault_run() { run_mpvm 300 run --irqchip user --cpus 2 --cmdline "scenario=$1 where=$2"; }
fault_run triple-fault ap
is "$STATUS" 126 "user triple-fault on the AP: exit status 126"
like "$ERR" "^mpvm: guest fault on vCPU 1 \\(APIC ID 1, AP\\): triple fault" "user triple-fault on the AP: reported for vCPU 1"

done_testing
