#!/usr/bin/env bash
# QMP system_reset: the machine back in its power-on state, in place, and
# booting again, in each irqchip mode. The built-in guest's heartbeat
# scenario on 4 vCPUs: after system_reset the RESET event comes (QEMU's
# shape), the console shows a second boot that starts every AP again (each
# AP's trampoline entered once in that boot, its counters in RAM from
# zero), each AP goes UNINITIALIZED and then up again (MP_STATE_CHANGE,
# mpvm-query-mp-state), and the VM still ends normally (key q, status 0).
# A stopped VM stays stopped across system_reset and boots on cont; two
# resets in a row; mpvm ctl's system_reset; a vCPU paused alone stays
# paused. A VM started with --restore
# resets to a fresh boot. Then a --bios image (from the reset vector)
# re-entered after system_reset; --reboot, where the guest's own resets
# (8042, 0xcf9, port 0x92) reset in place; the refusal with CPU hotplug.
#
# MPVM_ARGS: more options for each mpvm run.
MPVM=${MPVM:-${BUILD:-build}/mpvm}
. "$(dirname "$0")/lib.sh"
QMP=$(cd "$(dirname "$0")/../.." && pwd)/tools/qmp
need_kvm

q() { "$QMP" --timeout 60 "$SOCK" "$@"; }

# start_vm NAME ARGS...: mpvm with a control socket, COM1's input from a FIFO on fd 4,
# and every event from the start on in $T_DIR/events (a client that only listens).
start_vm() {
	local name=$1
	shift
	SOCK=$T_DIR/qmp-$name.sock
	rm -f "$T_DIR/in" "$SOCK"
	mkfifo "$T_DIR/in"
	exec 4<>"$T_DIR/in"
	timeout --kill-after=5 240 "$MPVM" run --control "$SOCK" "$@" ${MPVM_ARGS:-} \
		<&4 >"$T_DIR/out" 2>"$T_DIR/err" &
	VM_PID=$!
	for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
	"$QMP" --events --timeout 300 "$SOCK" sleep=300 >"$T_DIR/events" 2>/dev/null &
	EV_PID=$!
}

# end_vm: once the VM has ended, its listener goes and fd 4 is closed.
end_vm() {
	kill "$EV_PID" 2>/dev/null
	wait "$EV_PID" 2>/dev/null
	exec 4>&-
}

# wait_for REGEX N: until the console has printed N lines matching REGEX (at most 60 s).
wait_for() {
	for _ in $(seq 1200); do [ "$(count "$T_DIR/out" "$1")" -ge "$2" ] && return 0; sleep 0.05; done
	return 1
}

ONLINE='^mpvm-guest: heartbeat: 4/4 CPUs online'

# entries BOOT: each AP's "online, trampoline entries N" line of boot BOOT (1-based), space-separated.
entries() {
	awk -v b="$1" '/^mpvm-guest: scenario heartbeat/ { n++ } n == b && /AP APIC ID [0-9]+ online/ { printf "%s:%s ", $5, $9 }' \
		"$T_DIR/out" | sed 's/,//g; s/ $//'
}

# after_reset N: the events after the Nth RESET event, one per line.
after_reset() { awk -v n="$1" '/"event":"RESET"/ { r++; next } r >= n' "$T_DIR/events"; }

for mode in kernel split user; do
	start_vm "$mode" --cpus 4 --irqchip "$mode" --cmdline scenario=heartbeat
	wait_for "$ONLINE" 1
	ok $? "$mode: the heartbeat guest is up on 4 vCPUs"

	# One reset: answered {}, then RESET; the guest boots again and starts every AP again.
	q system_reset >"$T_DIR/r1"
	is "$(jget "$T_DIR/r1" 1 'ref($r->{return})')" HASH "$mode: system_reset returns {}"
	wait_for "$ONLINE" 2
	ok $? "$mode: the console shows the guest booting a second time, 4/4 CPUs online again"
	is "$(count "$T_DIR/out" '^mpvm-guest: scenario heartbeat')" 2 "$mode: the guest started from its entry twice"
	is "$(entries 2)" "1:1 2:1 3:1" "$mode: second boot: each AP online again, its trampoline entered once (RAM from power-on)"
	q 'mpvm-query-mp-state refresh=true' >"$T_DIR/mp"
	is "$(jget "$T_DIR/mp" 1 'join " ", map { $_->{q(mp-state)} =~ /^(HALTED|RUNNABLE)$/ ? "up" : $_->{q(mp-state)} } @{$r->{return}{vcpus}}')" \
		"up up up up" "$mode: mpvm-query-mp-state: every vCPU up again (HALTED or RUNNABLE)"
	is "$(jget "$T_DIR/mp" 1 'join " ", map { $_->{q(paused)} ? "paused" : "on" } @{$r->{return}{vcpus}}')" \
		"on on on on" "$mode: no vCPU is left paused"
	like "$T_DIR/events" '^\{"data":\{"guest":false,"reason":"host-qmp-system-reset"\},"event":"RESET","timestamp":\{"microseconds":[0-9]+,"seconds":[0-9]+\}\}$' \
		"$mode: the RESET event, QEMU's shape"
	sleep 0.5 # the listener has written the events the refresh brought
	# Each AP: back to UNINITIALIZED by the reset, then (after the guest's INIT and SIPI) up again.
	# With KVM's local APICs the steps between are what the vCPU's thread saw (README, freshness).
	for cpu in 1 2 3; do
		is "$(awk -v c="\"cpu-index\":$cpu," '/"event":"RESET"/ { r++ } index($0, c) && /MP_STATE_CHANGE/ {
				if (/"to":"UNINITIALIZED"/ && !r) u = 1; else if (u && r && /"to":"(RUNNABLE|HALTED)"/) up = 1 }
			END { print (u ? "reset" : "-") (up ? ",up" : "") }' "$T_DIR/events")" "reset,up" \
			"$mode: vCPU $cpu went UNINITIALIZED at the reset, then up again (MP_STATE_CHANGE)"
	done

	# A stopped VM stays stopped across system_reset (as QEMU's); cont starts the new boot.
	q stop system_reset query-status >"$T_DIR/r2"
	is "$(jget "$T_DIR/r2" 3 '$r->{return}{status}')" paused "$mode: after stop and system_reset the VM is still paused"
	sleep 1
	is "$(count "$T_DIR/out" '^mpvm-guest: scenario heartbeat')" 2 "$mode: no guest code ran while stopped"
	q query-cpus-fast >"$T_DIR/cpus"
	is "$(jget "$T_DIR/cpus" 1 'join " ", map { $_->{paused} ? "paused" : "on" } @{$r->{return}}')" \
		"paused paused paused paused" "$mode: every vCPU is paused"
	q cont >/dev/null
	wait_for "$ONLINE" 3
	ok $? "$mode: cont: the reset VM boots (third boot)"
	is "$(entries 3)" "1:1 2:1 3:1" "$mode: third boot: each AP's trampoline entered once"

	# Twice in a row, the second through mpvm ctl: two RESET events, and the guest boots again.
	q system_reset >/dev/null
	"$MPVM" ctl "$SOCK" system_reset >"$T_DIR/ctl" 2>&1
	is "$(cat "$T_DIR/ctl")" ok "$mode: mpvm ctl PATH system_reset prints ok"
	before=$(count "$T_DIR/out" "$ONLINE")
	wait_for '^mpvm-guest: scenario heartbeat' 4
	ok $? "$mode: after two resets in a row the guest starts again"
	wait_for "$ONLINE" $((before + 1))
	ok $? "$mode: ... and brings every AP up"
	printf h >&4
	wait_for '^mpvm-guest: heartbeat 1: end' 1
	is "$(sed -nE 's/^mpvm-guest: heartbeat 1: cpu ([1-3]) .* entries ([0-9]+) start-cs (0x[0-9a-f]+) .*/\1:\2:\3/p' "$T_DIR/out" | tr '\n' ' ')" \
		"1:1:0x800 2:1:0x800 3:1:0x800 " "$mode: the heartbeat report: each AP entered once, started at SIPI vector 8"
	sleep 0.5
	is "$(grep -c '"event":"RESET"' "$T_DIR/events")" 4 "$mode: four RESET events in all"

	# A vCPU paused alone stays paused across the reset; resumed, the new boot brings it up.
	before=$(count "$T_DIR/out" "$ONLINE")
	q 'mpvm-vcpu-pause cpu-index=2' system_reset mpvm-query-mp-state >"$T_DIR/r3"
	is "$(jget "$T_DIR/r3" 3 'join " ", map { $_->{paused} ? "paused" : "on" } @{$r->{return}{vcpus}}')" \
		"on on paused on" "$mode: a vCPU paused by mpvm-vcpu-pause is still paused after system_reset"
	q 'mpvm-vcpu-resume cpu-index=2' >/dev/null
	wait_for "$ONLINE" $((before + 1))
	ok $? "$mode: resumed, it comes up in the new boot: 4/4 CPUs online"

	# And the VM ends normally.
	printf q >&4
	wait "$VM_PID"
	is $? 0 "$mode: the guest ends the run with status 0 after the resets"
	like "$T_DIR/err" '^mpvm: system_reset: the VM is back in its power-on state' "$mode: mpvm says each reset was done"
	unlike "$T_DIR/err" 'guest fault|KVM_|failed|Sanitizer|runtime error' "$mode: no fault, KVM error or sanitizer report"
	end_vm
done

# ---- 64 vCPUs: their threads' restores allocate at once (glibc's arena limit, kvm/vcpus.c) ----
for mode in kernel split user; do
	start_vm "cpus64-$mode" --cpus 64 --irqchip "$mode" --cmdline scenario=heartbeat
	wait_for '^mpvm-guest: heartbeat: 64/64 CPUs online' 1
	q system_reset >/dev/null
	wait_for '^mpvm-guest: heartbeat: 64/64 CPUs online' 2
	up=$?
	ok $up "64 vCPUs $mode: after system_reset all 64 come up again"
	[ $up -eq 0 ] || diag "$(grep -v '^mpvm: .* AP ' "$T_DIR/err" | tail -15; tail -3 "$T_DIR/out")"
	printf q >&4
	wait "$VM_PID"
	is $? 0 "64 vCPUs $mode: and the run ends with status 0"
	end_vm
done

# ---- --restore: a restored VM resets to its options' fresh boot, not to the snapshot -------
for mode in kernel split user; do
	start_vm "snap-$mode" --cpus 3 --irqchip "$mode" --cmdline scenario=heartbeat
	wait_for '^mpvm-guest: heartbeat: 3/3 CPUs online' 1
	q --wait SHUTDOWN "mpvm-snapshot path=$T_DIR/vm.snap quit=true" >/dev/null
	wait "$VM_PID"
	end_vm
	start_vm "restored-$mode" --restore "$T_DIR/vm.snap"
	sleep 0.5
	q system_reset >/dev/null
	wait_for '^mpvm-guest: heartbeat: 3/3 CPUs online' 1
	ok $? "restore $mode: after system_reset the restored VM boots from the start"
	is "$(entries 1 | sed 's/ 3:1$//')" "1:1 2:1" "restore $mode: ... and starts both APs, each entered once"
	printf q >&4
	wait "$VM_PID"
	is $? 0 "restore $mode: and ends with status 0"
	end_vm
done

# ---- --bios: the image runs again from the reset vector ----------------------------------
SRC=$(dirname "$0")/biosguest.S
if as --32 -I "$(dirname "$SRC")" --defsym SIZE=0x10000 --defsym EXITPORT=0x710 -o "$T_DIR/bios.o" "$SRC" &&
	ld -m elf_i386 -Ttext=0xffff0000 -o "$T_DIR/bios.elf" "$T_DIR/bios.o" &&
	objcopy -O binary -j .text "$T_DIR/bios.elf" "$T_DIR/bios"; then
	for mode in kernel split user; do
		# The image's last write goes to a port nobody has (ignored with --bios); then it halts.
		start_vm "bios-$mode" --cpus 4 --irqchip "$mode" --bios "$T_DIR/bios"
		wait_for '^bios: done' 1
		ok $? "bios $mode: the image ran to its end and halts"
		q system_reset >/dev/null
		wait_for '^bios: done' 2
		ok $? "bios $mode: after system_reset it runs again from the reset vector"
		is "$(count "$T_DIR/out" '^bios: 4 cpus$')" 2 "bios $mode: both runs start the 3 APs (bios: 4 cpus twice)"
		q --wait SHUTDOWN quit >/dev/null
		wait "$VM_PID"
		is $? 0 "bios $mode: quit ends it with status 0"
		end_vm
	done
else
	ok 1 "binutils (as, ld, objcopy) are needed to build the --bios test image"
fi

# ---- --reboot: the guest's own reset (a multiboot kernel: pcguest.S) resets in place -------
# Action 3 is the 8042's reset line, 2 the 0xcf9 register, 5 port 0x92: each boot ends in a reset,
# which with --reboot boots it again; "still running" would mean the guest ran on past its reset.
PCSRC=$(dirname "$0")/pcguest.S
set -- kernel 3 split 2 user 5
while [ $# -gt 0 ]; do
	mode=$1 action=$2
	shift 2
	if ! as --32 -I "$(dirname "$PCSRC")" --defsym ACTION="$action" -o "$T_DIR/pc.o" "$PCSRC" ||
		! ld -m elf_i386 -Ttext=0x200000 -o "$T_DIR/pc$action" "$T_DIR/pc.o"; then
		ok 1 "reboot $mode: binutils (as, ld) build the multiboot test guest"
		continue
	fi
	start_vm "reboot-$mode" --cpus 2 --irqchip "$mode" --kernel "$T_DIR/pc$action" --reboot
	wait_for "^pcguest: action $action\$" 3
	ok $? "reboot $mode: action $action: the guest reset itself and booted again, three times"
	sleep 0.5 # the listener is in by now: two more resets for it to see
	wait_for "^pcguest: action $action\$" $(($(count "$T_DIR/out" "^pcguest: action $action\$") + 2))
	q --wait SHUTDOWN quit >/dev/null
	wait "$VM_PID"
	is $? 0 "reboot $mode: quit ends it with status 0"
	sleep 0.2
	like "$T_DIR/events" '^\{"data":\{"guest":true,"reason":"guest-reset"\},"event":"RESET"' \
		"reboot $mode: the RESET event says the guest did it (guest-reset)"
	unlike "$T_DIR/out" 'still running' "reboot $mode: no guest code ran past its reset"
	like "$T_DIR/err" '^mpvm: the guest reset the machine \(--reboot\): the VM is back in its power-on state' \
		"reboot $mode: mpvm says so"
	end_vm
done

# ---- refused: CPU hotplug (a hot-added vCPU has no power-on state) ----------------------
start_vm hotplug --cpus 2,maxcpus=3 --cmdline scenario=hang
for _ in $(seq 600); do grep -q 'the BSP now halts' "$T_DIR/out" && break; sleep 0.05; done
q system_reset query-status >"$T_DIR/hp"
like <(jget "$T_DIR/hp" 1 '$r->{error}{desc}') 'not supported with CPU hotplug' "hotplug: system_reset is refused, saying why"
is "$(jget "$T_DIR/hp" 2 '$r->{return}{status}')" running "hotplug: the VM runs on"
q --wait SHUTDOWN quit >/dev/null
wait "$VM_PID"
end_vm

done_testing
