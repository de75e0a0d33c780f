#!/usr/bin/env bash
# SMBIOS 3.0 tables (core/smbios.c), read back three ways:
#  - Debian's dmidecode decodes the builder's image for each CPU shape
#    (1x1x1, 2x3x1, 1x4x2, 2x2x2, and some it cannot boot yet: empty
#    sockets, counts above 255): dmidecode's --from-dump file format is the
#    entry point at offset 0 and the table at 32, the entry point's table
#    address 32, which is what the builder writes for address 0; the unit
#    test binary writes it (test_smbios --dump);
#  - the built-in guest finds the placed tables in 0xf0000-0xfffff, checks
#    them and prints their counts, which must match the same shape's dump
#    byte for byte in length;
#  - a --bios image lists them in fw_cfg; Debian's Linux (when the kit is
#    there) finds them and prints its DMI line.
. "$(dirname "$0")/lib.sh"

DUMPER=$(dirname "$MPVM")/tests/core/test_smbios
if ! command -v dmidecode >/dev/null; then
	ok 1 "dmidecode is installed (apt-get install dmidecode): these tests read the tables with it"
	done_testing
fi
if [ ! -x "$DUMPER" ]; then
	ok 1 "$DUMPER exists (make builds it)"
	done_testing
fi

# dump NAME BASE SOCKETS CORES THREADS PRESENT MEMORY: $T_DIR/BASE.bin, and dmidecode's decoding in BASE.txt
dump() {
	local name=$1 base=$2
	shift 2
	"$DUMPER" --dump "$T_DIR/$base.bin" "$@" 2>"$T_DIR/$base.err"
	ok $? "$name: test_smbios --dump writes the image"
	dmidecode --from-dump "$T_DIR/$base.bin" >"$T_DIR/$base.txt" 2>&1
	ok $? "$name: dmidecode --from-dump reads it (status 0)"
	like "$T_DIR/$base.txt" "^SMBIOS 3\.0\.0 present\." "$name: dmidecode finds SMBIOS 3.0.0"
	unlike "$T_DIR/$base.txt" "Invalid|[Ww]rong|[Cc]hecksum|[Tt]runcated|Bad |<OUT OF SPEC>|Unknown Type" \
		"$name: dmidecode reports no bad length, checksum or field"
	TABLE_LEN=$(($(stat -c %s "$T_DIR/$base.bin") - 32))
}

# check_cpus NAME FILE SOCKETS CORES ENABLED THREADS-PER-SOCKET: dmidecode -t 4.
check_cpus() {
	local name=$1 f=$2 s=$3 c=$4 e=$5 t=$6
	dmidecode --from-dump "$f" -t 4 >"$T_DIR/t4.txt" 2>&1
	is "$(count "$T_DIR/t4.txt" '^Processor Information$')" "$s" "$name: -t 4 lists $s processor sockets"
	is "$(count "$T_DIR/t4.txt" "^[[:space:]]Core Count: $c$")" "$s" "$name: each has Core Count $c"
	is "$(count "$T_DIR/t4.txt" "^[[:space:]]Thread Count: $t$")" "$s" "$name: each has Thread Count $t"
	is "$(grep -E '^[[:space:]]Core Enabled:' "$T_DIR/t4.txt" | awk '{print $3}' | paste -sd,)" "$e" \
	   "$name: Core Enabled per socket is $e"
	is "$(grep -E '^[[:space:]]Socket Designation:' "$T_DIR/t4.txt" | awk '{print $4}' | paste -sd,)" \
	   "$(seq -s, 0 $((s - 1)))" "$name: sockets CPU 0 to CPU $((s - 1))"
}

# check_memory NAME FILE SIZE RANGES: dmidecode -t 17 and -t 19.
check_memory() {
	local name=$1 f=$2 size=$3 ranges=$4
	dmidecode --from-dump "$f" -t 17 >"$T_DIR/t17.txt" 2>&1
	is "$(count "$T_DIR/t17.txt" '^Memory Device$')" 1 "$name: -t 17 lists one memory device"
	like "$T_DIR/t17.txt" "^[[:space:]]Size: $size$" "$name: -t 17 says Size: $size"
	dmidecode --from-dump "$f" -t 19 >"$T_DIR/t19.txt" 2>&1
	is "$(count "$T_DIR/t19.txt" '^Memory Array Mapped Address$')" "$ranges" "$name: -t 19 lists $ranges RAM range(s)"
}

# ---- the builder's image, decoded by dmidecode ---------------------------
# shape: name sockets cores threads memory dmidecode-size ranges --cpus
SHAPES=(
	"1x1x1 1 1 1 256M 256_MB 1 1"
	"2x3x1 2 3 1 512M 512_MB 1 6,sockets=2,cores=3"
	"1x4x2 1 4 2 5G 5_GB 2 8,sockets=1,cores=4,threads=2"
	"2x2x2 2 2 2 40G 40_GB 2 8,sockets=2,cores=2,threads=2"
)
declare -A LEN
for shape in "${SHAPES[@]}"; do
	set -- $shape
	name=$1 s=$2 c=$3 t=$4 mem=$5 size=${6/_/ } ranges=$7
	bytes=$(numfmt --from=iec "$mem")
	dump "$name" "$name" "$s" "$c" "$t" $((s * c * t)) "$bytes"
	LEN[$name]=$TABLE_LEN
	check_cpus "$name" "$T_DIR/$name.bin" "$s" "$c" "$(yes "$c" | head -n "$s" | paste -sd,)" $((c * t))
	check_memory "$name" "$T_DIR/$name.bin" "$size" "$ranges"
	dmidecode --from-dump "$T_DIR/$name.bin" -t 0 -t 1 >"$T_DIR/t01.txt" 2>&1
	like "$T_DIR/t01.txt" "^[[:space:]]Vendor: mpvm$" "$name: -t 0 BIOS vendor mpvm"
	like "$T_DIR/t01.txt" "^[[:space:]]+BIOS characteristics not supported$" "$name: -t 0 says BIOS characteristics not supported"
	like "$T_DIR/t01.txt" "^[[:space:]]Product Name: mpvm$" "$name: -t 1 product mpvm"
	for t in 3 16 32; do
		is "$(dmidecode --from-dump "$T_DIR/$name.bin" -t $t | grep -c '^Handle ')" 1 "$name: one type $t structure"
	done
done

# Shapes mpvm cannot boot yet (CPUs to hot-add later; cores past 255).
dump "2x3x1 with 4 CPUs present" partial4 2 3 1 4 $((256 << 20))
check_cpus "2x3x1, 4 present" "$T_DIR/partial4.bin" 2 3 "3,1" 3
dump "2x3x1 with 3 CPUs present" partial3 2 3 1 3 $((256 << 20))
# (0 enabled cores reads as "unknown" (§7.5.7), so dmidecode prints no Core Enabled line for it)
check_cpus "2x3x1, 3 present" "$T_DIR/partial3.bin" 2 3 "3" 3
like "$T_DIR/partial3.txt" "^[[:space:]]Status: Populated, Disabled By BIOS$" "2x3x1, 3 present: the empty socket is there, disabled"
dump "1x512x2" big 1 512 2 1024 $((1 << 30))
check_cpus "1x512x2" "$T_DIR/big.bin" 1 512 512 1024
dump "32 GiB" mem32g 1 1 1 1 $((32 << 30))
check_memory "32 GiB (extended size)" "$T_DIR/mem32g.bin" "32 GB" 2

# ---- the tables mpvm places, read by the built-in guest ------------------
need_kvm
for shape in "${SHAPES[@]}"; do
	set -- $shape
	name=$1 s=$2 c=$3 t=$4 mem=$5 cpus=$8
	for mode in kernel split user; do
		[ "$mode" != kernel ] && [ "$name" != 2x2x2 ] && continue
		run_mpvm 300 run --cpus "$cpus" --memory "$mem" --irqchip $mode
		is "$STATUS" 0 "$name ($mode): the built-in guest exits 0"
		like "$OUT" "^mpvm-guest: SMBIOS 3\.0 at 0xf2000, table at 0xf2020 \(${LEN[$name]} bytes\): [0-9]+ structures, $s processor sockets \($s enabled\), $((s * c)) cores, $((s * c * t)) threads, $(( $(numfmt --from=iec "$mem") >> 20 )) MiB of memory devices$" \
			"$name ($mode): the guest reads $s sockets, $((s * c)) cores, $((s * c * t)) threads and $mem from the placed tables"
		unlike "$OUT" "FAIL" "$name ($mode): no guest check failed"
	done
done

# More sockets than the F segment holds (about 900): a note, and no tables rather than bad ones.
run_mpvm 300 run --cpus 1000,sockets=1000 --cmdline "scenario=partial start=1"
is "$STATUS" 0 "1000 sockets: the built-in guest exits 0"
like "$ERR" "^mpvm: note: no SMBIOS tables for this VM \(SMBIOS tables need [0-9]+ bytes, have [0-9]+\)" \
	"1000 sockets: mpvm says why there are no SMBIOS tables"
like "$OUT" "^mpvm-guest: no SMBIOS entry point in 0xf0000-0xfffff$" "1000 sockets: the guest finds none"

# ---- --bios: the tables through fw_cfg, as QEMU gives them to SeaBIOS ----
size=0x40000
as --32 -I "$(dirname "$0")" --defsym SIZE=$size -o "$T_DIR/bios.o" "$(dirname "$0")/biosguest.S" &&
	ld -m elf_i386 -Ttext=$(printf '0x%x' $((0x100000000 - size))) -o "$T_DIR/bios.elf" "$T_DIR/bios.o" &&
	objcopy -O binary -j .text "$T_DIR/bios.elf" "$T_DIR/bios.bin"
ok $? "--bios: the test image (biosguest.S) assembles"
run_mpvm 120 run --bios "$T_DIR/bios.bin" --cpus 8,sockets=2,cores=2,threads=2 --memory 40G
is "$STATUS" 0 "--bios 2x2x2: the image exits 0"
like "$OUT" "^bios: fw_cfg files 2$" "--bios: fw_cfg lists two files"
like "$OUT" "^bios: fw_cfg file 24 etc/smbios/smbios-anchor$" "--bios: etc/smbios/smbios-anchor, the 24-byte entry point"
like "$OUT" "^bios: fw_cfg file ${LEN[2x2x2]} etc/smbios/smbios-tables$" "--bios: etc/smbios/smbios-tables, as long as the 2x2x2 dump's table"
like "$OUT" "^bios: fw_cfg file 0x20 starts _SM3_$" "--bios: the anchor file starts _SM3_"

# ---- Debian's Linux finds them (dmi_scan_machine), if the kit is built ---
KIT=${LINUX_KIT:-build/linux-kit}
if [ -s "$KIT/vmlinux" ] && [ -s "$KIT/initramfs.cpio.gz" ]; then
	run_mpvm 600 run --cpus 4 --memory 512M --kernel "$KIT/vmlinux" --initrd "$KIT/initramfs.cpio.gz" \
		--cmdline "console=ttyS0 earlyprintk=serial" --stop-on "DMI:"
	is "$STATUS" 0 "Linux: runs to its DMI line (--stop-on)"
	like "$OUT" "SMBIOS 3\.0\.0 present\." "Linux: SMBIOS 3.0.0 present"
	like "$OUT" "DMI: mpvm mpvm, BIOS 1\.0 " "Linux: DMI: mpvm mpvm, BIOS 1.0"
	like "$OUT" "BIOS-e820: \[mem 0x0*(9fc00|e0000)-0x0*fffff\] reserved" "Linux: the e820 map reserves the F segment the tables are in"
else
	echo "ok $((T_NUM += 1)) # skip no Linux kit in $KIT (tests/integration/linux.t builds it)"
fi

done_testing
