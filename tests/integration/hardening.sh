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
