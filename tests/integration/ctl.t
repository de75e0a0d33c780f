#!/usr/bin/env bash
# mpvm ctl: the control socket's client in the mpvm binary, against the
# built-in guest's hang scenario on 2 vCPUs: tables for people, --json,
# wait for an event, and its errors and exit statuses.
MPVM=${MPVM:-${BUILD:-build}/mpvm}
. "$(dirname "$0")/lib.sh"
need_kvm

SOCK=$T_DIR/vm.qmp
timeout --kill-after=5 60 "$MPVM" run --cpus 2 --cmdline scenario=hang --control "$SOCK" ${MPVM_ARGS:-} \
	>"$T_DIR/out" 2>"$T_DIR/err" </dev/null &
VM_PID=$!
for _ in $(seq 600); do grep -q 'the BSP now halts' "$T_DIR/out" && [ -S "$SOCK" ] && break; sleep 0.05; done
ctl() { "$MPVM" ctl "$@"; }

ctl "$SOCK" query-cpus-fast >"$T_DIR/cpus"
ok $? "query-cpus-fast: status 0"
like "$T_DIR/cpus" '^CPU +APIC ID +ROLE +MP STATE +PAUSED +THREAD +SOCKET/CORE/THREAD$' "query-cpus-fast: a table header"
like "$T_DIR/cpus" '^1 +1 +AP +[A-Z_]+ +no +[0-9]+ +0/1/0$' "query-cpus-fast: a row per vCPU (vCPU 1: AP, core 1)"

is "$(ctl "$SOCK" mpvm-vcpu-pause cpu-index=1)" ok "mpvm-vcpu-pause prints ok"
ctl "$SOCK" mpvm-query-mp-state refresh=true >"$T_DIR/mp"
like "$T_DIR/mp" '^irqchip kernel, VM time [0-9.]+ ms, events dropped 0$' "mpvm-query-mp-state: irqchip and VM time"
like "$T_DIR/mp" '^1 +1 +AP +HALTED +[0-9.]+ +paused +yes +[0-9]+ ' "mpvm-query-mp-state: vCPU 1 HALTED, its thread paused"
like "$T_DIR/mp" '^0 +0 +BSP +HALTED ' "mpvm-query-mp-state: vCPU 0 HALTED"
ctl --json "$SOCK" mpvm-query-mp-state >"$T_DIR/json"
is "$(perl -MJSON::PP -e 'my $r = decode_json(<STDIN>); print scalar @{$r->{return}{vcpus}}, " ", $r->{return}{vcpus}[1]{paused} ? "paused" : "running"' <"$T_DIR/json")" \
	"2 paused" "--json prints the server's answer"
ctl "$SOCK" mpvm-vcpu-resume cpu-index=1 >/dev/null

# wait: the first matching event, printed for people.
ctl --timeout 20 "$SOCK" wait MP_STATE_CHANGE cpu-index=1 to=INIT_RECEIVED >"$T_DIR/wait" &
WAIT_PID=$!
sleep 0.5
ctl "$SOCK" mpvm-send cpu-index=1 type=init >/dev/null
wait "$WAIT_PID"
ok $? "wait MP_STATE_CHANGE cpu-index=1 to=INIT_RECEIVED: status 0"
like "$T_DIR/wait" '^MP_STATE_CHANGE cpu-index=1 from=[A-Z_]+ to=INIT_RECEIVED time=[0-9]+$' "wait prints the event"
ctl --timeout 0.5 "$SOCK" wait RESUME 2>"$T_DIR/wait-err"
is "$?" 124 "wait with --timeout and no such event: status 124"
like "$T_DIR/wait-err" 'no RESUME event within 0.5 s' "and says so"

# Errors.
ctl "$SOCK" mpvm-vcpu-pause cpu-index=7 2>"$T_DIR/e1"
is "$?" 1 "an error answer: status 1"
like "$T_DIR/e1" "^error: GenericError: Parameter 'cpu-index' is out of range: 7" "printed on stderr, class and desc"
ctl "$SOCK" mpvm-vcpu-pause cpu-index=one 2>"$T_DIR/e2"
is "$?" 2 "an argument that does not fit its type: status 2"
like "$T_DIR/e2" "mpvm-vcpu-pause: 'cpu-index' needs an integer, not 'one'" "naming the argument"
ctl "$T_DIR/nothing.qmp" query-status 2>"$T_DIR/e3"
is "$?" 2 "no socket at the path: status 2"
like "$T_DIR/e3" 'nothing.qmp: No such file or directory' "naming the path"
ctl "$SOCK" 2>"$T_DIR/e4"
is "$?" 2 "no command: status 2"
like "$T_DIR/e4" 'needs a socket path and a command' "with the usage"

is "$(ctl "$SOCK" quit)" ok "quit prints ok"
wait "$VM_PID"
is "$?" 0 "mpvm exits 0 after quit"
done_testing
