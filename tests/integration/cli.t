#!/usr/bin/env bash
# Bad input on the command line and on the host: each gets a clear message
# naming what was wrong, and a non-zero exit status.
. "$(dirname "$0")/lib.sh"

# bad_option EXPECTED-MESSAGE ARGS...: mpvm run ARGS fails with status 2 and the message.
bad_option() {
	local want=$1
	shift
	run_mpvm 30 run "$@"
	is "$STATUS" 2 "mpvm run $* exits 2"
	like "$ERR" "^mpvm: .*$want" "mpvm run $*: says '$want'"
}

bad_option "--cpus '0': must be a whole number from 1 to 4096" --cpus 0
bad_option "--cpus 'many': must be a whole number" --cpus many
bad_option "--memory 'huge': not a size" --memory huge
bad_option "--memory '8M': must be from 16M to 1T" --memory 8M
bad_option "--boot-cpu 4: must be from 0 to 3 \\(--cpus is 4\\)" --cpus 4 --boot-cpu 4
bad_option "--irqchip 'pic': must be kernel, split or user" --irqchip pic
bad_option "--timeout 'soon': must be whole seconds" --timeout soon
bad_option "unknown option '--smp'" --smp 4
bad_option "option --report needs a value" --report

run_mpvm 30 frobnicate
is "$STATUS" 2 "an unknown command exits 2"
like "$ERR" "unknown command 'frobnicate'" "an unknown command is named"

run_mpvm 30 run --help
is "$STATUS" 0 "run --help exits 0"
like "$OUT" "--boot-cpu ID" "run --help lists --boot-cpu"

# More vCPUs than this host's KVM allows: checked against KVM_CAP_MAX_VCPUS.
need_kvm
run_mpvm 30 run --cpus 4096
is "$STATUS" 125 "--cpus above KVM's maximum exits 125"
like "$ERR" "--cpus 4096: must be from 1 to [0-9]+ \\(KVM_CAP_MAX_VCPUS on this host\\)" "--cpus above KVM's maximum names the limit"

long=$(head -c 5000 /dev/zero | tr '\0' x)
run_mpvm 30 run --cmdline "$long"
is "$STATUS" 125 "a command line too long for the guest fails"
like "$ERR" "--cmdline: 5000 bytes; the built-in guest takes at most 3839" "a too-long command line is named with its limit"

run_mpvm 60 run --report /nonexistent-dir/r.json
# Checked before the guest runs (it once failed the run afterwards, status 125): bad-paths.t has more.
like "$ERR" "--report /nonexistent-dir/r.json: the folder /nonexistent-dir: No such file or directory" "an unwritable --report path is named"
is "$STATUS" 2 "an unwritable --report path is refused before the run"

# No /dev/kvm at all: a private mount namespace with an empty /dev.
if unshare -m true 2>/dev/null; then
	unshare -m sh -c 'mount -t tmpfs none /dev && exec "$0" run' "$MPVM" >"$T_DIR/out" 2>"$T_DIR/err"
	is "$?" 125 "without /dev/kvm mpvm exits 125"
	like "$T_DIR/err" "^mpvm: /dev/kvm: No such file or directory: KVM is not available" "without /dev/kvm the message names the device and what to do"
else
	ok 1 "cannot make a mount namespace (unshare -m) to hide /dev/kvm"
	ok 1 "(same)"
fi

# /dev/kvm without permission: run as nobody (/dev/kvm is not world-accessible here).
if [ "$(id -u)" -eq 0 ] && [ "$(stat -c %a /dev/kvm)" != 666 ]; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$MPVM" run >"$T_DIR/out" 2>"$T_DIR/err"
	is "$?" 125 "without permission on /dev/kvm mpvm exits 125"
	like "$T_DIR/err" "^mpvm: /dev/kvm: Permission denied: add your user to the group" "without permission the message says what to do"
else
	ok 0 "# SKIP /dev/kvm is world-accessible or we are not root: cannot test EACCES"
	ok 0 "# SKIP (same)"
fi

# The --timeout deadline ends a guest that does not finish.
run_mpvm 120 run --cpus 2 --timeout 1 --cmdline "scenario=hang"
is "$STATUS" 124 "--timeout ends a guest that never exits, with status 124"
like "$ERR" "^mpvm: --timeout: the guest did not finish within 1 s" "--timeout says so"
like "$ERR" "mpvm: +1 +1 +AP +" "the report still lists every vCPU after a timeout"

# SIGTERM stops the VM cleanly, with the report.
timeout 120 "$MPVM" run --cpus 2 --cmdline "scenario=hang" >"$T_DIR/out" 2>"$T_DIR/err" &
pid=$!
sleep 2
kill -TERM $pid
wait $pid
is "$?" 143 "SIGTERM stops mpvm with status 128+15"
like "$T_DIR/err" "mpvm: Terminated received; stopping the VM" "SIGTERM is reported"

done_testing
