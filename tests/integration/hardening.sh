#!/usr/bin/env bash
# Issue 10 defects 3, 4, 5 and 7 through the real stack (nginx, ops-fcgi,
# PostgreSQL): identities that would forge log lines or be truncated are
# refused with 401, over-long token lifetimes too, query integers are range
# checked before narrowing, and a text-format log line stays one line.
# Runtime: about 5 s.
. "$(dirname "$0")/../lib.sh"

STACK_LOG_FORMAT=text STACK_LOG_LEVEL=debug \
STACK_AUTH_EXTRA="  max_token_lifetime_seconds: 7200" \
	test_stack_up hardening

ACME=$(mint alice acme '["TENANT_ADMIN"]')
api GET "/api/ops/audit-exports" "$ACME"
expect_eq "a plain token lists exports" 200 "$CODE"

# what held in issue 20's review, kept as a test: SQL is parameterized.
# Filter values and a cursor shaped as SQL injections are data: the export
# matches no row (they are literal values) and nothing else happens.
sql "INSERT INTO audit_log (tenant_id, occurred_at, actor_id, action, target_type, target_id, payload)
     SELECT 'acme', timestamptz '2026-10-01T00:00:00Z' + g * interval '1 minute', 'bob', 'doc.read', 'doc', 'd' || g, '{}'
     FROM generate_series(1, 3) g" >/dev/null
AUD=$(mint auditor "" '["AUDITOR"]')
api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: application/json' \
	-d "{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"jsonl\",
	     \"actor_id\":\"x' OR '1'='1\",\"actions\":[\"a'); DROP TABLE audit_log; --\"]}"
expect_eq "an export whose filters are SQL injections is accepted as data" 202 "$CODE"
INJ=$(jq -r '.id // empty' <<<"$BODY")
"$BIN/ops-export-runner" --config "$STACK_CONFIG" >"$DIR/runner.log" 2>&1
expect_eq "it runs, and matches none of the tenant's rows" "DONE 0" \
	"$(sql "SELECT state || ' ' || coalesce(total_rows, -1) FROM tb_audit_export_job WHERE id = '$INJ'")"
expect_eq "audit_log is intact (the 3 rows seeded)" 3 "$(sql "SELECT count(*) FROM audit_log WHERE tenant_id = 'acme' AND actor_id = 'bob'")"
api GET "/api/ops/audit-exports?tenant_id=acme&cursor=1%27%20OR%201%3D1--" "$AUD"
expect_error "a cursor shaped as an injection" 400 VALIDATION_FAILED

# what held, kept as a test: export creation is rate limited per address
# (nginx limit_req, 5/s, burst 20), before anything reaches ops-fcgi.
args=()
for _ in $(seq 1 40); do args+=(-o /dev/null "$STACK_URL/api/ops/audit-exports"); done
codes=$(curl -s --parallel --parallel-max 40 -X POST -H 'Content-Type: application/json' -d '{}' \
	-w '%{http_code}\n' "${args[@]}")
check "40 creations at once from one address: some get 429 ($(grep -c '^429$' <<<"$codes") of 40)" grep -q '^429$' <<<"$codes"

# defect 5: -4294967196 narrowed through (int) was 100
for l in -4294967196 4294967297 99999999999999999999 ' 5' '+5' 0 201; do
	api GET "/api/ops/audit-exports?limit=$(jq -rn --arg v "$l" '$v|@uri')" "$ACME"
	expect_error "limit=$l" 400 VALIDATION_FAILED
done
api GET "/api/ops/audit-exports?limit=200" "$ACME"
expect_eq "limit=200 is accepted" 200 "$CODE"

# defect 3: control characters in sub or tenant_id
api GET "/api/ops/audit-exports" "$(mint $'alice\n2026-01-01T00:00:00.000Z ops-fcgi error: forged' acme '["TENANT_ADMIN"]')"
expect_error "sub with a newline" 401 AUTH_INVALID_TOKEN
api GET "/api/ops/audit-exports" "$(mint alice $'acme\r' '["TENANT_ADMIN"]')"
expect_error "tenant_id with a CR" 401 AUTH_INVALID_TOKEN

# defect 4: a sub longer than 255 bytes is refused, 255 works end to end
long=$(printf 'x%.0s' $(seq 1 255))
api GET "/api/ops/audit-exports" "$(mint "${long}y" acme '["TENANT_ADMIN"]')"
expect_error "sub of 256 bytes" 401 AUTH_INVALID_TOKEN
api GET "/api/ops/audit-exports" "$(mint "$long" acme '["TENANT_ADMIN"]')"
expect_eq "sub of 255 bytes is accepted" 200 "$CODE"

# defect 7: lifetime (exp - iat) above auth.max_token_lifetime_seconds
api GET "/api/ops/audit-exports" "$(mint alice acme '["TENANT_ADMIN"]' 7201)"
expect_error "token lifetime 7201 s over a 7200 s maximum" 401 AUTH_INVALID_TOKEN
expect_contains "the answer says why" "token lifetime too long" "$BODY"
api GET "/api/ops/audit-exports" "$(mint alice acme '["TENANT_ADMIN"]' 1099511627776)"
expect_error "token valid for 2^40 s" 401 AUTH_INVALID_TOKEN
expect_contains "the answer says why" "token lifetime too long" "$BODY"

# defect 3, the log side: a decoded path with CR/LF stays on one text line
api GET "/api/ops/audit-exports/x%0a2026-01-01T00:00:00.000Z%20ops-fcgi%20error:%20forged%0d" "$ACME"
found=0
for _ in $(seq 1 50); do
	grep -q 'forged' "$DIR/ops-fcgi.log" && { found=1; break; }
	sleep 0.1
done
expect_eq "the request with a forged line is logged" 1 "$found"
expect_eq "no log line starts with the forged text" 0 \
	"$(grep -c '^2026-01-01T00:00:00.000Z ops-fcgi error: forged' "$DIR/ops-fcgi.log")"
expect_contains "the newline is written as \\x0a" 'x\x0a2026-01-01T00:00:00.000Z ops-fcgi error: forged\x0d' "$(cat "$DIR/ops-fcgi.log")"

# defect 7, config: public keys without issuer/audience do not start
cat >"$DIR/nojwt.yaml" <<YAML
database:
  url: "$STACK_DB_URL"
auth:
  jwks_file: $DIR/jwks.json
  audience: ops-api
YAML
out=$("$BIN/ops-fcgi" --config "$DIR/nojwt.yaml" 2>&1 </dev/null); rc=$?
expect_eq "ops-fcgi refuses a jwks_file without issuer (exit 2)" 2 "$rc"
expect_contains "the error names file:line" "$DIR/nojwt.yaml:4: auth.jwks_file is set but auth.issuer is not" "$out"
finish
