#!/usr/bin/env bash
# The three irqchip modes as a conformance instrument: each built-in guest
# scenario runs in kernel, split and user mode with --trace, and `mpvm
# mp-diff` of the kernel and user runs, and of the split and user runs,
# must find the same MP-state sequence and the same IPIs for every vCPU.
#
# Accepted differences (left out with --ignore kvm, core/mp_diff.h):
#   sipi-received   mpvm's machine shows the latched SIPI; KVM goes from
#                   INIT_RECEIVED to RUNNABLE in one step;
#   init-deassert   mpvm delivers the level INIT de-assert to every APIC
#                   (SDM vol. 3A §10.6.1), KVM's tracepoint shows it only
#                   at the destination; it changes no state;
#   halt-cycles     how many times an AP halts and wakes, and whether it is
#                   halted at the stop, is timing (an AP that halts between
#                   its two SIPIs, or is still on its way to HLT when the
#                   BSP ends the run);
#   hostile-ipi     (all-to-all storms) compared by --report (with --trace,
#                   which gives it KVM's transitions), MP states
#                   only: concurrent senders interleave by timing, KVM
#                   accepts an ICR fixed IPI with an illegal vector (< 16)
#                   and ExtINT where mpvm's APIC refuses them (SDM §10.5.3),
#                   and lowest-priority arbitration is model specific
#                   (SDM §10.6.1): KVM and mpvm pick other targets.
. "$(dirname "$0")/lib.sh"
need_kvm
for sc in default broadcast second-sipi reinit partial hostile-mp nmi-storm; do
	for mode in kernel split user; do
		run_mpvm 300 run --irqchip $mode --cpus 4 --cmdline "scenario=$sc" --trace "$T_DIR/$mode.json"
		is "$STATUS" 0 "$sc, --irqchip $mode: exit status 0"
	done
	for mode in kernel split; do
		run_mpvm 60 mp-diff --ignore kvm "$T_DIR/$mode.json" "$T_DIR/user.json"
		is "$STATUS" 0 "$sc: $mode and user mode went through the same MP states and IPIs"
		[ "$STATUS" = 0 ] || diag "$(head -c 3000 "$OUT")"
		like "$OUT" "^mp-diff: no difference \(4 vCPUs, [0-9]+ MP states, [1-9][0-9]* IPIs\)$" "$sc: $mode: it says what it compared"
	done
done

for mode in kernel split user; do
	run_mpvm 300 run --irqchip $mode --cpus 4 --cmdline scenario=hostile-ipi --report "$T_DIR/$mode-r.json" \
		--trace "$T_DIR/$mode-h.json" # the trace makes the report take KVM's tracepoints
	is "$STATUS" 0 "hostile-ipi, --irqchip $mode: exit status 0"
done
for mode in kernel split; do
	run_mpvm 60 mp-diff --ignore kvm "$T_DIR/$mode-r.json" "$T_DIR/user-r.json"
	is "$STATUS" 0 "hostile-ipi: $mode and user mode went through the same MP states (reports)"
	like "$OUT" "IPIs not compared: a report has none" "hostile-ipi: $mode: it says a report has no IPIs"
done

# Without --ignore, the differences are there, vCPU by vCPU (the last scenario's traces).
run_mpvm 60 mp-diff "$T_DIR/kernel.json" "$T_DIR/user.json"
is "$STATUS" 1 "without --ignore: status 1"
like "$OUT" "^vCPU 1 \(APIC ID 1\): MP states differ at #3$" "without --ignore: where vCPU 1 differs"
like "$OUT" "\[SIPI_RECEIVED\]" "without --ignore: what differs"
like "$OUT" "^mp-diff: [1-4] vCPUs? differ$" "without --ignore: the count"
run_mpvm 60 mp-diff "$T_DIR/user.json" "$T_DIR/user.json"
is "$STATUS" 0 "a trace against itself: no difference"

# Bad input: status 2 and a message naming the file or the option.
run_mpvm 60 mp-diff "$T_DIR/user.json" "$T_DIR/missing.json"
is "$STATUS" 2 "a missing file: status 2"
like "$ERR" "^mpvm: mp-diff: .*/missing.json: No such file or directory$" "a missing file: named"
echo '{"nothing": 1}' >"$T_DIR/bad.json"
run_mpvm 60 mp-diff "$T_DIR/bad.json" "$T_DIR/user.json"
is "$STATUS" 2 "neither a trace nor a report: status 2"
like "$ERR" "^mpvm: mp-diff: .*/bad.json: " "neither a trace nor a report: named"
run_mpvm 60 mp-diff --ignore sipi "$T_DIR/user.json" "$T_DIR/user.json"
is "$STATUS" 2 "an unknown --ignore word: status 2"
like "$ERR" "^mpvm: mp-diff: --ignore takes .*\(got 'sipi'\)$" "an unknown --ignore word: the message"
run_mpvm 60 mp-diff "$T_DIR/user.json"
is "$STATUS" 2 "one file: status 2"
done_testing
