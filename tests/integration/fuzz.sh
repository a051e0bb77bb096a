#!/usr/bin/env bash
# The libFuzzer harnesses (tests/fuzz/fuzz_*.c), in two steps:
#   1. replay: every harness runs once over every file of its committed
#      corpus, tests/fuzz/corpus/NAME/ (deterministic: regressions, the
#      fixed defects among them, fail here);
#   2. a short pass: each harness fuzzes for FUZZ_SHORT_SECONDS (default
#      20), two at a time (the CI machine has 2 cores), starting from its
#      corpus; new inputs go to a scratch directory, never into the tree.
# A crash, leak, sanitizer report or oracle failure is "not ok", with the
# reproducer kept in build/fuzz/artifacts/. clang missing is "not ok".
# Runtime: ceil(harnesses / 2) x FUZZ_SHORT_SECONDS plus the build; measured
# with 9 harnesses: 148 s in all (short pass 110 s) from an empty build/fuzz.
. "$(dirname "$0")/../lib.sh"

SHORT=${FUZZ_SHORT_SECONDS:-20}
ART="$ROOT/build/fuzz/artifacts"
WORK=$(mktemp -d /tmp/ops-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if ! command -v clang >/dev/null 2>&1; then
	not_ok "clang is installed (scripts/bootstrap installs clang and libclang-rt-14-dev)"
	finish
fi
if ! make -s -C "$ROOT" fuzzers >"$WORK/build.log" 2>&1; then
	setup_failed "the harnesses build (make fuzzers): $(tail -n 5 "$WORK/build.log")"
fi
setup_done "the harnesses build (make fuzzers)"
mkdir -p "$ART"

harnesses=()
for src in "$ROOT"/tests/fuzz/fuzz_*.c; do
	harnesses+=("$(basename "$src" .c)")
done

# 1. replay
for h in "${harnesses[@]}"; do
	name=${h#fuzz_}
	corpus="$ROOT/tests/fuzz/corpus/$name"
	if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
		not_ok "$h has a seed corpus in tests/fuzz/corpus/$name/"
		continue
	fi
	n=$(find "$corpus" -type f | wc -l)
	if "$ROOT/build/fuzz/$h" -runs=0 -artifact_prefix="$ART/$h-" \
		"$corpus" >"$WORK/$h.replay.log" 2>&1; then
		ok "$h replays its $n corpus files"
	else
		not_ok "$h replay: $(grep -m1 -E 'ERROR|oracle failed|runtime error' "$WORK/$h.replay.log")"
		tail -n 30 "$WORK/$h.replay.log" >&2
	fi
done

# 2. short pass, two at a time
short_one() {
	local h=$1 name=${1#fuzz_}
	mkdir -p "$WORK/new/$name"
	"$ROOT/build/fuzz/$h" -max_total_time="$SHORT" -timeout=10 \
		-rss_limit_mb=1024 -artifact_prefix="$ART/$h-" \
		"$WORK/new/$name" "$ROOT/tests/fuzz/corpus/$name" \
		>"$WORK/$h.short.log" 2>&1
	echo $? >"$WORK/$h.rc"
}
t0=$(date +%s)
i=0
while [ "$i" -lt "${#harnesses[@]}" ]; do
	short_one "${harnesses[$i]}" &
	[ $((i + 1)) -lt "${#harnesses[@]}" ] && short_one "${harnesses[$((i + 1))]}" &
	wait
	i=$((i + 2))
done
for h in "${harnesses[@]}"; do
	runs=$(grep -oE '^Done [0-9]+ runs' "$WORK/$h.short.log" | awk '{print $2}')
	if [ "$(cat "$WORK/$h.rc" 2>/dev/null)" = 0 ] && [ -n "$runs" ]; then
		ok "$h: ${SHORT} s, $runs runs, no finding"
	else
		not_ok "$h short pass: $(grep -m1 -E 'ERROR|oracle failed|runtime error' "$WORK/$h.short.log") (reproducer in $ART/)"
		tail -n 40 "$WORK/$h.short.log" >&2
	fi
done
echo "# short pass: ${#harnesses[@]} harnesses x ${SHORT} s, two at a time, in $(( $(date +%s) - t0 )) s"
finish
