#!/usr/bin/env bash
# `hwca key generate|show` with tpm2: keys in a swtpm of the script's own. Every key type
# hwca makes (ec-p256, ec-p384, rsa-2048, rsa-3072) becomes a "TSS2 PRIVATE KEY" file of
# mode 0600 whose ASN.1 is what tpm2-openssl writes (OID 2.23.133.10.1.3, emptyAuth, parent
# 0x40000001); `key show` reports the TPM's attributes of an unrestricted signing key; and
# tpm2-tools, loading the file's blobs under an SRK of their own making (the standard ECC
# P-256 template), find the same Name and public key as hwca. A persistent key shows up in
# the TPM's persistent handles. Refusals: an occupied handle and an existing file (exit 6,
# nothing changed), rsa-4096 (exit 2, no file), malformed tpm2: URIs (exit 2). No hwca
# command leaves an object loaded in the TPM.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=swtpm_lib.sh
source "$here/swtpm_lib.sh"
need tpm2_createprimary tpm2_load tpm2_readpublic tpm2_getcap tpm2_flushcontext

swtpm_start tpm
export HWCA_TCTI=$SWTPM_TCTI
DIR=$(pwd -P)

# asn1_shape FILE: the ASN.1 outline of a key file, one "d=DEPTH TYPE[ :VALUE]" a line.
asn1_shape() {
  openssl asn1parse -in "$1" |
    sed -E 's/^ *[0-9]+:(d=[0-9]+) +hl= *[0-9]+ +l= *[0-9]+ +(prim|cons): +/\1 /; s/ *\[HEX DUMP\]:.*//; s/ +:/ :/; s/ +$//'
}
# expected_shape BOOLEAN: the outline of a TSS2 PRIVATE KEY with that emptyAuth value.
expected_shape() {
  printf '%s\n' "d=0 SEQUENCE" "d=1 OBJECT :2.23.133.10.1.3" "d=1 cont [ 0 ]" "d=2 BOOLEAN :$1" \
    "d=1 INTEGER :40000001" "d=1 OCTET STRING" "d=1 OCTET STRING"
}
# flag OUT NAME VALUE: `key show` output OUT has the line "NAME: VALUE".
flag() {
  grep -qxE -- "$2: +$3" <<<"$1" || fail "key show lacks '$2: $3': $1"
}
pem_of() { sed -n '/-----BEGIN PUBLIC KEY-----/,/-----END PUBLIC KEY-----/p' <<<"$1"; }
no_transient() {
  local objs
  objs=$(tpm2_getcap handles-transient)
  [[ -z $objs ]] || fail "$1: objects are left loaded in the TPM: $objs"
}

# --- Every type, as a key file.
for spec in ec-p256:256 ec-p384:384 rsa-2048:2048 rsa-3072:3072; do
  type=${spec%%:*} bits=${spec#*:}
  out=$(hwca key generate --key "tpm2:file=$type.tpmkey" --type "$type")
  assert_contains "$out" "generated $type key '$DIR/$type.tpmkey' (name 000b" "key generate $type"
  [[ $(tail -n 1 <<<"$out") == "tpm2:file=$DIR/$type.tpmkey" ]] ||
    fail "key generate $type does not end with the key's absolute URI: $out"
  [[ $(stat -c %a "$type.tpmkey") == 600 ]] || fail "$type.tpmkey is mode $(stat -c %a "$type.tpmkey")"
  [[ $(head -n 1 "$type.tpmkey") == "-----BEGIN TSS2 PRIVATE KEY-----" ]] || fail "$type.tpmkey: PEM label"
  [[ $(asn1_shape "$type.tpmkey") == "$(expected_shape 255)" ]] ||
    fail "$type.tpmkey is not a TSS2 key without password: $(asn1_shape "$type.tpmkey")"

  show=$(hwca key show --key "tpm2:file=$type.tpmkey")
  grep -qxF "type:               $type ($bits bits)" <<<"$show" || fail "key show $type: type: $show"
  # The URI a key is shown by names its file absolutely.
  grep -qxF "uri:                tpm2:file=$PWD/$type.tpmkey" <<<"$show" || fail "key show $type: uri: $show"
  # No password: noDA, so that a lockout others cause does not stop it.
  for yes in fixedTPM fixedParent sensitiveDataOrigin userWithAuth sign noDA; do flag "$show" "$yes" yes; done
  for no in restricted decrypt stClear adminWithPolicy password persistent; do flag "$show" "$no" no; done
  # Name and public key kept for the comparison with tpm2-tools below.
  grep -E '^name: +000b[0-9a-f]{64}$' <<<"$show" >/dev/null || fail "key show $type: name: $show"
  sed -nE 's/^name: +//p' <<<"$show" >"$type.name"
  pem_of "$show" >"$type.hwca-pub.pem"
  [[ $(pub_digest <"$type.hwca-pub.pem") =~ ^[0-9a-f]{64}$ ]] || fail "key show $type: no public key"
done
# Four keys, four distinct Names.
[[ $(cat ./*.name | sort -u | wc -l) == 4 ]] || fail "the four keys do not have four Names"

# --- A key with a password (from --pin-source, or from the URI): emptyAuth FALSE. Showing
# it needs no password.
hwca --pin-source "file:$PIN_FILE" key generate --key tpm2:file=pw.tpmkey --type ec-p256 >/dev/null
[[ $(asn1_shape pw.tpmkey) == "$(expected_shape 0)" ]] || fail "pw.tpmkey: $(asn1_shape pw.tpmkey)"
export TPM_PW=$PIN
hwca key generate --key "tpm2:file=pw2.tpmkey?pin-source=env:TPM_PW" --type rsa-2048 >/dev/null
[[ $(asn1_shape pw2.tpmkey) == "$(expected_shape 0)" ]] || fail "pw2.tpmkey: $(asn1_shape pw2.tpmkey)"
for f in pw pw2; do
  show=$(hwca key show --key "tpm2:file=$f.tpmkey")
  flag "$show" password yes
  flag "$show" sign yes
  flag "$show" noDA no  # its password is guarded by the TPM's dictionary-attack lockout
done

# --- A persistent key at 0x81000010.
[[ $(tpm2_getcap handles-persistent) != *0x81000010* ]] || fail "0x81000010 is taken before the test"
out=$(hwca key generate --key tpm2:handle=0x81000010 --type ec-p384)
assert_contains "$out" "generated ec-p384 key '0x81000010' (name 000b" "key generate handle"
[[ $(tail -n 1 <<<"$out") == tpm2:handle=0x81000010 ]] || fail "key generate handle: $out"
persistent=$(tpm2_getcap handles-persistent)
assert_contains "$persistent" "- 0x81000010" "tpm2_getcap handles-persistent"
show=$(hwca key show --key tpm2:handle=0x81000010)
grep -qxF "type:               ec-p384 (384 bits)" <<<"$show" || fail "key show handle: $show"
flag "$show" persistent yes
flag "$show" sign yes
flag "$show" restricted no
handle_name=$(sed -nE 's/^name: +//p' <<<"$show")
readpub=$(tpm2_readpublic -c 0x81000010 -f pem -o handle.tools.pem)
[[ $(sed -nE 's/^name: +//p' <<<"$readpub") == "$handle_name" ]] ||
  fail "tpm2_readpublic 0x81000010 reports another Name than hwca ($handle_name): $readpub"
[[ $(pub_digest <handle.tools.pem) == $(pem_of "$show" | pub_digest) ]] ||
  fail "tpm2_readpublic 0x81000010 reports another public key than hwca"

# The handle is taken now: exit 6, and the TPM still holds the same key there and no other.
expect_fail 6 "already holds an object at 0x81000010; choose a free handle" \
  hwca key generate --key tpm2:handle=0x81000010 --type rsa-2048
[[ $(tpm2_getcap handles-persistent) == "$persistent" ]] || fail "a refused generate changed the persistent handles"
[[ $(sed -nE 's/^name: +//p' <<<"$(tpm2_readpublic -c 0x81000010)") == "$handle_name" ]] ||
  fail "a refused generate replaced the key at 0x81000010"

# --- An existing file is never overwritten: exit 6, byte-identical.
sum=$(sha256sum ec-p256.tpmkey)
expect_fail 6 "$DIR/ec-p256.tpmkey exists already; a key file is never overwritten" \
  hwca key generate --key tpm2:file=ec-p256.tpmkey --type rsa-2048
[[ $(sha256sum ec-p256.tpmkey) == "$sum" ]] || fail "a refused generate changed ec-p256.tpmkey"

# --- A type the TPM cannot make: exit 2, nothing written (no temporary file either).
before=$(ls -A)
expect_fail 2 "cannot make rsa-4096 keys" hwca key generate --key tpm2:file=big.tpmkey --type rsa-4096
[[ ! -e big.tpmkey && $(ls -A) == "$before" ]] || fail "rsa-4096 left files: $(ls -A)"
expect_fail 2 "unknown key type 'ec-p521'" hwca key generate --key tpm2:file=big.tpmkey --type ec-p521
[[ ! -e big.tpmkey ]] || fail "an unknown type left a key file"

# --- Malformed tpm2: URIs: exit 2, one line, for generate and show.
bad_uri() {  # TEXT URI
  expect_fail 2 "$1" hwca key generate --key "$2" --type ec-p256
  expect_fail 2 "$1" hwca key show --key "$2"
}
bad_uri "a tpm2 URI names its key with exactly one of file=PATH and handle=0x81..." 'tpm2:'
bad_uri "a tpm2 URI names its key with exactly one of file=PATH and handle=0x81..." \
  'tpm2:file=a.tpmkey;handle=0x81000010'
bad_uri "handle 0x81000001 is the storage root key's, not a signing key's" 'tpm2:handle=0x81000001'
bad_uri "handle 0x81010001 is in the endorsement key range (0x81010000 to 0x8101ffff)" \
  'tpm2:handle=0x81010001'
bad_uri "handle 0x01000000 is not an owner persistent handle (0x81000000 to 0x817fffff)" \
  'tpm2:handle=0x01000000'
bad_uri "handle 0x81800000 is not an owner persistent handle" 'tpm2:handle=0x81800000'
bad_uri "tpm2 URI attribute 'handle' must be a persistent handle in hex" 'tpm2:handle=0x81zz0010'
bad_uri "a tpm2 URI does not name the TPM: give the TCTI with --tcti or HWCA_TCTI" \
  "tpm2:file=a.tpmkey;tcti=$SWTPM_TCTI"
bad_uri "unknown tpm2 URI attribute 'foo'" 'tpm2:file=a.tpmkey;foo=bar'
bad_uri "unknown tpm2 URI query attribute 'frob'" 'tpm2:file=a.tpmkey?frob=1'
bad_uri "tpm2 URI attribute 'file' is empty" 'tpm2:file='
[[ ! -e a.tpmkey ]] || fail "a refused URI made a key file"
[[ $(tpm2_getcap handles-persistent) == "$persistent" ]] || fail "refused URIs changed the persistent handles"

# Every hwca command above flushed what it loaded.
no_transient "after the hwca commands"

# --- tpm2-tools' view. They load each file's public and private blobs (the two OCTET
# STRINGs) under an SRK they create from the standard template themselves: the load only
# succeeds under the parent the key was made under. Without a resource manager every
# object they load stays in the swtpm (3 slots), so each step is followed by a flush.
tpm2_createprimary -C o -g sha256 -G ecc256:aes128cfb \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' -c srk.ctx >/dev/null
tpm2_flushcontext -t
# blob FILE N OUT: the content of the Nth OCTET STRING of key FILE.
blob() {
  local off hl len
  openssl asn1parse -in "$1" -noout -out "$1.der"
  read -r off hl len < <(openssl asn1parse -in "$1" | grep 'd=1 .*prim: OCTET STRING' | sed -n "$2p" |
    sed -E 's/^ *([0-9]+):d=[0-9]+ +hl= *([0-9]+) +l= *([0-9]+).*/\1 \2 \3/')
  tail -c +$((off + hl + 1)) "$1.der" | head -c "$len" >"$3"
  [[ $(stat -c %s "$3") == "$len" ]] || fail "cannot cut blob $2 of $1"
}
for type in ec-p256 ec-p384 rsa-2048 rsa-3072 pw; do
  blob "$type.tpmkey" 1 "$type.pub"
  blob "$type.tpmkey" 2 "$type.priv"
  tpm2_load -C srk.ctx -u "$type.pub" -r "$type.priv" -c "$type.ctx" >/dev/null ||
    fail "tpm2_load refuses $type.tpmkey under the standard SRK"
  tpm2_flushcontext -t
  readpub=$(tpm2_readpublic -c "$type.ctx" -f pem -o "$type.tools.pem")
  tpm2_flushcontext -t
  [[ $type == pw ]] && continue  # made without key show's name kept; its load is the check
  [[ $(sed -nE 's/^name: +//p' <<<"$readpub") == "$(cat "$type.name")" ]] ||
    fail "$type: tpm2_readpublic's Name differs from key show's ($(cat "$type.name")): $readpub"
  [[ $(pub_digest <"$type.tools.pem") == $(pub_digest <"$type.hwca-pub.pem") ]] ||
    fail "$type: tpm2_readpublic's public key differs from key show's"
  attrs=$(sed -n '/^attributes:/{n;s/^ *value: //p}' <<<"$readpub")
  [[ $attrs == "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|sign" ]] ||
    fail "$type: tpm2_readpublic attributes: $attrs"
done
# The check can fail: under an SRK of another template (noda clear) the load is refused.
tpm2_createprimary -C o -g sha256 -G ecc256:aes128cfb \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt' -c other.ctx >/dev/null
tpm2_flushcontext -t
if tpm2_load -C other.ctx -u ec-p256.pub -r ec-p256.priv -c x.ctx >/dev/null 2>&1; then
  fail "tpm2_load accepts a key under a parent it was not made under"
fi
tpm2_flushcontext -t
no_transient "at the end"
echo "ok: tpm2 key files and handles made by hwca are what the TPM and tpm2-tools say they are"
