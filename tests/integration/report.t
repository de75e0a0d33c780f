#!/usr/bin/env bash
# --report: each vCPU thread's state when the VM stopped and the time it
# spent in each state (kvm/vcpu.h), in every irqchip mode. A partial start
# leaves two APs that never run: with mpvm's own MP state (user) their
# threads wait for INIT/SIPI outside KVM; with KVM's (kernel, split) that
# wait is inside KVM_RUN, so they count as running.
. "$(dirname "$0")/lib.sh"
need_kvm

states='join ",", sort keys %{$r->{vcpus}[0]{thread}{ns_in_state}}'
for mode in kernel split user; do
	run_mpvm 600 run --irqchip $mode --cpus 4 --cmdline "scenario=partial start=1" --report "$T_DIR/r.json"
	is "$STATUS" 0 "--irqchip $mode partial: exit status 0"
	is "$(report_field "$T_DIR/r.json" "$states")" "absent,paused,running,start-gate,wait-runnable" \
	   "--irqchip $mode: the report gives the time in each thread state"
	is "$(report_field "$T_DIR/r.json" '$r->{vcpus}[0]{thread}{state_at_stop}')" running \
	   "--irqchip $mode: the BSP was running when the VM stopped"
	is "$(report_field "$T_DIR/r.json" '$r->{vcpus}[0]{thread}{ns_in_state}{running} > 0 ? "yes" : "no"')" yes \
	   "--irqchip $mode: the BSP spent time running"
	is "$(report_field "$T_DIR/r.json" 'join ",", map { $_->{thread}{ns_in_state}{paused} } @{$r->{vcpus}}')" "0,0,0,0" \
	   "--irqchip $mode: nothing paused"
	if [ $mode = user ]; then want=wait-runnable; else want=running; fi
	is "$(report_field "$T_DIR/r.json" 'join ",", map { $_->{thread}{state_at_stop} } @{$r->{vcpus}}[2,3]')" "$want,$want" \
	   "--irqchip $mode: the APs never started were $want when the VM stopped"
	if [ $mode = user ]; then
		is "$(report_field "$T_DIR/r.json" '$r->{vcpus}[3]{thread}{ns_in_state}{running}')" 0 \
		   "--irqchip user: an AP never started never ran"
		is "$(report_field "$T_DIR/r.json" '$r->{vcpus}[3]{thread}{ns_in_state}{"wait-runnable"} > 0 ? "yes" : "no"')" yes \
		   "--irqchip user: it waited for INIT/SIPI all along"
	fi
done
done_testing
