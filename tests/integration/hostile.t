#!/usr/bin/env bash
# Guests that push at mpvm, in every irqchip mode; mpvm neither crashes nor
# hangs, and the guest sees what KVM's irqchip would give it (the guest's
# checks are KVM's behaviour, so a check that fails only in --irqchip user
# or split is a bug in mpvm's own APIC models). guest/hostile.c has them:
#   nmi-storm     20000 NMIs at an AP that runs (they merge: it takes between
#                 one and 20000), after which the AP still takes fixed IPIs
#   hostile-mp    SIPI storms at a running, a halted and a waiting AP; INIT
#                 in every AP state and a restart by SIPI; 400 handled faults
#                 on one AP while two others run; and an exit while one AP
#                 spins with interrupts off and one with them on
#   hostile-ipi   fixed-IPI storms at a busy and a halted AP and from every
#                 CPU to every other at once; every kind of IPI to absent
#                 APIC IDs; every delivery mode, destination mode and
#                 shorthand; INIT/SIPI logical and to all but self (xAPIC
#                 and x2APIC)
#   hostile-apic  all ones, then garbage, in every local APIC register
#                 (xAPIC MMIO 0x000-0x3f0 and beyond) or MSR 0x800-0x8ff
#                 (which #GP as on KVM), then self IPI, IPIs and the timer
#   hostile-io    IOAPIC garbage at every index, then a device interrupt
#                 through it; floods of ports no device has (with
#                 --unknown-io ignore: reads give all ones), of device
#                 ports and of the APIC pages
. "$(dirname "$0")/lib.sh"
need_kvm

# checks NAME: exit status 0, the guest's summary, no FAIL line, no sanitizer report.
checks() {
	is "$STATUS" 0 "$1: exit status 0"
	unlike "$OUT" 'FAIL' "$1: no check failed"
	unlike "$ERR" 'Sanitizer|runtime error' "$1: no sanitizer report"
}

for mode in kernel split user; do
	run_mpvm 300 run --irqchip $mode --cpus 2 --cmdline scenario=nmi-storm
	is "$STATUS" 0 "--irqchip $mode nmi-storm: exit status 0"
	like "$OUT" '^mpvm-guest: nmi-storm: 20000 NMIs sent to APIC ID 1 while it ran, [1-9][0-9]* taken$' \
	     "--irqchip $mode nmi-storm: the running AP took NMIs"
	like "$OUT" '^mpvm-guest: after the NMI storm: 1/1 APs acknowledged a fixed IPI$' \
	     "--irqchip $mode nmi-storm: and still answers fixed IPIs"

	n="--irqchip $mode hostile-mp"
	run_mpvm 300 run --irqchip $mode --cpus 4 --cmdline scenario=hostile-mp
	checks "$n"
	like "$OUT" '^mpvm-guest: hostile-mp: 300 SIPIs each to a running and a halted AP: ignored$' \
	     "$n: SIPIs to running and halted APs are ignored"
	like "$OUT" '^mpvm-guest: hostile-mp: 300 SIPIs to an AP in wait-for-SIPI: started once ' \
	     "$n: a SIPI storm starts a waiting AP once"
	for state in 'running with interrupts on' 'running with interrupts off' 'halted' \
		     'in wait-for-SIPI \(INIT twice\)'; do
		like "$OUT" "^mpvm-guest: hostile-mp: INIT x[12] to AP [0-9]+ $state, then SIPI: restarted once " \
		     "$n: INIT to an AP $state, then SIPI: it starts once"
	done
	like "$OUT" '^mpvm-guest: hostile-mp: AP 1 took 400 faults .* 0 wrong\) while APs 2 and 3 ran: ok$' \
	     "$n: faults on one AP while the others run"
	like "$OUT" '^mpvm-guest: hostile-mp: after the fault storm: 3/3 APs took a fixed IPI$' \
	     "$n: every AP takes IPIs after the fault storm"
	like "$OUT" '^mpvm-guest: hostile-mp: all checks passed$' "$n: all checks passed"
	like "$ERR" '^mpvm: +3 +3 +AP +RUNNABLE ' "$n: mpvm stops the AP that never halts"

	for apic in xapic x2apic; do
		n="--irqchip $mode hostile-ipi apic=$apic"
		run_mpvm 300 run --irqchip $mode --cpus 4 --cmdline "scenario=hostile-ipi apic=$apic"
		checks "$n"
		like "$OUT" '^mpvm-guest: hostile-ipi: 2000 fixed IPIs to a running AP 1: ok ' \
		     "$n: IPI storm at a running AP"
		like "$OUT" '^mpvm-guest: hostile-ipi: 2000 fixed IPIs to a halted AP 2: ok ' \
		     "$n: IPI storm at a halted AP"
		like "$OUT" '^mpvm-guest: hostile-ipi: 4 CPUs each sent 200 fixed IPIs to every other at once: all sent, all took some$' \
		     "$n: every CPU to every other at once"
		like "$OUT" '^mpvm-guest: hostile-ipi: [0-9]+ IPIs \(fixed, NMI, INIT, SIPI\) to absent APIC IDs: nobody took any$' \
		     "$n: IPIs to absent APIC IDs reach nobody, the sender goes on"
		like "$OUT" '^mpvm-guest: hostile-ipi: ([0-9]+)/\1 delivery cases as KVM delivers them$' \
		     "$n: every delivery mode, destination mode and shorthand"
		like "$OUT" '^mpvm-guest: hostile-ipi: INIT and SIPI to all excluding self: 3/3 APs restarted once$' \
		     "$n: INIT and SIPI to all excluding self"
		like "$OUT" '^mpvm-guest: hostile-ipi: at the end: 3/3 APs took a fixed IPI$' "$n: APs work at the end"

		n="--irqchip $mode hostile-apic apic=$apic"
		run_mpvm 300 run --irqchip $mode --cpus 2 --cmdline "scenario=hostile-apic apic=$apic"
		checks "$n"
		if [ $apic = xapic ]; then
			like "$OUT" '^mpvm-guest: hostile-apic: xAPIC registers 0x000-0x3f0 after all ones: as KVM keeps them$' \
			     "$n: registers keep what KVM keeps"
		else
			like "$OUT" '^mpvm-guest: hostile-apic: x2APIC MSRs 0x800-0x8ff: .* the rest #GP as on KVM$' \
			     "$n: MSRs #GP as on KVM"
			like "$OUT" '^mpvm-guest: hostile-apic: the xAPIC page in x2APIC mode reads 0xffffffff' \
			     "$n: the xAPIC page reads all ones in x2APIC mode"
		fi
		like "$OUT" '^mpvm-guest: hostile-apic: afterwards: self IPI taken, timer fired, IPIs both ways, ID 0$' \
		     "$n: the APIC works after the garbage"
	done

	n="--irqchip $mode hostile-io"
	run_mpvm 300 run --irqchip $mode --cpus 2 --unknown-io ignore --cmdline scenario=hostile-io
	checks "$n"
	like "$OUT" "^mpvm-guest: hostile-io: IOAPIC garbage: entries and registers as KVM keeps them; afterwards COM1's interrupt arrives$" \
	     "$n: IOAPIC garbage, then it still delivers"
	like "$OUT" '^mpvm-guest: hostile-io: [0-9]+ accesses to ports with no device: reads gave all ones$' \
	     "$n: port flood"
	like "$OUT" '^mpvm-guest: hostile-io: 10000 accesses to fw_cfg, CMOS and COM1 scratch: ok$' \
	     "$n: device port flood"
	like "$OUT" '^mpvm-guest: hostile-io: MMIO flood of the APIC pages done' "$n: MMIO flood"
	like "$ERR" '^mpvm: note: [0-9]+ accesses to I/O ports with no device' "$n: mpvm lists the ports at exit"
done

# The built-in guest's default is --unknown-io fault: the first such port stops the VM.
run_mpvm 120 run --cpus 2 --cmdline scenario=hostile-io
is "$STATUS" 126 "hostile-io without --unknown-io ignore: a guest fault (status 126)"
like "$ERR" 'OUT to unknown I/O port 0x200' "hostile-io without --unknown-io ignore: the port is named"
done_testing
