# Shared by the benchmark scripts (sourced): a SoftHSM2 token of the benchmark's own in the
# current folder, which must be the work folder $WORK.
#
# bench_softhsm_token: tokens/, softhsm2.conf and a 0600 PIN file in $WORK; exports
# SOFTHSM2_CONF, HWCA_PKCS11_MODULE ($SOFTHSM_MODULE), HWCA_HOME ($WORK/home) and
# HWCA_PIN_SOURCE; sets PIN; initialises token 'bench'.

bench_softhsm_token() {
  mkdir -m 700 tokens
  printf '%s\n' "directories.tokendir = $WORK/tokens" "objectstore.backend = file" \
    "log.level = ERROR" "slots.removable = false" >softhsm2.conf
  export SOFTHSM2_CONF=$WORK/softhsm2.conf
  export HWCA_PKCS11_MODULE=$SOFTHSM_MODULE
  export HWCA_HOME=$WORK/home
  unset OPENSSL_CONF HWCA_TOKEN_TIMEOUT
  PIN=bench-$RANDOM$RANDOM
  (umask 077 && printf '%s\n' "$PIN" >pin)
  export HWCA_PIN_SOURCE=file:$WORK/pin
  softhsm2-util --init-token --free --label bench --pin "$PIN" --so-pin "so-$PIN" >/dev/null
}
