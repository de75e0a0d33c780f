#!/usr/bin/perl
# Reads an mpvm snapshot file (README, "Snapshot files") on its own, as a
# second implementation of the format for the tests:
#
#   snapfile.pl check FILE          exit 0 if every checksum and the layout hold
#   snapfile.pl sections FILE       one line per section: TAG#INDEX LENGTH
#   snapfile.pl vcpu-diff A B       the vCPU sections (VCPU, XSAV, MSRS) that
#                                   differ, MSR 0x10 (the TSC, which runs
#                                   while a VM is paused) left out; exit 1 if any
#   snapfile.pl set-version FILE N  rewrites the header's version (and its CRC)
#   snapfile.pl set-u32 FILE TAG#INDEX OFFSET N
#                                   rewrites a u32 in a section's payload and
#                                   every checksum after it, as a writer would
use strict;
use warnings;

my @T;
for my $i (0 .. 255) {
	my $c = $i;
	$c = $c & 1 ? ($c >> 1) ^ 0x82f63b78 : $c >> 1 for 1 .. 8;
	$T[$i] = $c;
}

sub crc32c {
	my ($crc, $data) = @_;
	$crc = ~$crc & 0xffffffff;
	$crc = ($crc >> 8) ^ $T[($crc ^ $_) & 0xff] for unpack 'C*', $data;
	return ~$crc & 0xffffffff;
}

sub slurp {
	open my $f, '<:raw', $_[0] or die "$_[0]: $!\n";
	local $/;
	return scalar <$f>;
}

# The sections of a file, or die naming what is wrong.
sub parse {
	my ($d) = @_;
	die "bad magic\n" unless substr($d, 0, 8) eq 'MPVMSNAP';
	die "bad header crc\n" unless unpack('V', substr($d, 28, 4)) == crc32c(0, substr($d, 0, 28));
	my $chain = crc32c(0, substr($d, 0, 32));
	my ($off, @s) = (32);
	while (1) {
		die "truncated at $off\n" if length($d) - $off < 24;
		my $h = substr($d, $off, 24);
		my ($tag, $idx, $lo, $hi, $pcrc, $hcrc) = unpack 'a4 V V V V V', $h;
		my $len = $lo + $hi * 2**32;
		die "bad section header crc at $off\n" unless $hcrc == crc32c(0, substr($h, 0, 20));
		die "section past the end at $off\n" if $off + 24 + $len > length $d;
		my $p = substr($d, $off + 24, $len);
		die "bad payload crc in $tag#$idx\n" unless $pcrc == crc32c(0, $p);
		if ($tag eq 'END ') {
			die "bad END chain\n" unless unpack('V', $p) == $chain;
			die "bytes after END\n" unless $off + 32 == length $d;
			return @s;
		}
		$chain = crc32c($chain, $h);
		push @s, { tag => $tag, idx => $idx, data => $p };
		$off += 24 + $len + (8 - $len % 8) % 8;
	}
}

my $cmd = shift // '';
if ($cmd eq 'check') {
	my @s = eval { parse(slurp($ARGV[0])) };
	print $@ ? "bad: $@" : "ok\n";
	exit($@ ? 1 : 0);
} elsif ($cmd eq 'sections') {
	printf "%s#%d %d\n", $_->{tag}, $_->{idx}, length $_->{data} for parse(slurp($ARGV[0]));
} elsif ($cmd eq 'vcpu-diff') {
	my %a = map { ("$_->{tag}#$_->{idx}" => $_->{data}) } parse(slurp($ARGV[0]));
	my %b = map { ("$_->{tag}#$_->{idx}" => $_->{data}) } parse(slurp($ARGV[1]));
	my $diff = 0;
	for my $k (sort keys %a) {
		next unless $k =~ /^(VCPU|XSAV|MSRS)#/;
		my ($x, $y) = ($a{$k}, $b{$k} // '');
		if ($k =~ /^MSRS/) {
			# entries of 16 bytes: index, reserved, value; the TSC's value left out
			for my $m (\$x, \$y) {
				my @e = unpack '(a16)*', $$m;
				$$m = join '', map { unpack('V', $_) == 0x10 ? substr($_, 0, 8) : $_ } @e;
			}
		}
		next if $x eq $y;
		print "$k differs\n";
		$diff = 1;
	}
	exit $diff;
} elsif ($cmd eq 'set-version') {
	my $d = slurp($ARGV[0]);
	substr($d, 8, 4) = pack 'V', $ARGV[1];
	substr($d, 28, 4) = pack 'V', crc32c(0, substr($d, 0, 28));
	open my $f, '>:raw', $ARGV[0] or die;
	print $f $d;
} elsif ($cmd eq 'set-u32') {
	my ($file, $name, $at, $val) = @ARGV;
	my $d = slurp($file);
	my ($off, $chain, $done) = (32, crc32c(0, substr($d, 0, 32)), 0);
	while (1) {
		my ($tag, $idx, $lo, $hi) = unpack 'a4 V V V', substr($d, $off, 16);
		my $len = $lo + $hi * 2**32;
		if ($tag eq 'END ') {
			substr($d, $off + 24, 4) = pack 'V', $chain;
		} elsif ("$tag#$idx" eq $name || ($tag =~ s/ +$//r) . "#$idx" eq $name) {
			substr($d, $off + 24 + $at, 4) = pack 'V', $val;
			$done = 1;
		}
		substr($d, $off + 16, 4) = pack 'V', crc32c(0, substr($d, $off + 24, $len));
		substr($d, $off + 20, 4) = pack 'V', crc32c(0, substr($d, $off, 20));
		last if $tag eq 'END ';
		$chain = crc32c($chain, substr($d, $off, 24));
		$off += 24 + $len + (8 - $len % 8) % 8;
	}
	die "no section $name\n" unless $done;
	open my $f, '>:raw', $file or die;
	print $f $d;
} else {
	die "usage: snapfile.pl check|sections FILE | vcpu-diff A B | set-version FILE N\n";
}
