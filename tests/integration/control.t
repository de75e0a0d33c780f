#!/usr/bin/env bash
# --control: the QMP socket, driven with tools/qmp against the built-in
# guest's hang scenario (every AP started, then every CPU halts for good)
# on 2 vCPUs, in each irqchip mode: the greeting and negotiation, QEMU's
# commands and events, pausing one vCPU while the other goes on, mpvm-send,
# bad requests, too many clients, quit.
#
# MPVM_ARGS: more options for each mpvm run (e.g. --seccomp off, so that a
# ThreadSanitizer report is printed rather than stopped by the filter).
MPVM=${MPVM:-${BUILD:-build}/mpvm}
. "$(dirname "$0")/lib.sh"
QMP=$(cd "$(dirname "$0")/../.." && pwd)/tools/qmp
need_kvm

# start_vm MODE: mpvm in the background with its socket at $SOCK; waits for the socket.
start_vm() {
	SOCK=$T_DIR/qmp-$1.sock
	timeout --kill-after=5 60 "$MPVM" run --cpus 2 --irqchip "$1" --cmdline scenario=hang \
		--control "$SOCK" ${MPVM_ARGS:-} >"$T_DIR/out" 2>"$T_DIR/err" </dev/null &
	VM_PID=$!
	for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
	# The guest's APs are up when the BSP says it halts for good.
	for _ in $(seq 300); do grep -q 'the BSP now halts' "$T_DIR/out" && break; sleep 0.05; done
}

# wait_vm: mpvm's exit status in $STATUS.
wait_vm() { wait "$VM_PID"; STATUS=$?; }

# q [--events] [--wait EVENT] REQUEST...: tools/qmp on $SOCK.
q() {
	local opts=()
	while [[ $1 == --* ]]; do
		opts+=("$1")
		[[ $1 == --wait ]] && { shift; opts+=("$1"); }
		shift
	done
	"$QMP" --timeout 20 "${opts[@]}" "$SOCK" "$@"
}

for mode in kernel split user; do
	start_vm "$mode"
	ok "$([ -S "$SOCK" ]; echo $?)" "$mode: the socket exists"
	is "$(stat -c %a "$SOCK")" 600 "$mode: the socket is mode 0600"

	# The protocol, raw: greeting, a command before negotiation, negotiation twice.
	"$QMP" --raw "$SOCK" '{"execute":"query-status","id":1}' '{"execute":"qmp_capabilities","id":"n"}' \
		'{"execute":"qmp_capabilities"}' '{"execute":"query-status","id":[2]}' >"$T_DIR/raw"
	is "$(jget "$T_DIR/raw" 1 'ref $r->{QMP}{version}{qemu} eq "HASH" && ref $r->{QMP}{capabilities} eq "ARRAY" ? "ok" : "bad"')" ok \
		"$mode: greeting has QMP.version.qemu and capabilities"
	is "$(jget "$T_DIR/raw" 2 '"$r->{error}{class} $r->{id}"')" "CommandNotFound 1" \
		"$mode: a command before qmp_capabilities is CommandNotFound, id echoed"
	is "$(jget "$T_DIR/raw" 3 'ref($r->{return}) . " " . $r->{id}')" "HASH n" "$mode: qmp_capabilities returns {}"
	is "$(jget "$T_DIR/raw" 4 '$r->{error}{class}')" CommandNotFound "$mode: a second qmp_capabilities is refused"
	is "$(jget "$T_DIR/raw" 5 '"$r->{return}{status} $r->{return}{running} $r->{id}[0]"')" "running 1 2" \
		"$mode: query-status says running, id echoed"

	# query-cpus-fast: QEMU's fields and mpvm's.
	q query-cpus-fast >"$T_DIR/cpus"
	is "$(jget "$T_DIR/cpus" 1 'join ",", sort keys %{$r->{return}[1]}')" \
		"apic-id,bsp,cpu-index,mp-state,paused,props,qom-path,target,thread-id" "$mode: query-cpus-fast fields"
	is "$(jget "$T_DIR/cpus" 1 'join " ", map { $_->{q(cpu-index)} . ":" . $_->{q(apic-id)} . ":" . ($_->{bsp} ? "bsp" : "ap") . ":$_->{target}" } @{$r->{return}}')" \
		"0:0:bsp:x86_64 1:1:ap:x86_64" "$mode: query-cpus-fast: indexes, APIC IDs, BSP, target"
	tid=$(jget "$T_DIR/cpus" 1 '$r->{return}[1]{"thread-id"}')
	is "$(cat "/proc/$(pgrep -P "$VM_PID" -x mpvm || echo "$VM_PID")/task/$tid/comm" 2>/dev/null)" vcpu1 \
		"$mode: thread-id of vCPU 1 is its thread (vcpu1)"

	# An idle socket costs no wake-ups: the control thread sleeps in poll().
	pid=$(pgrep -P "$VM_PID" -x mpvm || echo "$VM_PID")
	ctl=$(grep -lx control /proc/"$pid"/task/*/comm 2>/dev/null | head -1)
	sw0=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "${ctl%/comm}/status" 2>/dev/null)
	sleep 1
	sw1=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "${ctl%/comm}/status" 2>/dev/null)
	is "${sw1:-none}" "${sw0:-unknown}" "$mode: the idle control thread did not wake in 1 s"

	# Pause vCPU 1; vCPU 0 is not paused and keeps its thread state.
	q mpvm-query-mp-state 'mpvm-vcpu-pause cpu-index=1' mpvm-query-mp-state query-cpus-fast \
		'mpvm-vcpu-resume cpu-index=1' 'mpvm-query-mp-state refresh=true' >"$T_DIR/pause"
	ok $? "$mode: pause, query, resume: every answer a return"
	is "$(jget "$T_DIR/pause" 3 'my $v = $r->{return}{vcpus}; "$v->[1]{q(thread-state)} $v->[1]{paused} " . ($v->[0]{paused} ? 1 : 0)')" \
		"paused 1 0" "$mode: vCPU 1 paused, vCPU 0 not"
	is "$(jget "$T_DIR/pause" 3 '$r->{return}{vcpus}[0]{q(thread-state)} eq "paused" ? "paused" : "not paused"')" "not paused" \
		"$mode: vCPU 0's thread goes on while vCPU 1 is paused"
	e0=$(jget "$T_DIR/pause" 1 '$r->{return}{vcpus}[0]{exits}')
	e1=$(jget "$T_DIR/pause" 3 '$r->{return}{vcpus}[0]{exits}')
	ok "$([ "$e1" -ge "$e0" ]; echo $?)" "$mode: vCPU 0's exits go on counting ($e0, then $e1)"
	is "$(jget "$T_DIR/pause" 4 '($r->{return}[1]{paused} ? 1 : 0) . ($r->{return}[0]{paused} ? 1 : 0)')" 10 \
		"$mode: query-cpus-fast shows vCPU 1 paused"
	is "$(jget "$T_DIR/pause" 6 'my $v = $r->{return}{vcpus}[1]; ($v->{paused} ? 1 : 0) . " $v->{q(mp-state)}"')" "0 HALTED" \
		"$mode: vCPU 1 resumed, HALTED (refresh reads KVM's state)"
	is "$(jget "$T_DIR/pause" 6 '$r->{return}{vcpus}[0]{q(mp-state)}')" HALTED "$mode: vCPU 0 HALTED (cli; hlt)"
	is "$(jget "$T_DIR/pause" 6 'join ",", sort keys %{$r->{return}}')" "events-dropped,irqchip,now-ns,vcpus" \
		"$mode: mpvm-query-mp-state's fields"
	is "$(jget "$T_DIR/pause" 6 'join ",", grep { $_ ne "last-sipi-vector" } sort keys %{$r->{return}{vcpus}[1]}')" \
		"apic-id,bsp,cpu-index,exits,mp-state,paused,since-ns,thread-state" "$mode: mpvm-query-mp-state's per-vCPU fields"
	# With --irqchip user mpvm delivered the guest's own SIPI, so it knows the vector (0x8000).
	[ "$mode" != user ] || is "$(jget "$T_DIR/pause" 6 '$r->{return}{vcpus}[1]{q(last-sipi-vector)}')" 8 \
		"$mode: the guest's SIPI vector (8) is known"

	# stop and cont, with their events.
	q --events stop query-status cont query-status >"$T_DIR/stop"
	like "$T_DIR/stop" '"event":"STOP"' "$mode: stop sends STOP"
	like "$T_DIR/stop" '"running":false,"singlestep":false,"status":"paused"' "$mode: query-status after stop: paused"
	like "$T_DIR/stop" '"event":"RESUME"' "$mode: cont sends RESUME"
	is "$(grep -c '"running":true,"singlestep":false,"status":"running"' "$T_DIR/stop")" 1 "$mode: query-status after cont: running"
	like "$T_DIR/stop" '"timestamp":\{"microseconds":[0-9]+,"seconds":[0-9]+\}' "$mode: events carry QMP's timestamp"

	# INIT then SIPI to vCPU 1: it restarts (MP_STATE_CHANGE events; user mode sees every step).
	q --events 'mpvm-send cpu-index=1 type=init' sleep=0.5 'mpvm-send apic-id=1 type=sipi vector=8' sleep=1 \
		mpvm-query-mp-state >"$T_DIR/send"
	ok $? "$mode: mpvm-send init and sipi return"
	# With KVM's local APICs mpvm sees the state when the kicked thread reads it: the AP may
	# have run its trampoline and halted by then.
	like "$T_DIR/send" '"cpu-index":1,"from":"[A-Z_]+","time":[0-9]+,"to":"INIT_RECEIVED"' \
		"$mode: vCPU 1 took the INIT (MP_STATE_CHANGE to INIT_RECEIVED)"
	like "$T_DIR/send" '"cpu-index":1,"from":"(INIT|SIPI)_RECEIVED","time":[0-9]+,"to":"(RUNNABLE|HALTED)"' \
		"$mode: the SIPI started it (MP_STATE_CHANGE from waiting for SIPI to RUNNABLE or HALTED)"
	is "$(jget "$T_DIR/send" "$(wc -l <"$T_DIR/send")" '$r->{return}{vcpus}[1]{q(last-sipi-vector)}')" 8 \
		"$mode: the last SIPI vector is 8"

	# Bad requests: each an error naming what was wrong; the session goes on.
	long=$(head -c 70000 /dev/zero | tr '\0' ' ')
	q '{"execute": ]' '[1,2]' 'no-such-command' 'mpvm-vcpu-pause' \
		'mpvm-vcpu-pause cpu-index=1 cpus=2' 'mpvm-vcpu-pause cpu-index=one' 'mpvm-vcpu-pause cpu-index=2' \
		'mpvm-send cpu-index=0' 'mpvm-send cpu-index=1 type=sipi' 'mpvm-send cpu-index=1 type=nmi vector=2' \
		'mpvm-send cpu-index=1 apic-id=1 type=init' 'mpvm-send apic-id=7 type=init' 'mpvm-send cpu-index=0 type=smi' \
		'system_reset force=true' '{"execute":"query-status","arguments":[]}' "{\"execute\":\"query-status\",$long}" \
		query-status >"$T_DIR/bad"
	desc() { jget "$T_DIR/bad" "$1" '$r->{error}{desc} // "no error"'; }
	like <(desc 1) 'JSON parse error' "$mode: malformed JSON is a JSON parse error"
	like <(desc 2) 'must be a JSON object' "$mode: an array is not a request"
	like <(jget "$T_DIR/bad" 3 '"$r->{error}{class} $r->{error}{desc}"') '^CommandNotFound The command no-such-command has not been found' \
		"$mode: unknown command: CommandNotFound"
	like <(desc 4) "Parameter 'cpu-index' is missing" "$mode: missing argument"
	like <(desc 5) "Parameter 'cpus' is unexpected" "$mode: extra argument"
	like <(desc 6) "Invalid parameter type for 'cpu-index', expected: integer" "$mode: mistyped argument"
	like <(desc 7) "'cpu-index' is out of range: 2 \(this VM has vCPUs 0 to 1\)" "$mode: cpu-index out of range"
	like <(desc 8) "Parameter 'type' is missing" "$mode: mpvm-send without type"
	like <(desc 9) "'vector' is missing \(type sipi needs it\)" "$mode: sipi without vector"
	like <(desc 10) "'vector' is only for type sipi" "$mode: vector with nmi"
	like <(desc 11) "exactly one of 'cpu-index' and 'apic-id'" "$mode: both cpu-index and apic-id"
	like <(desc 12) "no vCPU has APIC ID 7" "$mode: an APIC ID nobody has"
	like <(desc 13) "must be init, sipi or nmi, not 'smi'" "$mode: an unknown message type"
	like <(desc 14) "Parameter 'force' is unexpected" "$mode: system_reset takes no arguments"
	like <(desc 15) "'arguments' must be an object" "$mode: arguments that are not an object"
	like <(desc 16) "QMP request too long: more than 65536 bytes" "$mode: a 70000-byte request is refused"
	is "$(jget "$T_DIR/bad" 17 '$r->{return}{status}')" running "$mode: after all that, query-status answers"

	# 16 clients at once are served; the 17th is told why it is refused.
	perl -MIO::Socket::UNIX -e '
		my @c;
		for (1 .. 17) { push @c, IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ARGV[0]) or die "connect: $!" }
		for my $i (0 .. 16) { my $l = readline($c[$i]); print $i + 1, " ", ($l =~ /"QMP"/ ? "greeting" : $l =~ /too many clients/ ? "refused" : "other: $l"), "\n" }
	' "$SOCK" >"$T_DIR/many" 2>&1
	is "$(grep -c greeting "$T_DIR/many")" 16 "$mode: 16 clients get the greeting"
	like "$T_DIR/many" '^17 refused$' "$mode: the 17th client is refused (too many clients)"

	# quit: its answer, the SHUTDOWN event, exit status 0, the socket removed.
	q --wait SHUTDOWN quit >"$T_DIR/quit"
	is "$(jget "$T_DIR/quit" 1 'ref($r->{return})')" HASH "$mode: quit returns {}"
	is "$(jget "$T_DIR/quit" 2 '"$r->{event} $r->{data}{reason} " . ($r->{data}{guest} ? 1 : 0)')" "SHUTDOWN host-qmp-quit 0" \
		"$mode: SHUTDOWN event, reason host-qmp-quit"
	wait_vm
	is "$STATUS" 0 "$mode: mpvm exits 0 after quit"
	ok "$([ ! -e "$SOCK" ]; echo $?)" "$mode: the socket is gone"
	unlike "$T_DIR/err" 'ThreadSanitizer|AddressSanitizer|runtime error' "$mode: no sanitizer report"

	# An NMI to vCPU 1 only: the hang guest has no NMI handler and says where it arrived.
	start_vm "$mode"
	q --wait SHUTDOWN 'mpvm-send cpu-index=1 type=nmi' >"$T_DIR/nmi"
	wait_vm
	like "$T_DIR/out" 'exception 2 \(0x2\) on APIC ID 1 ' "$mode: the NMI arrived on vCPU 1"
	is "$(count "$T_DIR/out" 'exception 2')" 1 "$mode: and nowhere else"
	is "$(jget "$T_DIR/nmi" 2 '"$r->{event} $r->{data}{reason}"')" "SHUTDOWN guest-shutdown" "$mode: SHUTDOWN, reason guest-shutdown"
	is "$STATUS" 1 "$mode: mpvm exits with the guest's status 1"
done
done_testing
