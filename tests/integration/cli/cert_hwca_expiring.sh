#!/usr/bin/env bash
# `hwca cert list --expiring DURATION`: a number of days, hours or weeks (a plain number is
# days), read as strtoll reads a number: leading white space and a '+' are taken, a '-0' is
# nothing; anything else - another unit, a space before the unit, a negative or too large
# number, junk after the unit - is refused with the same one line, before the database is
# opened.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need jq

export HWCA_HOME=$WORK/home
hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 --subject /CN=exp-root \
  >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout l.key -subj /CN=l \
  -addext "subjectAltName=DNS:l.example" -out l.csr 2>/dev/null
hwca_pin sign --ca root --profile server --csr l.csr --days 10 --out l.pem >/dev/null

# count DURATION: how many server certificates `cert list --expiring DURATION` lists (the
# database holds the CA's own certificate too).
count() { hwca cert list "--expiring=$1" -o json | jq '[.[] | select(.profile == "server")] | length'; }

for d in 30d 30 " 30d" $'\t30d' +30d " +30" 2w 1000h 100000d 0011d; do
  [[ $(count "$d") == 1 ]] || fail "--expiring '$d' does not list the 10-day certificate"
done
for d in 5d 5 " +5d" 1w 200h -0d 0d; do
  [[ $(count "$d") == 0 ]] || fail "--expiring '$d' lists the 10-day certificate"
done
for d in 12abc "30 d" 30dd 30D 30m d " " + - +-5d +-0d -+5d ++5d "+ 5d" -1d -5 0x10d 100001d \
  99999999999999999999d 9223372036854775807d 30d5; do
  expect_fail 2 "--expiring takes a duration such as 30d, 12h or 2w, not '$d'" \
    hwca cert list "--expiring=$d"
done
# The duration is checked before the database is opened: a home without one stays so.
rm "$HWCA_HOME/issuance.db"
expect_fail 2 "not '12abc'" hwca cert list --expiring 12abc
[[ ! -e $HWCA_HOME/issuance.db ]] || fail "cert list --expiring 12abc made the database"
echo "PASS"
