#!/usr/bin/env bash
# The bzImage loader (x86 boot protocol, 64-bit entry) with a small test
# kernel (bzguest.S) that prints what it was given: entry state, zero page,
# command line, initrd, e820 map. Debian's own bzImage is in linux.t.
source "$(dirname "$0")/lib.sh"
need_kvm
SRC=$(dirname "$0")/bzguest.S

# build NAME [--defsym ...]: assembles $T_DIR/NAME, a bzImage.
build() {
	local name=$1
	shift
	as --64 "$@" -o "$T_DIR/$name.o" "$SRC" && objcopy -O binary -j .text "$T_DIR/$name.o" "$T_DIR/$name"
}
if ! command -v as >/dev/null || ! command -v objcopy >/dev/null; then
	ok 1 "binutils (as, objcopy) are needed to build the bzImage test kernel"
	done_testing
fi
build bz; ok $? "the test bzImage assembles"
printf 'INITRD-CONTENT' >"$T_DIR/initrd"

run_mpvm 60 run --kernel "$T_DIR/bz" --cmdline "hello  world =x" --initrd "$T_DIR/initrd"
is "$STATUS" 0 "exit status 0 (the kernel wrote mpvm's exit port)"
like "$OUT" '^bz: cs=0000000000000010$' "entered with CS = __BOOT_CS (0x10)"
like "$OUT" '^bz: rip=0000000000200200$' "at pref_address + 0x200 (startup_64)"
like "$OUT" '^bz: cmdline=hello  world =x$' "the exact command line"
like "$OUT" '^bz: type_of_loader=00000000000000ff$' "type_of_loader 0xff"
like "$OUT" '^bz: acpi_rsdp_addr=00000000000e0000$' "acpi_rsdp_addr: the RSDP at 0xe0000"
like "$OUT" '^bz: initrd=000000000ffff000 000000000000000e 432d445254494e49$' \
	"the initrd at the top of 256M, its size and its first bytes (INITRD-C)"
is "$(count "$OUT" '^bz: e820 ')" 4 "four e820 entries"
like "$OUT" '^bz: e820 0000000000000000 000000000009fc00 0000000000000001$' "e820: RAM below the EBDA"
like "$OUT" '^bz: e820 000000000009fc00 0000000000000400 0000000000000002$' "e820: the EBDA reserved"
like "$OUT" '^bz: e820 00000000000e0000 0000000000020000 0000000000000002$' "e820: the table area reserved"
like "$OUT" '^bz: e820 0000000000100000 000000000ff00000 0000000000000001$' "e820: RAM from 1 MiB to 256M"
like "$OUT" '^bz: done$' "the kernel got to the end"

run_mpvm 60 run --kernel "$T_DIR/bz" --memory 5G --no-acpi --cpus 4
is "$STATUS" 0 "--memory 5G --no-acpi --cpus 4: status 0"
like "$OUT" '^bz: e820 0000000000100000 00000000bff00000 0000000000000001$' "5G: RAM from 1 MiB to 3 GiB"
like "$OUT" '^bz: e820 0000000100000000 0000000080000000 0000000000000001$' "5G: 2 GiB from 4 GiB"
like "$OUT" '^bz: acpi_rsdp_addr=0000000000000000$' "--no-acpi: no RSDP address"
like "$OUT" '^bz: initrd=0000000000000000 0000000000000000 $' "no --initrd: none in the zero page"
like "$OUT" '^bz: cmdline=$' "no --cmdline: an empty command line"

for mode in split user; do
	run_mpvm 60 run --kernel "$T_DIR/bz" --irqchip "$mode" --cpus 2
	is "$STATUS" 0 "--irqchip $mode: status 0"
	like "$OUT" '^bz: done$' "--irqchip $mode: the kernel got to the end"
done

# Bad images: each refused with its reason before any vCPU runs.
build old --defsym VERSION=0x020a
run_mpvm 30 run --kernel "$T_DIR/old"
is "$STATUS" 2 "protocol 2.10: exit status 2"
like "$ERR" "^mpvm: --kernel $T_DIR/old: boot protocol 2.10 is too old: mpvm enters the 64-bit entry point, which needs protocol 2.12 or later\$" "protocol 2.10: message"
build no64 --defsym NO64=1
run_mpvm 30 run --kernel "$T_DIR/no64"
is "$STATUS" 2 "no 64-bit entry: exit status 2"
like "$ERR" "^mpvm: --kernel $T_DIR/no64: no 64-bit entry point" "no 64-bit entry: message"
head -c 1100 "$T_DIR/bz" >"$T_DIR/cut"
run_mpvm 30 run --kernel "$T_DIR/cut"
is "$STATUS" 2 "cut inside the protected-mode part: exit status 2"
like "$ERR" "^mpvm: --kernel $T_DIR/cut: truncated: the setup header's syssize says 1024 bytes of protected-mode code, the file has 76\$" "cut inside the protected-mode part: message"
head -c 600 "$T_DIR/bz" >"$T_DIR/cut2"
run_mpvm 30 run --kernel "$T_DIR/cut2"
is "$STATUS" 2 "cut inside the setup code: exit status 2"
like "$ERR" "^mpvm: --kernel $T_DIR/cut2: truncated: 600 bytes, but the setup code alone takes 1024\$" "cut inside the setup code: message"
run_mpvm 30 run --kernel "$T_DIR/bz" --cmdline "$(head -c 256 /dev/zero | tr '\0' x)"
is "$STATUS" 2 "a command line over cmdline_size: exit status 2"
like "$ERR" "^mpvm: --cmdline: 256 bytes; this kernel takes at most 255 \\(its setup header's cmdline_size\\)\$" "a command line over cmdline_size: message"
head -c $((300 << 20)) /dev/zero >"$T_DIR/big"
run_mpvm 30 run --kernel "$T_DIR/bz" --initrd "$T_DIR/big"
is "$STATUS" 2 "an initrd larger than RAM: exit status 2"
like "$ERR" "^mpvm: --initrd $T_DIR/big: " "an initrd larger than RAM: message names the file"
done_testing
