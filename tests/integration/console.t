#!/usr/bin/env bash
# COM1 as a console: stdin forwarded to the guest, which takes it with
# interrupts (consoleguest.S: IRQ 4 through the IOAPIC, RX and THRE
# interrupts, as Linux's 8250 driver) in every irqchip mode; input that
# arrives before the guest raises RTS waits instead of being lost; more
# input than every buffer on the way holds gets through by back-pressure;
# output without a newline shows up. On a terminal (script(1) gives one):
# raw mode, Ctrl-A Ctrl-A, Ctrl-A x, and the terminal restored after a
# normal end, Ctrl-A x, SIGTERM and a fatal signal.
. "$(dirname "$0")/lib.sh"

if ! command -v as >/dev/null || ! command -v ld >/dev/null; then
	ok 1 "binutils (as, ld) are needed to build the console test guest"
	done_testing
fi
as --64 -o "$T_DIR/guest.o" "$(dirname "$0")/consoleguest.S" &&
	ld -m elf_x86_64 -Ttext=0x200000 -o "$T_DIR/guest" "$T_DIR/guest.o"
ok $? "the console test guest assembles"
need_kvm
GUEST=$T_DIR/guest

# echo_run INPUT-FILE TIMEOUT ARGS...: the guest with INPUT-FILE on stdin.
echo_run() {
	local input=$1 limit=$2
	shift 2
	timeout --kill-after=10 "$limit" "$MPVM" run --kernel "$GUEST" "$@" <"$input" >"$T_DIR/out" 2>"$T_DIR/err"
	STATUS=$?
	OUT=$T_DIR/out
	ERR=$T_DIR/err
}

printf 'hello world\nsecond line\004dropped after EOT' >"$T_DIR/short"
printf 'echo: ready\nHELLO WORLD\nSECOND LINE' >"$T_DIR/short.want"
for mode in kernel split user; do
	echo_run "$T_DIR/short" 60 --irqchip "$mode" --timeout 30
	is "$STATUS" 42 "--irqchip $mode: piped input reaches the guest through RX interrupts; it exits 42"
	cmp -s "$OUT" "$T_DIR/short.want"
	same=$?
	ok $same "--irqchip $mode: the guest's interrupt-driven echo is exact (nothing lost before the guest raised RTS)"
	[ $same -eq 0 ] || diag "$(od -c "$OUT" | head -20)"
done

# 24 KiB: more than mpvm's console buffer, the UART's host buffer and the
# guest's ring together, so each must hold back in turn.
perl -e 'srand(7); for (1..400) { print join("", map { ("a".."z", 0..9, " ")[int rand 37] } 1..int rand 120), "\n" }' >"$T_DIR/big"
printf '\004' >>"$T_DIR/big"
{ echo "echo: ready"; head -c -1 "$T_DIR/big" | tr a-z A-Z; } >"$T_DIR/big.want"
echo_run "$T_DIR/big" 120 --timeout 100
is "$STATUS" 42 "$(wc -c <"$T_DIR/big") bytes of piped input: the guest gets to the end"
cmp -s "$OUT" "$T_DIR/big.want"
ok $? "all of it comes back, in order (back-pressure, no drops)"

printf 'no newline' >"$T_DIR/partial"
echo_run "$T_DIR/partial" 30 --timeout 2
is "$STATUS" 124 "input without EOT: the guest waits for more until --timeout"
is "$(cat "$OUT")" "$(printf 'echo: ready\nNO NEWLINE')" "a line without a newline is written out (no output held back)"

run_mpvm 30 run --kernel "$GUEST" --timeout 1
is "$STATUS" 124 "stdin /dev/null: nothing to forward, the guest waits"
is "$(cat "$OUT")" "echo: ready" "stdin /dev/null: output as usual"

# ---- a terminal ---------------------------------------------------------------
if ! script -qec true /dev/null </dev/null >/dev/null 2>&1; then
	ok 0 "# SKIP script(1) cannot give a terminal here"
	done_testing
fi
# in_tty INPUT-SCRIPT MPVM-ARGS...: runs mpvm on a fresh terminal; INPUT-SCRIPT
# (shell) writes what is typed. Leaves the terminal's output in $OUT, the
# exit status in $T_DIR/status, stty -g before and after in $T_DIR/stty.*.
in_tty() {
	local input=$1
	shift
	cat >"$T_DIR/inner" <<-EOF
	stty -g >"$T_DIR/stty.before"
	$*
	echo \$? >"$T_DIR/status"
	stty -g >"$T_DIR/stty.after"
	EOF
	rm -f "$T_DIR/status"
	(eval "$input") | timeout --kill-after=10 60 script -qec "sh $T_DIR/inner" /dev/null >"$T_DIR/out" 2>&1
	OUT=$T_DIR/out
	STATUS=$(cat "$T_DIR/status" 2>/dev/null)
}
restored() { cmp -s "$T_DIR/stty.before" "$T_DIR/stty.after"; ok $? "$1: the terminal is as it was"; }

# Typing starts after a second, when mpvm has the terminal in raw mode.
in_tty "sleep 1; printf 'ab\\001\\001cd\\001q\\r'; sleep 1; printf '\\004'; sleep 1" \
	"'$MPVM' run --kernel '$GUEST' --timeout 30"
is "$STATUS" 42 "terminal: keys reach the guest; EOT (no longer end-of-file in raw mode) ends it"
like "$OUT" "^mpvm: COM1 is on this terminal: Ctrl-A x stops the VM" "terminal: mpvm names the escape key"
like "$OUT" "$(printf 'AB\001CD\001Q')" "terminal: Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A q sends both"
like "$OUT" "$(printf 'Q\rmpvm: ')" "terminal: Enter is CR to the guest, not mapped to NL"
unlike "$OUT" "ab" "terminal: no echo from the host"
restored "terminal, normal end"

in_tty "sleep 1; printf 'x\\001x'; sleep 2" "'$MPVM' run --kernel '$GUEST' --timeout 30"
is "$STATUS" 130 "Ctrl-A x stops the VM with status 130"
like "$OUT" "^mpvm: Ctrl-A x: stopping the VM" "Ctrl-A x says so"
restored "Ctrl-A x"

in_tty "sleep 3" "sh -c '(sleep 1; kill -TERM \$\$) & exec \"$MPVM\" run --kernel \"$GUEST\" --timeout 30'"
is "$STATUS" 143 "SIGTERM while on a terminal: status 143"
restored "SIGTERM"

in_tty "sleep 3" "sh -c '(sleep 1; kill -QUIT \$\$) & exec \"$MPVM\" run --kernel \"$GUEST\" --timeout 30'"
is "$STATUS" 131 "SIGQUIT (a fatal signal: ISIG is off, so only kill(1) sends it) kills mpvm"
restored "a fatal signal"

done_testing
