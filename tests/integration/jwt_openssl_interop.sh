#!/usr/bin/env bash
# jwt_openssl_interop: tokens and a JWKS made by the openssl command line
# (scripts/jwt-openssl) are judged by lib/auth.c as expected, and the
# script's own output is sound (checked with openssl where possible).
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

J="$ROOT/scripts/jwt-openssl"
DRIVER="$ROOT/build/tests/test_auth_interop"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/jwt-interop.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# b64url_decode STRING: the bytes on stdout.
b64url_decode() {
	local s
	s=$(printf '%s' "$1" | tr -- '-_' '+/')
	while (( ${#s} % 4 )); do s+='='; done
	printf '%s\n' "$s" | openssl base64 -d -A
}

setup "build test_auth_interop" make -s -C "$ROOT" build/tests/test_auth_interop
setup "generate keys and tokens with openssl" \
    "$ROOT/tests/jwt-interop-fixtures" "$TMP"

jwks=$(cat "$TMP/jwks.json" 2>/dev/null)
expect_contains "jwks has the rsa key" '"kty":"RSA","kid":"rsa1"' "$jwks"
expect_contains "jwks has the ec key" '"kty":"EC","kid":"ec1"' "$jwks"
expect_not_contains "jwks has no private part" '"d":' "$jwks"
expect_not_contains "jwks is base64url, not base64" '=' "$jwks"

# RS256 made by jwt-openssl verifies with openssl itself.
tok=$(cat "$TMP/tokens/rs256-ok.jwt")
printf '%s' "${tok%.*}" > "$TMP/rs.input"
b64url_decode "${tok##*.}" > "$TMP/rs.sig"
rs_verify() {
	openssl dgst -sha256 -verify "$TMP/rsa.pub.pem" \
	    -signature "$TMP/rs.sig" "$TMP/rs.input" >/dev/null
}
check "rs256 signature verifies with openssl dgst -verify" rs_verify

# ES256 signatures are raw r || s, 64 bytes, never DER.
for f in "$TMP"/tokens/es256-ok*.jwt; do
	tok=$(cat "$f")
	n=$(b64url_decode "${tok##*.}" | wc -c)
	expect_eq "es256 signature of ${f##*/} is 64 bytes" 64 "$n"
done

# DER -> r || s with short and long integers: r of 31 bytes (0x01 * 31)
# must gain a leading zero, s of 33 bytes (00 ff * 32) must lose one.
der='\x30\x44\x02\x1f'$(printf '\\x01%.0s' $(seq 31))'\x02\x21\x00'$(printf '\\xff%.0s' $(seq 32))
raw=$(printf '%b' "$der" | "$J" der2raw)
want=$( { printf '\x00'; printf '\x01%.0s' $(seq 31); printf '\xff%.0s' $(seq 32); } | "$J" b64url)
expect_eq "der2raw pads r and strips s to 32 bytes each" "$want" "$raw"

# HS256: the same HMAC as openssl computes, over the exact input.
tok=$(cat "$TMP/tokens/hs256-ok.jwt")
hex=$(od -An -v -tx1 "$TMP/hs256.secret" | tr -d ' \n')
mac=$(printf '%s' "${tok%.*}" | openssl dgst -sha256 -mac HMAC \
    -macopt "hexkey:$hex" -binary | "$J" b64url)
expect_eq "hs256 signature is base64url hmac-sha256" "$mac" "${tok##*.}"

# The script refuses what it cannot do right.
"$J" es256 "$TMP/rsa.pem" '{}' '{}' >/dev/null 2>&1
expect_eq "es256 with an rsa key is refused" 1 "$?"
"$J" rs256 "$TMP/ec.pem" '{}' '{}' >/dev/null 2>&1
expect_eq "rs256 with an ec key is refused" 1 "$?"
"$J" >/dev/null 2>&1
expect_eq "no arguments prints usage" 2 "$?"

# The verdicts of lib/auth.c on every openssl-made token.
out=$(AUTH_INTEROP_DIR=$TMP "$DRIVER" 2>&1)
rc=$?
expect_eq "test_auth_interop passes on openssl-made tokens" 0 "$rc"
expect_contains "all three interop checks ran" "PASSED  ] 3 test(s)" "$out"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/# /'

finish
