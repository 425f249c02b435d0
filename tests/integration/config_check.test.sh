#!/usr/bin/env bash
# config_check.test.sh: `ostiary config check` validates a configuration without starting: exit 0 and
# "<file>: ok", or exit 1 with the very message `ostiary serve` prints at start (file:line:col included),
# and it writes nothing (no store, no dev key secret).
# Usage: tests/integration/config_check.test.sh [path/to/ostiary]   (default build/release/ostiary)
# Prints one line per check and ends with "N passed, N failed"; exits non-zero if any check failed.
set -euo pipefail

BIN=${1:-build/release/ostiary}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac

PASS=0
FAIL=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

pass() { PASS=$((PASS + 1)); echo "ok   - $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL - $1${2:+ ($2)}"; }
check() {
    local desc=$1
    shift
    if "$@"; then pass "$desc"; else fail "$desc" "rc: $RC stdout: ${OUT:0:300} stderr: ${ERR:0:300}"; fi
}
# run ARGS...: sets OUT, ERR and RC (the server's environment is cleared of OSTIARY_* variables).
run() {
    if OUT=$(env -u OSTIARY_CONFIG "$BIN" "$@" 2>"$TMP/stderr" </dev/null); then RC=0; else RC=$?; fi
    ERR=$(cat "$TMP/stderr")
}
rc_is() { [ "$RC" -eq "$1" ]; }
# The first stderr line of `ostiary serve` with the same arguments (it stops before listening: each file
# below is invalid), bounded in time.
serve_err() { timeout 10 env -u OSTIARY_CONFIG "$BIN" serve "$@" 2>&1 >/dev/null </dev/null | head -1 || true; }

SECRET='keys:
  secret: "0123456789abcdef0123456789abcdef0123"'

cat >good.yaml <<YAML
issuer: http://127.0.0.1:4999
listen: 127.0.0.1:4999
storage: sqlite:$TMP/store/ostiary.db
$SECRET
resources:
  - identifier: urn:x
    scopes: [read]
clients:
  - client_id: a
    client_secret: b
    grant_types: [client_credentials]
    scope: read
YAML
run config check --config good.yaml
check "a valid file: exit 0" rc_is 0
check "a valid file: '<file>: ok' on stdout" [ "$OUT" = "good.yaml: ok" ]
check "nothing was written (no store directory)" [ ! -e "$TMP/store" ]

sed 's/scope: read$/scope: read\n    grant_types: [client_credentials]/' good.yaml >dup.yaml
run config check --config dup.yaml
check "a duplicate key: exit 1" rc_is 1
check "a duplicate key: file:line:col" grep -q '^ostiary: configuration: dup.yaml:14:5: clients\[0\].grant_types: duplicate key$' <<<"$ERR"
check "a duplicate key: the message serve prints at start" [ "$ERR" = "$(serve_err --config dup.yaml)" ]

sed 's#identifier: urn:x#identifier: "not a uri"#' good.yaml >res.yaml
run config check --config res.yaml
check "an invalid API identifier: exit 1, the same message as serve" \
    eval 'rc_is 1 && [ "$ERR" = "$(serve_err --config res.yaml)" ] && grep -q "res.yaml:7:17: resources\[0\].identifier" <<<"$ERR"'

OSTIARY_TOKENS_CODE_TTL=abc run config check --config good.yaml
ENV_ERR=$ERR
check "an environment variable is read as serve reads it" \
    eval '[ "$RC" -eq 1 ] && [ "$ENV_ERR" = "$(OSTIARY_TOKENS_CODE_TTL=abc serve_err --config good.yaml)" ]'

run config check --config good.yaml --issuer http://id.example.com
check "flags apply as for serve (plain http off loopback refused)" \
    eval 'rc_is 1 && grep -q "issuer: plain http is only allowed" <<<"$ERR"'

grep -v 'secret: "0123' good.yaml | sed 's/^keys:$//' >nosecret.yaml
run config check --config nosecret.yaml
check "no key secret: exit 1, the same message as serve" \
    eval 'rc_is 1 && [ "$ERR" = "$(serve_err --config nosecret.yaml)" ]'
run config check --config nosecret.yaml --dev
check "dev mode without a secret: ok, and no key-secret file is generated" \
    eval 'rc_is 0 && [ ! -e "$TMP/store/key-secret" ] && [ ! -e key-secret ]'

# TLS: a certificate and a key that does not belong to it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k1.pem -out c1.pem -days 1 \
    -subj /CN=127.0.0.1 >/dev/null 2>&1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out k2.pem >/dev/null 2>&1
tls_file() {
    sed "s#^issuer: http:#issuer: https:#" good.yaml
    printf 'tls:\n  cert_file: %s\n  key_file: %s\n' "$1" "$2"
}
tls_file c1.pem k1.pem >tls-ok.yaml
tls_file c1.pem k2.pem >tls-bad.yaml
tls_file missing.pem k1.pem >tls-missing.yaml
run config check --config tls-ok.yaml
check "TLS with a matching key: ok" rc_is 0
run config check --config tls-bad.yaml
check "TLS with a key of another certificate: exit 1 naming tls.key_file" \
    eval 'rc_is 1 && grep -q "^ostiary: tls.key_file: " <<<"$ERR"'
check "the same message as serve" [ "$ERR" = "$(serve_err --config tls-bad.yaml)" ]
run config check --config tls-missing.yaml
check "a missing certificate file: exit 1 naming the file" \
    eval 'rc_is 1 && grep -q "tls.cert_file: cannot load a PEM certificate chain from .missing.pem." <<<"$ERR"'

# A page template that does not parse (an open section).
mkdir -p pages
printf '<p>{{#error}}never closed</p>\n' >pages/login.html
{ cat good.yaml; printf 'ui:\n  dir: %s/pages\n' "$TMP"; } >ui.yaml
run config check --config ui.yaml
check "a page template that does not parse: exit 1, the same message as serve" \
    eval 'rc_is 1 && [ "$ERR" = "$(serve_err --config ui.yaml)" ] && grep -q "^ostiary: ui.dir: " <<<"$ERR"'

run config
check "no subcommand: usage, exit 2" eval 'rc_is 2 && grep -q "usage: ostiary config check" <<<"$ERR"'
run config help
check "config help: usage on stdout, exit 0" eval 'rc_is 0 && grep -q "usage: ostiary config check" <<<"$OUT"'
rm -rf "$TMP/store"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
