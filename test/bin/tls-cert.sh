#!/bin/sh
# tls-cert.sh DIR: a throw-away self-signed certificate for the TLS tests.
# DIR/tls.pem holds the EC P-256 key and then the certificate, in one file,
# as tlswrapper -f wants them (and as the UCSPI stand-in reads them);
# DIR/cert.pem is the certificate alone, for clients to trust. It names
# mx.example, 127.0.0.1 and ::1, so clients can verify it for real.
# tlswrapper refuses a PEM path with a dot right after a slash (it reads
# "/." as "/:"), so DIR must have none.
set -e
dir=${1:?usage: tls-cert.sh DIR}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" -days 2 -subj /CN=mx.example \
	-addext "subjectAltName=DNS:mx.example,IP:127.0.0.1,IP:::1" 2>/dev/null
cat "$dir/key.pem" "$dir/cert.pem" >"$dir/tls.pem"
rm -f "$dir/key.pem"
chmod 600 "$dir/tls.pem"
