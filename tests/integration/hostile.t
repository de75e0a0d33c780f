#!/usr/bin/env bash
# Guests that push at mpvm, in every irqchip mode; mpvm neither crashes nor
# hangs, and the guest sees what KVM's irqchip would give it. So far: an
# NMI storm at an AP that runs (20000 NMIs; they merge, so it takes between
# one and 20000), after which the AP still takes fixed IPIs.
. "$(dirname "$0")/lib.sh"
need_kvm

for mode in kernel split user; do
	run_mpvm 300 run --irqchip $mode --cpus 2 --cmdline scenario=nmi-storm
	is "$STATUS" 0 "--irqchip $mode nmi-storm: exit status 0"
	like "$OUT" '^mpvm-guest: nmi-storm: 20000 NMIs sent to APIC ID 1 while it ran, [1-9][0-9]* taken$' \
	     "--irqchip $mode nmi-storm: the running AP took NMIs"
	like "$OUT" '^mpvm-guest: after the NMI storm: 1/1 APs acknowledged a fixed IPI$' \
	     "--irqchip $mode nmi-storm: and still answers fixed IPIs"
done
done_testing
