#!/usr/bin/env bash
# CPU hotplug through ACPI (README, "CPU hotplug"), in each irqchip mode:
# --cpus 2,maxcpus=4 with the built-in guest's hotplug scenario, which takes
# the SCI (GPE 2 on IRQ 9; and once, in user mode, polls GPE0_STS instead),
# driven through the control socket: add vCPU 2 (the guest brings it up with
# INIT-SIPI-SIPI), remove it (the guest parks it with INIT and ejects it:
# DEVICE_DELETED), add it again; the errors for the BSP, an absent and a
# present vCPU; the events; and vCPU 2's MP states in --report.
#
# MPVM_ARGS: more options for each mpvm run (e.g. --seccomp off under ThreadSanitizer).
MPVM=${MPVM:-${BUILD:-build}/mpvm}
. "$(dirname "$0")/lib.sh"
QMP=$(cd "$(dirname "$0")/../.." && pwd)/tools/qmp
need_kvm

q() { "$QMP" --timeout 60 "$@"; }

# trace2 FILE: vCPU 2's track in the --trace JSON: its MP-state spans in order, then its instants.
trace2() {
	perl -MJSON::PP -e 'local $/; my $e = decode_json(<STDIN>); my (@s, @i);
		for (@$e) { next unless ($_->{tid} // -1) == 2;
			push @s, $_->{name} if $_->{ph} eq "X"; push @i, $_->{name} if $_->{ph} eq "i" && ($_->{cat} // "") eq "vm" }
		print join(",", @s), " / ", join(",", @i)' <"$1"
}

# wait_line FILE REGEX: up to 60 s for the guest's console to print it (events can come first).
wait_line() { for _ in $(seq 600); do grep -Eq -- "$2" "$1" && return; sleep 0.1; done; }

# seq_has FILE PERL-LIST: the words of PERL-LIST appear in order in vCPU 2's MP-state history.
seq_has() {
	report_field "$1" 'my @h = map { $_->{state} } @{$r->{vcpus}[2]{mp_states}}; my @w = ('"$2"');
		for my $s (@h) { shift @w if @w && $s eq $w[0] } @w ? "missing @w in @h" : "ok"'
}

for run in kernel:1 split:1 user:1 user:0; do
	mode=${run%:*} sci=${run#*:} label=${run%:*}
	[ "$sci" = 1 ] || label="$mode (polled)"
	SOCK=$T_DIR/hp-$mode.sock
	rm -f "$SOCK"
	timeout --kill-after=5 240 "$MPVM" run --cpus 2,maxcpus=4 --irqchip "$mode" \
		--cmdline "scenario=hotplug events=3 sci=$sci" --control "$SOCK" --report "$T_DIR/r.json" --trace "$T_DIR/t.json" \
		${MPVM_ARGS:-} >"$T_DIR/out" 2>"$T_DIR/err" </dev/null &
	VM_PID=$!
	for _ in $(seq 1200); do grep -q 'waiting for 3 events' "$T_DIR/out" 2>/dev/null && break; sleep 0.1; done
	like "$T_DIR/out" "^mpvm-guest: hotplug: 4 possible CPUs, 2 present; waiting for 3 events" \
		"$label: the guest finds the register block: 4 possible CPUs, 2 present"
	like "$T_DIR/out" "MADT: Local APIC, APIC ID 3, ACPI ID 3, disabled" "$label: the MADT lists absent CPUs, not enabled"

	q "$SOCK" 'mpvm-cpu-del cpu-index=0' 'mpvm-cpu-del cpu-index=3' 'mpvm-cpu-add cpu-index=1' \
		'mpvm-cpu-add cpu-index=4' query-cpus-fast >"$T_DIR/errs"
	like "$T_DIR/errs" '"desc":"vCPU 0 is the boot CPU \(BSP\) and cannot be removed"' "$label: the BSP cannot be removed"
	like "$T_DIR/errs" '"desc":"vCPU 3 is not present"' "$label: an absent vCPU cannot be removed"
	like "$T_DIR/errs" '"desc":"vCPU 1 is already present"' "$label: a present vCPU cannot be added"
	like "$T_DIR/errs" "out of range: 4 \(this VM has vCPUs 0 to 3\)" "$label: no vCPU 4"
	is "$(tail -1 "$T_DIR/errs" | grep -o '"cpu-index"' | wc -l)" 2 "$label: query-cpus-fast lists the 2 present vCPUs"

	q --events --wait ACPI_DEVICE_OST "$SOCK" 'mpvm-cpu-add cpu-index=2' >"$T_DIR/add1"
	like "$T_DIR/add1" '"info":\{"device":"cpu2","slot":"2","slot-type":"CPU","source":1,"status":0\}' \
		"$label: add: the guest's _OST reports the device check done"
	wait_line "$T_DIR/out" "added and online"
	like "$T_DIR/out" "^mpvm-guest: hotplug: CPU 2 \(APIC ID 2\) added and online, bring-up [0-9]+ us" \
		"$label: add: the guest brought vCPU 2 up, with its bring-up time"
	q "$SOCK" query-cpus-fast >"$T_DIR/cpus"
	is "$(grep -o '"cpu-index"' "$T_DIR/cpus" | wc -l)" 3 "$label: add: query-cpus-fast lists 3 vCPUs"
	tid=$(perl -MJSON::PP -ne 'for (@{decode_json($_)->{return}}) { print $_->{"thread-id"} if $_->{"cpu-index"} == 2 }' "$T_DIR/cpus")
	if [[ " ${MPVM_ARGS:-} " == *" --seccomp off "* ]]; then
		ok 0 "$label: add: (no seccomp check with --seccomp off)"
	else
		like "/proc/$tid/status" '^Seccomp:[[:space:]]+2' "$label: add: the added vCPU's thread runs under its seccomp filter"
	fi

	q --events --wait DEVICE_DELETED "$SOCK" 'mpvm-cpu-del cpu-index=2' >"$T_DIR/del"
	like "$T_DIR/del" '"source":3,"status":132' "$label: del: _OST eject request in progress (0x84)"
	like "$T_DIR/del" '"data":\{"device":"cpu2","path":"/machine/unattached/device\[2\]"\},"event":"DEVICE_DELETED"' \
		"$label: del: DEVICE_DELETED once the vCPU is parked"
	wait_line "$T_DIR/out" "parked \(INIT\) and ejected"
	like "$T_DIR/out" "^mpvm-guest: hotplug: CPU 2 \(APIC ID 2\) parked \(INIT\) and ejected" "$label: del: the guest parked and ejected it"
	q "$SOCK" mpvm-query-mp-state >"$T_DIR/mp"
	like "$T_DIR/mp" '"cpu-index":2,[^}]*"thread-state":"absent"' "$label: del: its thread is absent"

	q --events --wait ACPI_DEVICE_OST "$SOCK" 'mpvm-cpu-add cpu-index=2' >"$T_DIR/add2"
	like "$T_DIR/add2" '"source":1,"status":0' "$label: re-add: the guest's _OST reports it done"
	wait "$VM_PID"
	STATUS=$?
	is "$STATUS" 0 "$label: the guest took 3 events and exited 0"
	is "$(count "$T_DIR/out" '^mpvm-guest: hotplug: CPU 2 \(APIC ID 2\) added and online')" 2 "$label: vCPU 2 was brought up twice"
	is "$(count "$T_DIR/out" 'FAIL|exception')" 0 "$label: the guest saw no failure"
	if [ "$sci" = 1 ]; then
		like "$T_DIR/out" "^mpvm-guest: hotplug: ([3-9]|[1-9][0-9]+) SCIs taken" "$label: the guest took the events by the SCI"
	else
		unlike "$T_DIR/out" "SCIs taken" "$label: the guest polled GPE0_STS"
	fi
	is "$(seq_has "$T_DIR/r.json" 'qw(UNINITIALIZED INIT_RECEIVED RUNNABLE INIT_RECEIVED RUNNABLE)')" ok \
		"$label: --report: vCPU 2 went UNINITIALIZED, INIT_RECEIVED, RUNNABLE, INIT_RECEIVED (parked), RUNNABLE"
	like <(trace2 "$T_DIR/t.json") '^UNINITIALIZED,INIT_RECEIVED,(SIPI_RECEIVED,)?RUNNABLE,.*INIT_RECEIVED,.*RUNNABLE.* / added,ejected \(_EJ0\),parked \(absent\),added$' \
		"$label: --trace: vCPU 2's spans and the added, ejected, parked, added marks"
	is "$(report_field "$T_DIR/r.json" '$r->{vcpus}[2]{mp_states}[0]{state}')" UNINITIALIZED \
		"$label: --report: vCPU 2 started UNINITIALIZED"
	is "$(report_field "$T_DIR/r.json" '($r->{vcpus}[3]{present} ? "yes" : "no") . " " . $r->{vcpus}[3]{thread}{state_at_stop}')" \
		"no absent" "$label: --report: vCPU 3, never added, is absent"
	like "$T_DIR/err" "^mpvm:    3        3  AP    absent" "$label: the summary says vCPU 3 is absent"
done

# Possible CPUs are not there until added: a broadcast INIT-SIPI at boot starts only the present ones.
for mode in kernel split user; do
	run_mpvm 120 run --cpus 2,maxcpus=4 --irqchip "$mode" --cmdline scenario=broadcast
	is "$STATUS" 0 "$mode: broadcast start with 2 absent CPUs: status 0"
	like "$OUT" '^2/2 CPUs online$' "$mode: broadcast start: 2/2 CPUs online"
	is "$(count "$ERR" '^mpvm: +[23] +[23] +AP +absent')" 2 "$mode: broadcast start: vCPUs 2 and 3 stay absent"
done

# No hotplug without maxcpus: a clear error.
SOCK=$T_DIR/plain.sock
timeout --kill-after=5 60 "$MPVM" run --cpus 2 --cmdline scenario=hang --control "$SOCK" \
	${MPVM_ARGS:-} >"$T_DIR/out" 2>"$T_DIR/err" </dev/null &
VM_PID=$!
for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
q "$SOCK" 'mpvm-cpu-add cpu-index=1' 'mpvm-cpu-del cpu-index=0' quit >"$T_DIR/plain"
like "$T_DIR/plain" "this VM has no CPU hotplug: start it with --cpus 2,maxcpus=M" "without maxcpus: mpvm-cpu-add says how to get hotplug"
like "$T_DIR/plain" "vCPU 0 is the boot CPU \(BSP\) and cannot be removed" "without maxcpus: the BSP still cannot be removed"
wait "$VM_PID"

done_testing
