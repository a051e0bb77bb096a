# tls-lib.sh: a throwaway certificate authority for tests and benches that
# talk TLS to PostgreSQL (tests/integration/netns.sh, scripts/bench-multihost;
# reusable by any suite). Sourced; bash; needs the openssl command line.
#
#   tls_ca DIR                 a new CA in DIR: DIR/ca.crt, DIR/ca.key
#                              (EC P-256, 1 day; the subject names DIR's
#                              basename, so two CAs never look alike)
#   tls_server_cert DIR CA NAME SAN...
#                              DIR/NAME.crt and DIR/NAME.key signed by the CA
#                              in CA (a DIR of tls_ca), with the subjectAltNames
#                              SAN... ("DNS:db.example", "IP:10.0.0.1"); the
#                              key is 0600 (PostgreSQL refuses a looser one)
#
# Nothing here is fit for production: the keys are unencrypted and live as
# long as the test's temp dir.

tls_ca() {
	local dir=$1
	mkdir -p "$dir"
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-keyout "$dir/ca.key" -out "$dir/ca.crt" -days 1 \
		-subj "/CN=ops test CA ${dir##*/} $$" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>"$dir/ca.err" || {
		cat "$dir/ca.err" >&2; return 1; }
	chmod 600 "$dir/ca.key"; rm -f "$dir/ca.err"
}

tls_server_cert() {
	local dir=$1 ca=$2 name=$3 san
	shift 3
	san=$(IFS=,; echo "$*")
	mkdir -p "$dir"
	(umask 077; openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=$name" \
		2>"$dir/$name.err") || { cat "$dir/$name.err" >&2; return 1; }
	printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' \
		"$san" >"$dir/$name.ext"
	openssl x509 -req -in "$dir/$name.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" \
		-CAcreateserial -days 1 -extfile "$dir/$name.ext" -out "$dir/$name.crt" \
		2>>"$dir/$name.err" || { cat "$dir/$name.err" >&2; return 1; }
	rm -f "$dir/$name.csr" "$dir/$name.ext" "$dir/$name.err"
}
