#!/usr/bin/env bash
# Strict UTF-8 of every git-tracked text file (scripts/utf8_check), and proof
# that the checker catches what it must: invalid sequences, a BOM, surrogates,
# overlong forms, truncated sequences; that it skips binary files and accepts
# real multi-byte text.
. "$(dirname "$0")/../lib.sh"

DIR=$(mktemp -d /tmp/ops-utf8.XXXXXX)
trap 'rm -rf "$DIR"' EXIT

out=$("$ROOT/scripts/utf8_check" 2>&1); rc=$?
expect_eq "every tracked text file is strict UTF-8 (${out##*$'\n'})" 0 "$rc"
expect_match "the repository check says how many files it decoded" '^PASS utf8: [1-9][0-9]* files checked' "${out##*$'\n'}"

printf 'ok line\nbad \xc3\x28 here\n' >"$DIR/invalid.txt"
printf '\xef\xbb\xbfhello\n' >"$DIR/bom.txt"
printf 'x\xed\xa0\x80\n' >"$DIR/surrogate.txt"
printf '\xc0\xaf\n' >"$DIR/overlong.txt"
printf 'cut \xe2\x82' >"$DIR/truncated.txt"
printf '\xf4\x90\x80\x80\n' >"$DIR/above-10ffff.txt"
printf 'ELF\0\xff\xfe binary\n' >"$DIR/binary.dat"
printf '한국어 감사 로그, café, ✓, 𝄞\n' >"$DIR/good.txt"
: >"$DIR/empty.txt"

for f in invalid bom surrogate overlong truncated above-10ffff; do
	out=$("$ROOT/scripts/utf8_check" "$DIR/$f.txt" 2>&1); rc=$?
	expect_eq "$f: refused" 1 "$rc"
	expect_contains "$f: the failure names the file" "FAIL utf8: $DIR/$f.txt:" "$out"
done
out=$("$ROOT/scripts/utf8_check" "$DIR/invalid.txt")
expect_contains "an invalid sequence is located by line" "invalid UTF-8 on line 2 (starting at byte offset 8)" "$out"
out=$("$ROOT/scripts/utf8_check" "$DIR/bom.txt")
expect_contains "a BOM is named as such" "starts with a byte order mark" "$out"
out=$("$ROOT/scripts/utf8_check" "$DIR/good.txt" "$DIR/empty.txt" "$DIR/binary.dat"); rc=$?
expect_eq "Korean, accents, symbols, astral characters and an empty file pass; a file with NUL is skipped" \
	"0 PASS utf8: 2 files checked (1 binary skipped)" "$rc $out"

# the default mode reads `git ls-files`: a bad file committed to a repository fails it
mkdir -p "$DIR/repo/scripts"
cp "$ROOT/scripts/utf8_check" "$DIR/repo/scripts/"
cp "$DIR/good.txt" "$DIR/bom.txt" "$DIR/repo/"
printf 'untracked \xff\n' >"$DIR/repo/untracked.txt"
git -C "$DIR/repo" init -q && git -C "$DIR/repo" add scripts good.txt bom.txt
out=$("$DIR/repo/scripts/utf8_check" 2>&1); rc=$?
expect_eq "a repository with a tracked BOM file fails" 1 "$rc"
expect_contains "and names it" "FAIL utf8: bom.txt: starts with a byte order mark" "$out"
expect_not_contains "untracked files are not looked at" "untracked.txt" "$out"
git -C "$DIR/repo" rm -q --cached bom.txt
out=$("$DIR/repo/scripts/utf8_check" 2>&1); rc=$?
expect_eq "without it the repository passes (2 tracked files)" "0 PASS utf8: 2 files checked (0 binary skipped)" "$rc $out"

finish
