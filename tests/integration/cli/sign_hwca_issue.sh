#!/usr/bin/env bash
# `hwca sign`: a root CA (ec-p256) and an intermediate (rsa-3072), their keys generated in
# the token, issue server, client, peer and intermediate-ca certificates for CSRs made by
# plain openssl. Every chain verifies with openssl and GnuTLS; every extension is checked in
# DER against the profile (src/ca/profile.cpp) and RFC 5280, the key identifiers against
# SHA-1 hashes computed here; what a request asks beyond its profile is not copied; a home
# profile in config.yaml applies its limits; validity is cut to the CA or refused. The
# issuance database and the audit log agree. Every bad input of issue 3 fails with one line
# and its exit code, and changes nothing in the home but one cert.rejected audit line.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need certtool pkcs11-tool jq xxd

export HWCA_HOME=$WORK/home
AUDIT=$HWCA_HOME/audit.log

# --- helpers ---------------------------------------------------------------------------

# key NAME ec CURVE | key NAME rsa BITS: NAME.key, a software key made by plain openssl.
key() {
  case $2 in
    ec) openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$3" -out "$1.key" ;;
    rsa) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$3" -out "$1.key" 2>/dev/null ;;
  esac
}

# csr NAME SUBJECT [openssl req options...]: NAME.csr for NAME.key (-addext for extensions).
csr() {
  local name=$1 subject=$2
  shift 2
  openssl req -new -config "$OSSL_CNF" -key "$name.key" -subj "$subject" -out "$name.csr" "$@"
  csr_verifies "$name.csr"
}

# issue NAME CA PROFILE [sign options...]: NAME.pem from NAME.csr with `hwca sign --chain`
# to NAME.chain (the certificate, then the CA's chain). T0 and T1 bracket the signing.
issue() {
  local name=$1 ca=$2 profile=$3 out
  shift 3
  T0=$(date +%s)
  out=$(hwca_pin sign --ca "$ca" --profile "$profile" --csr "$name.csr" --out "$name.chain" \
    --chain "$@")
  T1=$(date +%s)
  assert_contains "$out" "issued " "sign $name"
  assert_contains "$out" "($profile)" "sign $name"
  [[ $(stat -c %a "$name.chain") == 644 ]] || fail "$name.chain is not mode 0644"
  openssl x509 -in "$name.chain" -out "$name.pem"
}

# der_hex CERT: the certificate's DER as one line of lower-case hex (kept until the next
# check_cert: openssl takes a while to start).
declare -A DER_CACHE=()
der_hex() {
  [[ -n ${DER_CACHE[$1]:-} ]] ||
    DER_CACHE[$1]=$(openssl x509 -in "$1" -outform DER | xxd -p | tr -d '\n')
}

# has_der CERT HEX WHAT / lacks_der: the certificate's DER holds (or not) these bytes.
has_der() {
  der_hex "$1"
  [[ ${DER_CACHE[$1]} == *"$2"* ]] || fail "$1: $3 (DER lacks $2)"
}
lacks_der() {
  der_hex "$1"
  [[ ${DER_CACHE[$1]} != *"$2"* ]] || fail "$1: $3 (DER holds $2)"
}

# spki_sha1 PUBKEY-PEM: RFC 5280 4.2.1.2 method (1), the SHA-1 of the subjectPublicKey BIT
# STRING's value (without tag, length and unused-bits octet), computed with openssl alone.
spki_sha1() {
  local der=$WORK/.spki.der line off hl len
  openssl pkey -pubin -in "$1" -outform DER -out "$der"
  line=$(openssl asn1parse -inform DER -in "$der" | grep 'd=1' | grep 'BIT STRING')
  off=${line%%:*}
  hl=$(sed -E 's/.*hl= *([0-9]+).*/\1/' <<<"$line")
  len=$(sed -E 's/.* l= *([0-9]+).*/\1/' <<<"$line")
  tail -c +$((off + hl + 2)) "$der" | head -c $((len - 1)) | openssl dgst -sha1 -r | cut -c1-40
}

# ext_value CERT NAME: the text openssl prints for one extension (second line, trimmed).
ext_value() {
  openssl x509 -in "$1" -noout -ext "$2" 2>/dev/null | sed -n '2,$p' | sed 's/^ *//' | tr '\n' ' ' |
    sed 's/ $//'
}

# ext_headers CERT: the certificate's extensions as openssl names them, sorted, one per line
# ("X509v3 Key Usage: critical").
ext_headers() {
  openssl x509 -in "$1" -noout -text | sed -n '/X509v3 extensions:/,/Signature Algorithm:/p' |
    grep -E '^ {12}[^ ]' | sed 's/^ *//; s/ *$//' | sort
}

unix_time() { date -u -d "$(openssl x509 -in "$1" -noout "-$2" | cut -d= -f2)" +%s; }

# DER of the extensions (RFC 5280 4.2.1; X.690 DER): OID, critical TRUE, OCTET STRING.
BC_LEAF=0603551d130101ff04023000                       # CA:FALSE (the DEFAULT, left out)
BC_CA0=0603551d130101ff040830060101ff020100            # CA:TRUE, pathLen 0
KU_EC=0603551d0f0101ff040403020780                     # digitalSignature
KU_RSA=0603551d0f0101ff0404030205a0                    # digitalSignature, keyEncipherment
KU_CA=0603551d0f0101ff040403020186                     # digitalSignature, keyCertSign, cRLSign
SERVER_AUTH=06082b06010505070301
CLIENT_AUTH=06082b06010505070302
EKU_SERVER=0603551d25040c300a$SERVER_AUTH               # not critical
EKU_CLIENT=0603551d25040c300a$CLIENT_AUTH
EKU_BOTH=0603551d250416301406082b06010505070301$CLIENT_AUTH

# check_cert NAME CA-PEM KEY-KIND PROFILE DAYS SANS: NAME.pem, issued under PROFILE by the CA
# whose certificate is CA-PEM for NAME.key (KEY-KIND ec or rsa), field by field.
check_cert() {
  local name=$1 ca=$2 kind=$3 profile=$4 days=$5 sans=$6 cert=$1.pem
  local serial ski aki nb na want_headers
  DER_CACHE=()
  # The certificate carries the request's key, and the CA's name as issuer.
  [[ $(openssl x509 -in "$cert" -noout -pubkey | pub_digest) == \
    "$(openssl pkey -in "$name.key" -pubout | pub_digest)" ]] || fail "$cert: not the CSR's key"
  [[ $(openssl x509 -in "$cert" -noout -issuer -nameopt RFC2253) == \
    "issuer=$(openssl x509 -in "$ca" -noout -subject -nameopt RFC2253 | cut -d= -f2-)" ]] ||
    fail "$cert: the issuer is not the CA's subject"
  # Serial: 20 content octets, positive (RFC 5280 4.1.2.2), right after the version (v3).
  serial=$(openssl x509 -in "$cert" -noout -serial | cut -d= -f2)
  [[ $serial =~ ^[0-7][0-9A-F]{39}$ && $serial != 00* ]] || fail "$cert: serial $serial"
  has_der "$cert" "a0030201020214${serial,,}" "v3 and a 20-octet serial"
  # Validity: UTCTime; NotBefore five minutes before signing; NotAfter DAYS after signing.
  has_der "$cert" "301e170d" "validity as two UTCTimes"
  nb=$(unix_time "$cert" startdate)
  na=$(unix_time "$cert" enddate)
  ((nb >= T0 - 300 && nb <= T1 - 300)) || fail "$cert: notBefore $nb not 5 min before $T0-$T1"
  if [[ $days != clipped ]]; then
    ((na - nb == days * 86400 + 300)) || fail "$cert: notAfter is $((na - nb))s after notBefore"
  fi
  # basicConstraints and keyUsage, critical, exactly the profile's bits.
  case $profile in
    intermediate-ca)
      has_der "$cert" "$BC_CA0" "basicConstraints CA:TRUE, pathLen 0, critical"
      has_der "$cert" "$KU_CA" "keyUsage of a CA" ;;
    *)
      has_der "$cert" "$BC_LEAF" "basicConstraints CA:FALSE, critical"
      if [[ $kind == rsa ]]; then
        has_der "$cert" "$KU_RSA" "keyUsage digitalSignature + keyEncipherment (RSA key)"
      else
        has_der "$cert" "$KU_EC" "keyUsage digitalSignature only (not an RSA key)"
      fi ;;
  esac
  case $profile in
    server | web) has_der "$cert" "$EKU_SERVER" "extKeyUsage serverAuth" ;;
    client) has_der "$cert" "$EKU_CLIENT" "extKeyUsage clientAuth" ;;
    peer) has_der "$cert" "$EKU_BOTH" "extKeyUsage serverAuth, clientAuth" ;;
  esac
  # subjectKeyIdentifier: SHA-1 of the key; authorityKeyIdentifier: keyIdentifier only,
  # the CA's SHA-1 (both not critical).
  ski=$(openssl x509 -in "$cert" -noout -pubkey >"$WORK/.pub.pem" && spki_sha1 "$WORK/.pub.pem")
  aki=$(openssl x509 -in "$ca" -noout -pubkey >"$WORK/.capub.pem" && spki_sha1 "$WORK/.capub.pem")
  has_der "$cert" "0603551d0e04160414$ski" "subjectKeyIdentifier = SHA-1 of the key"
  has_der "$cert" "0603551d23041830168014$aki" "authorityKeyIdentifier = the CA's key id"
  has_der "$ca" "0603551d0e04160414$aki" "the CA's own subjectKeyIdentifier"
  # Exactly these extensions; SANs exactly those requested, in order.
  want_headers="X509v3 Authority Key Identifier:
X509v3 Basic Constraints: critical"
  [[ $profile != intermediate-ca ]] && want_headers+=$'\nX509v3 Extended Key Usage:'
  want_headers+=$'\nX509v3 Key Usage: critical'
  [[ -n $sans ]] && want_headers+=$'\nX509v3 Subject Alternative Name:'
  want_headers+=$'\nX509v3 Subject Key Identifier:'
  [[ $(ext_headers "$cert") == "$want_headers" ]] ||
    fail "$cert: extensions $(ext_headers "$cert" | tr '\n' ';'), expected $(tr '\n' ';' <<<"$want_headers")"
  [[ $(ext_value "$cert" subjectAltName) == "$sans" ]] ||
    fail "$cert: SANs '$(ext_value "$cert" subjectAltName)', expected '$sans'"
}

# verify_chain NAME PURPOSE [certtool options...]: NAME.chain (certificate, intermediates,
# root) verifies with stock openssl against the home's root only, and with GnuTLS.
verify_chain() {
  local name=$1 purpose=$2 out
  shift 2
  awk '/BEGIN CERT/ {n++} n >= 2' "$name.chain" >"$name.untrusted"
  out=$(openssl verify -x509_strict -purpose "$purpose" -CAfile "$ROOT" -untrusted "$name.untrusted" \
    "$name.pem" 2>&1) || fail "openssl verify $name: $out"
  [[ $out == "$name.pem: OK" ]] || fail "openssl verify $name: $out"
  out=$(certtool --verify-chain --infile "$name.chain" 2>&1) || fail "certtool --verify-chain $name: $out"
  assert_contains "$out" "Chain verification output: Verified." "certtool --verify-chain $name"
  out=$(certtool --verify --load-ca-certificate "$ROOT" --infile "$name.chain" "$@" 2>&1) ||
    fail "certtool --verify $name $*: $out"
  assert_contains "$out" "Chain verification output: Verified. The certificate is trusted." \
    "certtool --verify $name"
}

# home_rest: home_state without the audit log.
home_rest() {
  if [[ -n ${AT_SIGNING:-} ]]; then
    home_state | grep -v -e ' ./audit.log$' -e ' ./issuance.db'
  else
    home_state | grep -v ' ./audit.log$'
  fi
}

# refused CODE TEXT SIGN-ARGS...: `hwca sign SIGN-ARGS` fails with CODE and TEXT (one line);
# the home is unchanged but for exactly one more audit line, a cert.rejected giving TEXT.
REFUSED=0
refused() {
  local code=$1 text=$2 before lines size last
  shift 2
  REFUSED=$((REFUSED + 1))
  before=$(home_rest)
  lines=$(wc -l <"$AUDIT")
  size=$(stat -c %s "$AUDIT")
  cp "$AUDIT" "$WORK/.audit.before"
  expect_fail "$code" "$text" hwca_pin sign "$@"
  [[ $(home_rest) == "$before" ]] ||
    fail "'sign $*' changed the home: $(diff <(echo "$before") <(home_rest) | tr '\n' ' ')"
  [[ $(wc -l <"$AUDIT") == $((lines + 1)) ]] ||
    fail "'sign $*': the audit log grew by $(($(wc -l <"$AUDIT") - lines)) lines, expected 1"
  cmp -s -n "$size" "$AUDIT" "$WORK/.audit.before" || fail "'sign $*' changed earlier audit lines"
  last=$(tail -n 1 "$AUDIT")
  [[ $(jq -r .event <<<"$last") == cert.rejected ]] || fail "'sign $*': audited $last"
  assert_contains "$(jq -r .data.reason <<<"$last")" "$text" "the cert.rejected reason"
}

# refused_at_signing CODE TEXT SIGN-ARGS...: as refused, for a request the token was asked to
# sign: its serial was reserved in the database first (and stays reserved: no certificate is
# ever signed under it), so the database holds exactly one more reservation and no new
# certificate; nothing else in the home changed.
refused_at_signing() {
  local db=$HWCA_HOME/issuance.db certs reserved
  certs=$(sqlite3 "$db" 'SELECT count(*) FROM certs')
  reserved=$(sqlite3 "$db" 'SELECT count(*) FROM serial_reservations')
  AT_SIGNING=1 refused "$@"
  [[ $(sqlite3 "$db" 'SELECT count(*) FROM certs') == "$certs" ]] ||
    fail "'sign ${*:3}' recorded a certificate"
  [[ $(sqlite3 "$db" 'SELECT count(*) FROM serial_reservations') == $((reserved + 1)) ]] ||
    fail "'sign ${*:3}': $(($(sqlite3 "$db" 'SELECT count(*) FROM serial_reservations') - reserved)) serials reserved, expected 1"
}

# db_and_audit_agree: every certificate of `hwca cert list` has exactly one cert.issued (or
# ca.created) audit line with its CA and serial, and every such line has its certificate.
db_and_audit_agree() {
  local listed audited
  listed=$(hwca cert list | awk 'NR > 1 {print $2, $1}' | sort)
  audited=$(jq -r '(select(.event == "cert.issued") | "\(.data.ca) \(.data.serial)"),
      (select(.event == "ca.created") |
        "\(if .data.parent == "" then .data.ca else .data.parent end) \(.data.serial)")' \
    "$AUDIT" | sort)
  [[ -n $listed ]] || fail "cert list is empty"
  [[ -z $(uniq -d <<<"$audited") ]] || fail "serials audited twice: $(uniq -d <<<"$audited")"
  [[ $listed == "$audited" ]] ||
    fail "database and audit log differ: $(diff <(echo "$listed") <(echo "$audited") | tr '\n' ' ')"
  CERT_COUNT=$(wc -l <<<"$listed")
}

# --- the CAs ---------------------------------------------------------------------------

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 \
  --subject "/CN=hwca sign test root/O=hwca" >/dev/null
hwca_pin ca init --name sub --key "$(key_uri sub)" --generate rsa-3072 \
  --subject "/CN=hwca sign test intermediate/O=hwca" --parent root --path-len 1 >/dev/null
ROOT=$HWCA_HOME/cas/root/cert.pem
SUB=$HWCA_HOME/cas/sub/cert.pem

# --- certificates under each built-in profile -------------------------------------------

key srv-ec ec P-256
csr srv-ec "/CN=srv.example/O=hwca test" \
  -addext "subjectAltName=DNS:srv.example,DNS:www.srv.example,IP:192.0.2.10,IP:2001:db8:0:0::10"
issue srv-ec sub server
check_cert srv-ec "$SUB" ec server 365 \
  "DNS:srv.example, DNS:www.srv.example, IP Address:192.0.2.10, IP Address:2001:DB8:0:0:0:0:0:10"
verify_chain srv-ec sslserver --verify-hostname www.srv.example
# The hostname check can fail: a name the certificate does not carry.
! certtool --verify --load-ca-certificate "$ROOT" --infile srv-ec.chain \
  --verify-hostname other.example >/dev/null 2>&1 || fail "certtool accepts a foreign host name"
[[ $(openssl x509 -in srv-ec.pem -noout -subject -nameopt RFC2253) == \
  "subject=O=hwca test,CN=srv.example" ]] || fail "srv-ec: subject"
assert_contains "$(openssl x509 -in srv-ec.pem -noout -text)" \
  "Signature Algorithm: sha256WithRSAEncryption" "srv-ec (signed by the RSA intermediate)"

key srv-rsa rsa 2048
csr srv-rsa "/CN=rsa.example" -addext "subjectAltName=DNS:rsa.example"
issue srv-rsa sub server --days 30
check_cert srv-rsa "$SUB" rsa server 30 "DNS:rsa.example"
verify_chain srv-rsa sslserver --verify-hostname rsa.example

key client ec P-384
csr client "/CN=alice/OU=ops/O=hwca test" \
  -addext "subjectAltName=email:alice@example.org,URI:spiffe://example.org/alice,DNS:alice.example"
issue client sub client
check_cert client "$SUB" ec client 365 \
  "email:alice@example.org, URI:spiffe://example.org/alice, DNS:alice.example"
verify_chain client sslclient --verify-email alice@example.org

key peer rsa 2048
csr peer "/CN=etcd-0" -addext "subjectAltName=DNS:etcd-0.example,IP:192.0.2.20"
issue peer root peer --days 90
check_cert peer "$ROOT" rsa peer 90 "DNS:etcd-0.example, IP Address:192.0.2.20"
verify_chain peer sslserver --verify-hostname etcd-0.example
verify_chain peer sslclient
assert_contains "$(openssl x509 -in peer.pem -noout -text)" \
  "Signature Algorithm: ecdsa-with-SHA256" "peer (signed by the P-256 root)"

key ica ec P-256
csr ica "/CN=issued intermediate/O=hwca test"
issue ica root intermediate-ca
check_cert ica "$ROOT" ec intermediate-ca 1825 ""
verify_chain ica any
# pathLen 0 holds: a certificate that this intermediate would sign for another CA is refused.
key below ec P-256
openssl req -new -config "$OSSL_CNF" -key below.key -subj /CN=below -out below.csr
openssl x509 -req -in below.csr -CA ica.pem -CAkey ica.key -set_serial 7 -days 1 \
  -extfile "$OSSL_CNF" -extensions v3_ca -out below.pem 2>/dev/null
key below-leaf ec P-256
openssl req -new -config "$OSSL_CNF" -key below-leaf.key -subj /CN=leaf -out below-leaf.csr
openssl x509 -req -in below-leaf.csr -CA below.pem -CAkey below.key -set_serial 8 -days 1 \
  -extfile "$OSSL_CNF" -extensions v3_leaf -out below-leaf.pem 2>/dev/null
cat ica.pem below.pem >below.untrusted
! openssl verify -CAfile "$ROOT" -untrusted below.untrusted below-leaf.pem >/dev/null 2>&1 ||
  fail "openssl accepts a CA below the pathLen 0 intermediate"

# What a request asks beyond its profile is not copied: keyUsage keyCertSign, an extra EKU,
# a private extension, CRL and OCSP pointers.
key greedy ec P-256
csr greedy "/CN=greedy.example" -addext "subjectAltName=DNS:greedy.example" \
  -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature,keyAgreement" \
  -addext "extendedKeyUsage=serverAuth,codeSigning" \
  -addext "basicConstraints=critical,CA:FALSE" \
  -addext "1.3.6.1.4.1.55555.1=ASN1:UTF8String:copy me" \
  -addext "crlDistributionPoints=URI:http://crl.example/x.crl" \
  -addext "authorityInfoAccess=OCSP;URI:http://ocsp.example"
assert_contains "$(openssl req -in greedy.csr -noout -text)" "Code Signing" "greedy.csr"
issue greedy sub server
check_cert greedy "$SUB" ec server 365 "DNS:greedy.example"
lacks_der greedy.pem "2b06010505070303" "codeSigning copied from the request"
lacks_der greedy.pem "$(printf 'copy me' | xxd -p)" "the private extension copied"
for name in "CRL Distribution" "Authority Information Access" "1.3.6.1.4.1.55555.1"; do
  [[ $(openssl x509 -in greedy.pem -noout -text) != *"$name"* ]] || fail "greedy: $name copied"
done

# --- a profile of the home's own, in config.yaml ----------------------------------------

cat >>"$HWCA_HOME/config.yaml" <<'EOF'
profiles:
  web:
    base: server
    description: public web servers, EC P-256 only
    sans: [dns]
    allowWildcard: true
    maxSans: 2
    days: 30
    maxDays: 60
    keys: {rsa: false, ecCurves: [P-256]}
EOF
# A CA made afterwards rewrites config.yaml and keeps the profile. Its short life (10 days)
# shows NotAfter cut to the CA's end.
hwca_pin ca init --name short --key "$(key_uri short)" --generate ec-p256 \
  --subject "/CN=hwca short-lived intermediate" --parent root --days 10 >/dev/null
grep -q "^  web:" "$HWCA_HOME/config.yaml" || fail "ca init dropped the home's profile"
SHORT=$HWCA_HOME/cas/short/cert.pem

key web ec P-256
csr web "/CN=www.web.example" -addext "subjectAltName=DNS:*.web.example,DNS:web.example"
issue web sub web
check_cert web "$SUB" ec web 30 "DNS:*.web.example, DNS:web.example"
verify_chain web sslserver --verify-hostname a.web.example
issue web sub web --days 60 --force  # replaces web.chain
check_cert web "$SUB" ec web 60 "DNS:*.web.example, DNS:web.example"
out=$(hwca cert show "$(openssl x509 -in web.pem -noout -serial | cut -d= -f2)")
assert_contains "$out" "web" "cert show (profile)"

# Validity: the default is cut to the CA's end (with a note), --days within it is kept.
key clip ec P-256
csr clip "/CN=clip.example" -addext "subjectAltName=DNS:clip.example"
T0=$(date +%s)
hwca_pin sign --ca short --profile server --csr clip.csr --out clip.pem 2>clip.err >/dev/null
T1=$(date +%s)
assert_contains "$(cat clip.err)" "hwca: note: notAfter cut to CA 'short''s end" "clipped sign"
check_cert clip "$SHORT" ec server clipped "DNS:clip.example"
[[ $(unix_time clip.pem enddate) == "$(unix_time "$SHORT" enddate)" ]] ||
  fail "clip.pem does not end with CA 'short'"
issue clip short server --days 5
check_cert clip "$SHORT" ec server 5 "DNS:clip.example"

# --- the database and the audit log agree ------------------------------------------------

db_and_audit_agree
# root, sub and short (ca.created); srv-ec, srv-rsa, client, peer, ica, greedy, web x2,
# clip x2 (cert.issued)
[[ $CERT_COUNT == 13 ]] || fail "cert list holds $CERT_COUNT certificates, expected 13"
for name in srv-ec srv-rsa client peer ica greedy web clip; do
  serial=$(openssl x509 -in "$name.pem" -noout -serial | cut -d= -f2)
  hwca cert show "$serial" --pem >"$name.shown"
  cmp -s "$name.shown" "$name.pem" || fail "cert show $serial --pem differs from $name.pem"
  [[ $(grep -c "\"serial\":\"${serial,,}\"" "$AUDIT") == 1 ]] ||
    fail "$name ($serial): not exactly one audit line"
done
show=$(hwca cert show "$(openssl x509 -in srv-ec.pem -noout -serial | cut -d= -f2)")
for want in "profile:      server" "ca:           sub" "status:       valid" \
  "subject:      O=hwca test,CN=srv.example" \
  "sans:         DNS:srv.example, DNS:www.srv.example, IP:192.0.2.10, IP:2001:db8::10"; do
  grep -qF -- "$want" <<<"$show" || fail "cert show lacks '$want': $show"
done
out=$(hwca audit verify)
assert_contains "$out" "$(wc -l <"$AUDIT") events, the hash chain is intact" "audit verify"
assert_contains "$out" "$CERT_COUNT certificates (0 revoked)" "audit verify"
assert_contains "$out" "every certificate, revocation and bootstrap token is accounted for" "audit verify"

# --- bad input: one line, its exit code, one cert.rejected line, nothing else -----------

printf 'this is not a certificate request\n' >garbage.csr
refused 2 "is not a certificate request (garbage or truncated)" --ca sub --profile server --csr garbage.csr
head -c 300 srv-ec.csr >truncated.csr
refused 2 "is not valid PEM (truncated or damaged)" --ca sub --profile server --csr truncated.csr
openssl req -in srv-ec.csr -outform DER -out srv-ec.der
head -c 200 srv-ec.der >truncated.der
refused 2 "is not a certificate request (garbage or truncated)" --ca sub --profile server --csr truncated.der
refused 2 "holds a PEM \"CERTIFICATE\", not a \"CERTIFICATE REQUEST\"" \
  --ca sub --profile server --csr "$ROOT"
# The last octet of an RSA CSR's signature flipped.
openssl req -in srv-rsa.csr -outform DER -out badsig.der
last=$(tail -c 1 badsig.der | od -An -tu1 | tr -d ' ')
printf '%b' "\\x$(printf %02x $((last ^ 1)))" | dd of=badsig.der bs=1 seek=$(($(stat -c %s badsig.der) - 1)) \
  conv=notrunc status=none
! openssl req -in badsig.der -inform DER -verify -noout 2>&1 | grep -q "verify OK" ||
  fail "openssl still verifies the damaged CSR"
refused 2 "the request's signature does not verify with its own key" \
  --ca sub --profile server --csr badsig.der
cat srv-ec.csr client.csr >two.csr
refused 2 "holds more than one request" --ca sub --profile server --csr two.csr

key weak rsa 1024
csr weak "/CN=weak.example" -addext "subjectAltName=DNS:weak.example"
refused 2 "the request's RSA key has 1024 bits; profile 'server' needs at least 2048" \
  --ca sub --profile server --csr weak.csr
key p521 ec P-521
csr p521 "/CN=p521.example" -addext "subjectAltName=DNS:p521.example"
refused 2 "EC key is on curve P-521" --ca sub --profile server --csr p521.csr
key k1 ec secp256k1
csr k1 "/CN=k1.example" -addext "subjectAltName=DNS:k1.example"
refused 2 "EC key is on curve secp256k1" --ca sub --profile server --csr k1.csr
openssl genpkey -algorithm ED25519 -out ed.key
csr ed "/CN=ed.example" -addext "subjectAltName=DNS:ed.example"
refused 2 "key type ED25519 is not supported" --ca sub --profile server --csr ed.csr
# What Go's crypto/x509 refuses (issue 14, item 8): explicit EC parameters, SHA-1 request
# signatures, RSA public exponents other than 65537.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:explicit \
  -out explicit.key
csr explicit "/CN=explicit.example" -addext "subjectAltName=DNS:explicit.example"
refused 2 "the request's EC key carries explicit curve parameters" \
  --ca sub --profile server --csr explicit.csr
key sha1 ec P-256
csr sha1 "/CN=sha1.example" -addext "subjectAltName=DNS:sha1.example" -sha1
refused 2 "the request is signed with ecdsa-with-SHA1 (digest SHA1)" \
  --ca sub --profile server --csr sha1.csr
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 \
  -out e3.key 2>/dev/null
csr e3 "/CN=e3.example" -addext "subjectAltName=DNS:e3.example"
refused 2 "the request's RSA key has public exponent 3; hwca accepts 65537 only" \
  --ca sub --profile server --csr e3.csr

key catrue ec P-256
csr catrue "/CN=catrue.example" -addext "subjectAltName=DNS:catrue.example" \
  -addext "basicConstraints=critical,CA:TRUE"
refused 2 "the request asks for CA:TRUE, which profile 'server' does not grant" \
  --ca sub --profile server --csr catrue.csr

key ipclient ec P-256
csr ipclient "/CN=bob" -addext "subjectAltName=DNS:bob.example,IP:192.0.2.30"
refused 2 "the request names IP:192.0.2.30, but profile 'client' allows no ip SANs" \
  --ca sub --profile client --csr ipclient.csr
key under ec P-256
csr under "/CN=under.example" -addext "subjectAltName=DNS:a_b.example"
refused 2 "DNS name 'a_b.example' has an invalid label" --ca sub --profile server --csr under.csr
csr under "/CN=under.example" -addext "subjectAltName=DNS:a b.example"
refused 2 "DNS name 'a b.example' has an invalid label" --ca sub --profile server --csr under.csr
csr under "/CN=under.example" -addext "subjectAltName=DNS:*.under.example"
refused 2 "is a wildcard, which this profile does not allow" --ca sub --profile server --csr under.csr
csr under "/CN=under.example/emailAddress=x@under.example" \
  -addext "subjectAltName=DNS:under.example"
refused 2 "holds emailAddress, which profile 'server' does not allow" \
  --ca sub --profile server --csr under.csr

key many ec P-256
sans=$(seq -f 'DNS:h%g.many.example' 0 1000 | paste -sd, -)
csr many "/CN=many.example" -addext "subjectAltName=$sans"
refused 2 "the request has 1001 SANs; profile 'server' allows at most 100" \
  --ca sub --profile server --csr many.csr
sans=$(seq -f 'DNS:a-rather-long-host-name-%g.many.example' 0 1900 | paste -sd, -)
csr many "/CN=many.example" -addext "subjectAltName=$sans"
(($(stat -c %s many.csr) > 65536)) || fail "many.csr is not over 64 KiB"
refused 2 "many.csr is too large" --ca sub --profile server --csr many.csr

refused 2 "398 days is more than profile 'server' allows (397)" \
  --ca sub --profile server --csr srv-ec.csr --days 398
refused 2 "30 days would outlive CA 'short'" --ca short --profile server --csr clip.csr --days 30
refused 2 "CA 'short' has path length 0: it cannot sign a CA" \
  --ca short --profile intermediate-ca --csr ica.csr
refused 3 "no profile named 'nosuch'" --ca sub --profile nosuch --csr srv-ec.csr
refused 3 "no CA named 'nosuch'" --ca nosuch --profile server --csr srv-ec.csr
refused 3 "missing.csr" --ca sub --profile server --csr missing.csr

# The home's profile and its limits.
key web-ip ec P-256
csr web-ip "/CN=web-ip" -addext "subjectAltName=DNS:web.example,IP:192.0.2.40"
refused 2 "profile 'web' allows no ip SANs (allowed: dns)" --ca sub --profile web --csr web-ip.csr
csr web-ip "/CN=web-ip" -addext "subjectAltName=DNS:a.web.example,DNS:b.web.example,DNS:c.web.example"
refused 2 "the request has 3 SANs; profile 'web' allows at most 2" --ca sub --profile web --csr web-ip.csr
refused 2 "61 days is more than profile 'web' allows (60)" --ca sub --profile web --csr web.csr --days 61
refused 2 "profile 'web' does not accept RSA keys" --ca sub --profile web --csr srv-rsa.csr
refused 2 "the request's EC key is on curve P-384; profile 'web' accepts P-256" \
  --ca sub --profile web --csr client.csr

# --out in a folder that does not exist: refused before anything is signed.
refused 3 "cannot write $WORK/nodir/x.pem" --ca sub --profile server --csr srv-ec.csr \
  --out "$WORK/nodir/x.pem"

# A CA whose key is no longer in the token.
hwca_pin ca init --name gone --key "$(key_uri gone)" --generate ec-p256 \
  --subject "/CN=hwca gone" --parent root >/dev/null
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$TOKEN" --login --pin "$PIN" \
  --delete-object --type privkey --label gone >/dev/null 2>&1 || fail "pkcs11-tool cannot delete"
refused_at_signing 3 "the key of CA 'gone'" --ca gone --profile server --csr srv-ec.csr

# An expired CA: its certificate (for a token key, signed by the root's token key through
# the provider) ended in 2020; made with `openssl ca`, which sets any start and end date.
gen_key ec-p256 old
ossl req -new -config "$OSSL_CNF" -key "$(key_uri_pin old)" -subj "/CN=hwca expired" -out old.csr
mkdir oldca && : >oldca/index.txt && echo 01 >oldca/serial
cat >old.cnf <<EOF
[ca]
default_ca = old
[old]
database = $WORK/oldca/index.txt
new_certs_dir = $WORK/oldca
serial = $WORK/oldca/serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
[v3_sub]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
ossl ca -config old.cnf -batch -notext -in old.csr -cert "$ROOT" -keyfile "$(key_uri_pin root)" \
  -startdate 20200101000000Z -enddate 20200601000000Z -extensions v3_sub -out old.pem 2>/dev/null
assert_contains "$(openssl x509 -in old.pem -noout -enddate)" "Jun  1 00:00:00 2020 GMT" "old.pem"
mkdir -p "$HWCA_HOME/cas/expired"
cp old.pem "$HWCA_HOME/cas/expired/cert.pem"
awk -v uri="$(key_uri old)" '{print} /^cas:$/ {
  print "  expired:"; print "    key: \"" uri "\""; print "    cert: cas/expired/cert.pem"
  print "    parent: root" }' "$HWCA_HOME/config.yaml" >config.new
cat config.new >"$HWCA_HOME/config.yaml"
hwca ca list | grep -q '^expired ' || fail "the expired CA is not in the home: $(hwca ca list)"
refused 6 "CA 'expired' expired on 2020-06-01 00:00:00Z; it signs nothing" \
  --ca expired --profile server --csr srv-ec.csr

# A read-only database: made immutable (chattr +i binds root too); for another user chmod.
db=$HWCA_HOME/issuance.db
if [[ $(id -u) == 0 ]]; then
  need chattr
  chattr +i "$db" || fail "chattr +i $db failed (CAP_LINUX_IMMUTABLE?)"
  # (set +e: `(exit rc)` hands lib.sh's _cleanup the status without ending the trap)
  # shellcheck disable=SC2154  # rc is set in the trap itself
  trap 'rc=$?; set +e; chattr -i "$db" 2>/dev/null; (exit "$rc"); _cleanup' EXIT
else
  chmod 0400 "$db"
fi
refused 7 "issuance database $db is read-only" --ca sub --profile server --csr srv-ec.csr \
  --out "$WORK/ro.pem"
[[ ! -e $WORK/ro.pem ]] || fail "a certificate was written with a read-only database"
if [[ $(id -u) == 0 ]]; then chattr -i "$db"; else chmod 0600 "$db"; fi
trap _cleanup EXIT

# A corrupt database: a page in its middle overwritten.
cp -p "$db" "$WORK/db.backup"
pages=$(($(stat -c %s "$db") / 4096))
((pages >= 3)) || fail "the database has only $pages pages"
head -c 4096 /dev/zero | tr '\0' '\377' |
  dd of="$db" bs=4096 seek=$((pages / 2)) conv=notrunc status=none
refused 7 "issuance database $db is corrupt" --ca sub --profile server --csr srv-ec.csr
cp -p "$WORK/db.backup" "$db"

# A revoked CA signs nothing, nor does any CA below it.
hwca_pin ca init --name sub2 --key "$(key_uri sub2)" --generate ec-p256 \
  --subject "/CN=hwca below sub" --parent sub >/dev/null
issue srv-ec sub2 server --force
hwca revoke --ca root "$(openssl x509 -in "$SUB" -noout -serial | cut -d= -f2)" \
  --reason keyCompromise >/dev/null
refused 6 "CA 'sub' was revoked by 'root' on " --ca sub --profile server --csr srv-ec.csr
refused 6 "CA 'sub' was revoked by 'root' on " --ca sub2 --profile server --csr srv-ec.csr
assert_contains "$LAST_ERR" "CA 'sub2' signs nothing" "a CA below a revoked one"
out=$(hwca_pin sign --ca root --profile server --csr srv-ec.csr) || fail "the root no longer signs"

# After all this, the database and the audit log still agree, and the chain is intact.
db_and_audit_agree
[[ $CERT_COUNT == 17 ]] || fail "cert list holds $CERT_COUNT certificates, expected 17"
out=$(hwca audit verify)
assert_contains "$out" "$(wc -l <"$AUDIT") events, the hash chain is intact" "audit verify"
assert_contains "$out" "every certificate, revocation and bootstrap token is accounted for" "audit verify"
rejected=$(grep -c '"event":"cert.rejected"' "$AUDIT")
[[ $rejected == "$REFUSED" ]] || fail "$rejected cert.rejected lines, expected $REFUSED"
! grep -rq -e "$PIN" -e "PRIVATE KEY" "$HWCA_HOME" || fail "a PIN or a private key is in the home"
echo "ok: hwca sign under every profile, checked by openssl and GnuTLS; $rejected bad requests refused"
