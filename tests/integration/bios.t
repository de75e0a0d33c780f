#!/usr/bin/env bash
# --bios FILE: a raw firmware image (biosguest.S, assembled here) mapped
# read-only below 4 GiB and mirrored below 1 MiB, the BSP starting at the
# reset vector; the image starts the APs by INIT/SIPI/SIPI broadcast with no
# tables, in every irqchip mode. And the bad images, each refused before KVM
# with its message and exit status 2.
. "$(dirname "$0")/lib.sh"

SRC=$(dirname "$0")/biosguest.S

# build NAME SIZE [--defsym ...]: assembles $T_DIR/NAME, a raw image of SIZE bytes.
build() {
	local name=$1 size=$2
	shift 2
	as --32 -I "$(dirname "$SRC")" --defsym SIZE="$size" "$@" -o "$T_DIR/$name.o" "$SRC" &&
		ld -m elf_i386 -Ttext=$(printf '0x%x' $((0x100000000 - size))) -o "$T_DIR/$name.elf" "$T_DIR/$name.o" &&
		objcopy -O binary -j .text "$T_DIR/$name.elf" "$T_DIR/$name" &&
		[ "$(stat -c %s "$T_DIR/$name")" -eq "$size" ]
}

# ---- bad images: before KVM, so these run without /dev/kvm too ------------
bad_bios() { # bad_bios FILE MESSAGE-REGEX NAME
	local f=$1 want=$2 name=$3
	run_mpvm 30 run --bios "$f" --cpus 2
	is "$STATUS" 2 "$name: exit status 2"
	like "$ERR" "^mpvm: --bios $f: $want" "$name: the message names the file and says why"
	unlike "$ERR" "^mpvm: +vCPU" "$name: no vCPU ran"
}

bad_bios "$T_DIR/nonexistent" "No such file or directory" "a missing file"
: >"$T_DIR/empty"
bad_bios "$T_DIR/empty" "empty file" "an empty file"
head -c 4097 /dev/zero >"$T_DIR/odd"
bad_bios "$T_DIR/odd" "4097 bytes: not a multiple of 4 KiB" "4097 bytes"
truncate -s 17M "$T_DIR/big"
bad_bios "$T_DIR/big" "17825792 bytes: larger than 16 MiB" "17 MiB"
bad_bios "$T_DIR" "not a regular file" "a directory"

run_mpvm 30 run --bios "$T_DIR/odd" --kernel "$T_DIR/odd"
is "$STATUS" 2 "--bios with --kernel: exit status 2"
like "$ERR" "^mpvm: --bios and --kernel together" "--bios with --kernel is refused"
run_mpvm 30 run --bios "$T_DIR/odd" --legacy-pc
is "$STATUS" 2 "--bios with --legacy-pc: exit status 2"
run_mpvm 30 run --help
like "$OUT" "^  --bios FILE" "--help lists --bios"

if ! command -v as >/dev/null || ! command -v ld >/dev/null || ! command -v objcopy >/dev/null; then
	ok 1 "binutils (as, ld, objcopy) are needed to build the test firmware"
	done_testing
fi
build bios256 $((0x40000)); ok $? "the 256 KiB test image assembles to exactly 256 KiB"
build bios64 $((0x10000)); ok $? "the 64 KiB test image assembles to exactly 64 KiB"
build debugexit $((0x10000)) --defsym EXITPORT=0xf4 --defsym EXITVAL=0x15; ok $? "the debug-exit variant assembles"
build bios16m $((16 << 20)); ok $? "the 16 MiB test image assembles to exactly 16 MiB"

# ---- good images ----------------------------------------------------------------
need_kvm
for mode in kernel split user; do
	for n in 1 2 4; do
		name="--irqchip $mode --cpus $n"
		run_mpvm 60 run --bios "$T_DIR/bios256" --irqchip "$mode" --cpus "$n" --timeout 30
		is "$STATUS" 0 "$name: exit status 0"
		like "$OUT" "^bios: hello from the reset vector$" "$name: the BSP ran the image from the reset vector"
		like "$OUT" "^bios: image at 0xfffc0000$" "$name: the image is at 4 GiB - 256 KiB"
		like "$OUT" "^bios: mirror at 0x000e0000 matches$" "$name: its last 128 KiB are at 0xe0000 too"
		like "$OUT" "^bios: rom read-only$" "$name: writes to either view vanish"
		like "$OUT" "^bios: fw_cfg cpus $n$" "$name: fw_cfg gives the CPU count"
		like "$OUT" "^bios: $n cpus$" "$name: INIT/SIPI/SIPI to all-excluding-self started $((n - 1)) APs, each once"
		like "$ERR" "^mpvm: +0 +0 +BSP +RUNNABLE " "$name: vCPU 0 is the BSP"
		is "$(count "$ERR" '^mpvm: +[0-9]+ +[0-9]+ +AP +HALTED ')" $((n - 1)) "$name: every AP ends HALTED"
		unlike "$ERR" "guest error|guest fault" "$name: no guest error"
	done
done

run_mpvm 60 run --bios "$T_DIR/bios256" --cpus 2
like "$OUT" "^bios: rsdp in ebda yes$" "mpvm's ACPI RSDP is in the EBDA's first KiB"
like "$OUT" "^bios: mp floating pointer in ebda yes$" "mpvm's MP floating pointer is in the EBDA's first KiB"
run_mpvm 60 run --bios "$T_DIR/bios256" --cpus 2 --no-acpi
like "$OUT" "^bios: rsdp in ebda no$" "--no-acpi: no RSDP"
like "$OUT" "^bios: mp floating pointer in ebda yes$" "--no-acpi: the MP table is still there"
run_mpvm 60 run --bios "$T_DIR/bios256" --cpus 2 --no-mptable
like "$OUT" "^bios: rsdp in ebda yes$" "--no-mptable: the RSDP is still there"
like "$OUT" "^bios: mp floating pointer in ebda no$" "--no-mptable: no MP floating pointer"

for mode in kernel user; do
	run_mpvm 60 run --bios "$T_DIR/bios64" --irqchip "$mode" --cpus 3 --memory 5G --timeout 30
	is "$STATUS" 0 "64 KiB image, --irqchip $mode, 5G: exit status 0"
	like "$OUT" "^bios: image at 0xffff0000$" "64 KiB image, $mode: at 4 GiB - 64 KiB"
	like "$OUT" "^bios: mirror at 0x000f0000 matches$" "64 KiB image, $mode: all of it at 0xf0000 too"
	like "$OUT" "^bios: ram below the mirror$" "64 KiB image, $mode: 0xe0000-0xeffff stays RAM"
	like "$OUT" "^bios: 3 cpus$" "64 KiB image, $mode: 3 CPUs"
done

for mode in kernel user; do
	run_mpvm 60 run --bios "$T_DIR/bios16m" --irqchip "$mode" --cpus 2 --timeout 30
	is "$STATUS" 0 "16 MiB image, --irqchip $mode: exit status 0"
	like "$OUT" "^bios: image at 0xff000000$" "16 MiB image, $mode: at 4 GiB - 16 MiB"
	like "$OUT" "^bios: mirror at 0x000e0000 matches$" "16 MiB image, $mode: its last 128 KiB at 0xe0000"
	like "$OUT" "^bios: 2 cpus$" "16 MiB image, $mode: 2 CPUs"
done

run_mpvm 60 run --bios "$T_DIR/bios256" --cpus 2 --boot-cpu 1 --timeout 30
is "$STATUS" 0 "--boot-cpu 1: exit status 0"
like "$OUT" "^bios: 2 cpus$" "--boot-cpu 1: the image on vCPU 1 starts vCPU 0"
like "$ERR" "^mpvm: +1 +1 +BSP +RUNNABLE " "--boot-cpu 1: vCPU 1 is the BSP"
like "$ERR" "^mpvm: +0 +0 +AP +HALTED " "--boot-cpu 1: vCPU 0 is an AP"

run_mpvm 60 run --bios "$T_DIR/debugexit" --debug-exit --timeout 30
is "$STATUS" 43 "--debug-exit: the image's write of 0x15 to 0xf4 ends mpvm with 43"
like "$OUT" "^bios: 1 cpus$" "--debug-exit: the image ran to its end"

done_testing
