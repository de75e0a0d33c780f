#!/usr/bin/env bash
# Debian's own kernel (linux-image-amd64, unmodified) under mpvm, from the
# kit tools/linux-kit builds (it downloads the packages once; LINUX_KIT
# names another kit directory). What is checked comes from the kernel's own
# console output, up to `smpboot: Allowing N CPUs` (--stop-on ends the run
# there): on KVM-PVM guest kernel code is emulated, and the kernel stops in
# KVM's instruction emulator soon after (see README, "Linux guests").
#
#   PVH vmlinux, N = 1, 4, 64 and --boot-cpu 3 (with maxcpus=6): banner, the exact command
#   line, the e820 map from --memory, ACPI tables and the MADT, the initrd,
#   and N CPUs allowed; acpi=off: the MP table with N processors.
#   bzImage: the decompressor starts with the command line it was given.
#   Each bad --kernel/--initrd/--cmdline gets its message, before KVM.
#   (LINUX_CPUS="4" narrows the first group to one CPU count.)
source "$(dirname "$0")/lib.sh"
need_kvm

KIT=${LINUX_KIT:-build/linux-kit}
if [ ! -s "$KIT/vmlinux" ] || [ ! -s "$KIT/initramfs.cpio.gz" ]; then
	if ! tools/linux-kit --dir "$KIT" >"$T_DIR/kit.log" 2>&1; then
		ok 1 "tools/linux-kit --dir $KIT: the Linux test kit (needs apt-get download and network)"
		diag "$(tail -n 20 "$T_DIR/kit.log")"
		done_testing
	fi
fi
VMLINUX=$KIT/vmlinux
BZIMAGE=$KIT/bzImage
INITRD=$KIT/initramfs.cpio.gz
LIMIT=600 # seconds: emulated guest kernel code on a loaded 2-core CI machine

# boot_pvh N MEMORY EXTRA-CMDLINE [mpvm options...]
boot_pvh() {
	local n=$1 mem=$2 extra=$3
	shift 3
	CMDLINE="console=ttyS0 earlyprintk=serial apic=verbose$extra"
	run_mpvm $((LIMIT + 30)) run --cpus "$n" --memory "$mem" --kernel "$VMLINUX" --initrd "$INITRD" \
		--cmdline "$CMDLINE" --stop-on "smpboot: Allowing" --timeout "$LIMIT" "$@"
	sed -i 's/\r$//' "$OUT" # Linux's serial console ends its lines with CR LF
}

# The e820 line for RAM from 1 MiB to the end of --memory (below 3 GiB).
e820_top() { printf 'BIOS-e820: \\[mem 0x0000000000100000-0x%016x\\] usable' $(($1 - 1)); }

# LINUX_CPUS narrows the CPU counts (the sanitizer runs in .ci/run use "4").
for n in ${LINUX_CPUS:-1 4 64}; do
	boot_pvh "$n" 512M ""
	name="PVH --cpus $n"
	is "$STATUS" 0 "$name: --stop-on ends the run with status 0"
	like "$OUT" '^\[ +0\.000000\] Linux version 6\.[0-9]+\.[0-9]+.*Debian' "$name: the Debian kernel's banner"
	like "$OUT" "^\\[ +0\\.000000\\] Command line: ${CMDLINE}\$" "$name: the exact command line"
	like "$OUT" 'BIOS-e820: \[mem 0x0000000000000000-0x000000000009fbff\] usable' "$name: e820 low RAM below the EBDA"
	like "$OUT" 'BIOS-e820: \[mem 0x000000000009fc00-0x00000000000fffff\] reserved' "$name: e820 EBDA and tables reserved"
	like "$OUT" "$(e820_top $((512 << 20)))" "$name: e820 RAM up to --memory 512M"
	like "$OUT" 'RAMDISK: \[mem 0x' "$name: the initrd is found"
	like "$OUT" 'ACPI: RSDP 0x00000000000E0000 000024 \(v02 MPVM' "$name: ACPI RSDP at 0xe0000"
	like "$OUT" 'ACPI: APIC 0x[0-9A-F]+ [0-9A-F]+ \(v05 MPVM' "$name: the MADT"
	like "$OUT" 'ACPI: Using ACPI \(MADT\) for SMP configuration information' "$name: SMP configuration from the MADT"
	like "$OUT" "smpboot: Allowing $n CPUs, 0 hotplug CPUs" "$name: smpboot: Allowing $n CPUs"
	like "$ERR" "^mpvm: --stop-on: the guest's console printed 'smpboot: Allowing'" "$name: mpvm says why it stopped"
	unlike "$OUT" '(WARNING|BUG|Oops|panic)' "$name: no kernel warning"
done

# With two more possible CPUs (CPU hotplug): the MADT's Online Capable entries.
boot_pvh 4,maxcpus=6 256M "" --boot-cpu 3
name="PVH --cpus 4,maxcpus=6 --boot-cpu 3"
is "$STATUS" 0 "$name: status 0"
like "$OUT" "$(e820_top $((256 << 20)))" "$name: e820 RAM up to --memory 256M"
like "$OUT" "smpboot: Allowing 6 CPUs, 2 hotplug CPUs" "$name: smpboot: Allowing 6 CPUs, 2 of them hot-pluggable"
like "$ERR" '^mpvm: +5 +5 +AP +absent' "$name: vCPU 5 is absent"
like "$ERR" '^mpvm: +3 +3 +BSP +RUNNABLE' "$name: vCPU 3 ran as the BSP"
like "$ERR" '^mpvm: +0 +0 +AP +UNINITIALIZED' "$name: vCPU 0 waits for INIT as an AP"

boot_pvh 4 512M " acpi=off"
name="PVH --cpus 4, acpi=off"
is "$STATUS" 0 "$name: status 0"
like "$OUT" 'found SMP MP-table at \[mem 0x000f0000-0x000f000f\]' "$name: the MP floating pointer at 0xf0000"
like "$OUT" 'MPTABLE: OEM ID: MPVM' "$name: the MP configuration table"
like "$OUT" 'Processor #0 \(Bootup-CPU\)' "$name: CPU 0 is the boot CPU"
is "$(count "$OUT" 'Processor #[1-3]$')" 3 "$name: three more processors"
like "$OUT" 'Processors: 4$' "$name: Processors: 4"
like "$OUT" "smpboot: Allowing 4 CPUs, 0 hotplug CPUs" "$name: smpboot: Allowing 4 CPUs"
unlike "$OUT" 'ACPI: RSDP' "$name: no ACPI"

# The README's command, to the end: on hardware KVM the kernel brings up every
# AP, reaches the kit's /init and powers off (status 0); on KVM-PVM it stops
# in KVM's instruction emulator (status 126), which mpvm must report with the
# RIP and the instruction. LINUX_FULL=0 skips this run (the sanitizer runs).
if [ "${LINUX_FULL:-1}" != 0 ]; then
	run_mpvm $((LIMIT + 30)) run --cpus 4 --memory 512M --kernel "$VMLINUX" --initrd "$INITRD" \
		--cmdline "console=ttyS0 earlyprintk=serial" --timeout "$LIMIT"
	sed -i 's/\r$//' "$OUT"
	name="PVH --cpus 4 to the end"
	like "$OUT" "smpboot: Allowing 4 CPUs, 0 hotplug CPUs" "$name: smpboot: Allowing 4 CPUs"
	if [ "$STATUS" = 126 ]; then
		diag "this host's KVM stopped the kernel: $(grep -m1 'guest fault' "$ERR")"
		like "$ERR" '^mpvm: guest fault on vCPU 0 \(APIC ID 0, BSP\): KVM could not emulate an instruction' "$name: the emulator's stop is reported"
		like "$ERR" '^mpvm: +64-bit mode, RIP=ffffffff[0-9a-f]{8} ' "$name: with the RIP in the kernel"
		like "$ERR" '^mpvm: +code at RIP:( [0-9a-f]{2}){15}$' "$name: and the instruction's bytes"
	else
		is "$STATUS" 0 "$name: the kernel reaches user space and powers off (status 0)"
		like "$OUT" 'smp: Brought up 1 node, 4 CPUs' "$name: smp: Brought up 1 node, 4 CPUs"
		like "$OUT" '^mpvm-kit: cpus online: 0-3$' "$name: /sys/devices/system/cpu/online is 0-3"
		like "$OUT" '^mpvm-kit: init reached$' "$name: the kit's /init ran"
		like "$ERR" '^mpvm: +[1-3] +[1-3] +AP +(RUNNABLE|HALTED)' "$name: the APs ran"
	fi
fi

# bzImage: Debian builds its decompressor without CONFIG_X86_VERBOSE_BOOTUP,
# so it prints nothing; that it read the command line shows in COM1, which it
# programs for earlyprintk's baud rate. Its XZ decompression runs for many
# minutes where guest code is emulated: the run ends at --timeout.
run_mpvm 120 run --cpus 2 --memory 512M --kernel "$BZIMAGE" \
	--cmdline "earlyprintk=serial,ttyS0,57600 console=ttyS0" --timeout 20
name="bzImage"
is "$STATUS" 124 "$name: --timeout ends the run (status 124)"
like "$ERR" '^mpvm: COM1: the guest programmed 57600 baud, 8N1' "$name: the decompressor set up COM1 from earlyprintk=serial,ttyS0,57600"
like "$ERR" '^mpvm: vCPU 0 \(APIC ID 0\) was running at the timeout' "$name: mpvm says where the BSP was"
like "$ERR" '^mpvm: +64-bit mode, RIP=' "$name: in 64-bit mode (the 64-bit boot protocol)"
unlike "$ERR" 'guest fault' "$name: no guest fault"

# ---- bad input: each gets its message and status 2, before any vCPU runs ----
bad() { # bad NAME REGEX mpvm-run-args...
	local name=$1 re=$2
	shift 2
	run_mpvm 30 run "$@"
	is "$STATUS" 2 "$name: exit status 2"
	like "$ERR" "$re" "$name: message"
}
printf 'not a kernel at all\n' >"$T_DIR/text"
head -c 100000 "$VMLINUX" >"$T_DIR/vmlinux.cut"
head -c 4096 "$BZIMAGE" >"$T_DIR/bz.cut"
cp "$BZIMAGE" "$T_DIR/bz.old" && chmod u+w "$T_DIR/bz.old"
printf '\x0a\x02' | dd of="$T_DIR/bz.old" bs=1 seek=$((0x206)) conv=notrunc status=none
head -c $((300 << 20)) /dev/zero >"$T_DIR/big.img"
head -c $((200 << 20)) /dev/zero >"$T_DIR/200m.img"
bad "text file" "^mpvm: --kernel $T_DIR/text: not an ELF file" --kernel "$T_DIR/text"
bad "truncated vmlinux" "^mpvm: --kernel $T_DIR/vmlinux.cut: truncated" --kernel "$T_DIR/vmlinux.cut"
bad "truncated bzImage" "^mpvm: --kernel $T_DIR/bz.cut: truncated" --kernel "$T_DIR/bz.cut"
bad "protocol 2.10" "^mpvm: --kernel $T_DIR/bz.old: boot protocol 2.10 is too old" --kernel "$T_DIR/bz.old"
bad "missing kernel" "^mpvm: --kernel $T_DIR/nope: No such file" --kernel "$T_DIR/nope"
bad "initrd larger than RAM" "^mpvm: --initrd $T_DIR/big.img: 314572800 bytes: more than the 268435456 \\(256 MiB\\) it may have here" \
	--memory 256M --kernel "$VMLINUX" --initrd "$T_DIR/big.img"
bad "initrd that does not fit above the kernel" "^mpvm: --initrd $T_DIR/200m.img: 209715200 bytes do not fit between the kernel's end \\(0x[0-9a-f]+\\) and 0x10000000" \
	--memory 256M --kernel "$VMLINUX" --initrd "$T_DIR/200m.img"
bad "memory too small for the kernel" "^mpvm: --kernel $VMLINUX: segment [0-9]+ at 0x[0-9a-f]+-0x[0-9a-f]+ is outside guest RAM" \
	--memory 32M --kernel "$VMLINUX"
bad "command line too long" "^mpvm: --cmdline: 3000 bytes; this kernel takes at most 2047" \
	--kernel "$VMLINUX" --cmdline "$(head -c 3000 /dev/zero | tr '\0' a)"
done_testing
