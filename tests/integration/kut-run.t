#!/usr/bin/env bash
# tools/kut-run, the launcher that lets kvm-unit-tests' runner drive mpvm:
# its answers to the runner's probes, its translation of QEMU arguments
# (checked with --dry-run, no kvm-unit-tests needed), its errors, and one
# real run of a multiboot guest through it.
. "$(dirname "$0")/lib.sh"

KUT=$(cd "$(dirname "$0")/../.." && pwd)/tools/kut-run
export MPVM

kut() { # kut ARGS...: runs kut-run, leaving $OUT, $ERR, $STATUS
	timeout --kill-after=10 60 "$KUT" "$@" >"$T_DIR/out" 2>"$T_DIR/err" </dev/null
	STATUS=$?
	OUT=$T_DIR/out
	ERR=$T_DIR/err
}

# ---- the runner's probes --------------------------------------------------
kut --help
is "$STATUS" 0 "--help exits 0"
like "$OUT" "QEMU" "--help says QEMU (search_qemu_binary greps for it)"
kut -h
like "$OUT" "^QEMU emulator version [0-9]+\\.[0-9]+\\.[0-9]+ " "-h's first line has the version as the runner parses it"
kut -device '?'
like "$OUT" '"pc-testdev"' "-device '?' lists pc-testdev"
like "$OUT" '"isa-debug-exit"' "-device '?' lists isa-debug-exit"
unlike "$OUT" 'pci-testdev' "-device '?' does not list pci-testdev (mpvm has no PCI devices)"
kut -machine help
like "$OUT" "^pc " "-machine help lists pc"

# ---- translation ------------------------------------------------------------
dry() { # dry WANT NAME ARGS...: kut-run --dry-run ARGS prints "$MPVM run WANT"
	local want=$1 name=$2
	shift 2
	kut --dry-run "$@"
	is "$STATUS" 0 "$name: exit 0"
	is "$(cat "$OUT")" "$(printf '%q' "$MPVM") run $want" "$name"
	is "$(cat "$ERR")" "" "$name: nothing on stderr"
}
# What x86/run passes for `smptest` (kvm-unit-tests, QEMU with pc-testdev).
dry "--kernel x86/smptest.flat --cpus 2 --initrd /tmp/env --debug-exit=0xf4 --pc-testdev --legacy-pc" \
	"x86/run's command line" \
	--no-reboot -nodefaults -device pc-testdev -device isa-debug-exit,iobase=0xf4,iosize=0x4 \
	-display none -serial stdio -machine accel=kvm -kernel x86/smptest.flat -smp 2 -initrd /tmp/env
dry "--kernel k --cmdline ipi\\ ipi_halt --legacy-pc" "-append becomes --cmdline" -kernel k -append "ipi ipi_halt"
dry "--kernel k --memory 512M --legacy-pc" "-m 512 is MiB" -kernel k -m 512
dry "--kernel k --memory 2G" "-m 2G, -machine pit=off: no --legacy-pc" -kernel k -m 2G -machine pit=off
dry "--kernel k --cpus 8 --legacy-pc" "-smp cpus=8" -kernel k -smp cpus=8
dry "--kernel k --irqchip kernel --legacy-pc" "kernel_irqchip=on" -kernel k -machine accel=kvm,kernel_irqchip=on
dry "--kernel k --irqchip split" "kernel_irqchip=split" -kernel k -machine accel=kvm,kernel_irqchip=split,pit=off
dry "--kernel k --irqchip user" "kernel_irqchip=off" -kernel k -machine accel=kvm,kernel_irqchip=off -machine pit=off
dry "--kernel k --irqchip split --legacy-pc" "kernel_irqchip=split: --legacy-pc too" -kernel k -machine kernel_irqchip=split
dry "--kernel k --irqchip user --legacy-pc" "kernel_irqchip=off: --legacy-pc too" -kernel k -machine kernel_irqchip=off
dry "--kernel k --debug-exit=0x501 --legacy-pc" "isa-debug-exit at another port" -kernel k -device isa-debug-exit,iobase=0x501,iosize=4
dry "--kernel k --no-x2apic --legacy-pc" "-cpu host,-x2apic,+tsc-deadline (as the xapic test asks)" -kernel k -cpu host,-x2apic,+tsc-deadline
dry "--kernel k --cpu-features host\\,-sse4_2\\,-tsc_deadline_timer --legacy-pc" "-cpu ...,-sse4.2,tsc-deadline=off become --cpu-features" -kernel k -cpu host,-sse4.2,tsc-deadline=off
dry "--kernel k --legacy-pc" "-enable-kvm, -vnc none, -nographic, --no-reboot are accepted" \
	-enable-kvm -vnc none -nographic --no-reboot -kernel k -cpu host

kut --dry-run -kernel k -machine kernel_irqchip=split -global kvm-pit.lost_tick_policy=discard -cpu qemu64,+x2apic
is "$STATUS" 0 "harmless options: exit 0"
is "$(count "$ERR" '^kut-run: warning: ')" 2 "harmless options each get a warning (the runner accepts stderr lines that say warning)"
is "$(grep -vc warning "$ERR")" 0 "no other stderr line"

# ---- what mpvm cannot honour ----------------------------------------------------
refused() { # refused MESSAGE ARGS...
	local want=$1
	shift
	kut --dry-run -kernel k "$@"
	is "$STATUS" 1 "$* is refused with status 1"
	like "$ERR" "^kut-run: .*$want" "$*: says '$want'"
}
refused "-device pci-testdev: mpvm has no such device" -device pci-testdev
refused "mpvm's isa-debug-exit has iosize=4 only" -device isa-debug-exit,iobase=0xf4,iosize=2
refused "-machine accel=tcg: mpvm runs on KVM only" -machine accel=tcg
refused "-serial file:x: mpvm's COM1 writes to stdout only" -serial file:x
refused "'-hda': option not supported by mpvm" -hda disk.img
refused "option -smp needs a value" -smp

kut -kernel _NO_FILE_4Uhere_ -smp 2
is "$STATUS" 1 "a missing kernel: status 1"
like "$ERR" "could not load kernel '_NO_FILE_4Uhere_'" "a missing kernel: the message kvm-unit-tests' premature-failure check looks for"

# ---- a real run -----------------------------------------------------------------
need_kvm
if command -v as >/dev/null && command -v ld >/dev/null; then
	as --32 -I "$(dirname "$0")" -o "$T_DIR/g.o" "$(dirname "$0")/mbguest.S" && ld -m elf_i386 -Ttext=0x200000 -o "$T_DIR/g.elf" "$T_DIR/g.o"
	kut -nodefaults -device pc-testdev -device isa-debug-exit,iobase=0xf4,iosize=0x4 -serial stdio \
		-machine accel=kvm,kernel_irqchip=on -kernel "$T_DIR/g.elf" -smp 4 -m 1024 -append "x=1"
	is "$STATUS" 43 "the guest's debug-exit status comes through kut-run"
	like "$OUT" "^mbguest: fw_cfg cpus 4$" "-smp 4 reaches the guest"
	like "$OUT" "^mbguest: fw_cfg ram MiB 1024$" "-m 1024 reaches the guest"
	like "$OUT" "^mbguest: cmdline '$T_DIR/g.elf x=1'$" "-append reaches the guest"
	is "$(cat "$ERR")" "" "stderr stays empty (mpvm's per-vCPU report is dropped)"
else
	ok 1 "binutils (as, ld) are needed to build the test guest"
fi

done_testing
