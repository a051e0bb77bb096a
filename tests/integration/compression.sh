#!/usr/bin/env bash
# Compressed exports (contract section 17, issue 23), end to end through
# nginx with real runner processes: for gzip and zstd, jsonl and csv, the
# decompressed file is byte-identical to the uncompressed export of the same
# job; SIGKILLs at random points resume to the identical compressed file;
# Range, the digest check while streaming and max_bytes work as for any file.
. "$(dirname "$0")/../lib.sh"

need_tools gzip zstd zcat python3 jq curl

RUNNERS=()
suite_cleanup() {
	for p in "${RUNNERS[@]}"; do kill -KILL "$p" 2>/dev/null; done
}

# small chunks (many frames), short leases (kills resume in seconds), room
# for several reclaims of one job
STACK_EXPORT_EXTRA="  chunk_bytes: 16KiB
  lease_seconds: 5
  heartbeat_seconds: 2
  max_attempts: 10
  max_active_per_tenant: 30" \
	test_stack_up compression "16 KiB chunks, 5 s leases"

sql "INSERT INTO audit_log (tenant_id, occurred_at, actor_id, action, target_type, target_id, ip, request_id, payload)
SELECT 'acme', timestamptz '2026-10-01T00:00:00Z' + g * interval '37 seconds', 'user-' || (g % 5),
       (ARRAY['user.login','=cmd()','role.grant','+sum'])[1 + g % 4], 'user', 'u,\"' || g, ('192.0.2.' || (g % 250))::inet, 'r' || g,
       jsonb_build_object('n', g, 'password', 'p' || g, 'Note', E'line1\nline2 \"q\" é')
FROM generate_series(1, 2000) g;
INSERT INTO audit_log (tenant_id, occurred_at, actor_id, action, target_type, target_id, payload)
SELECT 'bulk', timestamptz '2026-10-01T00:00:00Z' + (g / 3) * interval '1 second', 'bot', 'sync.run', 'item', 'i' || g,
       jsonb_build_object('seq', g, 'text', repeat('lorem ipsum ', 10), 'secret_key', 'x')
FROM generate_series(1, 12000) g;" >/dev/null || setup_failed "seeding audit_log"

AUD=$(mint auditor-1 "" '["AUDITOR"]')
RANGE_FROM=2026-10-01T00:00:00Z
RANGE_TO=2026-10-02T00:00:00Z
RUNNER=("$BIN/ops-export-runner" --config "$STACK_CONFIG")
runner() { "${RUNNER[@]}" "$@"; }
create() {  # create BODY: sets JOB
	api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: application/json' -d "$1"
	JOB=$(jq -r '.id // empty' <<<"$BODY")
}
body() {  # body TENANT FORMAT COMPRESSION [jq filter]
	jq -cn --arg t "$1" --arg f "$2" --arg c "$3" --arg from "$RANGE_FROM" --arg to "$RANGE_TO" \
		'{tenant_id:$t, from:$from, to:$to, format:$f} + (if $c == "" then {} else {compression:$c} end)' |
		jq -c "${4:-.}"
}
download() {  # download JOB OUT [curl args]: sets CODE, HDRS
	CODE=$(curl -s -o "$2" -D "$T_TMP/dh" -w '%{http_code}' -H "Authorization: Bearer $AUD" "${@:3}" \
		"$STACK_URL/api/ops/audit-exports/$1/download")
	HDRS=$(tr -d '\r' <"$T_TMP/dh")
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
unpack() {  # unpack CODEC FILE: the content on stdout
	if [ "$1" = gzip ]; then gzip -dc "$2"; else zstd -qdc "$2"; fi
}

# --- validation ---------------------------------------------------------------------------
jobs_before=$(sql "SELECT count(*) FROM tb_audit_export_job")
create "$(body acme jsonl brotli)"
expect_error "compression \"brotli\" is refused" 400 VALIDATION_FAILED
expect_eq "details name compression" compression "$(jq -r '[.error.details[].field]|join(",")' <<<"$BODY")"
create "$(body acme jsonl "" '.compression=1')"
expect_error "a compression that is not a string is refused" 400 VALIDATION_FAILED
create "$(body acme jsonl "" '.compression=null')"
expect_error "compression null is refused" 400 VALIDATION_FAILED
expect_eq "no job was created by refused requests" "$jobs_before" "$(sql "SELECT count(*) FROM tb_audit_export_job")"
create "$(body acme jsonl "")"
expect_eq "without compression a job says \"none\"" none "$(jq -r .compression <<<"$BODY")"
create "$(body acme jsonl none)"
expect_eq "compression \"none\" is accepted" "202 none" "$CODE $(jq -r .compression <<<"$BODY")"
runner >/dev/null 2>&1

# --- each codec and format: byte-identical content, valid for every tool ------------------
for fmt in jsonl csv; do
	create "$(body acme "$fmt" none)"
	plain=$JOB
	runner >/dev/null 2>&1
	download "$plain" "$DIR/plain.$fmt"
	plain_bytes=$(job_field "$plain" total_bytes)
	plain_chunks=$(job_field "$plain" progress_chunks)
	for codec in gzip zstd; do
		t="$codec/$fmt"
		create "$(body acme "$fmt" "$codec")"
		expect_eq "$t: create answers 202 with the compression" "202 $codec" "$CODE $(jq -r .compression <<<"$BODY")"
		id=$JOB
		runner >/dev/null 2>"$DIR/runner.err"
		expect_eq "$t: the runner exits 0" 0 "$?"
		api GET "/api/ops/audit-exports/$id" "$AUD"
		expect_eq "$t: the job is DONE" DONE "$(jq -r .state <<<"$BODY")"
		res=$BODY
		out="$DIR/$id"
		download "$id" "$out"
		expect_eq "$t: download 200" 200 "$CODE"
		expect_eq "$t: result.sha256 is of the compressed file" "$(jq -r .result.sha256 <<<"$res")" "$(sha "$out")"
		expect_eq "$t: ETag is that sha256" "\"$(sha "$out")\"" "$(hdr ETag)"
		expect_eq "$t: result.bytes = Content-Length = the file" "$(stat -c %s "$out") $(stat -c %s "$out")" \
			"$(jq -r .result.bytes <<<"$res") $(hdr Content-Length)"
		expect_eq "$t: result.uncompressed_bytes = the uncompressed export's bytes" "$plain_bytes" \
			"$(jq -r .result.uncompressed_bytes <<<"$res")"
		ctype=application/gzip; ext=gz
		[ "$codec" = zstd ] && { ctype=application/zstd; ext=zst; }
		expect_eq "$t: Content-Type" "$ctype" "$(hdr Content-Type)"
		expect_match "$t: Content-Disposition names a .$fmt.$ext file" \
			"^attachment; filename=\"audit-acme-20261001T000000Z-20261002T000000Z-${id:0:8}\\.$fmt\\.$ext\"$" \
			"$(hdr Content-Disposition)"
		expect_eq "$t: decompressed, byte-identical to the uncompressed export" \
			"$(sha "$DIR/plain.$fmt")" "$(unpack "$codec" "$out" | sha256sum | cut -d' ' -f1)"
		expect_eq "$t: one frame per chunk (as many chunks as uncompressed: $plain_chunks)" \
			"$plain_chunks" "$(job_field "$id" progress_chunks)"
		check "$t: compressed is smaller than half the content" \
			test "$(stat -c %s "$out")" -lt $((plain_bytes / 2))
		if [ "$codec" = gzip ]; then
			check "$t: gzip -t passes" gzip -t "$out"
			expect_eq "$t: zcat gives the content" "$(sha "$DIR/plain.$fmt")" "$(zcat "$out" | sha256sum | cut -d' ' -f1)"
			expect_eq "$t: python3's gzip reads the concatenated members" "$(sha "$DIR/plain.$fmt")" \
				"$(python3 -c 'import gzip,hashlib,sys; print(hashlib.sha256(gzip.open(sys.argv[1]).read()).hexdigest())' "$out")"
			# a member header: magic, deflate, no flags, mtime 0, OS 3 (Unix)
			expect_eq "$t: gzip header: no name, mtime 0, OS Unix" "1f8b08000000000003" \
				"$(head -c 10 "$out" | od -An -tx1 | tr -d ' \n' | sed 's/^\(.\{16\}\)../\1/')"
		else
			check "$t: zstd -t passes" zstd -qt "$out"
		fi
		# any single chunk is a whole frame on its own
		sql "SELECT encode(data, 'base64') FROM tb_audit_export_chunk WHERE job_id = '$id' AND seq = 3" |
			base64 -d >"$DIR/chunk3"
		if [ "$codec" = gzip ]; then check "$t: chunk 3 alone is a whole gzip member" gzip -t "$DIR/chunk3"
		else check "$t: chunk 3 alone is a whole zstd frame" zstd -qt "$DIR/chunk3"; fi
		eval "JOB_${codec}_${fmt}=\$id"
	done
done

# --- Range on the compressed file: a resumed download is byte-exact ------------------------
id=$JOB_zstd_jsonl
whole="$DIR/$id"
total=$(stat -c %s "$whole")
cut=$((total / 3 + 7))
download "$id" "$DIR/part1" -H "Range: bytes=0-$((cut - 1))"
expect_eq "Range: the first part is 206" 206 "$CODE"
download "$id" "$DIR/part2" -H "Range: bytes=$cut-"
expect_eq "Range: the rest is 206 with Content-Range" "206 bytes $cut-$((total - 1))/$total" "$CODE $(hdr Content-Range)"
cat "$DIR/part1" "$DIR/part2" >"$DIR/joined"
expect_eq "Range: the joined parts are the file (SHA-256)" "$(sha "$whole")" "$(sha "$DIR/joined")"
curl -s -o "$DIR/cresume" -H "Authorization: Bearer $AUD" -r "0-$((cut - 1))" "$STACK_URL/api/ops/audit-exports/$id/download"
curl -s -C - -o "$DIR/cresume" -H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$id/download"
expect_eq "curl -C - resumes a cut compressed download to the same bytes" "$(sha "$whole")" "$(sha "$DIR/cresume")"
check "and it decompresses" zstd -qt "$DIR/cresume"

# --- the signed download_url serves the compressed file -------------------------------------
api GET "/api/ops/audit-exports/$id" "$AUD"
url=$(jq -r .result.download_url <<<"$BODY")
curl -s -o "$DIR/signed" "$url"
expect_eq "the signed URL serves the compressed bytes" "$(sha "$whole")" "$(sha "$DIR/signed")"

# --- an empty export is still a valid compressed file ----------------------------------------
for codec in gzip zstd; do
	create "$(body acme jsonl "$codec" '.from="2020-01-01T00:00:00Z" | .to="2020-01-02T00:00:00Z"')"
	runner >/dev/null 2>&1
	download "$JOB" "$DIR/empty"
	expect_eq "$codec: an export without rows is DONE with 0 rows and 0 uncompressed bytes" "DONE 0 0" \
		"$(job_field "$JOB" "state || ' ' || total_rows || ' ' || total_uncompressed_bytes")"
	if [ "$codec" = gzip ]; then check "$codec: the empty file passes gzip -t" gzip -t "$DIR/empty"
	else check "$codec: the empty file passes zstd -t" zstd -qt "$DIR/empty"; fi
	expect_eq "$codec: and decompresses to nothing" 0 "$(unpack "$codec" "$DIR/empty" | wc -c)"
done

# --- SIGKILL at random points: the resumed file is the identical compressed file ----------
# The kill runs use 1 KiB chunks (a config of their own, for the reference
# too: chunk boundaries are part of the file): thousands of chunks, so that
# a kill lands mid-export however fast the runner commits and however late
# the poll sees the chunk count.
KCFG="$DIR/kill.yaml"
sed 's/^  chunk_bytes: 16KiB$/  chunk_bytes: 1KiB/' "$STACK_CONFIG" >"$KCFG"
grep -q '^  chunk_bytes: 1KiB$' "$KCFG" || not_ok "the kill runs' config has 1 KiB chunks"
kill_run() {  # kill_run FORMAT CODEC
	local fmt=$1 codec=$2 ref ref_sha k n kills=0 step rp
	create "$(body bulk "$fmt" "$codec")"
	ref=$JOB
	"$BIN/ops-export-runner" --config "$KCFG" >/dev/null 2>&1
	ref_sha=$(job_field "$ref" sha256)
	n=$(job_field "$ref" progress_chunks)
	check "$codec/$fmt: the uninterrupted reference is DONE, in many chunks ($n)" test -n "$ref_sha" -a "$n" -gt 2000
	create "$(body bulk "$fmt" "$codec")"
	k=$JOB
	for step in 1 2 3; do
		# an instance (and scheduler lock) of its own: a SIGKILLed runner
		# keeps its lock until it goes stale
		"$BIN/ops-export-runner" --config "$KCFG" --instance "$codec-$fmt-kill$step" >/dev/null 2>&1 &
		rp=$!; RUNNERS+=("$rp")
		# a random point: after some more chunks, then a random delay
		wait_chunks "$k" $(( $(job_field "$k" progress_chunks) + 5 + RANDOM % (n / 8) )) 60 ||
			not_ok "$codec/$fmt: kill $step: the runner commits more chunks within 60 s"
		sleep "0.0$((RANDOM % 10))"
		kill -KILL "$rp"; wait "$rp" 2>/dev/null
		[ "$(job_field "$k" state)" = RUNNING ] && kills=$((kills + 1))
		wait_sql 20 "SELECT lease_expires_at <= now() FROM tb_audit_export_job WHERE id = '$k'" ||
			not_ok "$codec/$fmt: the killed runner's lease runs out within 20 s"
	done
	expect_eq "$codec/$fmt: three runners killed mid-export" 3 "$kills"
	"$BIN/ops-export-runner" --config "$KCFG" --instance "$codec-$fmt-finisher" >/dev/null 2>&1
	expect_eq "$codec/$fmt: the fourth attempt finishes it" "DONE 4" "$(job_field "$k" "state || ' ' || attempt")"
	expect_eq "$codec/$fmt: the resumed compressed file has the reference's SHA-256" "$ref_sha" "$(job_field "$k" sha256)"
	download "$k" "$DIR/resumed"
	expect_eq "$codec/$fmt: its downloaded bytes hash to the reference" "$ref_sha" "$(sha "$DIR/resumed")"
	expect_eq "$codec/$fmt: the level stayed the one of the first claim" \
		"$(job_field "$ref" compression_level)" "$(job_field "$k" compression_level)"
	KILL_REF=$ref
}
kill_run jsonl zstd
ZREF=$KILL_REF
kill_run csv gzip

# --- max_bytes bounds the uncompressed content -----------------------------------------------
ubytes=$(job_field "$ZREF" total_uncompressed_bytes)
cbytes=$(job_field "$ZREF" total_bytes)
create "$(body bulk jsonl zstd ".max_bytes=$ubytes")"
runner >/dev/null 2>&1
expect_eq "max_bytes equal to the content passes" DONE "$(job_field "$JOB" state)"
limit=$(( $(job_field "$JOB" total_bytes) * 2 ))
check "the bulk export compresses below half of a max_bytes under its content ($limit < $ubytes)" test "$limit" -lt "$ubytes"
create "$(body bulk jsonl zstd ".max_bytes=$limit")"
L=$JOB
runner >/dev/null 2>&1
expect_eq "max_bytes under the content fails EXPORT_LIMIT_BYTES though the compressed file would fit" \
	"FAILED EXPORT_LIMIT_BYTES" "$(job_field "$L" "state || ' ' || error_code")"
expect_eq "and keeps no chunks" 0 "$(sql "SELECT count(*) FROM tb_audit_export_chunk WHERE job_id='$L'")"

# --- the stored parameters: immutable, reusable ------------------------------------------------
out=$(sql "UPDATE tb_audit_export_job SET compression = 'none' WHERE id = '$ZREF'" 2>&1)
expect_contains "compression of a job cannot be changed" "cannot be changed" "$out"

# --- opsctl exports shows the compression -------------------------------------------------------
"$BIN/opsctl" --config "$STACK_CONFIG" exports --tenant bulk --limit 100 >"$DIR/ctl.txt"
expect_match "opsctl exports lists the codec of a job" "$ZREF +DONE +bulk +jsonl +zstd " "$(grep "$ZREF" "$DIR/ctl.txt")"
expect_eq "opsctl exports --json has compression and result.uncompressed_bytes (the API's shape)" "zstd $ubytes" \
	"$("$BIN/opsctl" --config "$STACK_CONFIG" exports --json --tenant bulk --limit 100 |
		jq -r --arg j "$ZREF" '.items[] | select(.id == $j) | "\(.compression) \(.result.uncompressed_bytes)"')"

# --- a corrupt compressed chunk is detected as any corrupt chunk is ------------------------------
sql "SET session_replication_role = replica; UPDATE tb_audit_export_chunk SET data = overlay(data placing 'X'::bytea from 10) WHERE job_id='$ZREF' AND seq = 40" >/dev/null
curl -s -o "$DIR/corrupt" -H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$ZREF/download"; rc=$?
check "a corrupt compressed chunk aborts the response (curl exit $rc)" test "$rc" -ne 0
check "the client did not get the whole file" test "$(stat -c %s "$DIR/corrupt")" -lt "$cbytes"
expect_eq "EXPORT_CORRUPT raised" 1 "$(sql "SELECT count(*) FROM ops_event WHERE event_type='EXPORT_CORRUPT' AND subject_id='$ZREF'")"

finish
