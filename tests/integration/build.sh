#!/usr/bin/env bash
# build: `make` in a fresh clone builds every binary (CONTRACT §10, issue
# 19). A `git clone` of this checkout's HEAD into a temp dir, then plain
# `make` (no goal; -j2): exit 0 and bin/ holds ops-fcgi and one binary per
# jobs/*.c, nothing else. The build is quiet: one `CC file` / `AR lib` /
# `LD bin` line per step; `V=1` prints the full command lines; a compiler
# error is shown in full. Uncommitted changes are not in the clone (CI
# tests a clean checkout). Runtime: about 30 s (a full build on 2 cores).
. "$(dirname "$0")/../lib.sh"

need_tools git make cc
W=$(mktemp -d /tmp/ops-build.XXXXXX)
trap 'rm -rf "$W"' EXIT
setup "git clone of HEAD into $W/src" git clone -q --no-local "$ROOT" "$W/src"
SRC=$W/src

# --- plain make: the default goal is all ----------------------------------------
t0=$SECONDS
(cd "$SRC" && make -j2) >"$W/make.out" 2>"$W/make.err"
rc=$?
expect_eq "plain make in a fresh clone exits 0 ($((SECONDS - t0)) s)" 0 "$rc"
[ "$rc" -eq 0 ] || tail -n 30 "$W/make.err" >&2
want=$( { echo ops-fcgi; for f in "$SRC"/jobs/*.c; do basename "$f" .c; done; } | sort | tr '\n' ' ')
have=$(ls "$SRC/bin" 2>/dev/null | sort | tr '\n' ' ')
expect_eq "bin/ holds ops-fcgi and one binary per jobs/*.c" "$want" "$have"
n=0
for b in $want; do [ -x "$SRC/bin/$b" ] && [ -s "$SRC/bin/$b" ] && n=$((n + 1)); done
expect_eq "each of them is a non-empty executable" "$(wc -w <<<"$want")" "$n"
expect_match "bin/opsctl runs (--version)" '[0-9a-f]{7}' "$("$SRC/bin/opsctl" --version 2>&1)"

# --- quiet: one line per step, no command line ------------------------------------
other=$(grep -vE '^   (CC|AR|LD) [^ ]+$|^version: ' "$W/make.out")
expect_eq "make prints only CC/AR/LD lines (and version:)" "" "$other"
expect_contains "a CC line per source file" "   CC lib/log.c" "$(cat "$W/make.out")"
expect_contains "an AR line for the library" "   AR build/libops.a" "$(cat "$W/make.out")"
expect_contains "an LD line per binary" "   LD bin/opsctl" "$(cat "$W/make.out")"
expect_eq "one CC line per C file outside tests/, each once" \
	"$(cd "$SRC" && git ls-files '*.c' ':!tests' | sort | tr '\n' ' ')" \
	"$(sed -n 's/^   CC //p' "$W/make.out" | sort | tr '\n' ' ')"
expect_eq "nothing on stderr" "" "$(cat "$W/make.err")"

out=$(cd "$SRC" && make 2>&1)
expect_eq "a second make has nothing to do and says nothing" "" "$out"

# --- V=1: full command lines ------------------------------------------------------
touch "$SRC/lib/log.c"
out=$(cd "$SRC" && make V=1 bin/opsctl 2>&1)
expect_match "V=1 prints the compiler's command line" '(^|'$'\n'')cc .*-Werror.* -c lib/log\.c -o build/lib/log\.o' "$out"
expect_match "V=1 prints the link command line" '(^|'$'\n'')cc .*-o bin/opsctl ' "$out"
expect_not_contains "V=1 prints no short CC line" "   CC lib/log.c" "$out"

# --- an error shows in full -------------------------------------------------------
printf 'int broken_fn(void);\nint broken_fn(void) { return undeclared_thing; }\n' >"$SRC/lib/zz_broken.c"
out=$(cd "$SRC" && make 2>&1)
rc=$?
check "make fails on a compiler error" test "$rc" -ne 0
expect_match "the compiler's error is shown with file:line" "lib/zz_broken\.c:2:[0-9]+: error: .undeclared_thing. undeclared" "$out"
finish
