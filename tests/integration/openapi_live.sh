#!/usr/bin/env bash
# The OpenAPI describes what the running stack answers: real answers of
# ops-fcgi behind nginx (PostgreSQL, a runner) are validated against the
# response schema of their operation and status in docs/api/openapi.yaml
# (JSON Schema 2020-12, ajv), and every error code seen must be one that the
# response's x-error-codes lists. The validator (ajv, ajv-formats, pinned) is
# installed into build/npm-ajv on first use.
. "$(dirname "$0")/../lib.sh"

AJV_VERSION=8.20.0
AJV_FORMATS_VERSION=3.0.1
test_dir live

NPM_PREFIX=$ROOT/build/npm-ajv
have=$(cd "$NPM_PREFIX" 2>/dev/null && node -e 'console.log(require("ajv/package.json").version + " " + require("ajv-formats/package.json").version)' 2>/dev/null)
if [ "$have" != "$AJV_VERSION $AJV_FORMATS_VERSION" ]; then
	mkdir -p "$NPM_PREFIX"
	npm install --prefix "$NPM_PREFIX" --save-exact --no-audit --no-fund --loglevel=error \
		"ajv@$AJV_VERSION" "ajv-formats@$AJV_FORMATS_VERSION" >"$DIR/npm.log" 2>&1 ||
		setup_failed "npm install ajv@$AJV_VERSION ajv-formats@$AJV_FORMATS_VERSION: $(tail -n 3 "$DIR/npm.log")"
fi
(cd "$ROOT" && scripts/redocly bundle docs/api/openapi.yaml --dereferenced --ext json -o "$DIR/openapi.json") >"$DIR/bundle.log" 2>&1 ||
	setup_failed "bundle the OpenAPI: $(tail -n 3 "$DIR/bundle.log")"

STACK_EXPORT_EXTRA="  chunk_bytes: 4KiB" test_stack_up live
seed_audit acme 3000 step='1 minute' || setup_failed "seeding audit_log"

AUD=$(mint auditor-1 "" '["AUDITOR"]')
OPS=$(mint ops-1 "" '["OPS_ADMIN"]')
ACME=$(mint alice acme '["TENANT_ADMIN"]')
GLOBEX=$(mint gary globex '["TENANT_ADMIN"]')
NOBODY=$(mint x acme '["WIZARD"]')
EXPIRED=$(mint alice acme '["TENANT_ADMIN"]' -120)
BODY_OK='{"tenant_id":"acme","from":"2026-10-01T00:00:00Z","to":"2026-10-02T00:00:00Z","format":"jsonl","actions":["user.login"]}'
n=0
# seen NAME PATH METHOD: record the last answer for validation against the
# operation PATH METHOD and its status
seen() {
	n=$((n + 1))
	# bodies of files are not kept (only JSON answers are validated)
	[[ "$(hdr Content-Type)" == application/json* ]] || : >"$T_TMP/body"
	jq -cn --arg name "$1" --arg path "$2" --arg method "$3" --arg status "$CODE" \
		--arg rid "$(hdr X-Request-Id)" --arg ct "$(hdr Content-Type)" --rawfile body "$T_TMP/body" \
		'{name:$name, path:$path, method:$method, status:$status, rid:$rid, ct:$ct, body:$body}' >>"$DIR/answers.jsonl"
}

api GET /healthz ""; seen "healthz" /healthz get
api GET /readyz ""; seen "readyz" /readyz get
api GET /metrics ""; seen "metrics" /metrics get
api GET /api/ops/status "$OPS"; seen "status" /api/ops/status get
api GET /api/ops/status ""; seen "status without a token" /api/ops/status get
api GET /api/ops/status "$EXPIRED"; seen "status with an expired token" /api/ops/status get
api GET /api/ops/status "$NOBODY"; seen "status with an unknown role" /api/ops/status get
create() { api POST /api/ops/audit-exports "$1" -H 'Content-Type: application/json' -d "$2" "${@:3}"; }
create "$ACME" "$BODY_OK" -H 'Idempotency-Key: live-1'; seen "create" /api/ops/audit-exports post
JOB=$(jq -r .id <<<"$BODY")
create "$ACME" "$BODY_OK" -H 'Idempotency-Key: live-1'; seen "create replayed" /api/ops/audit-exports post
create "$ACME" '{"tenant_id":"acme","from":"x","format":"xml","colour":1}'; seen "create invalid" /api/ops/audit-exports post
create "$ACME" '{"tenant_id":'; seen "create malformed" /api/ops/audit-exports post
api POST /api/ops/audit-exports "$ACME" -H 'Content-Type: text/plain' -d "$BODY_OK"; seen "create text/plain" /api/ops/audit-exports post
create "$GLOBEX" "$BODY_OK"; seen "create for another tenant" /api/ops/audit-exports post
create "$OPS" "$BODY_OK"; seen "create as OPS_ADMIN" /api/ops/audit-exports post
create "$ACME" "${BODY_OK/jsonl/csv}" -H 'Idempotency-Key: live-1'; seen "create key conflict" /api/ops/audit-exports post
create "$ACME" "${BODY_OK/jsonl/csv}"; JOB2=$(jq -r .id <<<"$BODY")
create "$ACME" "$BODY_OK"; seen "create over the active cap" /api/ops/audit-exports post
api GET "/api/ops/audit-exports/$JOB" "$ACME"; seen "poll PENDING" "/api/ops/audit-exports/{id}" get
api GET "/api/ops/audit-exports/$JOB/download" "$ACME"; seen "download PENDING" "/api/ops/audit-exports/{id}/download" get
api DELETE "/api/ops/audit-exports/$JOB2" "$ACME"; seen "cancel PENDING" "/api/ops/audit-exports/{id}" delete
api DELETE "/api/ops/audit-exports/$JOB2" "$ACME"; seen "cancel FAILED" "/api/ops/audit-exports/{id}" delete
api GET "/api/ops/audit-exports/$JOB2/download" "$ACME"; seen "download FAILED" "/api/ops/audit-exports/{id}/download" get
"$BIN/ops-export-runner" --config "$STACK_CONFIG" >/dev/null 2>&1
api GET "/api/ops/audit-exports/$JOB" "$ACME"; seen "poll DONE" "/api/ops/audit-exports/{id}" get
url=$(jq -r .result.download_url <<<"$BODY")
api GET "/api/ops/audit-exports/$JOB" "$OPS"; seen "poll DONE as OPS_ADMIN" "/api/ops/audit-exports/{id}" get
api GET "/api/ops/audit-exports/$JOB" "$GLOBEX"; seen "poll another tenant's job" "/api/ops/audit-exports/{id}" get
api GET "/api/ops/audit-exports/not-a-uuid" "$ACME"; seen "poll a bad id" "/api/ops/audit-exports/{id}" get
api GET "/api/ops/audit-exports?limit=1" "$AUD"; seen "list" /api/ops/audit-exports get
api GET "/api/ops/audit-exports?limit=0&state=NOPE" "$AUD"; seen "list invalid" /api/ops/audit-exports get
api GET "/api/ops/audit-exports?tenant_id=globex" "$ACME"; seen "list another tenant" /api/ops/audit-exports get
api DELETE "/api/ops/audit-exports/$JOB" "$ACME"; seen "cancel DONE" "/api/ops/audit-exports/{id}" delete
api DELETE "/api/ops/audit-exports/$JOB" "$NOBODY"; seen "cancel with an unknown role" "/api/ops/audit-exports/{id}" delete
api GET "/api/ops/audit-exports/$JOB/download" "$ACME"; seen "download" "/api/ops/audit-exports/{id}/download" get
api GET "${url#http://127.0.0.1:$PORT}" ""; seen "download by signed URL" "/api/ops/audit-exports/{id}/download" get
api GET "/api/ops/audit-exports/$JOB/download" "$ACME" -H 'Range: bytes=0-99'; seen "download a range" "/api/ops/audit-exports/{id}/download" get
api GET "/api/ops/audit-exports/$JOB/download" "$ACME" -H 'Range: bytes=99999999-'; seen "download past the end" "/api/ops/audit-exports/{id}/download" get
api GET "/api/ops/audit-exports/$JOB/download" ""; seen "download without credentials" "/api/ops/audit-exports/{id}/download" get
bad=${url#http://127.0.0.1:$PORT}
api GET "${bad%?}x" ""; seen "download with a bad signature" "/api/ops/audit-exports/{id}/download" get
api GET "/api/ops/audit-exports/$JOB/download" "$OPS"; seen "download as OPS_ADMIN" "/api/ops/audit-exports/{id}/download" get
api GET "/api/ops/audit-exports/$JOB/download" "$GLOBEX"; seen "download another tenant's job" "/api/ops/audit-exports/{id}/download" get
sql "SET session_replication_role = replica; UPDATE tb_audit_export_job SET expires_at = now() - interval '1 second' WHERE id = '$JOB'" >/dev/null
api GET "/api/ops/audit-exports/$JOB/download" "$ACME"; seen "download past expires_at" "/api/ops/audit-exports/{id}/download" get
"$BIN/ops-export-cleaner" --config "$STACK_CONFIG" >/dev/null 2>&1
# history and actions (contract section 15)
api GET "/api/ops/audit-exports?requested_by=me&state=done&created_from=2026-01-01T00:00:00Z&error_code=EXPORT_CANCELLED&id_prefix=${JOB:0:4}" "$ACME"; seen "list with filters" /api/ops/audit-exports get
api GET "/api/ops/audit-exports?requestedby=me" "$ACME"; seen "list with an unknown parameter" /api/ops/audit-exports get
api GET "/api/ops/audit-exports/$JOB/events" "$ACME"; seen "timeline" "/api/ops/audit-exports/{id}/events" get
api GET "/api/ops/audit-exports/$JOB/events" "$GLOBEX"; seen "timeline of another tenant's job" "/api/ops/audit-exports/{id}/events" get
api GET "/api/ops/audit-exports/$JOB/events?x=1" "$ACME"; seen "timeline with an unknown parameter" "/api/ops/audit-exports/{id}/events" get
api GET "/api/ops/audit-exports/$JOB/events" ""; seen "timeline without a token" "/api/ops/audit-exports/{id}/events" get
api GET "/api/ops/audit-exports/$JOB/events" "$NOBODY"; seen "timeline with an unknown role" "/api/ops/audit-exports/{id}/events" get
api GET "/api/ops/events?limit=2" "$OPS"; seen "feed" /api/ops/events get
api GET "/api/ops/events?kind=EXPORT_REQUESTED" "$ACME"; seen "feed as TENANT_ADMIN" /api/ops/events get
api GET "/api/ops/events?tenant_id=globex" "$ACME"; seen "feed of another tenant" /api/ops/events get
api GET "/api/ops/events?since=now" "$OPS"; seen "feed invalid" /api/ops/events get
api GET /api/ops/status/history "$OPS"; seen "status history" /api/ops/status/history get
api GET "/api/ops/status/history?hours=169" "$OPS"; seen "status history invalid" /api/ops/status/history get
api GET /api/ops/status/history "$ACME"; seen "status history as TENANT_ADMIN" /api/ops/status/history get
api POST "/api/ops/audit-exports/$JOB2/retry" "$ACME"; seen "retry" "/api/ops/audit-exports/{id}/retry" post
RJOB=$(jq -r '.id // empty' <<<"$BODY")
api POST "/api/ops/audit-exports/$RJOB/retry" "$ACME"; seen "retry a PENDING job" "/api/ops/audit-exports/{id}/retry" post
api POST "/api/ops/audit-exports/$JOB2/retry" "$ACME" -H 'Content-Type: application/json' -d '{"colour":1}'; seen "retry invalid" "/api/ops/audit-exports/{id}/retry" post
api POST "/api/ops/audit-exports/$JOB2/retry" "$GLOBEX"; seen "retry another tenant's job" "/api/ops/audit-exports/{id}/retry" post
api POST "/api/ops/audit-exports/$JOB2/retry" "$OPS"; seen "retry as OPS_ADMIN" "/api/ops/audit-exports/{id}/retry" post
api POST /api/ops/audit-exports/cancel "$ACME" -H 'Content-Type: application/json' -d "{\"ids\":[\"$RJOB\"]}"; seen "bulk cancel" /api/ops/audit-exports/cancel post
api POST /api/ops/audit-exports/cancel "$ACME" -H 'Content-Type: application/json' -d '{}'; seen "bulk cancel invalid" /api/ops/audit-exports/cancel post
api POST /api/ops/audit-exports/cancel "$ACME" -H 'Content-Type: application/json' -d '{"tenant_id":"globex"}'; seen "bulk cancel of another tenant" /api/ops/audit-exports/cancel post
api POST /api/ops/audit-exports/cancel "$ACME" -H 'Content-Type: text/plain' -d '{}'; seen "bulk cancel text/plain" /api/ops/audit-exports/cancel post
api GET /api/ops/scheduler/locks "$OPS"; seen "locks" /api/ops/scheduler/locks get
api GET /api/ops/scheduler/locks "$ACME"; seen "locks as TENANT_ADMIN" /api/ops/scheduler/locks get
api POST /api/ops/scheduler/locks/ops-export-cleaner/release "$OPS" -H 'Content-Type: application/json' -d '{"reason":"openapi live check"}'; seen "release a free lock" "/api/ops/scheduler/locks/{name}/release" post
api POST /api/ops/scheduler/locks/ops-export-cleaner/release "$OPS" -H 'Content-Type: application/json' -d '{}'; seen "release without a reason" "/api/ops/scheduler/locks/{name}/release" post
api POST /api/ops/scheduler/locks/no-such-lock/release "$OPS" -H 'Content-Type: application/json' -d '{"reason":"x"}'; seen "release an unknown lock" "/api/ops/scheduler/locks/{name}/release" post
api POST /api/ops/scheduler/locks/ops-export-cleaner/release "$AUD" -H 'Content-Type: application/json' -d '{"reason":"x"}'; seen "release as AUDITOR" "/api/ops/scheduler/locks/{name}/release" post
api GET /api/ops/nothing ""; seen "unknown path" "" ""
api PUT "/api/ops/audit-exports/$JOB" "$ACME"; seen "wrong method" "" ""
stack_fcgi_stop "$DIR"
api GET /api/ops/status "$OPS"; seen "ops-fcgi down" "" ""
stack_fcgi_start "$DIR"

cat >"$DIR/validate.js" <<'JS'
// For each recorded answer: find the response object of (path, method,
// status), or of x-unrouted-responses for answers outside any operation;
// validate a JSON body against its schema; check the error code is listed.
const fs = require('fs');
const Ajv = require('ajv/dist/2020');
const addFormats = require('ajv-formats');
const [oaPath, answersPath] = process.argv.slice(2);
const oa = JSON.parse(fs.readFileSync(oaPath, 'utf8'));
// local "#/..." references left by the bundler (inside x- extensions)
const deref = (v, depth = 0) => {
  if (Array.isArray(v)) return v.map(x => deref(x, depth));
  if (v === null || typeof v !== 'object') return v;
  if (typeof v.$ref === 'string' && v.$ref.startsWith('#/') && depth < 32)
    return deref(v.$ref.slice(2).split('/').map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((o, k) => o?.[k], oa), depth + 1);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deref(x, depth)]));
};
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
for (const line of fs.readFileSync(answersPath, 'utf8').split('\n').filter(Boolean)) {
  const a = JSON.parse(line);
  const what = `${a.name}: ${a.status}`;
  const r = deref(a.path ? oa.paths[a.path]?.[a.method]?.responses?.[a.status]
                         : oa['x-unrouted-responses']?.[a.status]);
  if (!r) { console.log(`not ok - ${what} is not documented for ${a.method} ${a.path || '(unrouted)'}`); continue; }
  const problems = [];
  if (!/^[0-9a-f]{32}$/.test(a.rid)) problems.push('no X-Request-Id');
  const jsonSchema = r.content?.['application/json']?.schema;
  if (jsonSchema) {
    let body;
    try { body = JSON.parse(a.body); } catch (e) { problems.push('body is not JSON'); }
    if (body !== undefined) {
      if (!a.ct.startsWith('application/json')) problems.push(`Content-Type ${a.ct}`);
      if (!ajv.validate(jsonSchema, body)) problems.push(ajv.errorsText(ajv.errors));
      const codes = r['x-error-codes'];
      if (codes && !codes.includes(body?.error?.code)) problems.push(`code ${body?.error?.code} not in x-error-codes ${codes}`);
      if (a.status >= 400 && body?.error?.request_id !== a.rid) problems.push('error.request_id differs from X-Request-Id');
    }
  } else if (r.content && !Object.keys(r.content).some(t => a.ct.startsWith(t.split(';')[0]))) {
    problems.push(`Content-Type ${a.ct} not among ${Object.keys(r.content)}`);
  }
  console.log(problems.length ? `not ok - ${what} does not match the OpenAPI: ${problems.join('; ')}`
                              : `ok - ${what} matches the OpenAPI`);
}
JS
NODE_PATH=$NPM_PREFIX/node_modules node "$DIR/validate.js" "$DIR/openapi.json" "$DIR/answers.jsonl" >"$DIR/results" 2>&1
cat "$DIR/results"
T_FAILED=$((T_FAILED + $(grep -c '^not ok' "$DIR/results")))
expect_eq "every recorded answer was validated" "$n" "$(grep -cE '^(ok|not ok) - ' "$DIR/results")"

# the validator really looks: a spec that requires a field the job JSON lacks
jq '(.paths["/api/ops/audit-exports/{id}"].get.responses["200"].content["application/json"].schema.required) += ["owner"]' \
	"$DIR/openapi.json" >"$DIR/drifted.json"
NODE_PATH=$NPM_PREFIX/node_modules node "$DIR/validate.js" "$DIR/drifted.json" "$DIR/answers.jsonl" >"$DIR/drifted" 2>&1
expect_contains "a drifted schema is caught" "not ok - poll PENDING: 200 does not match the OpenAPI: data must have required property 'owner'" "$(cat "$DIR/drifted")"

finish
