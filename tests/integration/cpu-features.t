#!/usr/bin/env bash
# --cpu-features: a bad list is refused (status 2) before KVM is touched;
# `help` lists the names; inside the guest, what the list hides is gone
# (the built-in guest's scenario=cpuid prints its feature registers).
. "$(dirname "$0")/lib.sh"

# bad_list EXPECTED-MESSAGE ARGS...: mpvm run ARGS fails with status 2 and the message.
bad_list() {
	local want=$1
	shift
	run_mpvm 30 run "$@"
	is "$STATUS" 2 "mpvm run $* exits 2"
	like "$ERR" "^mpvm: --cpu-features.*$want" "mpvm run $*: says '$want'"
}

bad_list "unknown feature 'avx3' \\(mpvm run --cpu-features help lists them\\)" --cpu-features=-avx3
bad_list "unknown feature 'avx3'" --cpu-features baseline,+avx3
bad_list "'baseline' must come first" --cpu-features -avx,baseline
bad_list "empty item in '-avx,,-aes'" --cpu-features -avx,,-aes
bad_list "'avx2': write \\+avx2 to show it or -avx2 to hide it" --cpu-features avx2
bad_list "-apic: .*cannot be hidden" --cpu-features -apic
bad_list "needs a list" --cpu-features ""
bad_list "hides x2apic, but --cpus 300 needs APIC IDs above 254" --cpus 300 --cpu-features baseline,-x2apic

run_mpvm 30 run --cpu-features help
is "$STATUS" 0 "--cpu-features help exits 0"
like "$OUT" "^  leaf 0x1 ECX:" "--cpu-features help lists the names by leaf"
like "$OUT" " sse4_2\\*( |$)" "--cpu-features help marks the baseline"
like "$OUT" "^  xsave: avx xsaveopt" "--cpu-features help lists the dependencies"
is "$(wc -c <"$ERR")" 0 "--cpu-features help writes nothing to stderr"

need_kvm

# reg NAME: the guest's value of NAME (1.ecx, 7.ebx, 80000001.edx, ...) from its cpuid: line.
reg() { sed -n "s/^cpuid:.* $1=\([0-9a-f]\{8\}\).*/\1/p" "$OUT"; }
# bit NAME N: bit N of it.
bit() { local v; v=$(reg "$1"); echo $(( (0x${v:-0} >> $2) & 1 )); }

# cpuid_run ARGS...: the cpuid scenario, which must print its line and exit 0.
cpuid_run() {
	run_mpvm 120 run --cmdline scenario=cpuid "$@"
	is "$STATUS" 0 "cpuid scenario with $*: exit status 0"
	like "$OUT" "^cpuid: 1\\.ecx=[0-9a-f]{8} " "cpuid scenario with $*: the guest prints its CPUID"
}

cpuid_run
host_1ecx=$(reg 1.ecx) host_7ebx=$(reg 7.ebx) host_e1ecx=$(reg 80000001.ecx) host_e1edx=$(reg 80000001.edx)
diag "host: 1.ecx=$host_1ecx 7.ebx=$host_7ebx 80000001.ecx=$host_e1ecx 80000001.edx=$host_e1edx"

# Bits KVM's table has, which every KVM (KVM-PVM too) answers from it.
cpuid_run --cpu-features -hypervisor,-x2apic
is "$(bit 1.ecx 31)" 0 "-hypervisor clears CPUID.1:ECX[31]"
is "$(bit 1.ecx 21)" 0 "-x2apic clears CPUID.1:ECX[21]"
is "$(reg 80000001.ecx)" "$host_e1ecx" "-hypervisor,-x2apic leave CPUID.80000001H:ECX alone"

# leaf17_is NAME N WANT TEST-NAME: bit N of NAME (leaf 1 or 7) is WANT. KVM-PVM
# answers the instruction-set bits of leaves 1 and 7 from the host CPU (its
# guests run natively at CPL 3, where no CPUID bit can keep them from an
# instruction), whatever KVM_SET_CPUID2 says: there a set bit is a skip.
leaf17_is() {
	local got
	got=$(bit "$1" "$2")
	if [ "$got" != "$3" ] && [ "$3" = 0 ] && [ -d /sys/module/kvm_pvm ]; then
		ok 0 "# SKIP $4: KVM-PVM shows the host CPU's bit"
	else
		is "$got" "$3" "$4"
	fi
}

cpuid_run --cpu-features -sse4_2
leaf17_is 1.ecx 20 0 "-sse4_2 clears CPUID.1:ECX[20] (SSE4.2)"
leaf17_is 1.ecx 19 "$(( (0x$host_1ecx >> 19) & 1 ))" "-sse4_2 leaves CPUID.1:ECX[19] (SSE4.1) as the host has it"

cpuid_run --cpu-features -xsave
leaf17_is 1.ecx 26 0 "-xsave clears CPUID.1:ECX[26] (XSAVE)"
leaf17_is 1.ecx 28 0 "-xsave clears CPUID.1:ECX[28] (AVX), which needs XSAVE"
leaf17_is 7.ebx 5 0 "-xsave clears CPUID.7:EBX[5] (AVX2), which needs AVX"

cpuid_run --cpu-features baseline
leaf17_is 7.ebx 5 0 "baseline hides CPUID.7:EBX[5] (AVX2)"
leaf17_is 1.ecx 28 0 "baseline hides CPUID.1:ECX[28] (AVX)"
leaf17_is 1.ecx 20 "$(( (0x$host_1ecx >> 20) & 1 ))" "baseline keeps CPUID.1:ECX[20] (SSE4.2) as the host has it"
# Leaf 0x80000001 comes from KVM's table on every host seen so far.
is "$(( 0x$(reg 80000001.ecx) & ~1 ))" 0 "baseline leaves nothing but lahf_lm in CPUID.80000001H:ECX"
is "$(bit 80000001.edx 29)" 1 "baseline keeps CPUID.80000001H:EDX[29] (long mode)"

cpuid_run --cpu-features -lahf_lm
is "$(bit 80000001.ecx 0)" 0 "-lahf_lm clears CPUID.80000001H:ECX[0]"
is "$(reg 80000001.edx)" "$host_e1edx" "-lahf_lm leaves CPUID.80000001H:EDX alone"

# +name of a feature no KVM offers: a warning, the feature stays off, the guest runs.
cpuid_run --cpus 2 --cpu-features baseline,+skinit
like "$ERR" "^mpvm: warning: --cpu-features: this host's KVM does not offer skinit: it stays hidden$" \
	"+skinit: mpvm warns that the host lacks it"
is "$(bit 80000001.ecx 12)" 0 "+skinit: CPUID.80000001H:ECX[12] stays clear"
is "$(count "$ERR" 'warning: --cpu-features')" 1 "the warning comes once, not once per vCPU"

# Every vCPU gets the set, and APs still start (x2APIC and the TSC deadline stay).
run_mpvm 120 run --cpus 4 --cpu-features baseline
is "$STATUS" 0 "baseline with 4 vCPUs: the default scenario passes"
like "$OUT" "^4/4 CPUs online$" "baseline with 4 vCPUs: 4/4 CPUs online"

done_testing
