#!/usr/bin/env bash
# The PC platform devices from a guest's side (pcguest.S, a multiboot
# kernel assembled here): the 8042, the ACPI PM timer and PM1 control, the
# CMOS RTC (its time against the host's) and RAM, the POST port; and every
# way the guest can end the VM: ACPI S5 power off (status 0, stop
# guest-exit), the reset control register at 0xcf9, the 8042's reset line
# (command 0xfe and output port bit 0) and port 0x92 (status 0, stop
# guest-reset). An ACPI sleep state other than S5 is ignored with a note.
. "$(dirname "$0")/lib.sh"

SRC=$(dirname "$0")/pcguest.S

# build NAME ACTION: assembles and links $T_DIR/NAME.
build() {
	as --32 -I "$(dirname "$SRC")" --defsym ACTION="$2" -o "$T_DIR/$1.o" "$SRC" &&
		ld -m elf_i386 -Ttext=0x200000 -o "$T_DIR/$1" "$T_DIR/$1.o"
}

if ! command -v as >/dev/null || ! command -v ld >/dev/null; then
	ok 1 "binutils (as, ld) are needed to build the PC-devices test guest"
	done_testing
fi
for a in 0 1 2 3 4 5 6; do
	build "pc$a" "$a"
	ok $? "the test guest with action $a assembles"
done
need_kvm

# The checks every run makes before its action.
common() { # common NAME
	like "$OUT" "^pcguest: 8042 ok$" "$1: the 8042 has no key lock and passes its self-test"
	like "$OUT" "^pcguest: PM timer and PM1_CNT ok$" "$1: the PM timer runs, 24 bits; SCI_EN reads 1"
	unlike "$OUT" "FAIL" "$1: no guest check failed"
}

# ---- the RTC against the host's clock; nothing done: exit port, status 0 ----
before=$(date -u +%s)
run_mpvm 60 run --kernel "$T_DIR/pc0" --report "$T_DIR/r0.json"
after=$(date -u +%s)
is "$STATUS" 0 "no action: exit status 0"
common "no action"
rtc=$(sed -n 's/^pcguest: rtc \([0-9]\{4\}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]\)$/\1/p' "$OUT")
if [ -n "$rtc" ] && t=$(date -u -d "$rtc" +%s 2>/dev/null); then
	ok $(( t >= before - 2 && t <= after + 2 ? 0 : 1 )) "the RTC reads the host's UTC time ($rtc)"
else
	ok 1 "the guest prints the RTC's date and time"
	diag "$(cat "$OUT")"
fi

# ---- the ways out --------------------------------------------------------------
ends() { # ends ACTION STOP NAME [mpvm options...]
	local a=$1 stop=$2 name=$3
	shift 3
	run_mpvm 60 run --kernel "$T_DIR/pc$a" --report "$T_DIR/r$a.json" "$@"
	is "$STATUS" 0 "$name: exit status 0"
	common "$name"
	like "$OUT" "^pcguest: action $a$" "$name: the guest got to its action"
	unlike "$OUT" "still running" "$name: the action ended the VM"
	is "$(report_field "$T_DIR/r$a.json" '$r->{stop}')" "$stop" "$name: the report says $stop"
}

ends 1 guest-exit "ACPI S5 (power off)"
ends 2 guest-reset "0xcf9 reset control register"
ends 3 guest-reset "8042 command 0xfe"
ends 4 guest-reset "8042 output port bit 0"
ends 5 guest-reset "port 0x92 fast reset"
for m in split user; do
	ends 1 guest-exit "ACPI S5, --irqchip $m" --irqchip "$m"
	ends 3 guest-reset "8042 reset, --irqchip $m" --irqchip "$m"
done

# ---- S3 is not there: ignored, with a note -----------------------------------
run_mpvm 60 run --kernel "$T_DIR/pc6"
is "$STATUS" 0 "ACPI S3: the guest goes on and exits with status 0"
like "$OUT" "^pcguest: exiting through the exit port$" "ACPI S3: the guest runs on after SLP_EN"
like "$ERR" "^mpvm: the guest asked for ACPI sleeping state SLP_TYP 1; mpvm has only S5" "ACPI S3: mpvm says it ignored the request"

done_testing
