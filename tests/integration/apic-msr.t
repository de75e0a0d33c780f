#!/usr/bin/env bash
# WRMSRs to IA32_APIC_BASE that must raise #GP change nothing, in every
# irqchip mode (scenario=apic-base-gp): EXTD while CPUID hides x2APIC
# (--no-x2apic), an address bit at MAXPHYADDR, reserved bit 9. In user mode
# mpvm's own local APIC once took such a write while the guest got the #GP
# (kvm-unit-tests' xapic then hung at self_ipi_xapic).
. "$(dirname "$0")/lib.sh"
need_kvm

for mode in kernel split user; do
	run_mpvm 300 run --irqchip $mode --cpus 2 --no-x2apic --cmdline scenario=apic-base-gp
	is "$STATUS" 0 "--irqchip $mode --no-x2apic: exit status 0"
	is "$(count "$OUT" '^mpvm-guest: apic-base-gp: .*: #GP yes, IA32_APIC_BASE unchanged, version 0x[0-9a-f]*14$')" 3 \
	   "--irqchip $mode --no-x2apic: three faulting writes, each #GP and nothing changed"
	like "$OUT" "^mpvm-guest: apic-base-gp: EXTD with x2APIC hidden: #GP yes" "--irqchip $mode: EXTD is reserved while x2APIC is hidden"
	like "$OUT" "^2/2 CPUs online$" "--irqchip $mode: the APs still answer IPIs afterwards"
	run_mpvm 300 run --irqchip $mode --cpus 2 --cmdline scenario=apic-base-gp
	is "$STATUS" 0 "--irqchip $mode with x2APIC: exit status 0"
	is "$(count "$OUT" '^mpvm-guest: apic-base-gp: .*: #GP yes, IA32_APIC_BASE unchanged')" 2 \
	   "--irqchip $mode with x2APIC: the two writes that still fault change nothing"
done
done_testing
