#!/usr/bin/env bash
# tools/extract-vmlinux on synthetic bzImages built here (no network, no
# Debian kernel): a setup header with the protocol's fields and a payload
# compressed the way the kernel's build does it (gzip as is; the other
# formats followed by the uncompressed size, 4 bytes little-endian). Each
# bad image fails with status 1 and a message that names the file and the
# reason, and leaves no OUT and no temporary file; each good one gives back
# exactly the bytes that were compressed.
. "$(dirname "$0")/lib.sh"

X=$(cd "$(dirname "$0")/../.." && pwd)/tools/extract-vmlinux
OUTF=$T_DIR/out/vmlinux
mkdir -p "$T_DIR/out"

skip() { T_NUM=$((T_NUM + 1)); echo "ok $T_NUM # skip $1"; }

# le N BYTES: N as BYTES little-endian bytes on stdout.
le() {
	local i s=
	for ((i = 0; i < $2; i++)); do s+=$(printf '\\x%02x' $((($1 >> (8 * i)) & 255))); done
	printf '%b' "$s"
}
# poke FILE OFFSET: stdin's bytes over FILE at OFFSET.
poke() { dd of="$1" bs=1 seek=$(($2)) conv=notrunc status=none; }

# mkbz FILE PAYLOAD [SETUP_SECTS [VERSION [PAYLOAD_LENGTH]]]: a bzImage whose
# protected-mode code has 0x40 filler bytes, PAYLOAD, then trailing bytes
# (as a signed kernel's signature would be).
mkbz() {
	local f=$1 pl=$2 sects=${3:-1} ver=${4:-0x020f} len=${5:-$(stat -c %s "$2")}
	head -c $((((sects == 0 ? 4 : sects) + 1) * 512)) /dev/zero >"$f"
	le "$sects" 1 | poke "$f" 0x1f1
	printf '\x55\xaa' | poke "$f" 0x1fe
	printf 'HdrS' | poke "$f" 0x202
	le "$ver" 2 | poke "$f" 0x206
	le 0x40 4 | poke "$f" 0x248
	le "$len" 4 | poke "$f" 0x24c
	{ head -c 64 /dev/zero | tr '\0' '\220'; cat "$pl"; printf 'SIGNATURE'; } >>"$f"
}

# extract IMAGE: runs the tool, leaving $STATUS, $OUT, $ERR.
extract() {
	rm -f "$OUTF"
	"$X" "$1" "$OUTF" >"$T_DIR/stdout" 2>"$T_DIR/stderr"
	STATUS=$?
	OUT=$T_DIR/stdout ERR=$T_DIR/stderr
}

# bad IMAGE MESSAGE-REGEX NAME
bad() {
	extract "$1"
	is "$STATUS" 1 "$3: exit status 1"
	like "$ERR" "^extract-vmlinux: $1: $2" "$3: the message names the file and says '$2'"
	local left
	left=$(find "$T_DIR/out" -mindepth 1 | wc -l)
	is "$left" 0 "$3: no OUT and no temporary file left"
}

# The kernel: an ELF64 header's first bytes, then bytes of every value.
{ printf '\177ELF\002\001\001\000'; head -c 3000 /dev/urandom; seq 1 500; } >"$T_DIR/elf"
elfsize=$(stat -c %s "$T_DIR/elf")

# ---- not bzImages -------------------------------------------------------------
printf '#!/bin/sh\necho hi\n' >"$T_DIR/script"
bad "$T_DIR/script" "not a bzImage \\([0-9]+ bytes, too short" "a shell script"
head -c 4096 /dev/zero >"$T_DIR/zeros"
bad "$T_DIR/zeros" "not a bzImage \\(no \"HdrS\" setup header magic at 0x202\\)" "4 KiB of zeros"
bad "$T_DIR/missing" "not a readable file" "a missing file"
gzip -nc "$T_DIR/elf" >"$T_DIR/elf.gz"
mkbz "$T_DIR/old" "$T_DIR/elf.gz" 1 0x0206
bad "$T_DIR/old" "boot protocol 2.06 is too old: payload_offset needs 2.08 or later" "protocol 2.06"
mkbz "$T_DIR/trunc" "$T_DIR/elf.gz" 1 0x020f $(($(stat -c %s "$T_DIR/elf.gz") + 100))
bad "$T_DIR/trunc" "truncated: the payload \\(0x[0-9a-f]+ bytes at offset 0x440\\) ends after the file's [0-9]+ bytes" "a payload past the end of the file"
head -c 2000 "$T_DIR/old" >"$T_DIR/cut"
printf '\x0f\x02' | poke "$T_DIR/cut" 0x206
bad "$T_DIR/cut" "truncated" "a file cut short"
{ echo "this is not compressed"; seq 1 100; } >"$T_DIR/plain"
mkbz "$T_DIR/unknown" "$T_DIR/plain"
bad "$T_DIR/unknown" "unknown compression: the payload at 0x440 starts with bytes 746869732069" "a payload of unknown compression"

# ---- payloads that decompress badly --------------------------------------------
seq 1 1000 | gzip -nc >"$T_DIR/text.gz"
mkbz "$T_DIR/notelf" "$T_DIR/text.gz"
bad "$T_DIR/notelf" "the decompressed gzip payload is not an ELF64 file" "a gzip payload that is no ELF"
{ head -c 20 "$T_DIR/elf.gz"; head -c 500 /dev/zero; } >"$T_DIR/broken.gz"
mkbz "$T_DIR/broken" "$T_DIR/broken.gz"
bad "$T_DIR/broken" "gzip -dc failed on the gzip payload" "a corrupt gzip payload"
{ printf '\177ELF\001'; seq 1 100; } | gzip -nc >"$T_DIR/elf32.gz"
mkbz "$T_DIR/elf32" "$T_DIR/elf32.gz"
bad "$T_DIR/elf32" "the decompressed gzip payload is not an ELF64 file \\(no 7f 'ELF' 02 at its start\\)" "an ELF32 payload"

# ---- good images, one per format whose tool is here ---------------------------
# compress FORMAT: stdin compressed as the kernel's build does, on stdout.
compress() {
	case $1 in
	gzip) gzip -nc ;;
	xz) xz -c --check=crc32 ;;
	zstd) zstd -cq ;;
	bzip2) bzip2 -c ;;
	lzma) xz -c --format=lzma ;;
	lz4) lz4 -lcq ;;
	lzo) lzop -c ;;
	esac
}
tool() { case $1 in lzma) echo xz ;; lzo) echo lzop ;; *) echo "$1" ;; esac; }
for fmt in gzip xz zstd bzip2 lzma lz4 lzo; do
	t=$(tool $fmt)
	if ! command -v "$t" >/dev/null; then
		skip "$fmt: $t is not installed"
		continue
	fi
	compress $fmt <"$T_DIR/elf" >"$T_DIR/elf.$fmt"
	[ $fmt = gzip ] || le "$elfsize" 4 >>"$T_DIR/elf.$fmt"
	sects=1
	[ $fmt != xz ] || sects=0 # 0 means 4
	[ $fmt != zstd ] || sects=30
	mkbz "$T_DIR/bz.$fmt" "$T_DIR/elf.$fmt" $sects
	extract "$T_DIR/bz.$fmt"
	is "$STATUS" 0 "$fmt (setup_sects $sects): exit status 0"
	cmp -s "$OUTF" "$T_DIR/elf"
	ok $? "$fmt: OUT holds exactly the compressed bytes"
	like "$OUT" "^extract-vmlinux: $OUTF: ELF64, $elfsize bytes, from a $fmt payload of [0-9]+ bytes$" "$fmt: the tool says what it did"
done

# ---- the appended size and a missing decompressor ----------------------------
if command -v xz >/dev/null; then
	{ xz -c --check=crc32 <"$T_DIR/elf"; le $((elfsize + 1)) 4; } >"$T_DIR/badsize.xz"
	mkbz "$T_DIR/badsize" "$T_DIR/badsize.xz"
	bad "$T_DIR/badsize" "the xz payload decompressed to $elfsize bytes, but its trailer says $((elfsize + 1))" "a wrong appended size"

	# A PATH with everything the tool uses but xz.
	mkdir "$T_DIR/bin"
	for t in bash od tr stat dirname mktemp dd head chmod mv rm; do ln -s "$(command -v $t)" "$T_DIR/bin/$t"; done
	rm -f "$OUTF"
	PATH=$T_DIR/bin "$X" "$T_DIR/bz.xz" "$OUTF" >"$T_DIR/stdout" 2>"$T_DIR/stderr"
	is "$?" 1 "xz missing: exit status 1"
	like "$T_DIR/stderr" "^extract-vmlinux: $T_DIR/bz.xz: the payload is xz-compressed and xz is missing: install the Debian package xz-utils$" "xz missing: the message names the Debian package"
else
	skip "xz is not installed"
fi

# OUT is replaced, not written through: a reader of the old file keeps it.
printf 'old' >"$OUTF"
ln "$OUTF" "$T_DIR/oldlink"
"$X" "$T_DIR/bz.gzip" "$OUTF" >/dev/null 2>&1
is "$(cat "$T_DIR/oldlink")" old "OUT is replaced by a rename (a hard link to the old OUT keeps its bytes)"
cmp -s "$OUTF" "$T_DIR/elf"
ok $? "the new OUT is the kernel"

"$X" >/dev/null 2>"$T_DIR/stderr"
is "$?" 2 "no arguments: exit status 2"
like "$T_DIR/stderr" "^usage: tools/extract-vmlinux BZIMAGE OUT" "no arguments: usage"

done_testing
