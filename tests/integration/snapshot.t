#!/usr/bin/env bash
# Snapshots (README, "Snapshots"): the built-in guest on 3 vCPUs is saved
# with --snapshot-on while its BSP holds (hold=STAGE) with the first AP in
# each MP state it passes through (UNINITIALIZED before any start,
# INIT_RECEIVED between INIT and SIPI, running its trampoline right after
# the SIPIs, with the BSP in the middle of starting APs and the second AP
# still UNINITIALIZED, HALTED once online), and restored in a new process: the guest
# goes on from there and ends with every CPU online and every trampoline
# entered exactly once. Then a round trip (two snapshots in a row of a
# restored, stopped VM hold the same vCPU state), mpvm-snapshot on the
# control socket, bad files and options refused with a message and
# nothing run, and SIGKILL while a snapshot is written leaving the previous
# file intact.
#
# MODES: the irqchip modes to test (default: kernel split user).
MPVM=${MPVM:-${BUILD:-build}/mpvm}
. "$(dirname "$0")/lib.sh"
SNAPFILE="perl $(cd "$(dirname "$0")" && pwd)/snapfile.pl"
QMP=$(cd "$(dirname "$0")/../.." && pwd)/tools/qmp
need_kvm

. "$(dirname "$0")/snapshot-lib.sh"

for mode in ${MODES:-kernel split user}; do # (modes=() below: the same list)
	for stage in start:UNINITIALIZED init:INIT_RECEIVED sipi: online:HALTED; do
		st=${stage%%:*} want=${stage#*:}
		f=$T_DIR/$mode-$st.snap
		save "$mode" "$st" "$f"
		is "$STATUS" 0 "$mode/$st: --snapshot-on ends the run with status 0"
		like "$T_DIR/err1" "snapshot written to $f" "$mode/$st: mpvm says where the snapshot went"
		[ -n "$want" ] && is "$(ap1_state "$T_DIR/err1")" "$want" "$mode/$st: the first AP was $want when saved"
		is "$($SNAPFILE check "$f")" ok "$mode/$st: the file checks out (a second reader of the format)"
		restore "$f"
		is "$STATUS" 0 "$mode/$st: the restored guest ends with status 0"
		like "$T_DIR/out2" "hold $st: released" "$mode/$st: it goes on from the hold"
		unlike "$T_DIR/out2" "scenario default" "$mode/$st: it does not boot again"
		like "$T_DIR/out2" "^3/3 CPUs online" "$mode/$st: every CPU online"
		is "$(count "$T_DIR/out2" 'trampoline entries 1,')$(count "$T_DIR/out1" 'trampoline entries')" \
			"$([ "$st" = online ] && echo 02 || echo 20)" "$mode/$st: each AP entered its trampoline once in all"
		unlike "$T_DIR/out2" "FAIL" "$mode/$st: no check failed"
	done

	# Round trip: a restored VM, stopped, saved twice: the same vCPU state (the TSC aside).
	SOCK=$T_DIR/qmp.sock
	rm -f "$SOCK"
	timeout --kill-after=5 120 "$MPVM" run --restore "$T_DIR/$mode-init.snap" --control "$SOCK" ${MPVM_ARGS:-} \
		>"$T_DIR/out3" 2>"$T_DIR/err3" </dev/null &
	pid=$!
	for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
	"$QMP" --timeout 60 "$SOCK" stop "mpvm-snapshot path=$T_DIR/a.snap" "mpvm-snapshot path=$T_DIR/b.snap" \
		'mpvm-snapshot path=/nonexistent-dir/c.snap' "mpvm-snapshot path=$T_DIR/d.snap quit=true" \
		>"$T_DIR/qmp" 2>&1
	wait "$pid"
	is "$?" 0 "$mode: mpvm-snapshot quit=true ends the run with status 0"
	is "$(grep -c '"return":{}' "$T_DIR/qmp")" 4 "$mode: stop and three mpvm-snapshots return {}"
	like "$T_DIR/qmp" '"desc":"/nonexistent-dir/c.snap: the folder /nonexistent-dir' \
		"$mode: mpvm-snapshot to a missing folder is an error naming it"
	$SNAPFILE vcpu-diff "$T_DIR/a.snap" "$T_DIR/b.snap" >"$T_DIR/diff"
	ok $? "$mode: two snapshots in a row of a stopped, restored VM: the same vCPU state"
	[ -s "$T_DIR/diff" ] && diag "$(cat "$T_DIR/diff")"
	$SNAPFILE vcpu-diff "$T_DIR/b.snap" "$T_DIR/d.snap" >/dev/null
	ok $? "$mode: and a third, with quit"
	restore "$T_DIR/b.snap"
	is "$STATUS" 0 "$mode: the snapshot of a restored VM restores too"
	like "$T_DIR/out2" "^3/3 CPUs online" "$mode: ... and ends with every CPU online"
done

# ---- bad files and options: refused with a message, nothing run ----------------------
modes=(${MODES:-kernel split user})
good=$T_DIR/${modes[0]}-init.snap
bad=$T_DIR/bad.snap
refused() { # refused NAME REGEX ARGS...: mpvm run ARGS fails with status $WANT (2) and REGEX on stderr
	local name=$1 re=$2
	shift 2
	timeout 60 "$MPVM" run "$@" >"$T_DIR/outb" 2>"$T_DIR/errb" </dev/null
	is "$?" "${WANT:-2}" "$name: status ${WANT:-2}"
	like "$T_DIR/errb" "$re" "$name: says why"
	is "$(wc -c <"$T_DIR/outb")" 0 "$name: the guest did not run"
}
head -c 1000 "$good" >"$bad"
refused "a truncated file" "truncated" --restore "$bad"
{ printf 'XPVMSNAP'; tail -c +9 "$good"; } >"$bad"
refused "a wrong magic" "not an mpvm snapshot" --restore "$bad"
cp "$good" "$bad"
$SNAPFILE set-version "$bad" 2
refused "a newer version" "written by a newer mpvm \(format version 2; this mpvm reads 1\)" --restore "$bad"
cp "$good" "$bad"
printf '\xff' | dd of="$bad" bs=1 seek=$(( $(wc -c <"$good") / 2 )) conv=notrunc 2>/dev/null
refused "a corrupt byte" "corrupt \(checksum mismatch\)|whole-file checksum" --restore "$bad"
refused "a missing file" "No such file" --restore "$T_DIR/none.snap"
# Well-formed files (every checksum right) with a state no VM can be in: struct snap_vcpu starts
# with the MP state, then flags, then the APIC ID; struct snap_machine with the vCPU count.
cp "$good" "$bad"; $SNAPFILE set-u32 "$bad" VCPU#0 0 2
refused "the BSP in INIT_RECEIVED" "vCPU 0 is the BSP and in INIT_RECEIVED: only an AP waits for a SIPI" --restore "$bad"
cp "$good" "$bad"; $SNAPFILE set-u32 "$bad" VCPU#1 0 9
refused "an MP state x86 KVM lacks" "vCPU 1: MP state 9, which x86 KVM does not have" --restore "$bad"
cp "$good" "$bad"; $SNAPFILE set-u32 "$bad" VCPU#2 8 7
refused "an APIC ID the tables lack" "vCPU 2: APIC ID 7 in the snapshot, 2 in this machine's tables" --restore "$bad"
cp "$good" "$bad"; $SNAPFILE set-u32 "$bad" MACH#0 0 4
refused "a vCPU count other than the options" "the snapshot's machine \(4 vCPUs" --restore "$bad"
# A device's state is checked as it is loaded, once KVM's VM exists: a host-side failure (125), guest not run.
cp "$good" "$bad"; $SNAPFILE set-u32 "$bad" COM1#0 32 9999
WANT=125 refused "a device state no guest makes" "COM1: .* more than it holds" --restore "$bad"
refused "--cpus beside --restore" "--cpus: with --restore the machine is the snapshot's; leave --cpus out" \
	--restore "$good" --cpus 2
refused "--snapshot-on with --stop-on" "give one" --snapshot-on a b --stop-on c

# A VM with a CPU not plugged in (CPU hotplug) is not saved: said, and the file not written.
timeout 60 "$MPVM" run --cpus 2,maxcpus=3 --cmdline "scenario=default hold=online" --snapshot-on "hold online" \
	"$T_DIR/hp.snap" ${MPVM_ARGS:-} >/dev/null 2>"$T_DIR/errh" </dev/null
is "$?" 125 "a VM with an absent CPU: the snapshot fails (status 125)"
like "$T_DIR/errh" "vCPU 2 is absent \(--cpus maxcpus=3\): a VM with CPUs that are not plugged in cannot be saved yet" \
	"... saying why"
ok "$([ -e "$T_DIR/hp.snap" ]; echo $((!$?)))" "... and writes no file"

# ---- SIGKILL while a snapshot is written: the previous file stays whole ---------------
cp "$good" "$T_DIR/kill.snap"
cp "$good" "$T_DIR/prev.snap"
intact=0 tries=6
for i in $(seq $tries); do
	timeout --kill-after=5 60 "$MPVM" run --cpus 3 --memory 1G --cmdline "scenario=default hold=init" \
		--snapshot-on "hold init" "$T_DIR/kill.snap" >/dev/null 2>&1 </dev/null &
	pid=$!
	# until the snapshot is under way (its temporary file exists), then a random moment later
	for _ in $(seq 600); do compgen -G "$T_DIR/kill.snap.tmp.*" >/dev/null && break; sleep 0.01; done
	sleep "0.0$((RANDOM % 10))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if cmp -s "$T_DIR/kill.snap" "$T_DIR/prev.snap" || [ "$($SNAPFILE check "$T_DIR/kill.snap")" = ok ]; then
		intact=$((intact + 1))
	fi
	cp "$T_DIR/kill.snap" "$T_DIR/prev.snap"
	rm -f "$T_DIR"/kill.snap.tmp.*
done
is "$intact" "$tries" "SIGKILL at random moments: the snapshot file is always the old one or a whole new one"

done_testing
