#!/usr/bin/env bash
# The layering rule (README.md, "Layout"): which folder may include which.
#
#   core <- devices <- kvm <- cli
#
# A folder of src/ may include its own headers and those of the folders to
# its left: core only core; devices devices and core; kvm kvm, devices and
# core; cli all four. The built-in guest (guest/) shares one header with
# the host, src/core/guest_abi.h: it may include guest/* and that, nothing
# else from src/. tests/ may include anything and is not checked.
#
# Every #include "..." in src/**/*.{c,h,S} and guest/*.{c,h,S} is resolved
# as the compiler would (the including file's folder, then -Isrc, and for
# the guest -Iguest; lexically if the file does not exist) and checked. A
# file in a folder the rule does not know fails too.
#
# LAYERING_ROOT: the tree to check (default: this repository), so the test
# can be pointed at a scratch copy holding a deliberate bad include.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "${LAYERING_ROOT:-$(dirname "$0")/../..}" 2>/dev/null && pwd) || {
	ok 1 "LAYERING_ROOT '${LAYERING_ROOT:-}' is not a folder"
	done_testing
}

LAYERS=(core devices kvm cli guest)
declare -A ALLOWED=(
	[core]="core"
	[devices]="devices core"
	[kvm]="kvm devices core"
	[cli]="cli kvm devices core"
	[guest]="guest"
)
declare -A RULE=(
	[core]="core includes only core"
	[devices]="devices includes only devices and core"
	[kvm]="kvm includes only kvm, devices and core"
	[cli]="cli includes only cli, kvm, devices and core"
	[guest]="the guest includes only guest/* and src/core/guest_abi.h"
)
GUEST_SHARED=src/core/guest_abi.h

# layer_of PATH (relative to ROOT): core, devices, kvm, cli, guest, or for
# anything else "src/X" (another folder of src/), "src" (src/ itself) or
# "outside".
layer_of() {
	case $1 in
	src/*/*) local rest=${1#src/}; local l=${rest%%/*}
		 case " core devices kvm cli " in *" $l "*) echo "$l" ;; *) echo "src/$l" ;; esac ;;
	src/*) echo src ;;
	guest/*) echo guest ;;
	*) echo outside ;;
	esac
}

# norm PATH: PATH relative to ROOT with . and .. removed (no file needed).
norm() { realpath -ms --relative-to="$ROOT" "$ROOT/$1"; }

# resolve FILE INCLUDE LAYER: the file #include "INCLUDE" in FILE names.
resolve() {
	local dir=${1%/*} inc=$2 layer=$3 c
	local tries=("$dir/$inc" "src/$inc")
	[ "$layer" = guest ] && tries+=("guest/$inc")
	for c in "${tries[@]}"; do
		if [ -f "$ROOT/$c" ]; then norm "$c"; return; fi
	done
	# Not there (yet): a bare name is the including folder's, a path is -Isrc's.
	case $inc in
	*/*) case $inc in ./*|../*) norm "$dir/$inc" ;; *) norm "src/$inc" ;; esac ;;
	*) norm "$dir/$inc" ;;
	esac
}

# The files to check, relative to ROOT.
mapfile -t FILES < <(cd "$ROOT" && {
	[ -d src ] && find src -type f \( -name '*.c' -o -name '*.h' -o -name '*.S' \)
	[ -d guest ] && find guest -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' -o -name '*.S' \)
} | LC_ALL=C sort)

declare -A NFILES NINC BAD
stray=""
for f in "${FILES[@]}"; do
	layer=$(layer_of "$f")
	case " ${LAYERS[*]} " in
	*" $layer "*) ;;
	*) stray+="$f: in $layer/, a folder the layering rule does not name"$'\n'; continue ;;
	esac
	NFILES[$layer]=$(( ${NFILES[$layer]:-0} + 1 ))
	while IFS= read -r hit; do
		line=${hit%%:*}
		inc=${hit#*:}
		inc=${inc#*\"}
		inc=${inc%%\"*}
		NINC[$layer]=$(( ${NINC[$layer]:-0} + 1 ))
		target=$(resolve "$f" "$inc" "$layer")
		tl=$(layer_of "$target")
		if [ "$layer" = guest ]; then
			[ "$tl" = guest ] || [ "$target" = "$GUEST_SHARED" ] && continue
		else
			case " ${ALLOWED[$layer]} " in *" $tl "*) continue ;; esac
		fi
		BAD[$layer]+="$f:$line: #include \"$inc\" ($target, $tl): ${RULE[$layer]}"$'\n'
	done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*"' "$ROOT/$f")
done

for layer in "${LAYERS[@]}"; do
	name="$layer: ${RULE[$layer]} (files: ${NFILES[$layer]:-0}, quoted includes: ${NINC[$layer]:-0})"
	if [ "${NFILES[$layer]:-0}" -eq 0 ]; then
		ok 1 "$name"
		diag "no files found for $layer under $ROOT"
	elif [ -n "${BAD[$layer]:-}" ]; then
		ok 1 "$name"
		diag "${BAD[$layer]%$'\n'}"
	else
		ok 0 "$name"
	fi
done
if [ -n "$stray" ]; then
	ok 1 "every file under src/ is in core, devices, kvm or cli"
	diag "${stray%$'\n'}"
else
	ok 0 "every file under src/ is in core, devices, kvm or cli"
fi
done_testing
