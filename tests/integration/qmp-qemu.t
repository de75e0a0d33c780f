#!/usr/bin/env bash
# The same scripted QMP session, plain JSON over the socket, against mpvm
# (--control) and Debian's QEMU (-qmp): the greeting, query-status, stop,
# query-status, cont, system_reset, query-cpus-fast and quit must give
# answers and events (STOP, RESUME, RESET, SHUTDOWN) of the same shape
# (keys and value types; query-cpus-fast: QEMU's keys, mpvm's own extras
# left aside). Skipped, with a message, where
# qemu-system-x86_64 is not installed (CI).
MPVM=${MPVM:-${BUILD:-build}/mpvm}
. "$(dirname "$0")/lib.sh"
need_kvm

# session SOCKET: the session's shape, one line per answer, event or greeting, sorted events last.
session() {
	perl -MIO::Socket::UNIX -MIO::Select -MJSON::PP -e '
		my $s;
		for (1 .. 200) { $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ARGV[0]) and last; select undef, undef, undef, 0.05 }
		$s or die "connect $ARGV[0]: $!\n";
		my $sel = IO::Select->new($s);
		my %mpvm_own = map { $_ => 1 } qw(apic-id bsp mp-state paused);
		sub shape {
			my ($v, $drop) = @_;
			return "{" . join(",", map { "$_:" . shape($v->{$_}) } grep { !$drop || !$mpvm_own{$_} } sort keys %$v) . "}" if ref $v eq "HASH";
			return "[" . (@$v ? shape($v->[0], $drop) : "") . "]" if ref $v eq "ARRAY";
			return JSON::PP::is_bool($v) ? "bool" : $v =~ /^-?\d+$/ ? "int" : "string";
		}
		my (@events, $buf);
		sub line {
			while ($buf !~ /\n/) {
				$sel->can_read(20) or die "no answer within 20 s\n";
				sysread($s, $buf, 65536, length $buf) or die "connection closed\n";
			}
			$buf =~ s/^(.*?)\r?\n//;
			return decode_json($1);
		}
		sub answer { for (;;) { my $m = line(); if (exists $m->{event}) { push @events, "event $m->{event} data " . shape($m->{data} // {}) . " timestamp " . shape($m->{timestamp}); next } return $m } }
		my $g = line();
		print "greeting ", shape($g), "\n";
		for my $cmd (qw(qmp_capabilities query-status stop query-status cont query-status system_reset query-status query-cpus-fast quit)) {
			print $s encode_json({ execute => $cmd, id => "x-$cmd" }), "\n";
			my $m = answer();
			my $extra = $cmd eq "query-status" ? " status=$m->{return}{status}" : "";
			print "$cmd ", exists $m->{error} ? "error $m->{error}{desc}" : "return " . shape($m->{return}, $cmd eq "query-cpus-fast") . " id $m->{id}$extra", "\n";
		}
		# After quit: the SHUTDOWN event, if it came after the answer (QEMU sends it before).
		for (;;) {
			while ($buf =~ /\n/) { my $m = line(); push @events, "event $m->{event} data " . shape($m->{data} // {}) . " timestamp " . shape($m->{timestamp}) if exists $m->{event} }
			last unless $sel->can_read(2) && sysread($s, $buf, 65536, length $buf);
		}
		print "$_\n" for sort @events;
	' "$1"
}

SOCK=$T_DIR/mpvm.qmp
timeout --kill-after=5 60 "$MPVM" run --cpus 2 --cmdline scenario=hang --control "$SOCK" ${MPVM_ARGS:-} \
	>"$T_DIR/out" 2>"$T_DIR/err" </dev/null &
for _ in $(seq 600); do grep -q 'the BSP now halts' "$T_DIR/out" && break; sleep 0.05; done
session "$SOCK" >"$T_DIR/mpvm.shape" 2>&1
wait
like "$T_DIR/mpvm.shape" '^query-cpus-fast return \[\{cpu-index:int,props:\{core-id:int,socket-id:int,thread-id:int\},qom-path:string,target:string,thread-id:int\}\]' \
	"mpvm: query-cpus-fast has QEMU's keys"
like "$T_DIR/mpvm.shape" '^event SHUTDOWN data \{guest:bool,mpvm-reason:string,reason:string\}' "mpvm: SHUTDOWN after quit"
like "$T_DIR/mpvm.shape" '^event RESET data \{guest:bool,reason:string\}' "mpvm: RESET after system_reset"

QEMU=${QEMU:-qemu-system-x86_64}
if ! command -v "$QEMU" >/dev/null; then
	echo "ok $((T_NUM + 1)) # skip $QEMU is not installed: the comparison with QEMU's QMP needs it"
	T_NUM=$((T_NUM + 1))
	done_testing
fi
QSOCK=$T_DIR/qemu.qmp
timeout --kill-after=5 60 "$QEMU" -enable-kvm -smp 2 -m 128 -display none -nodefaults -no-user-config \
	-qmp "unix:$QSOCK,server=on,wait=off" >"$T_DIR/qemu.out" 2>&1 </dev/null &
session "$QSOCK" >"$T_DIR/qemu.shape" 2>&1
wait
# mpvm's SHUTDOWN carries its own reason too; QEMU's has guest and reason.
sed -i 's/guest:bool,mpvm-reason:string,reason:string/guest:bool,reason:string/' "$T_DIR/mpvm.shape"
# mpvm's own events (MP_STATE_CHANGE while it stops and resumes vCPUs) are not QEMU's; clients skip them.
sed -i '/^event MP_STATE_CHANGE /d' "$T_DIR/mpvm.shape"
# QEMU's greeting has capabilities ["oob"], mpvm's []: both an array.
sed -i 's/capabilities:\[string\]/capabilities:[]/' "$T_DIR/qemu.shape"
if diff -u "$T_DIR/qemu.shape" "$T_DIR/mpvm.shape" >"$T_DIR/diff"; then ok 0 "mpvm and QEMU answer the session with the same shapes"; else ok 1 "mpvm and QEMU answer the session with the same shapes"; diag "$(cat "$T_DIR/diff")"; fi
is "$(grep -c '^event ' "$T_DIR/qemu.shape")" 4 "QEMU sent STOP, RESUME, RESET and SHUTDOWN (the comparison saw its events)"
is "$(grep -h '^event RESET' "$T_DIR/mpvm.shape" "$T_DIR/qemu.shape" | sort -u | wc -l)" 1 "RESET: the same keys and types under mpvm and QEMU"
done_testing
