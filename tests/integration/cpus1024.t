#!/usr/bin/env bash
# --cpus 1024 (this host's KVM_CAP_MAX_VCPUS on KVM-PVM and the usual
# maximum) in every irqchip mode: the built-in guest finds 1024 CPUs in the
# MADT (x2APIC entries for the IDs above 254), runs in x2APIC mode and
# starts every AP by one broadcast INIT-SIPI (one at a time, with the MP
# spec's 10 ms wait each, would take over 10 s of guest time alone), each
# AP takes a fixed IPI twice, and mpvm reports 1024 vCPUs. About 18 s per
# mode on a 2-core KVM-PVM host; MPVM_1024_MODES narrows the modes (e.g.
# "kernel" for AddressSanitizer, where it took 97 s; empty: none, for
# ThreadSanitizer, where 1024 threads took 79 s and 1.2 GB). Also the errors for more CPUs or
# APIC IDs than the host's KVM takes.
MPVM=${MPVM:-${BUILD:-build}/mpvm}
. "$(dirname "$0")/lib.sh"
need_kvm

for mode in ${MPVM_1024_MODES-kernel split user}; do
	run_mpvm 900 run --cpus 1024 --irqchip "$mode" --memory 512M --timeout 600 \
		--cmdline scenario=broadcast --report "$T_DIR/r.json"
	name="--cpus 1024 --irqchip $mode"
	is "$STATUS" 0 "$name: exit status 0"
	like "$OUT" '^mpvm-guest: found 1024 CPUs in the ACPI MADT' "$name: 1024 CPUs in the MADT"
	is "$(count "$OUT" 'MADT: Local x2APIC, APIC ID')" 769 "$name: x2APIC entries for APIC IDs 255-1023"
	like "$OUT" '^mpvm-guest: using x2APIC mode \(APIC IDs up to 1023\)' "$name: the guest drives x2APIC"
	like "$OUT" '^mpvm-guest: AP APIC ID 1023 online' "$name: APIC ID 1023 checked in"
	like "$OUT" '^mpvm-guest: HLT wake-up round 2: 1023/1023 APs woke' "$name: every AP took the second fixed IPI"
	like "$OUT" '^1024/1024 CPUs online$' "$name: 1024/1024 CPUs online"
	is "$(report_field "$T_DIR/r.json" 'scalar grep { $_->{mp_state} eq "HALTED" && $_->{role} eq "AP" } @{$r->{vcpus}}')" 1023 \
		"$name: --report: 1023 APs end HALTED"
	is "$(report_field "$T_DIR/r.json" '$r->{vcpus}[1023]{apic_id}')" 1023 "$name: --report: vCPU 1023 has APIC ID 1023"
done

# More than the host's KVM takes: said before any VM exists.
# KVM_CHECK_EXTENSION (0xAE03) of KVM_CAP_MAX_VCPUS (66)
max=$(perl -e 'open my $k, "<", "/dev/kvm" or die; print ioctl($k, 0xAE03, 66) // 0' 2>/dev/null)
[[ $max =~ ^[0-9]+$ && $max -gt 0 ]] || max=1024
run_mpvm 30 run --cpus $((max + 1))
is "$STATUS" 125 "--cpus $((max + 1)): refused (status 125: the host's limit)"
like "$ERR" "^mpvm: --cpus $((max + 1)): must be from 1 to $max \\(KVM_CAP_MAX_VCPUS on this host\\)" "--cpus $((max + 1)): names KVM_CAP_MAX_VCPUS"
run_mpvm 30 run --cpus 2,maxcpus=$((max + 1))
is "$STATUS" 125 "--cpus 2,maxcpus=$((max + 1)): refused"
like "$ERR" "maxcpus=$((max + 1)): must be at most $max \\(KVM_CAP_MAX_VCPUS on this host\\)" "maxcpus above KVM_CAP_MAX_VCPUS: named"

done_testing
