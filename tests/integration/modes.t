#!/usr/bin/env bash
# The same built-in-guest cases in every irqchip mode: kernel (KVM runs the
# MP state machine), split (local APICs in KVM, IOAPIC/PIC/PIT in mpvm) and
# user (mpvm runs it all), for 1 to 64 vCPUs, BSP first and last.
. "$(dirname "$0")/lib.sh"
need_kvm

for mode in kernel split user; do
	for n in 1 2 4 8 64; do
		for bsp in 0 $((n - 1)); do
			[ $n -eq 1 ] && [ $bsp -ne 0 ] && continue
			run_mpvm 900 run --irqchip $mode --cpus $n --boot-cpu $bsp --report "$T_DIR/r.json"
			check_bringup $n $bsp
			is "$(report_field "$T_DIR/r.json" '$r->{irqchip}')" $mode "--irqchip $mode --cpus $n: the report names the mode"
		done
	done
	for sc in second-sipi reinit broadcast; do
		run_mpvm 600 run --irqchip $mode --cpus 4 --boot-cpu 3 --cmdline scenario=$sc
		is "$STATUS" 0 "--irqchip $mode $sc: exit status 0"
		like "$OUT" "^4/4 CPUs online$" "--irqchip $mode $sc: 4/4 CPUs online"
	done
	run_mpvm 600 run --irqchip $mode --cpus 8 --cmdline "scenario=partial start=3"
	is "$STATUS" 0 "--irqchip $mode partial: exit status 0"
	is "$(count "$ERR" '^mpvm: +[0-9]+ +[0-9]+ +AP +UNINITIALIZED ')" 4 "--irqchip $mode partial: the 4 APs never started are UNINITIALIZED"
	run_mpvm 600 run --irqchip $mode --cpus 4 --no-acpi
	like "$OUT" "^4/4 CPUs online$" "--irqchip $mode --no-acpi: 4/4 CPUs online from the MP table"
	# A disabled local APIC's page is no device's: all ones, writes ignored, CPUID.1:EDX.APIC 0.
	run_mpvm 600 run --irqchip $mode --cpus 2 --cmdline scenario=apic-disable
	is "$STATUS" 0 "--irqchip $mode apic-disable: exit status 0"
	like "$OUT" "^mpvm-guest: apic-disable: version reads 0xffffffff, TPR reads 0xffffffff, CPUID.1:EDX.APIC 0$" \
	     "--irqchip $mode apic-disable: the disabled APIC's page reads all ones and CPUID says no APIC"
	like "$OUT" "^mpvm-guest: apic-disable: enabled again, version 0x[0-9a-f]*14, CPUID.1:EDX.APIC 1$" \
	     "--irqchip $mode apic-disable: enabled again, the APIC answers"
	# x2APIC: the guest drives the APICs through MSRs (ICR 0x830, ID 0x802, EOI 0x80b).
	run_mpvm 600 run --irqchip $mode --cpus 4 --boot-cpu 2 --cmdline "apic=x2apic scenario=reinit"
	is "$STATUS" 0 "--irqchip $mode apic=x2apic reinit: exit status 0"
	like "$OUT" "^4/4 CPUs online$" "--irqchip $mode apic=x2apic reinit: 4/4 CPUs online"
done

# 300 vCPUs with mpvm's own APICs: x2APIC mode from the start, 32-bit IDs.
run_mpvm 900 run --irqchip user --cpus 300 --boot-cpu 299
check_bringup 300 299

done_testing
