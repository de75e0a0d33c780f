#!/usr/bin/env bash
# --control steering the MP lifecycle of a running 4-vCPU guest, in each
# irqchip mode: the built-in guest's heartbeat scenario (each CPU counts its
# local APIC timer's ticks and its NMIs; the key h on COM1 prints the
# counters with each AP's trampoline entries and start CS) driven through
# the socket with tools/qmp. query-cpus-fast and mpvm-query-mp-state list
# the states; a paused vCPU 2 stops ticking while the others go on, and
# ticks again once resumed; INIT then SIPI to vCPU 3 restarts it at the
# vector (trampoline entry count 2); an NMI reaches only its target;
# stop and cont pause and resume the whole VM; --ap-watchdog sees vCPU 3
# wait for its SIPI. Then, in user mode only: mpvm-fault drops, delays and
# duplicates INIT and SIPI messages, and the watchdog reports the AP whose
# SIPI was dropped (VCPU_STUCK).
#
# MPVM_ARGS: more options for each mpvm run.
MPVM=${MPVM:-${BUILD:-build}/mpvm}
. "$(dirname "$0")/lib.sh"
QMP=$(cd "$(dirname "$0")/../.." && pwd)/tools/qmp
need_kvm

q() { "$QMP" --timeout 30 "$SOCK" "$@"; }

# start_vm MODE: the heartbeat guest on 4 vCPUs, its COM1 input from a FIFO on fd 4.
start_vm() {
	SOCK=$T_DIR/qmp-$1.sock
	rm -f "$T_DIR/in"
	mkfifo "$T_DIR/in"
	exec 4<>"$T_DIR/in"
	timeout --kill-after=5 120 "$MPVM" run --cpus 4 --irqchip "$1" --cmdline scenario=heartbeat \
		--control "$SOCK" --ap-watchdog "$WATCHDOG_MS" ${MPVM_ARGS:-} <&4 >"$T_DIR/out" 2>"$T_DIR/err" &
	VM_PID=$!
	REPORTS=0
	for _ in $(seq 1200); do grep -q 'keys on COM1' "$T_DIR/out" && break; sleep 0.05; done
}

# report: asks the guest for its counters (key h) and waits for the block; $REPORTS is its number.
report() {
	REPORTS=$((REPORTS + 1))
	printf h >&4
	for _ in $(seq 600); do grep -q "heartbeat $REPORTS: end" "$T_DIR/out" && return; sleep 0.05; done
}

# field N CPU NAME: NAME (beats, entries, start-cs, nmis) of vCPU CPU in report N.
field() {
	sed -nE "s/^mpvm-guest: heartbeat $1: cpu $2 .* $3 ([0-9a-fx]+)( .*)?$/\1/p" "$T_DIR/out" | head -1
}

# beats N: every vCPU's beats in report N, space-separated.
beats() { echo "$(field "$1" 0 beats) $(field "$1" 1 beats) $(field "$1" 2 beats) $(field "$1" 3 beats)"; }
nmis() { echo "$(field "$1" 0 nmis) $(field "$1" 1 nmis) $(field "$1" 2 nmis) $(field "$1" 3 nmis)"; }

# grew A B: each of the space-separated counts B is above A's, except at index SKIP (-1: none).
grew() {
	perl -e 'my @a = split " ", $ARGV[0]; my @b = split " ", $ARGV[1];
		 for (0 .. 3) { next if $_ == $ARGV[2]; exit 1 unless defined $b[$_] && $b[$_] > ($a[$_] // 1e18) } exit 0' "$1" "$2" "${3:--1}"
}

# The INIT to vCPU 3 below waits more than 0.8 s for its SIPI: the watchdog must see it in every mode.
WATCHDOG_MS=500
for mode in kernel split user; do
	start_vm "$mode"
	like "$T_DIR/out" '4/4 CPUs online, each ticking' "$mode: the heartbeat guest is up on 4 vCPUs"

	# The states, both ways. Every CPU halts between ticks; each may be caught running one.
	# With KVM's local APICs query-cpus-fast shows the state a vCPU's thread last read; the
	# refresh makes each read it now.
	q 'mpvm-query-mp-state refresh=true' query-cpus-fast >"$T_DIR/list"
	is "$(jget "$T_DIR/list" 2 'join " ", map { "$_->{q(cpu-index)}:" . ($_->{bsp} ? "bsp" : "ap") . ":" . ($_->{q(mp-state)} =~ /^(HALTED|RUNNABLE)$/ ? "up" : $_->{q(mp-state)}) } @{$r->{return}}')" \
		"0:bsp:up 1:ap:up 2:ap:up 3:ap:up" "$mode: query-cpus-fast lists 4 vCPUs, each HALTED or RUNNABLE"
	is "$(jget "$T_DIR/list" 1 'join " ", map { "$_->{q(cpu-index)}:" . ($_->{q(mp-state)} =~ /^(HALTED|RUNNABLE)$/ ? "up" : $_->{q(mp-state)}) . ":" . ($_->{q(thread-state)} =~ /^(running|wait-runnable)$/ ? "on" : $_->{q(thread-state)}) } @{$r->{return}{vcpus}}')" \
		"0:up:on 1:up:on 2:up:on 3:up:on" "$mode: mpvm-query-mp-state lists the same, no thread paused"

	# vCPU 2 paused: it stops ticking, the others go on; resumed: it ticks again.
	q 'mpvm-vcpu-pause cpu-index=2' 'mpvm-query-mp-state' >"$T_DIR/pause"
	is "$(jget "$T_DIR/pause" 2 'join " ", map { $_->{q(thread-state)} eq "paused" ? "paused" : "on" } @{$r->{return}{vcpus}}')" \
		"on on paused on" "$mode: only vCPU 2's thread is paused"
	report; a=$REPORTS
	sleep 1
	report; b=$REPORTS
	is "$(field $b 2 beats)" "$(field $a 2 beats)" "$mode: paused vCPU 2 did not tick ($(field $a 2 beats), then $(field $b 2 beats))"
	grew "$(beats $a)" "$(beats $b)" 2
	ok $? "$mode: the other vCPUs ticked on ($(beats $a) -> $(beats $b))"
	q 'mpvm-vcpu-resume cpu-index=2' >/dev/null
	sleep 1
	report; c=$REPORTS
	grew "$(beats $b)" "$(beats $c)"
	ok $? "$mode: resumed, vCPU 2 ticks again, with the others ($(beats $b) -> $(beats $c))"

	# An NMI to vCPU 1 arrives there only; inject-nmi, QEMU's, reaches every vCPU.
	q 'mpvm-send cpu-index=1 type=nmi' >/dev/null
	sleep 0.5
	report
	is "$(nmis $REPORTS)" "0 1 0 0" "$mode: mpvm-send's NMI to vCPU 1 reached vCPU 1 only"
	q inject-nmi >/dev/null
	sleep 0.5
	report
	is "$(nmis $REPORTS)" "1 2 1 1" "$mode: inject-nmi reached every vCPU once"

	# INIT to vCPU 3: it waits for a SIPI (no ticks); SIPI 0x0a: it enters the trampoline at 0xa000.
	q 'mpvm-send cpu-index=3 type=init' sleep=0.3 'mpvm-query-mp-state refresh=true' >"$T_DIR/init"
	is "$(jget "$T_DIR/init" 2 '$r->{return}{vcpus}[3]{q(mp-state)}')" INIT_RECEIVED "$mode: after INIT vCPU 3 is INIT_RECEIVED"
	report; a=$REPORTS
	sleep 0.5
	report; b=$REPORTS
	is "$(field $b 3 beats)" "$(field $a 3 beats)" "$mode: vCPU 3 does not tick while it waits for a SIPI"
	q 'mpvm-send apic-id=3 type=sipi vector=10' sleep=0.5 'mpvm-query-mp-state refresh=true' >"$T_DIR/sipi"
	is "$(jget "$T_DIR/sipi" 2 'my $v = $r->{return}{vcpus}[3]; ($v->{q(mp-state)} =~ /^(HALTED|RUNNABLE)$/ ? "up" : $v->{q(mp-state)}) . " $v->{q(last-sipi-vector)}"')" \
		"up 10" "$mode: after the SIPI vCPU 3 runs again; last SIPI vector 10"
	report; c=$REPORTS
	is "$(field $c 3 entries) $(field $c 3 start-cs)" "2 0xa00" "$mode: vCPU 3 entered the trampoline a second time, at vector 0x0a (CS 0xa00)"
	is "$(field $c 1 entries) $(field $c 2 entries)" "1 1" "$mode: vCPUs 1 and 2 entered it once"
	ok "$([ "$(field $c 3 beats)" -gt "$(field $b 3 beats)" ]; echo $?)" "$mode: vCPU 3 ticks again after its restart"
	like "$T_DIR/err" '^mpvm: --ap-watchdog: vCPU 3 \(APIC ID 3\) is still INIT_RECEIVED [0-9]+ ms after its INIT$' \
		"$mode: --ap-watchdog 500 saw vCPU 3 wait for its SIPI"
	is "$(count "$T_DIR/err" 'ap-watchdog: vCPU [012] ')" 0 "$mode: and no other vCPU"

	# stop: the whole VM pauses (a key pressed now is not answered); cont: it goes on and answers.
	q stop query-status >"$T_DIR/stop"
	is "$(jget "$T_DIR/stop" 2 '$r->{return}{status}')" paused "$mode: query-status after stop: paused"
	printf h >&4
	sleep 1
	is "$(count "$T_DIR/out" "heartbeat $((REPORTS + 1)): end")" 0 "$mode: the stopped guest does not answer its key"
	q cont query-status >"$T_DIR/cont"
	is "$(jget "$T_DIR/cont" 2 '$r->{return}{status}')" running "$mode: query-status after cont: running"
	REPORTS=$((REPORTS + 1))
	for _ in $(seq 600); do grep -q "heartbeat $REPORTS: end" "$T_DIR/out" && break; sleep 0.05; done
	grew "$(beats $c)" "$(beats $REPORTS)"
	ok $? "$mode: after cont the guest answers the key and every vCPU ticked ($(beats $c) -> $(beats $REPORTS))"

	# mpvm-fault: only where mpvm delivers INIT and SIPI (user); refused with the reason elsewhere.
	if [ "$mode" != user ]; then
		q 'mpvm-fault cpu-index=3 type=sipi action=drop' >"$T_DIR/fault"
		like "$T_DIR/fault" "mpvm-fault needs --irqchip user: with --irqchip $mode KVM's local APICs deliver" \
			"$mode: mpvm-fault is refused, saying why"
	fi

	q quit >/dev/null
	wait "$VM_PID"
	is "$?" 0 "$mode: quit ends mpvm with status 0"
	exec 4>&-
	unlike "$T_DIR/err" 'ThreadSanitizer|AddressSanitizer|runtime error' "$mode: no sanitizer report"
	unlike "$T_DIR/out" 'FAIL' "$mode: the guest reported no failure"
done

# --ap-watchdog and mpvm-fault (user mode, where mpvm delivers INIT and SIPI): vCPU 3's SIPI is
# dropped, so after its INIT it waits: VCPU_STUCK. A delayed INIT and SIPI to vCPU 2 arrive late,
# a duplicated SIPI to vCPU 1 arrives twice (the second ignored: vCPU 1 runs by then).
WATCHDOG_MS=300
start_vm user
# One session: the event comes 300 ms after the INIT, perhaps before a second client would connect.
"$QMP" --timeout 20 --wait VCPU_STUCK "$SOCK" 'mpvm-fault cpu-index=3 type=sipi action=drop' \
	'mpvm-send cpu-index=3 type=init' 'mpvm-send cpu-index=3 type=sipi vector=10' >"$T_DIR/stuck"
ok $? "user: mpvm-fault drop, INIT and SIPI to vCPU 3 return, VCPU_STUCK comes"
is "$(jget "$T_DIR/stuck" 4 '"$r->{data}{q(cpu-index)} $r->{data}{q(mp-state)} " . ($r->{data}{q(waited-ms)} >= 300 ? "late" : "early")')" \
	"3 INIT_RECEIVED late" "user: the watchdog reports vCPU 3 stuck in INIT_RECEIVED after 300 ms"
like "$T_DIR/err" 'ap-watchdog: vCPU 3 \(APIC ID 3\) is still INIT_RECEIVED [0-9]+ ms after its INIT' \
	"user: and says so on stderr"
q 'mpvm-send cpu-index=3 type=sipi vector=10' sleep=0.5 'mpvm-fault cpu-index=3 type=sipi action=drop count=0' >"$T_DIR/drop2"
is "$(jget "$T_DIR/drop2" 2 '$r->{return}{q(faulted-before)}')" 1 "user: the fault took one message"
report
is "$(field $REPORTS 3 entries) $(field $REPORTS 3 start-cs)" "2 0xa00" "user: the next SIPI (the fault used up) starts vCPU 3 at 0x0a"

q 'mpvm-fault cpu-index=2 type=any action=delay delay-ms=1000 count=2' 'mpvm-send cpu-index=2 type=init' \
	'mpvm-send cpu-index=2 type=sipi vector=10' 'mpvm-query-mp-state' sleep=2 'mpvm-query-mp-state' >"$T_DIR/delay"
is "$(jget "$T_DIR/delay" 4 '$r->{return}{vcpus}[2]{q(mp-state)} =~ /^(HALTED|RUNNABLE)$/ ? "up" : "waiting"')" up \
	"user: right after the delayed INIT vCPU 2 still runs"
report
is "$(field $REPORTS 2 entries) $(field $REPORTS 2 start-cs)" "2 0xa00" "user: 1 s later the INIT and SIPI arrived: vCPU 2 restarted at 0x0a"

q 'mpvm-fault cpu-index=1 type=sipi action=duplicate delay-ms=200 seed=7' 'mpvm-send cpu-index=1 type=init' \
	'mpvm-send cpu-index=1 type=sipi vector=10' sleep=1 >/dev/null
report
is "$(field $REPORTS 1 entries)" 2 "user: a duplicated SIPI starts vCPU 1 once (the copy finds it running)"

# Bad fault requests.
q 'mpvm-fault cpu-index=9 type=sipi action=drop' 'mpvm-fault cpu-index=1 type=nmi action=drop' \
	'mpvm-fault cpu-index=1 type=sipi action=lose' 'mpvm-fault cpu-index=1 type=sipi action=delay' \
	'mpvm-fault cpu-index=1 type=sipi action=drop delay-ms=5' 'mpvm-fault cpu-index=1 type=sipi action=drop count=-1' \
	'mpvm-fault cpu-index=1 type=init action=delay delay-ms=5 seed=0' >"$T_DIR/badfault"
desc() { jget "$T_DIR/badfault" "$1" '$r->{error}{desc} // "no error"'; }
like <(desc 1) "'cpu-index' is out of range: 9" "user: mpvm-fault: cpu-index out of range"
like <(desc 2) "'type' must be init, sipi or any, not 'nmi'" "user: mpvm-fault: type nmi refused"
like <(desc 3) "'action' must be drop, delay or duplicate, not 'lose'" "user: mpvm-fault: unknown action"
like <(desc 4) "'delay-ms' is missing \(action delay needs it\)" "user: mpvm-fault: delay without delay-ms"
like <(desc 5) "'delay-ms' is only for actions delay and duplicate" "user: mpvm-fault: drop with delay-ms"
like <(desc 6) "'count' is out of range: -1" "user: mpvm-fault: negative count"
like <(desc 7) "'seed' must be a positive integer" "user: mpvm-fault: seed 0"
q quit >/dev/null
wait "$VM_PID"
is "$?" 0 "user: quit ends the watchdog run with status 0"
unlike "$T_DIR/out" 'FAIL' "user: the guest reported no failure"
done_testing
