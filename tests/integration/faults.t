#!/usr/bin/env bash
# What a guest does wrong is reported, never crashes or hangs mpvm: the
# vCPU, the exit reason and the registers, and exit status 126.
. "$(dirname "$0")/lib.sh"
need_kvm

# fault SCENARIO WHERE MESSAGE EXIT-REASON
fault() {
	local scenario=$1 where=$2 msg=$3 reason=$4 vcpu=0 role=BSP
	[ "$where" = ap ] && { vcpu=1; role=AP; }
	run_mpvm 300 run --cpus 2 --cmdline "scenario=$scenario where=$where"
	is "$STATUS" 126 "$scenario on the $role: exit status 126"
	like "$ERR" "^mpvm: guest fault on vCPU $vcpu \\(APIC ID $vcpu, $role\\): $msg" "$scenario on the $role: says what happened and where"
	like "$ERR" "^mpvm:   exit reason [0-9]+ \\($reason\\)" "$scenario on the $role: names the exit reason $reason"
	like "$ERR" "^mpvm:   64-bit mode, RIP=[0-9a-f]{16} RSP=[0-9a-f]{16}" "$scenario on the $role: shows RIP and RSP"
	like "$ERR" "^mpvm:   CS=0*8 base=0 .*CR3=" "$scenario on the $role: shows the control registers"
	like "$ERR" "^mpvm: +$vcpu +$vcpu +$role " "$scenario on the $role: the per-vCPU report still comes"
}

fault triple-fault bsp "triple fault \\(the CPU shut down\\)" KVM_EXIT_SHUTDOWN
fault triple-fault ap "triple fault \\(the CPU shut down\\)" KVM_EXIT_SHUTDOWN
fault bad-port bsp "OUT to unknown I/O port 0x666 \\(1 byte, value 0x5a\\)" KVM_EXIT_IO
fault bad-port ap "OUT to unknown I/O port 0x666 \\(1 byte, value 0x5a\\)" KVM_EXIT_IO
fault bad-mmio bsp "write of 4 bytes at unknown MMIO address 0xd0000000" KVM_EXIT_MMIO
fault bad-fetch bsp "KVM could not emulate an instruction" KVM_EXIT_INTERNAL_ERROR

# The code bytes at RIP are shown where they can be read.
run_mpvm 300 run --cmdline "scenario=bad-port where=bsp"
like "$ERR" "^mpvm:   code at RIP: [0-9a-f]{2}( [0-9a-f]{2}){14}$" "bad-port: the 15 bytes at RIP are shown"

done_testing
