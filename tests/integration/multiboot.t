#!/usr/bin/env bash
# Multiboot kernels (--kernel, --initrd), fw_cfg and the isa-debug-exit port,
# with a small guest (mbguest.S) assembled here as an ELF32 and an ELF64
# kernel; and every kind of bad image, each with its message, exit status 2
# and no vCPU run.
. "$(dirname "$0")/lib.sh"

SRC=$(dirname "$0")/mbguest.S

# build NAME LD-EMULATION ADDRESS [--defsym ...]: assembles and links $T_DIR/NAME.
build() {
	local name=$1 emu=$2 addr=$3 asflag=--32
	shift 3
	[ "$emu" = elf_x86_64 ] && asflag=--64
	as $asflag -I "$(dirname "$SRC")" "$@" -o "$T_DIR/$name.o" "$SRC" && ld -m "$emu" -Ttext="$addr" -o "$T_DIR/$name" "$T_DIR/$name.o"
}

if ! command -v as >/dev/null || ! command -v ld >/dev/null; then
	ok 1 "binutils (as, ld) are needed to build the multiboot test guests"
	done_testing
fi
build mb32 elf_i386 0x200000; ok $? "the ELF32 test guest assembles"
build mb64 elf_x86_64 0x200000; ok $? "the ELF64 test guest assembles"

# ---- bad images: before KVM, so these run without /dev/kvm too ------------
bad_kernel() { # bad_kernel FILE MESSAGE-REGEX NAME [more mpvm options]
	local f=$1 want=$2 name=$3
	shift 3
	run_mpvm 30 run --kernel "$f" --debug-exit "$@"
	is "$STATUS" 2 "$name: exit status 2"
	like "$ERR" "^mpvm: --kernel $f: .*$want" "$name: the message names the file and says '$want'"
	unlike "$ERR" "^mpvm: +vCPU" "$name: no vCPU ran"
}

printf '#!/bin/sh\necho hi\n' >"$T_DIR/script"
bad_kernel "$T_DIR/script" "not an ELF file \\(no .x7fELF at its start\\)" "a shell script"
bad_kernel "$T_DIR/nonexistent" "No such file or directory" "a missing file"
: >"$T_DIR/empty"
bad_kernel "$T_DIR/empty" "not an ELF file" "an empty file"
head -c $((0x1000 + 64)) "$T_DIR/mb32" >"$T_DIR/trunc"
bad_kernel "$T_DIR/trunc" "truncated: segment [0-9]+ \\(0x[0-9a-f]+ bytes at offset 0x1000\\) ends after the file's 4160 bytes" "a truncated image"
build nohdr elf_i386 0x200000 --defsym NOHDR=1
bad_kernel "$T_DIR/nohdr" "no multiboot header \\(magic 0x1badb002, 4-byte aligned\\) in the first 8192 bytes" "an ELF without a multiboot header"
build badsum elf_i386 0x200000 --defsym BADSUM=1
bad_kernel "$T_DIR/badsum" "multiboot header at offset 0x1000: bad checksum" "a bad checksum"
build video elf_i386 0x200000 --defsym HDRFLAGS=4
bad_kernel "$T_DIR/video" "ask for a video mode \\(bit 2\\); mpvm has no graphics" "a video-mode header"
build aout elf_i386 0x200000 --defsym HDRFLAGS=0x10000
bad_kernel "$T_DIR/aout" "a.out kludge" "an a.out-kludge header"
build high elf_i386 0x20000000
bad_kernel "$T_DIR/high" "segment [0-9]+ at 0x[0-9a-f]+-0x[0-9a-f]+ is outside guest RAM \\(256 MiB: 0x0-0x10000000; try a larger --memory\\)" "a segment outside RAM"
build low elf_i386 0x1000
bad_kernel "$T_DIR/low" "segment [0-9]+ at 0x[0-9a-f]+-0x[0-9a-f]+ overlaps mpvm's low memory" "a segment over mpvm's low memory"
build bios elf_i386 0xe0000
bad_kernel "$T_DIR/bios" "segment [0-9]+ at 0x[0-9a-f]+-0x[0-9a-f]+ overlaps mpvm's EBDA, ACPI and MP tables \\(0x9fc00-0xfffff\\)" "a segment over the ACPI tables"

run_mpvm 30 run --kernel "$T_DIR/mb32" --initrd "$T_DIR/nonexistent"
is "$STATUS" 2 "a missing --initrd: exit status 2"
like "$ERR" "^mpvm: --initrd $T_DIR/nonexistent: No such file or directory" "a missing --initrd is named"
mkfifo "$T_DIR/fifo"
run_mpvm 30 run --kernel "$T_DIR/mb32" --initrd "$T_DIR/fifo"
is "$STATUS" 2 "a FIFO as --initrd: exit status 2 (once a hang in fopen)"
like "$ERR" "^mpvm: --initrd $T_DIR/fifo: not a regular file \\(a FIFO" "a FIFO as --initrd is named"
run_mpvm 30 run --initrd "$T_DIR/mb32"
is "$STATUS" 2 "--initrd without --kernel: exit status 2"
like "$ERR" "^mpvm: --initrd needs --kernel" "--initrd without --kernel says so"
run_mpvm 30 run --kernel "$T_DIR/mb32" --debug-exit=0x700
is "$STATUS" 2 "--debug-exit=0x700: exit status 2"
like "$ERR" "^mpvm: --debug-exit=0x700: ports 0x700-0x703 overlap mpvm's exit port" "--debug-exit over the exit port is refused"
run_mpvm 30 run --kernel "$T_DIR/mb32" --debug-exit=port
like "$ERR" "^mpvm: --debug-exit=port: PORT must be an I/O port" "--debug-exit with a bad port is refused"
long=$(head -c 4000 /dev/zero | tr '\0' x)
run_mpvm 30 run --kernel "$T_DIR/mb32" --cmdline "$long"
is "$STATUS" 2 "a too-long multiboot command line: exit status 2"
like "$ERR" "^mpvm: --cmdline: the multiboot command line .* has [0-9]+ bytes; at most 3583" "a too-long command line names the limit"

# ---- good kernels -------------------------------------------------------------
need_kvm
printf 'initrd-bytes' >"$T_DIR/mod"
for k in mb32 mb64; do
	run_mpvm 60 run --kernel "$T_DIR/$k" --cpus 3 --memory 5G --cmdline "hello  world" --initrd "$T_DIR/mod" --debug-exit
	is "$STATUS" 43 "$k: the guest's debug-exit write of 0x15 ends mpvm with (0x15 << 1) | 1 = 43"
	like "$OUT" "^mbguest: entry state ok" "$k: multiboot entry state (EAX, CS=0x18, DS=SS=0x10, PE, no paging, IF=0, bss zero)"
	like "$OUT" "^mbguest: info flags 0x0000024d$" "$k: info flags: memory, cmdline, mods, mmap, loader name"
	like "$OUT" "^mbguest: cmdline '$T_DIR/$k hello  world'$" "$k: the command line is the kernel's name and --cmdline"
	like "$OUT" "^mbguest: mem_upper KiB 3144704$" "$k: mem_upper is 3 GiB - 1 MiB with 5G of RAM"
	like "$OUT" "^mbguest: module initrd-bytes$" "$k: --initrd is the module"
	like "$OUT" "^mbguest: mmap entries 5$" "$k: the memory map has 5 entries (RAM above 4 GiB included)"
	like "$OUT" "^mbguest: fw_cfg signature QEMU$" "$k: fw_cfg signature"
	like "$OUT" "^mbguest: fw_cfg cpus 3$" "$k: fw_cfg NB_CPUS = --cpus"
	like "$OUT" "^mbguest: fw_cfg ram MiB 5120$" "$k: fw_cfg RAM size = --memory"
	like "$ERR" "^mpvm: +0 +0 +BSP +RUNNABLE" "$k: mpvm reports the BSP"
	is "$(count "$ERR" '^mpvm: +[12] +[12] +AP +UNINITIALIZED ')" 2 "$k: the APs were never started"
done

run_mpvm 60 run --kernel "$T_DIR/mb32" --cpus 2 --boot-cpu 1 --debug-exit
is "$STATUS" 43 "--boot-cpu 1: the multiboot kernel runs on vCPU 1"
like "$ERR" "^mpvm: +1 +1 +BSP +RUNNABLE" "--boot-cpu 1: vCPU 1 is the BSP"
like "$OUT" "^mbguest: cmdline '$T_DIR/mb32'$" "no --cmdline: the command line is the kernel's name"

build port elf_i386 0x200000 --defsym EXITPORT=0x501 --defsym EXITVAL=0
run_mpvm 60 run --kernel "$T_DIR/port" --debug-exit=0x501
is "$STATUS" 1 "--debug-exit=0x501: a write of 0 there ends mpvm with 1"
build big elf_i386 0x200000 --defsym EXITVAL=0x80
run_mpvm 60 run --kernel "$T_DIR/big" --debug-exit
is "$STATUS" 1 "a write of 0x80: (0x80 << 1) | 1 = 0x101, which the 8-bit exit status truncates to 1"

run_mpvm 60 run --kernel "$T_DIR/mb32" --cpus 2 --debug-exit --pc-testdev --legacy-pc
is "$STATUS" 43 "--pc-testdev --legacy-pc: the guest runs as before"
like "$OUT" "^mbguest: cpuid x2apic 1$" "the guest sees x2APIC in CPUID by default"
run_mpvm 60 run --kernel "$T_DIR/mb32" --debug-exit --no-x2apic
like "$OUT" "^mbguest: cpuid x2apic 0$" "--no-x2apic: the guest does not see x2APIC in CPUID"
run_mpvm 30 run --legacy-pc
is "$STATUS" 2 "--legacy-pc without --kernel: exit status 2"
like "$ERR" "^mpvm: --legacy-pc needs --kernel" "--legacy-pc without --kernel says so"

run_mpvm 60 run --kernel "$T_DIR/mb32"
is "$STATUS" 126 "without --debug-exit, a write to 0xf4 is a guest fault"
like "$ERR" "OUT to unknown I/O port 0xf4" "the fault names port 0xf4"

done_testing
