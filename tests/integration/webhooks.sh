#!/usr/bin/env bash
# Completion webhooks (issue 22, contract section 16): the endpoints API and
# its SSRF refusals, the outbox written with the job's state change, and
# ops-webhook-dispatcher against a real HTTPS receiver (tests/tools/
# webhook-receiver, a python3 http.server with a test CA made here by
# openssl): one verified delivery per event, retries with growing gaps,
# at least once across a SIGKILL between send and record, two dispatchers
# racing on 200 deliveries, refusals at connect time (including DNS
# rebinding, in a network and mount namespace with its own resolver), and
# receivers that hang, trickle, redirect or send 100 MB, each one bounded
# attempt. Runtime: about 60 s on a quiet machine (290 s measured under
# the load of seven helpers' suites on 2 cores).
. "$(dirname "$0")/../lib.sh"
T0=$(date +%s)

# the API stack is strict (no private addresses); the dispatcher's own
# configs below allow the loopback receiver
STACK_WEBHOOKS_PRIVATE=false test_stack_up webhooks
BIN=$ROOT/bin
PIDS=()
suite_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	return 0
}

# --- the test CA and the receiver ---------------------------------------
setup "a test CA and a server certificate (openssl)" bash -c "
	cd '$DIR' &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ops-test-ca 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null &&
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:rebind.test\n' >srv.ext &&
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile srv.ext 2>/dev/null"
start_receiver() {  # start_receiver NAME [ADDRESS]: sets RPORT
	rm -f "$DIR/$1.port"
	"$ROOT/tests/tools/webhook-receiver" "$DIR/srv.pem" "$DIR/srv.key" "$DIR/$1.port" "$DIR/$1.log" "${2:-127.0.0.1}" \
		2>>"$DIR/$1.err" & PIDS+=($!)
	wait_for 10 test -s "$DIR/$1.port" || setup_failed "the receiver $1 did not start: $(tail -n 3 "$DIR/$1.err")"
	RPORT=$(cat "$DIR/$1.port")
}
start_receiver recv
setup_done "HTTPS receiver on 127.0.0.1:$RPORT"

# dispatcher configs: the stack's, plus the test CA, a 1 s backoff base, a
# 3 s timeout; "dispatch" allows loopback, "strict" does not, "once" never
# retries within the test
base_cfg() {
	sed "s/^  allow_private_networks: false/  allow_private_networks: $1/" "$STACK_CONFIG" |
		awk -v extra="$2" '{print} /^webhooks:/{print extra}'
}
WH="  ca_file: $DIR/ca.pem
  timeout_seconds: 3
  lease_seconds: 15
  dispatcher_budget_seconds: 30"
base_cfg true "$WH
  retry_base_seconds: 1" >"$DIR/dispatch.yaml"
base_cfg false "$WH
  retry_base_seconds: 3600" >"$DIR/strict.yaml"
base_cfg true "$WH
  retry_base_seconds: 3600" >"$DIR/once.yaml"
dispatch() {  # dispatch CONFIG [args]: one run; its exit status
	local t=$(date +%s%N) st
	"$BIN/ops-webhook-dispatcher" --config "$DIR/$1.yaml" "${@:2}" >>"$DIR/dispatcher.out" 2>>"$DIR/dispatcher.err"
	st=$?
	echo "# dispatcher run ($1, line ${BASH_LINENO[0]}): $(( ($(date +%s%N) - t) / 1000000 )) ms" >>"$DIR/timing"
	return $st
}

SUPER=$(mint super-1 "" '["SUPER_ADMIN"]')
TA1=$(mint ta-1 t1 '["TENANT_ADMIN"]')
TA2=$(mint ta-2 t2 '["TENANT_ADMIN"]')
AUD=$(mint aud-1 "" '["AUDITOR"]')
OPS=$(mint ops-1 "" '["OPS_ADMIN"]')
JSON=(-H 'Content-Type: application/json')

# --- the API -----------------------------------------------------------
api POST /api/ops/webhooks "$TA1" "${JSON[@]}" -d '{"url":"https://1.2.3.4/hook","description":"erp"}'
EP1=$(jq -r '.id // empty' <<<"$BODY")
SECRET1=$(jq -r '.secret // empty' <<<"$BODY")
if [ "$CODE" = 201 ] && [[ "$SECRET1" =~ ^whsec_[A-Za-z0-9+/]{43}=$ ]] &&
   [ "$(jq -c '.event_types' <<<"$BODY")" = '["export.done","export.failed","export.expired","export.cancelled"]' ]; then
	ok "TENANT_ADMIN creates an endpoint: 201 with a whsec_ secret of 32 bytes and every event type"
else
	not_ok "create: $CODE $BODY"
fi
api GET /api/ops/webhooks "$TA1"
if [ "$CODE" = 200 ] && [ "$(jq -r '.items[0].id' <<<"$BODY")" = "$EP1" ] && ! grep -q whsec_ <<<"$BODY"; then
	ok "the list shows the endpoint and no secret"
else
	not_ok "list: $CODE $BODY"
fi
bad=0
for u in 'http://1.2.3.4/x' 'https://user:pw@1.2.3.4/x' 'https://1.2.3.4/x#frag' 'https://127.0.0.1/x' \
	'https://169.254.169.254/latest' 'https://10.1.2.3/x' 'https://[::1]/x' 'https://[fd00::1]/x' \
	'https://[fe80::1]/x' 'https://[::ffff:127.0.0.1]/x' 'https://localhost/x' 'ftp://1.2.3.4/x'; do
	api POST /api/ops/webhooks "$TA1" "${JSON[@]}" -d "{\"url\":\"$u\"}"
	if [ "$CODE" != 400 ] || [ "$(jq -r '.error.code' <<<"$BODY")" != VALIDATION_FAILED ] ||
	   [ "$(jq -r '.error.details[0].field' <<<"$BODY")" != url ]; then
		not_ok "create $u: expected 400 naming url, got $CODE $BODY"; bad=$((bad + 1))
	fi
done
[ "$bad" = 0 ] && ok "400 naming the field url: http, credentials, fragment, loopback, 169.254.169.254, private, ::1, unique-local, link-local, v4-mapped loopback, a name resolving to loopback, ftp"
api POST /api/ops/webhooks "$TA1" "${JSON[@]}" -d '{"url":"https://1.2.3.4/x","tenant_id":"t2"}'
expect_error "TENANT_ADMIN of t1 creating for t2" 403 TENANT_FORBIDDEN
api POST /api/ops/webhooks "$AUD" "${JSON[@]}" -d '{"url":"https://1.2.3.4/x","tenant_id":"t1"}'
expect_error "AUDITOR creating an endpoint" 403 FORBIDDEN
api POST /api/ops/webhooks "$TA1" "${JSON[@]}" -d '{"url":"https://1.2.3.4/x","event_types":["export.bogus"]}'
expect_error "an unknown event type" 400 VALIDATION_FAILED
api GET /api/ops/webhooks "$TA2"
expect_eq "another tenant's admin lists none of t1's endpoints" "0" "$(jq '.items | length' <<<"$BODY")"
api GET "/api/ops/webhooks/$EP1/deliveries" "$TA2"
expect_error "another tenant's admin reading t1's deliveries" 404 WEBHOOK_NOT_FOUND
api DELETE "/api/ops/webhooks/$EP1" "$OPS"
expect_error "OPS_ADMIN deleting an endpoint" 403 FORBIDDEN
api GET "/api/ops/webhooks" "$AUD"
expect_eq "AUDITOR lists endpoints of every tenant" "200 1" "$CODE $(jq '.items | length' <<<"$BODY")"

# --- the outbox: one delivery per event, in the state change's transaction
# fire TENANT: create an export job and cancel it at once (PENDING ->
# FAILED EXPORT_CANCELLED: the event export.cancelled); sets JOB
fire() {
	api POST /api/ops/audit-exports "$SUPER" "${JSON[@]}" \
		-d "{\"tenant_id\":\"$1\",\"format\":\"jsonl\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\"}"
	JOB=$(jq -r '.id // empty' <<<"$BODY")
	api DELETE "/api/ops/audit-exports/$JOB" "$SUPER"
}
# endpoint TENANT PATH [CONFIG...]: an endpoint of TENANT at the receiver's
# PATH; the URL is set by SQL (the owner), as the strict API refuses
# loopback; sets EP and SECRET
endpoint() {
	api POST /api/ops/webhooks "$SUPER" "${JSON[@]}" -d "{\"url\":\"https://1.2.3.4/x\",\"tenant_id\":\"$1\"}"
	EP=$(jq -r '.id // empty' <<<"$BODY"); SECRET=$(jq -r '.secret // empty' <<<"$BODY")
	sql "UPDATE tb_webhook_endpoint SET url = 'https://127.0.0.1:$RPORT$2' WHERE id = '$EP'" >/dev/null
}
sql "UPDATE tb_webhook_endpoint SET url = 'https://127.0.0.1:$RPORT/ok/t1' WHERE id = '$EP1'" >/dev/null
n0=$(sql "SELECT count(*) FROM tb_webhook_delivery")
sql "BEGIN; INSERT INTO tb_audit_export_job (tenant_id, requested_by, range_from, range_to, max_rows, max_bytes, max_duration_seconds)
     VALUES ('t1', 'x', now() - interval '1 day', now(), 1, 1024, 1);
     UPDATE tb_audit_export_job SET state = 'FAILED', error_code = 'EXPORT_LIMIT_ROWS', finished_at = now() WHERE requested_by = 'x';
     ROLLBACK;" >/dev/null 2>&1
expect_eq "a state change rolled back leaves no delivery" "$n0" "$(sql "SELECT count(*) FROM tb_webhook_delivery")"

# a job that reaches DONE through the runner: exactly one verified delivery
seed_audit t1 50 || not_ok "seeding audit rows"
api POST /api/ops/audit-exports "$SUPER" "${JSON[@]}" \
	-d '{"tenant_id":"t1","format":"jsonl","from":"2026-10-01T00:00:00Z","to":"2026-10-02T00:00:00Z"}'
JOB=$(jq -r '.id // empty' <<<"$BODY")
"$BIN/ops-export-runner" --config "$STACK_CONFIG" >/dev/null 2>>"$DIR/runner.err"
expect_eq "the job is DONE and its delivery was written with it" "DONE|1|export.done" \
	"$(sql "SELECT j.state, count(d.*), max(d.event_type) FROM tb_audit_export_job j LEFT JOIN tb_webhook_delivery d ON d.job_id = j.id WHERE j.id = '$JOB' GROUP BY 1")"
dispatch dispatch || not_ok "the dispatcher failed: $(tail -n 3 "$DIR/dispatcher.err")"
dispatch dispatch
# verify PATH SECRET: every request to PATH carries a valid Standard
# Webhooks signature; prints "count ids-distinct type state has_download_url job"
verify() {
	python3 - "$DIR/recv.log" "$1" "$2" <<'PY'
import base64, hashlib, hmac, json, sys
log, path, secret = sys.argv[1:4]
key = base64.b64decode(secret[len("whsec_"):])
reqs = [r for r in map(json.loads, open(log)) if r["path"] == path]
for r in reqs:
    signed = ("%s.%s.%s" % (r["id"], r["timestamp"], r["body"])).encode()
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if ("v1," + want) not in r["signature"].split(" "):
        print("bad-signature", r["id"]); sys.exit(0)
if not reqs:
    print(0); sys.exit(0)
b = json.loads(reqs[0]["body"])
print(len(reqs), len({r["id"] for r in reqs}), b["type"], b["data"]["state"],
      "download_url" in b["data"].get("result", {}), b["data"]["id"], sorted(b.keys()) == ["data", "timestamp", "type"])
PY
}
expect_eq "the receiver got exactly one delivery, signature verified, body {type, timestamp, data} without download_url" \
	"1 1 export.done DONE False $JOB True" "$(verify /ok/t1 "$SECRET1")"
api GET "/api/ops/webhooks/$EP1/deliveries" "$TA1"
if [ "$CODE" = 200 ] && [ "$(jq -r '.items[0] | "\(.state) \(.attempts) \(.last_status) \(.next_attempt_at) \(.webhook_id|startswith("msg_"))"' <<<"$BODY")" = "DELIVERED 1 200 null true" ] &&
   jq -e '.items[0].last_latency_ms >= 0 and (.items[0].history | length) == 1' <<<"$BODY" >/dev/null; then
	ok "the deliveries list shows DELIVERED, 1 attempt, status 200, latency, history"
else
	not_ok "deliveries: $CODE $BODY"
fi
api GET "/api/ops/webhooks/$EP1/deliveries" "$OPS"
expect_eq "OPS_ADMIN lists deliveries (no secret in them)" "200 0" "$CODE $(grep -c whsec_ <<<"$BODY")"

# --- retries: 500, 500, 200 -> three attempts with growing gaps ----------
endpoint t2 /fail2/a
fire t2
dispatch dispatch
gaps=$(python3 - "$DIR/recv.log" <<'PY'
import json, sys
rs = [r for r in map(json.loads, open(sys.argv[1])) if r["path"] == "/fail2/a"]
ats = [r["at"] for r in rs]
print(len(rs), len({r["id"] for r in rs}), "growing" if len(ats) == 3 and ats[2] - ats[1] > ats[1] - ats[0] > 0.4 else "not-growing %s" % [round(b - a, 2) for a, b in zip(ats, ats[1:])])
PY
)
expect_eq "500, 500, 200: three attempts, one webhook-id, growing gaps" "3 1 growing" "$gaps"
expect_eq "the delivery is DELIVERED after 3 attempts, statuses 500 500 200 in its history" "DELIVERED|3|500,500,200" \
	"$(sql "SELECT state, attempts, (SELECT string_agg(h->>'status', ',') FROM jsonb_array_elements(history) h) FROM tb_webhook_delivery WHERE endpoint_id = '$EP'")"

# --- at least once: SIGKILL between send and record ---------------------
endpoint t3 /killonce/a
fire t3
"$BIN/ops-webhook-dispatcher" --config "$DIR/dispatch.yaml" --instance killed >/dev/null 2>>"$DIR/dispatcher.err" & kpid=$!
echo "$kpid" >"$DIR/recv.log.killpid"
wait "$kpid"; st=$?
expect_eq "the dispatcher was SIGKILLed after sending, before recording" 137 "$st"
expect_eq "the delivery is still PENDING under the dead dispatcher's lease" "PENDING|1|t" \
	"$(sql "SELECT state, attempts, lease_owner IS NOT NULL FROM tb_webhook_delivery WHERE endpoint_id = '$EP'")"
sql "UPDATE tb_webhook_delivery SET lease_expires_at = now() WHERE endpoint_id = '$EP'" >/dev/null  # the lease ends (15 s)
note "the lease of the killed dispatcher made to expire now instead of in 15 s"
dispatch dispatch
expect_eq "sent again after the lease with the same webhook-id, then DELIVERED" "2 1 DELIVERED 2" \
	"$(python3 -c "
import json,sys
rs=[r for r in map(json.loads, open('$DIR/recv.log')) if r['path']=='/killonce/a']
print(len(rs), len({r['id'] for r in rs}), end='')") $(sql "SELECT state, attempts FROM tb_webhook_delivery WHERE endpoint_id = '$EP'" | tr '|' ' ')"

# --- two dispatchers race on 200 due deliveries --------------------------
endpoint t4 /count/a
sql "INSERT INTO tb_webhook_delivery (endpoint_id, tenant_id, job_id, event_type, job_snapshot)
     SELECT '$EP', 't4', gen_random_uuid(), 'export.done', to_jsonb(j) FROM tb_audit_export_job j, generate_series(1, 200)
     WHERE j.id = '$JOB'" >/dev/null
tr=$(sql "SELECT now()")
dispatch dispatch --instance race-a & ra=$!
dispatch dispatch --instance race-b & rb=$!
wait "$ra"; sa=$?; wait "$rb"; sb=$?
expect_eq "both dispatchers ended cleanly" "0 0" "$sa $sb"
expect_eq "200 requests, 200 distinct webhook-ids: no delivery sent twice" "200 200" \
	"$(python3 -c "
import json
rs=[r for r in map(json.loads, open('$DIR/recv.log')) if r['path']=='/count/a']
print(len(rs), len({r['id'] for r in rs}))")"
expect_eq "all 200 DELIVERED after one attempt" "200|1|1" \
	"$(sql "SELECT count(*), min(attempts), max(attempts) FROM tb_webhook_delivery WHERE endpoint_id = '$EP' AND state = 'DELIVERED'")"
expect_eq "both dispatchers took part" "2" \
	"$(sql "SELECT count(DISTINCT host || pid) FROM job_run WHERE job = 'ops-webhook-dispatcher' AND (counts->>'delivered')::int > 0 AND started_at >= '$tr'")"

# --- refusals at connect time ---------------------------------------------
endpoint t5 /ok/ssrf
fire t5
dispatch strict
expect_match "a loopback URL is refused by the dispatcher (strict config), nothing sent" \
	'^PENDING\|1\|url refused: host 127\.0\.0\.1 resolves to 127\.0\.0\.1' \
	"$(sql "SELECT state, attempts, last_error FROM tb_webhook_delivery WHERE endpoint_id = '$EP'")|$(grep -c '/ok/ssrf' "$DIR/recv.log")"
sql "UPDATE tb_webhook_delivery SET state = 'FAILED' WHERE endpoint_id = '$EP'" >/dev/null

# DNS rebinding: rebind.test answers 1.2.3.4 (public) first, 127.0.0.1
# after; the dispatcher, pinned to what it checked, must never reach the
# loopback receiver. In a network namespace (only lo: 1.2.3.4 is
# unreachable, nothing leaves the machine) and a mount namespace whose
# /etc/resolv.conf points at tests/tools/rebind-dns.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	endpoint t6 /ok/rebind
	sql "UPDATE tb_webhook_endpoint SET url = 'https://rebind.test:8443/ok/rebind' WHERE id = '$EP'" >/dev/null
	fire t6
	printf 'nameserver 127.0.0.53\noptions attempts:1 timeout:2\n' >"$DIR/resolv.conf"
	unshare -m -n bash -c '
		ip link set lo up 2>/dev/null || ifconfig lo up
		mount --bind "$1/resolv.conf" /etc/resolv.conf
		"$2/tests/tools/rebind-dns" 127.0.0.53 1.2.3.4 127.0.0.1 "$1/dns.log" & d=$!
		for _ in $(seq 1 100); do [ -e "$1/dns.log.ready" ] && break; sleep 0.05; done
		# the receiver listens where the name points after the switch
		"$2/tests/tools/webhook-receiver" "$1/srv.pem" "$1/srv.key" "$1/ns.port" "$1/ns.log" 127.0.0.1 8443 &
		r=$!
		for _ in $(seq 1 100); do [ -s "$1/ns.port" ] && break; sleep 0.05; done
		"$2/bin/ops-webhook-dispatcher" --config "$1/strict.yaml" >/dev/null 2>>"$1/dispatcher.err"
		kill $d $r 2>/dev/null; wait' _ "$DIR" "$ROOT" 2>>"$DIR/ns.err"
	expect_match "DNS rebinding: one A lookup (1.2.3.4), the connection pinned to it, the loopback receiver never reached" \
		'^1\|0\|PENDING\|1\|' \
		"$(grep -c '^rebind.test 1 ' "$DIR/dns.log" 2>/dev/null)|$(cat "$DIR/ns.log" 2>/dev/null | wc -l)|$(sql "SELECT state, attempts FROM tb_webhook_delivery WHERE endpoint_id = '$EP'")|"
	sql "UPDATE tb_webhook_delivery SET state = 'FAILED' WHERE endpoint_id = '$EP'" >/dev/null
	dispatch_rebind_second() {
		sql "UPDATE tb_webhook_delivery SET state = 'PENDING', next_attempt_at = now() WHERE endpoint_id = '$EP'" >/dev/null
		unshare -m -n bash -c '
			ip link set lo up 2>/dev/null || ifconfig lo up
			mount --bind "$1/resolv.conf" /etc/resolv.conf
			"$2/tests/tools/rebind-dns" 127.0.0.53 127.0.0.1 127.0.0.1 "$1/dns2.log" & d=$!
			for _ in $(seq 1 100); do [ -e "$1/dns2.log.ready" ] && break; sleep 0.05; done
			"$2/bin/ops-webhook-dispatcher" --config "$1/strict.yaml" >/dev/null 2>>"$1/dispatcher.err"
			kill $d; wait' _ "$DIR" "$ROOT" 2>>"$DIR/ns.err"
	}
	dispatch_rebind_second
	expect_match "a name that resolves to 127.0.0.1 at connect time is refused before any connection" \
		'url refused: host rebind\.test resolves to 127\.0\.0\.1' \
		"$(sql "SELECT last_error FROM tb_webhook_delivery WHERE endpoint_id = '$EP'")"
	sql "UPDATE tb_webhook_delivery SET state = 'FAILED' WHERE endpoint_id = '$EP'" >/dev/null
else
	skip "DNS rebinding (needs root for unshare -m -n and port 53)"
	skip "a name resolving to loopback at connect time (needs root)"
fi

# --- receivers that hang, trickle, redirect, or send 100 MB: one bounded
# attempt each (timeout 3 s here; the "once" config retries after an hour)
for kind in hang slow redirect big; do
	endpoint "b-$kind" "/$kind/a"
	eval "EP_$kind=$EP"
	fire "b-$kind"
done
t=$(date +%s)
dispatch once
took=$(( $(date +%s) - t ))
row() { sql "SELECT state, attempts, coalesce(last_status, 0), last_latency_ms <= 4500 FROM tb_webhook_delivery WHERE endpoint_id = '$1'" | tr '|' ' '; }
expect_match "a receiver that never answers: one attempt, cut at the 3 s timeout, retried later" '^PENDING 1 0 t$' "$(row "$EP_hang")"
expect_match "a receiver that answers one byte every 50 ms: one attempt, cut at the timeout" '^PENDING 1 200 t$' "$(row "$EP_slow")"
expect_match "a redirect to loopback is not followed: one attempt, 302 recorded, retried later" '^PENDING 1 302 t$' "$(row "$EP_redirect")"
expect_eq "the redirect target was never requested" 0 "$(grep -c '/ok/redirected' "$DIR/recv.log")"
expect_match "a 100 MB answer: 200, one attempt, read 4 KiB and stopped" '^DELIVERED 1 200 t$' "$(row "$EP_big")"
wait_for 10 test -s "$DIR/recv.log.big"
expect_match "the receiver could not push the 100 MB" '^[0-9]+$' "$(awk '$1 < 100*1024*1024' "$DIR/recv.log.big")"
expect_match "the four bounded attempts took one run of under 20 s" '^([0-9]|1[0-9])$' "$took"

# --- 410 disables the endpoint; giving up; redelivery --------------------
endpoint t7 /gone/a
fire t7
dispatch once
expect_eq "410: the delivery FAILED and the endpoint disabled, with an event" "FAILED|f|1" \
	"$(sql "SELECT d.state, e.enabled, (SELECT count(*) FROM ops_event WHERE event_type = 'WEBHOOK_ENDPOINT_DISABLED' AND subject_id = '$EP') FROM tb_webhook_delivery d JOIN tb_webhook_endpoint e ON e.id = d.endpoint_id WHERE d.endpoint_id = '$EP'")"
endpoint t8 /fail2/giveup
fire t8
sql "UPDATE tb_webhook_delivery SET give_up_at = now() WHERE endpoint_id = '$EP'" >/dev/null
dispatch once
expect_eq "past give_up_at a failed attempt ends the delivery FAILED with WEBHOOK_DELIVERY_FAILED" "FAILED|1" \
	"$(sql "SELECT d.state, (SELECT count(*) FROM ops_event WHERE event_type = 'WEBHOOK_DELIVERY_FAILED' AND subject_id = d.id::text) FROM tb_webhook_delivery d WHERE d.endpoint_id = '$EP'")"
DID=$(sql "SELECT id FROM tb_webhook_delivery WHERE endpoint_id = '$EP'")
api POST "/api/ops/webhooks/$EP/deliveries/$DID/redeliver" "$SUPER"
expect_eq "redeliver: 200, PENDING, due now" "200 PENDING true" "$CODE $(jq -r '"\(.state) \(.next_attempt_at != null)"' <<<"$BODY")"
api POST "/api/ops/webhooks/$EP/deliveries/$DID/redeliver" "$TA1"
expect_error "redeliver by another tenant's admin" 404 WEBHOOK_NOT_FOUND

# --- rotation: two signatures during the overlap --------------------------
endpoint t9 /ok/rotate
OLD=$SECRET
api POST "/api/ops/webhooks/$EP/rotate-secret" "$SUPER" "${JSON[@]}" -d '{"overlap_hours":2}'
NEW=$(jq -r '.secret // empty' <<<"$BODY")
fire t9
dispatch once
expect_match "after a rotation both the new and the old secret verify the delivery" '^1 1 export.cancelled .*; 1 1 export.cancelled ' \
	"$(verify /ok/rotate "$NEW"); $(verify /ok/rotate "$OLD")"
expect_eq "the header carries two signatures" 2 \
	"$(python3 -c "import json; print([len(r['signature'].split(' ')) for r in map(json.loads, open('$DIR/recv.log')) if r['path']=='/ok/rotate'][0])")"

# --- retention and metrics -------------------------------------------------
sql "UPDATE tb_webhook_delivery SET created_at = now() - interval '40 days' WHERE endpoint_id = '$EP1'" >/dev/null
dispatch once
expect_eq "DELIVERED rows past webhooks.retention_days (30) are purged by the dispatcher" 0 \
	"$(sql "SELECT count(*) FROM tb_webhook_delivery WHERE endpoint_id = '$EP1'")"
m=$(curl -s "$STACK_URL/metrics")
expect_match "metrics: deliveries by state, dispatch lag, endpoints" \
	'ops_webhook_deliveries\{state="DELIVERED"\} [1-9].*ops_webhook_dispatch_lag_seconds [0-9.]+.*ops_webhook_endpoints\{enabled="false"\} 1' \
	"$(tr '\n' ' ' <<<"$m") $(grep -E '"level":"(warn|error)"' "$DIR/ops-fcgi.log" | tail -n 2)"

api DELETE "/api/ops/webhooks/$EP1" "$TA1"
expect_eq "TENANT_ADMIN deletes its endpoint; its deliveries go with it" "200 0" \
	"$CODE $(sql "SELECT count(*) FROM tb_webhook_endpoint WHERE id = '$EP1'")"
grep -q whsec_ "$DIR/dispatcher.err" "$DIR/ops-fcgi.log" 2>/dev/null && not_ok "a secret in a log" || ok "no secret in the dispatcher's or the responder's log"

cat "$DIR/timing" >&2
note "webhooks suite: $(( $(date +%s) - T0 )) s"
finish
