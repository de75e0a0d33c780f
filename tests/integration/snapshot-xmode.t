#!/usr/bin/env bash
# Snapshots across irqchip modes (README, "Snapshots across irqchip modes"):
# the built-in guest on 3 vCPUs is saved in one mode with its BSP holding
# (hold=STAGE) with the first AP UNINITIALIZED, INIT_RECEIVED, running its
# trampoline with the BSP in the middle of starting APs, or HALTED, and
# restored in a new process with another --irqchip: kernel <-> user in
# every state, split <-> user and split <-> kernel in INIT_RECEIVED. The
# guest goes on from the hold and ends with every CPU online and every
# trampoline entered exactly once; one goes kernel -> user -> kernel. 260
# vCPUs (x2APIC IDs) cross kernel <-> user. Then the heartbeat guest, each
# CPU's local APIC timer periodic, saved in one mode and restored in the
# other: every CPU's timer goes on ticking.
#
# PAIRS: FROM:TO:STAGES to test (default below); TIMER_PAIRS: FROM:TO for the
# heartbeat (default kernel:user user:kernel); X2APIC_PAIRS: the same for 260
# vCPUs in x2APIC mode (" ": none); CHAIN=0 leaves out the round trip.
MPVM=${MPVM:-${BUILD:-build}/mpvm}
. "$(dirname "$0")/lib.sh"
need_kvm

. "$(dirname "$0")/snapshot-lib.sh"

ALL="start:UNINITIALIZED,init:INIT_RECEIVED,sipi:,online:HALTED"
for pair in ${PAIRS:-kernel:user:$ALL user:kernel:$ALL split:user:init:INIT_RECEIVED user:split:init:INIT_RECEIVED \
	kernel:split:init:INIT_RECEIVED split:kernel:init:INIT_RECEIVED}; do
	from=${pair%%:*} rest=${pair#*:}
	to=${rest%%:*} stages=${rest#*:}
	for stage in ${stages//,/ }; do
		st=${stage%%:*} want=${stage#*:}
		f=$T_DIR/$from-$st.snap
		[ -s "$f" ] || save "$from" "$st" "$f"
		[ -n "$want" ] && is "$(ap1_state "$T_DIR/err1")" "$want" "$from/$st: the first AP was $want when saved"
		restore "$f" --irqchip "$to"
		is "$STATUS" 0 "$from -> $to, $st: the restored guest ends with status 0"
		like "$T_DIR/err2" "taken with --irqchip $from, converted" "$from -> $to, $st: mpvm says it converted"
		like "$T_DIR/out2" "hold $st: released" "$from -> $to, $st: it goes on from the hold"
		like "$T_DIR/out2" "^3/3 CPUs online" "$from -> $to, $st: every CPU online"
		is "$(count "$T_DIR/out2" 'trampoline entries 1,')$(count "$T_DIR/out1" 'trampoline entries')" \
			"$([ "$st" = online ] && echo 02 || echo 20)" \
			"$from -> $to, $st: each AP entered its trampoline once in all"
		unlike "$T_DIR/out2" "FAIL" "$from -> $to, $st: no check failed"
		[ "$STATUS" = 0 ] || diag "$(tail -5 "$T_DIR/err2")"
	done
done

# ---- there and back: kernel -> user, saved again in user mode, -> kernel ----------------------
# The kernel snapshot at hold=init restored in user mode and saved there once the hold is released
# (the first AP just got its SIPI from mpvm's APIC bus), then that one restored in kernel mode.
if [ "${CHAIN:-1}" = 1 ]; then
	save kernel init "$T_DIR/chain1.snap"
	{ sleep 1; printf x; } | timeout --kill-after=5 120 "$MPVM" run --restore "$T_DIR/chain1.snap" --irqchip user \
		--snapshot-on "hold init: released" "$T_DIR/chain2.snap" ${MPVM_ARGS:-} >"$T_DIR/out1" 2>"$T_DIR/err1"
	is "$?" 0 "kernel -> user: saved again in user mode after the hold"
	restore "$T_DIR/chain2.snap" --irqchip kernel
	is "$STATUS" 0 "... -> kernel: the guest ends with status 0"
	like "$T_DIR/err2" "taken with --irqchip user, converted" "... converted from user mode"
	like "$T_DIR/out2" "^3/3 CPUs online" "... every CPU online"
	is "$(count "$T_DIR/out2" 'trampoline entries [^1]')" 0 "... no trampoline entered twice"
	unlike "$T_DIR/out2" "FAIL" "... no check failed"
fi

# ---- x2APIC: 260 vCPUs, APIC IDs above 254 (KVM's page holds 32-bit x2APIC IDs) ------------------
for pair in ${X2APIC_PAIRS:-kernel:user user:kernel}; do
	from=${pair%%:*} to=${pair#*:}
	f=$T_DIR/x2-$from.snap
	timeout --kill-after=5 300 "$MPVM" run --cpus 260 --memory 512M --irqchip "$from" \
		--cmdline "scenario=default hold=online" --snapshot-on "hold online" "$f" ${MPVM_ARGS:-} \
		>"$T_DIR/out1" 2>"$T_DIR/err1" </dev/null
	is "$?" 0 "260 vCPUs, $from: saved with every AP online"
	{ sleep 2; printf x; } | timeout --kill-after=5 300 "$MPVM" run --restore "$f" --irqchip "$to" ${MPVM_ARGS:-} \
		>"$T_DIR/out2" 2>"$T_DIR/err2"
	is "$?" 0 "260 vCPUs, $from -> $to: the restored guest ends with status 0"
	like "$T_DIR/out2" "^260/260 CPUs online" "260 vCPUs, $from -> $to: every CPU online"
	like "$T_DIR/out2" "HLT wake-up round 2: 259/259 APs woke" "260 vCPUs, $from -> $to: every AP woken by IPIs"
done

# ---- the local APIC timer crosses: periodic on every CPU, saved ticking -----------------------
# beats N CPU: CPU's tick count in the guest's Nth heartbeat report.
beats() { sed -nE "s/^mpvm-guest: heartbeat $1: cpu $2 .* beats ([0-9]+) .*/\1/p" "$T_DIR/out2" | head -1; }
for pair in ${TIMER_PAIRS:-kernel:user user:kernel}; do
	from=${pair%%:*} to=${pair#*:}
	f=$T_DIR/hb-$from.snap
	timeout --kill-after=5 120 "$MPVM" run --cpus 3 --irqchip "$from" --cmdline scenario=heartbeat \
		--snapshot-on "each ticking every" "$f" ${MPVM_ARGS:-} >"$T_DIR/out1" 2>"$T_DIR/err1" </dev/null
	is "$?" 0 "heartbeat, $from: saved with every CPU's timer ticking"
	{ sleep 1; printf h; sleep 2; printf h; sleep 0.5; printf q; } |
		timeout --kill-after=5 120 "$MPVM" run --restore "$f" --irqchip "$to" ${MPVM_ARGS:-} \
		>"$T_DIR/out2" 2>"$T_DIR/err2"
	is "$?" 0 "heartbeat, $from -> $to: the restored guest quits with status 0"
	for cpu in 0 1 2; do
		b1=$(beats 1 $cpu) b2=$(beats 2 $cpu)
		ok "$([ -n "$b1" ] && [ -n "$b2" ] && [ "$b2" -gt "$b1" ]; echo $?)" \
			"heartbeat, $from -> $to: CPU $cpu's timer goes on ticking ($b1, then $b2 beats)"
	done
done

done_testing
