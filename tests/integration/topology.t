#!/usr/bin/env bash
# --cpus N,sockets=S,cores=C,threads=T (QEMU's -smp words): APIC IDs with a
# thread, a core and a package field each as wide as it needs (gaps where a
# count is not a power of two), and CPUID, the MADT and the local APICs all
# agree, in every irqchip mode. The built-in guest checks each CPU's CPUID
# 0BH against the MADT and prints the shape it finds (guest/smp.c).
. "$(dirname "$0")/lib.sh"
need_kvm

# shape --cpus-value  packages cores threads-per-core per-package smt-shift pkg-shift  MADT-APIC-IDs
check_shape() {
	local spec=$1 pkgs=$2 cores=$3 tpc=$4 per_pkg=$5 smt=$6 pkg=$7 ids=$8 mode=$9 n
	run_mpvm 300 run --irqchip "$mode" --cpus "$spec"
	is "$STATUS" 0 "--irqchip $mode --cpus $spec: exit status 0"
	n=$(count "$OUT" '^mpvm-guest: MADT: Local (x2)?APIC')
	like "$OUT" "^mpvm-guest: topology: $n CPUs?: $pkgs packages?, $cores cores?, up to $tpc threads? per core \(CPUID 0BH: $tpc threads per core, $per_pkg per package, shifts $smt and $pkg\)$" \
		"--irqchip $mode --cpus $spec: every CPU's CPUID 0BH agrees with the MADT and gives the shape"
	is "$(sed -n 's/^mpvm-guest: MADT: Local (x2)\{0,1\}APIC, APIC ID \([0-9]*\),.*/\1/p; s/^mpvm-guest: MADT: Local APIC, APIC ID \([0-9]*\),.*/\1/p' "$OUT" | sort -n | uniq | paste -sd, -)" "$ids" \
		"--irqchip $mode --cpus $spec: APIC IDs $ids"
	unlike "$OUT" 'FAIL' "--irqchip $mode --cpus $spec: no guest check failed"
}

for mode in kernel split user; do
	check_shape 1,sockets=1,cores=1,threads=1 1 1 1 1 0 0 0 $mode
	check_shape sockets=2,cores=3,threads=1 2 6 1 3 0 2 0,1,2,4,5,6 $mode
	check_shape sockets=1,cores=4,threads=2 1 4 2 8 1 3 0,1,2,3,4,5,6,7 $mode
	check_shape sockets=2,cores=2,threads=2 2 4 2 4 1 2 0,1,2,3,4,5,6,7 $mode
done

# The BSP may be any CPU: its APIC ID is the topology's, not its index.
run_mpvm 300 run --cpus sockets=2,cores=3 --boot-cpu 4
is "$STATUS" 0 "--boot-cpu 4 with gaps: exit status 0"
like "$OUT" '^mpvm-guest: BSP is APIC ID 5 ' "--boot-cpu 4 with 2 sockets x 3 cores is APIC ID 5"

# What the words may not say.
run_mpvm 30 run --cpus 8,sockets=3
is "$STATUS" 2 "--cpus 8,sockets=3: refused"
like "$ERR" "sockets x cores x threads \(3 x 2 x 1 = 6\) must equal maxcpus \(8\)" "--cpus 8,sockets=3: says why"
run_mpvm 30 run --cpus 2,maxcpus=4 --no-acpi
is "$STATUS" 2 "--cpus 2,maxcpus=4 --no-acpi: refused"
like "$ERR" "needs CPU hotplug, which goes through ACPI" "--cpus 2,maxcpus=4 --no-acpi: says hotplug needs ACPI"
done_testing
