#!/usr/bin/env bash
# --seccomp: every thread of a running mpvm has its filter in force
# (/proc/PID/task/TID/status "Seccomp: 2"), in every irqchip mode, with the
# threads named by kind; --seccomp off leaves them all unfiltered. What a
# filter forbids and the message a forbidden call gives: tests/kvm/test_sandbox.c.
. "$(dirname "$0")/lib.sh"
need_kvm

# threads PID: "comm=seccomp" for each of mpvm's threads, sorted. KVM's own
# workers in the process (kvm-nx-lpage-recovery, on some hosts) are the kernel's.
threads() {
	local t
	for t in /proc/$1/task/*; do
		echo "$(cat "$t/comm" 2>/dev/null)=$(awk '/^Seccomp:/ { print $2 }' "$t/status" 2>/dev/null)"
	done | grep -v '^kvm-' | sort
}

# ThreadSanitizer starts a background thread of its own before main(), which
# no filter of mpvm's covers: with a TSan build it is in the list too.
TSAN=
if ldd "$MPVM" 2>/dev/null | grep -q libtsan; then
	TSAN="mpvm=0 "
fi

# start ARGS...: mpvm with a guest that never ends, stdin a pipe (so the console reader runs).
start() {
	sleep 60 | timeout 60 "$MPVM" run --cpus 2 --cmdline scenario=hang "$@" >"$T_DIR/out" 2>"$T_DIR/err" &
	sleep 0.2
	# mpvm itself: not timeout (whose command line has it after "timeout 60"),
	# nor its VM reaper (kvm/reaper.c: same command line, started later, so newer).
	PID=$(pgrep -o -f "^$MPVM run --cpus 2 --cmdline scenario=hang $*")
}

# wait_for PID WANT: up to 10 s for the thread list to be WANT.
wait_for() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(threads "$1" | tr '\n' ' ')" == "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# stop: mpvm, then the pipeline's `sleep 60` (it would hold `wait` for its minute).
stop() {
	kill -TERM "$PID" 2>/dev/null
	while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
	pkill -P $$ -x sleep 2>/dev/null
	wait
}

for mode in kernel split user; do
	want="console=2 ${TSAN}mpvm=2 vcpu0=2 vcpu1=2 "
	[ $mode != kernel ] && want="console=2 ${TSAN}mpvm=2 timer=2 vcpu0=2 vcpu1=2 "
	start --irqchip $mode
	wait_for "$PID" "$want"
	ok $? "--irqchip $mode: every thread has its filter (want '$want', have '$(threads "$PID" | tr '\n' ' ')')"
	stop
	like "$T_DIR/err" "^mpvm: Terminated received; stopping the VM" "--irqchip $mode: stops cleanly under the filters"
	unlike "$T_DIR/err" "seccomp" "--irqchip $mode: no forbidden call on the way out"
done

start --seccomp off
wait_for "$PID" "console=0 ${TSAN}mpvm=0 vcpu0=0 vcpu1=0 "
ok $? "--seccomp off: no thread is filtered (have '$(threads "$PID" | tr '\n' ' ')')"
stop

run_mpvm 300 run --cpus 2 --seccomp log
is "$STATUS" 0 "--seccomp log: the built-in guest runs"
run_mpvm 30 run --seccomp maybe
is "$STATUS" 2 "--seccomp maybe: exit status 2"
like "$ERR" "^mpvm: --seccomp 'maybe': must be on, log or off" "--seccomp maybe: the message says what it takes"
done_testing
