#!/usr/bin/env bash
# db: lib/db.c against a real PostgreSQL (scripts/pgtemp, no nginx): the one
# error classifier keeps SQLSTATE, message, detail and hint and logs them at
# warn; streaming (single-row mode) and COPY primitives, stopped early or
# failing mid-stream, leave a usable connection. Driver: build/tools/db_probe.
# Runtime: about 3 s (most of it initdb).
. "$(dirname "$0")/../lib.sh"

PROBE="$ROOT/build/tools/db_probe"
[ -x "$PROBE" ] || make -s -C "$ROOT" build/tools/db_probe >/dev/null
[ -x "$PROBE" ] || setup_failed "build/tools/db_probe is built (make tools)"
DIR=$(mktemp -d /tmp/ops-db.XXXXXX)
trap '"$ROOT/scripts/pgtemp" stop "$DIR/pg" >/dev/null 2>&1; rm -rf "$DIR"' EXIT
URL=$("$ROOT/scripts/pgtemp" start "$DIR/pg") || setup_failed "PostgreSQL starts (scripts/pgtemp)"
setup_done "PostgreSQL starts"

probe() { OUT=$("$PROBE" "$URL" "$1" 2>"$DIR/$1.err"); ERR=$(cat "$DIR/$1.err"); }

probe error
expect_eq "a failed statement keeps class, SQLSTATE, message, detail and hint" \
	"rc=-1 err=query sqlstate=P0001 msg=boom detail=the detail hint=the hint" "$OUT"
expect_eq "it is logged once, at warn, with all four" \
	"warn|statement failed: sqlstate P0001: boom; detail: the detail; hint: the hint" \
	"$(jq -r '[.level, .msg] | join("|")' <<<"$ERR")"

probe stream-all
expect_eq "streaming returns every row, then the end" "rows=1000 end=0" "$OUT"
probe stream
expect_eq "a stream stopped early leaves the connection usable" "rows=2 after=ok" "$OUT"
expect_eq "... and logs nothing" "" "$ERR"

probe copy
expect_eq "COPY out returns every line, then the end" "lines=3 end=0 text=1|2|3|" "$OUT"
probe copy-error
expect_eq "a COPY failing mid-stream reports its SQLSTATE; the next statement works" \
	"lines=2 end=-1 sqlstate=22012 after=ok" "$OUT"
expect_contains "... logged at warn with the server's message" \
	'"level":"warn","binary":"db_probe","msg":"statement failed: sqlstate 22012: division by zero' "$ERR"

probe gone
expect_eq "a session ended by the server is 'unavailable'; the next call reconnects" \
	"rc=-1 err=unavailable after=ok" "$OUT"
expect_contains "... logged at warn as a lost connection" '"level":"warn"' "$ERR"
expect_contains "... with the server's message" "database connection lost: sqlstate ?: FATAL:  terminating connection due to administrator command" "$ERR"
finish
