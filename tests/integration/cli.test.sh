#!/usr/bin/env bash
# cli.test.sh: `ostiary client` and `ostiary keys` against a temporary SQLite store, black-box.
# Usage: tests/integration/cli.test.sh [path/to/ostiary]   (default build/release/ostiary)
# Prints one line per check and ends with "N passed, N failed"; exits non-zero if any check failed.
# Needs jq or python3 to read the JSON output; sqlite3, when present, adds checks on the stored hashes.
set -euo pipefail

BIN=${1:-build/release/ostiary}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac

PASS=0
FAIL=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

pass() { PASS=$((PASS + 1)); echo "ok   - $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL - $1${2:+ ($2)}"; }
finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
    exit $?
}

# check DESCRIPTION COMMAND...: one line per check, counted.
check() {
    local desc=$1
    shift
    if "$@"; then pass "$desc"; else fail "$desc" "stdout: ${OUT:0:300} stderr: ${ERR:0:300}"; fi
}

if [ ! -x "$BIN" ]; then
    fail "binary $BIN exists and is executable"
    finish
fi
if command -v jq >/dev/null 2>&1; then
    # jget JSON KEY: the top-level member, raw for strings, compact JSON otherwise ("null" when absent).
    jget() { printf '%s' "$1" | jq -r --arg k "$2" '.[$k] | if type == "string" then . else tojson end'; }
elif command -v python3 >/dev/null 2>&1; then
    jget() {
        python3 -c 'import json,sys
v = json.loads(sys.argv[1]).get(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))' "$1" "$2"
    }
else
    fail "jq or python3 is available to read JSON"
    finish
fi
HAVE_SQLITE=0
command -v sqlite3 >/dev/null 2>&1 && HAVE_SQLITE=1

# run ARGS...: runs the binary; sets OUT, ERR and RC without tripping set -e.
run() {
    if OUT=$("$BIN" "$@" 2>"$TMP/stderr"); then RC=0; else RC=$?; fi
    ERR=$(cat "$TMP/stderr")
}
rc_is() { [ "$RC" -eq "$1" ]; }
out_has() { grep -qF -- "$1" <<<"$OUT"; }
out_lacks() { ! grep -qiF -- "$1" <<<"$OUT"; }
err_has() { grep -qF -- "$1" <<<"$ERR"; }
field_is() { [ "$(jget "$OUT" "$1")" = "$2" ]; }
lines_are() { [ "$(printf '%s' "$OUT" | grep -c .)" -eq "$1" ]; }
# line_of ID: the JSON line of `list` output whose first member names ID.
line_of() { printf '%s\n' "$OUT" | grep -F "{\"$1\":\"$2\"" || true; }
secret_hash() { sqlite3 "$TMP/ostiary.db" "SELECT hex(secret_hash) FROM clients WHERE client_id = '$1'"; }

DB=$TMP/ostiary.db
cat >"$TMP/ostiary.yaml" <<EOF
issuer: http://localhost:4000/authentication/oidc
storage: sqlite:$DB
keys:
  algorithms: [RS256]
tokens:
  access_token_ttl: 600
  id_token_ttl: 3600
resources:
  - identifier: urn:focus:api
    scopes: [messaging.contacts/:userId.post]
    access_token_ttl: 1800
EOF
export OSTIARY_KEYS_SECRET=cli-test-key-secret-0123456789abcdef0123
unset OSTIARY_CONFIG OSTIARY_STORAGE OSTIARY_DEV 2>/dev/null || true
C=(--config "$TMP/ostiary.yaml")

# ---- client help and usage errors ----
run client help
check "client help exits 0 and lists the subcommands" eval 'rc_is 0 && out_has "rotate-secret"'
run client "${C[@]}"
check "client without a subcommand is a usage error (2)" rc_is 2
run client frobnicate "${C[@]}"
check "client with an unknown subcommand is a usage error (2)" rc_is 2
run client create --bogus "${C[@]}"
check "client create with an unknown option is a usage error (2)" eval 'rc_is 2 && err_has "--bogus"'
run client show "${C[@]}"
check "client show without an id is a usage error (2)" rc_is 2

# ---- create ----
run client create "${C[@]}" --name generated
check "create with defaults exits 0" rc_is 0
GEN_ID=$(jget "$OUT" client_id)
GEN_SECRET=$(jget "$OUT" client_secret)
check "create generates a 256-bit base64url client_id" eval '[[ $GEN_ID =~ ^[A-Za-z0-9_-]{43}$ ]]'
check "create generates and shows a 256-bit base64url secret" eval '[[ $GEN_SECRET =~ ^[A-Za-z0-9_-]{43}$ ]]'
check "create defaults to client_credentials and client_secret_basic" \
    eval 'field_is grant_types "[\"client_credentials\"]" && field_is token_endpoint_auth_method client_secret_basic'
check "create reports client_secret_expires_at 0 (RFC 7591 §3.2.1)" field_is client_secret_expires_at 0

run client create "${C[@]}" --client-id foo --name Focus --secret bar --redirect-uri http://localhost:8080/cb \
    --grant-types authorization_code,refresh_token --scope "openid email messaging.contacts/:userId.post" \
    --resource urn:focus:api --access-token-ttl 900
check "create with an operator-set secret exits 0" rc_is 0
check "create echoes the operator-set secret once" field_is client_secret bar
check "create keeps the given grant types, redirect URIs, scope, resources" \
    eval 'field_is grant_types "[\"authorization_code\",\"refresh_token\"]" &&
          field_is redirect_uris "[\"http://localhost:8080/cb\"]" &&
          field_is scope "openid email messaging.contacts/:userId.post" &&
          field_is resources "[\"urn:focus:api\"]" && field_is access_token_ttl 900'

HASH_B64=$(printf %s bar | openssl dgst -sha256 -binary | base64)
run client create "${C[@]}" --client-id my.trusted.app/first --secret-sha256 "$HASH_B64"
check "create with --secret-sha256 exits 0 and shows no secret" eval 'rc_is 0 && field_is client_secret null'
if [ $HAVE_SQLITE = 1 ]; then
    check "--secret-sha256 stores the same hash as --secret" eval '[ "$(secret_hash my.trusted.app/first)" = "$(secret_hash foo)" ]'
fi

run client create "${C[@]}" --client-id mobile --public --redirect-uri com.example.app:/cb
check "create --public: auth method none, authorization_code, no secret" \
    eval 'rc_is 0 && field_is token_endpoint_auth_method none && field_is grant_types "[\"authorization_code\"]" && field_is client_secret null'

run client create "${C[@]}" --client-id foo
check "create refuses an existing client_id (1)" eval 'rc_is 1 && err_has "already exists"'
run client create "${C[@]}" --redirect-uri "http://localhost:8080/cb#frag"
check "create refuses a redirect URI with a fragment, naming --redirect-uri" eval 'rc_is 1 && err_has "--redirect-uri"'
run client create "${C[@]}" --redirect-uri "https://x.example/cb" --grant-type password
check "create refuses an unknown grant type, naming --grant-type" eval 'rc_is 1 && err_has "--grant-type"'
run client create "${C[@]}" --public
check "create refuses a public client_credentials client" eval 'rc_is 1 && err_has "client_credentials"'
# The device grant (RFC 8628): a public client, refresh tokens, no redirect URI; also in --grant-types.
run client create "${C[@]}" --client-id tv --public --grant-type urn:ietf:params:oauth:grant-type:device_code \
    --grant-type refresh_token
check "create accepts the device grant for a public client without redirect URIs" \
    eval 'rc_is 0 && field_is grant_types "[\"refresh_token\",\"urn:ietf:params:oauth:grant-type:device_code\"]" &&
          field_is token_endpoint_auth_method none'
run client delete tv "${C[@]}"
check "the device client is deleted again" rc_is 0
run client create "${C[@]}" --client-id console --grant-types urn:ietf:params:oauth:grant-type:device_code
check "create accepts the device grant in --grant-types, for a confidential client" \
    eval 'rc_is 0 && field_is grant_types "[\"urn:ietf:params:oauth:grant-type:device_code\"]" &&
          field_is token_endpoint_auth_method client_secret_basic'
run client delete console "${C[@]}"
check "the confidential device client is deleted again" rc_is 0
# As in the file: refresh_token needs a grant that issues refresh tokens (the CLI used to accept this).
run client create "${C[@]}" --grant-types client_credentials,refresh_token
check "create refuses refresh_token without a grant that issues refresh tokens, as the file does" \
    eval 'rc_is 1 && err_has "--grant-type: refresh_token requires authorization_code or urn:ietf:params:oauth:grant-type:device_code as well"'
run client help
check "client help lists the served grant types, the device grant among them" \
    eval 'out_has "client_credentials" && out_has "refresh_token" && out_has "urn:ietf:params:oauth:grant-type:device_code"'
run client create "${C[@]}" --resource urn:unknown:api
check "create refuses a resource the configuration lacks, naming --resource" eval 'rc_is 1 && err_has "--resource"'
run client create "${C[@]}" --scope 'bad"scope'
check "create refuses a scope outside NQCHAR, naming --scope" eval 'rc_is 1 && err_has "--scope"'
run client create "${C[@]}" --secret-sha256 c2hvcnQ=
check "create refuses a --secret-sha256 that is not 32 bytes" eval 'rc_is 1 && err_has "--secret-sha256"'
run client create "${C[@]}" --grant-type authorization_code
check "create refuses authorization_code without a redirect URI" eval 'rc_is 1 && err_has "--redirect-uri"'

# ---- list and show ----
run client list "${C[@]}"
check "list exits 0 with one line per client" eval 'rc_is 0 && lines_are 4'
check "list never shows secrets or hashes" \
    eval 'out_lacks "\"client_secret\"" && out_lacks hash && out_lacks "\"bar\"" && out_lacks "$GEN_SECRET"'
FOO_LINE=$(line_of client_id foo)
check "list line of foo has its name, grants, auth method and from_config" \
    eval '[ "$(jget "$FOO_LINE" client_name)" = Focus ] &&
          [ "$(jget "$FOO_LINE" token_endpoint_auth_method)" = client_secret_basic ] &&
          [ "$(jget "$FOO_LINE" grant_types)" = "[\"authorization_code\",\"refresh_token\"]" ] &&
          [ "$(jget "$FOO_LINE" from_config)" = false ]'

run client show foo "${C[@]}"
check "show exits 0 with the metadata" eval 'rc_is 0 && field_is client_id foo && field_is client_name Focus'
check "show reports has_secret and timestamps, never the secret" \
    eval 'field_is has_secret true && [[ $(jget "$OUT" created_at) =~ ^[0-9]+$ ]] &&
          [[ $(jget "$OUT" updated_at) =~ ^[0-9]+$ ]] && field_is client_secret null && out_lacks bar'
run client show mobile "${C[@]}"
check "show of a public client reports has_secret false" field_is has_secret false
run client show no-such-client "${C[@]}"
check "show of an unknown client exits 1" eval 'rc_is 1 && err_has "no-such-client"'

# ---- update ----
[ $HAVE_SQLITE = 1 ] && FOO_HASH=$(secret_hash foo)
run client update foo "${C[@]}" --name "Focus 2" --scope openid
check "update exits 0 and changes the given fields" eval 'rc_is 0 && field_is client_name "Focus 2" && field_is scope openid'
run client show foo "${C[@]}"
check "update keeps the other fields" \
    eval 'field_is redirect_uris "[\"http://localhost:8080/cb\"]" && field_is grant_types "[\"authorization_code\",\"refresh_token\"]" &&
          field_is resources "[\"urn:focus:api\"]" && field_is has_secret true && field_is client_name "Focus 2"'
if [ $HAVE_SQLITE = 1 ]; then
    check "update keeps the secret" eval '[ "$(secret_hash foo)" = "$FOO_HASH" ]'
fi
run client update foo "${C[@]}" --redirect-uri relative/cb
check "update refuses an invalid redirect URI" eval 'rc_is 1 && err_has "--redirect-uri"'
run client update foo "${C[@]}" --no-redirect-uris
check "update refuses to drop the redirect URIs of an authorization_code client" eval 'rc_is 1 && err_has "authorization_code"'
run client show foo "${C[@]}"
check "a refused update changes nothing" field_is redirect_uris "[\"http://localhost:8080/cb\"]"
run client update no-such-client "${C[@]}" --name x
check "update of an unknown client exits 1" rc_is 1
run client update foo "${C[@]}"
check "update without options is a usage error (2)" rc_is 2
run client update foo "${C[@]}" --client-id bar
check "update refuses --client-id (2)" rc_is 2

# ---- rotate-secret ----
run client rotate-secret foo "${C[@]}"
NEW_SECRET=$(jget "$OUT" client_secret)
check "rotate-secret prints a new 256-bit secret once" \
    eval 'rc_is 0 && field_is client_id foo && [[ $NEW_SECRET =~ ^[A-Za-z0-9_-]{43}$ ]] && [ "$NEW_SECRET" != bar ]'
if [ $HAVE_SQLITE = 1 ]; then
    check "rotate-secret replaces the stored hash" eval '[ "$(secret_hash foo)" != "$FOO_HASH" ]'
fi
run client rotate-secret foo "${C[@]}" --secret baz
check "rotate-secret --secret sets the given secret" eval 'rc_is 0 && field_is client_secret baz'
run client rotate-secret mobile "${C[@]}"
check "rotate-secret refuses a public client" rc_is 1
run client rotate-secret no-such-client "${C[@]}"
check "rotate-secret of an unknown client exits 1" rc_is 1

# ---- delete ----
run client delete mobile "${C[@]}"
check "delete exits 0" rc_is 0
run client show mobile "${C[@]}"
check "a deleted client is gone" rc_is 1
run client delete mobile "${C[@]}"
check "deleting it again exits 1" rc_is 1
run client list "${C[@]}"
check "list shows the remaining clients" eval 'rc_is 0 && lines_are 3 && [ -z "$(line_of client_id mobile)" ]'

# ---- interactive-flow policies: post-logout URIs, ID token algorithm, refresh token policy, PKCE ----
# Their effect at the server is covered by the node suites (seed_00[2-4]: refresh_token_policy and
# require_pkce of clients declared in the file); here, that the CLI stores what the file would.
# A store of its own, with two signing algorithms and pkce.required off, so that the defaults show.
DB2=$TMP/policies.db
cat >"$TMP/policies.yaml" <<EOF
issuer: http://localhost:4000/authentication/oidc
storage: sqlite:$DB2
keys:
  algorithms: [RS256, ES256]
pkce:
  required: false
EOF
P=(--config "$TMP/policies.yaml")
# unchanged_since SNAPSHOT: `show web` prints exactly SNAPSHOT (updated_at included): nothing was written.
unchanged_since() { run client show web "${P[@]}"; rc_is 0 && [ "$OUT" = "$1" ]; }

run client help
check "client help lists the policy options" \
    eval 'out_has --post-logout-redirect-uri && out_has --no-post-logout-redirect-uris && out_has --id-token-alg &&
          out_has --refresh-token-policy && out_has --pkce-methods && out_has --require-pkce && out_has --no-require-pkce'

run client create "${P[@]}" --client-id plain-web --redirect-uri https://app.example/cb
check "create without policy options: offline_consent, S256, pkce.required, no post-logout URIs, no alg" \
    eval 'rc_is 0 && field_is refresh_token_policy offline_consent && field_is pkce_methods "[\"S256\"]" &&
          field_is require_pkce false && field_is post_logout_redirect_uris null &&
          field_is id_token_signed_response_alg null'

run client create "${P[@]}" --client-id web --redirect-uri https://app.example/cb \
    --post-logout-redirect-uri https://app.example/bye --post-logout-redirect-uri http://localhost:8080/bye \
    --id-token-alg ES256 --refresh-token-policy offline_access --pkce-methods "S256, plain" --require-pkce
check "create with every policy option exits 0" rc_is 0
run client show web "${P[@]}"
check "show reflects --post-logout-redirect-uri (repeatable, in order)" \
    field_is post_logout_redirect_uris '["https://app.example/bye","http://localhost:8080/bye"]'
check "show reflects --id-token-alg" field_is id_token_signed_response_alg ES256
check "show reflects --refresh-token-policy" field_is refresh_token_policy offline_access
check "show reflects --pkce-methods" field_is pkce_methods '["S256","plain"]'
check "show reflects --require-pkce" field_is require_pkce true

run client create "${P[@]}" --client-id web-always --redirect-uri https://app.example/cb \
    --refresh-token-policy always --pkce-methods plain --no-require-pkce
check "create --refresh-token-policy always --pkce-methods plain --no-require-pkce" \
    eval 'rc_is 0 && field_is refresh_token_policy always && field_is pkce_methods "[\"plain\"]" &&
          field_is require_pkce false'
run client create "${P[@]}" --client-id spa --public --redirect-uri https://app.example/cb
check "a public client requires PKCE even with pkce.required false" eval 'rc_is 0 && field_is require_pkce true'

run client create "${P[@]}" --client-id bad --redirect-uri https://app.example/cb --id-token-alg HS256
check "create refuses an unknown --id-token-alg (1), naming it" \
    eval 'rc_is 1 && err_has "--id-token-alg" && err_has HS256'
run client create "${P[@]}" --client-id bad --redirect-uri https://app.example/cb --id-token-alg EdDSA
check "create refuses an --id-token-alg outside keys.algorithms (1)" \
    eval 'rc_is 1 && err_has "--id-token-alg" && err_has keys.algorithms'
run client create "${P[@]}" --client-id bad --redirect-uri https://app.example/cb --refresh-token-policy never
check "create refuses an unknown --refresh-token-policy (1), naming it" \
    eval 'rc_is 1 && err_has "--refresh-token-policy" && err_has never'
run client create "${P[@]}" --client-id bad --redirect-uri https://app.example/cb --pkce-methods S512
check "create refuses an unknown PKCE method (1), naming --pkce-methods" \
    eval 'rc_is 1 && err_has "--pkce-methods" && err_has S512'
run client create "${P[@]}" --client-id bad --redirect-uri https://app.example/cb --pkce-methods S256,S256
check "create refuses a duplicate PKCE method (1)" eval 'rc_is 1 && err_has "--pkce-methods" && err_has duplicate'
run client create "${P[@]}" --client-id bad --redirect-uri https://app.example/cb --pkce-methods S256,
check "create refuses an empty PKCE method (1)" eval 'rc_is 1 && err_has "--pkce-methods"'
run client create "${P[@]}" --client-id bad --public --redirect-uri https://app.example/cb --no-require-pkce
check "create refuses --no-require-pkce for a public client (1), naming it" \
    eval 'rc_is 1 && err_has "--no-require-pkce" && err_has "public client"'
run client create "${P[@]}" --client-id bad --redirect-uri https://app.example/cb \
    --post-logout-redirect-uri "https://app.example/bye#frag"
check "create refuses a post-logout URI with a fragment (1), naming --post-logout-redirect-uri" \
    eval 'rc_is 1 && err_has "--post-logout-redirect-uri"'
run client create "${P[@]}" --client-id bad --redirect-uri https://app.example/cb \
    --post-logout-redirect-uri http://app.example/bye
check "create refuses a plain-http post-logout URI to a remote host (1)" \
    eval 'rc_is 1 && err_has "--post-logout-redirect-uri"'
run client create "${P[@]}" --client-id bad --redirect-uri https://app.example/cb \
    --post-logout-redirect-uri https://app.example/bye --post-logout-redirect-uri https://app.example/bye
check "create refuses a duplicate post-logout URI (1)" \
    eval 'rc_is 1 && err_has "--post-logout-redirect-uri" && err_has duplicate'
run client create "${P[@]}" --client-id bad --redirect-uri https://app.example/cb --require-pkce --no-require-pkce
check "create refuses --require-pkce with --no-require-pkce (1)" eval 'rc_is 1 && err_has "--no-require-pkce"'
run client create "${P[@]}" --client-id bad --redirect-uri https://app.example/cb --no-post-logout-redirect-uris
check "create refuses --no-post-logout-redirect-uris (2)" eval 'rc_is 2 && err_has "--no-post-logout-redirect-uris"'
run client create "${P[@]}" --client-id bad --redirect-uri https://app.example/cb --id-token-alg RS256 \
    --id-token-alg ES256
check "create refuses --id-token-alg given twice (2)" eval 'rc_is 2 && err_has "--id-token-alg"'
run client show bad "${P[@]}"
check "no refused create stored a client" rc_is 1

run client update web "${P[@]}" --refresh-token-policy always
check "update --refresh-token-policy changes it" eval 'rc_is 0 && field_is refresh_token_policy always'
run client update web "${P[@]}" --name Web
run client show web "${P[@]}"
check "update keeps every policy it was not given" \
    eval 'field_is client_name Web && field_is refresh_token_policy always &&
          field_is id_token_signed_response_alg ES256 && field_is pkce_methods "[\"S256\",\"plain\"]" &&
          field_is require_pkce true &&
          field_is post_logout_redirect_uris "[\"https://app.example/bye\",\"http://localhost:8080/bye\"]"'
run client update web "${P[@]}" --post-logout-redirect-uri https://app.example/after --id-token-alg RS256 \
    --pkce-methods S256 --no-require-pkce
check "update replaces the post-logout URIs, alg and PKCE methods, and turns require_pkce off" \
    eval 'rc_is 0 && field_is post_logout_redirect_uris "[\"https://app.example/after\"]" &&
          field_is id_token_signed_response_alg RS256 && field_is pkce_methods "[\"S256\"]" &&
          field_is require_pkce false && field_is refresh_token_policy always'
run client update web "${P[@]}" --no-post-logout-redirect-uris --refresh-token-policy offline_consent --require-pkce
check "update --no-post-logout-redirect-uris clears them; policy back to offline_consent; PKCE required" \
    eval 'rc_is 0 && field_is post_logout_redirect_uris null && field_is refresh_token_policy offline_consent &&
          field_is require_pkce true && field_is id_token_signed_response_alg RS256'

run client update web "${P[@]}" --refresh-token-policy always --post-logout-redirect-uri https://app.example/bye \
    --id-token-alg ES256 --pkce-methods S256,plain --no-require-pkce
run client show web "${P[@]}"
WEB=$OUT
run client update web "${P[@]}" --id-token-alg none
check "update refuses an unknown --id-token-alg (1)" eval 'rc_is 1 && err_has "--id-token-alg"'
check "... and changes nothing" unchanged_since "$WEB"
run client update web "${P[@]}" --id-token-alg EdDSA
check "update refuses an --id-token-alg outside keys.algorithms (1)" eval 'rc_is 1 && err_has "--id-token-alg"'
check "... and changes nothing" unchanged_since "$WEB"
run client update web "${P[@]}" --refresh-token-policy Always
check "update refuses an unknown --refresh-token-policy (names are case-sensitive) (1)" \
    eval 'rc_is 1 && err_has "--refresh-token-policy"'
check "... and changes nothing" unchanged_since "$WEB"
run client update web "${P[@]}" --pkce-methods s256
check "update refuses an unknown PKCE method (1)" eval 'rc_is 1 && err_has "--pkce-methods"'
check "... and changes nothing" unchanged_since "$WEB"
run client update web "${P[@]}" --post-logout-redirect-uri /relative/bye
check "update refuses a relative post-logout URI (1)" eval 'rc_is 1 && err_has "--post-logout-redirect-uri"'
check "... and changes nothing" unchanged_since "$WEB"
run client update web "${P[@]}" --post-logout-redirect-uri https://app.example/x --no-post-logout-redirect-uris
check "update refuses --post-logout-redirect-uri with --no-post-logout-redirect-uris (1)" \
    eval 'rc_is 1 && err_has "--no-post-logout-redirect-uris"'
check "... and changes nothing" unchanged_since "$WEB"
run client update web "${P[@]}" --public --no-require-pkce
check "update refuses to make a client public with --no-require-pkce (1)" \
    eval 'rc_is 1 && err_has "--no-require-pkce" && err_has "public client"'
check "... and changes nothing" unchanged_since "$WEB"
run client show spa "${P[@]}"
SPA=$OUT
run client update spa "${P[@]}" --no-require-pkce
check "update refuses --no-require-pkce for a public client (1)" \
    eval 'rc_is 1 && err_has "--no-require-pkce" && err_has "public client"'
run client show spa "${P[@]}"
check "... and changes nothing" eval '[ "$OUT" = "$SPA" ] && field_is require_pkce true'
run client update web "${P[@]}" --public
check "turning a client public switches require_pkce on" \
    eval 'rc_is 0 && field_is token_endpoint_auth_method none && field_is require_pkce true'

# ---- application_type: web by default, native on request; same names and checks as the file ----
run client create "${P[@]}" --client-id desktop --public --application-type native --redirect-uri http://127.0.0.1/cb
check "create --application-type native stores it" eval 'rc_is 0 && field_is application_type native'
run client show plain-web "${P[@]}"
check "a client created without --application-type is a web client" field_is application_type web
run client update desktop "${P[@]}" --application-type web
check "update --application-type web changes it" eval 'rc_is 0 && field_is application_type web'
run client create "${P[@]}" --client-id bad --redirect-uri https://app.example/cb --application-type browser
check "create refuses an unknown --application-type (1), naming it" \
    eval 'rc_is 1 && err_has "--application-type" && err_has browser'
run client update desktop "${P[@]}" --application-type Native
check "update refuses an unknown --application-type (names are case-sensitive) (1)" \
    eval 'rc_is 1 && err_has "--application-type"'
run client show desktop "${P[@]}"
check "... and changes nothing" field_is application_type web

# ---- introspection_access: all by default; own; resources with a list of the configuration's APIs ----
run client help
check "client help lists --application-type and the introspection options" \
    eval 'out_has --application-type && out_has --introspection-access && out_has --introspection-resource &&
          out_has --no-introspection-resources'
run client show web-always "${P[@]}"
check "a client created without --introspection-access may introspect all access tokens" \
    eval 'field_is introspection_access all && field_is introspection_resources null'
run client create "${C[@]}" --client-id rs-api --introspection-access resources --introspection-resource urn:focus:api
check "create --introspection-access resources --introspection-resource stores both" \
    eval 'rc_is 0 && field_is introspection_access resources && field_is introspection_resources "[\"urn:focus:api\"]"'
run client update rs-api "${C[@]}" --introspection-access own
check "update to own while the list is set is refused (1), naming --no-introspection-resources" \
    eval 'rc_is 1 && err_has "--no-introspection-resources"'
run client update rs-api "${C[@]}" --introspection-access own --no-introspection-resources
check "update --introspection-access own --no-introspection-resources" \
    eval 'rc_is 0 && field_is introspection_access own && field_is introspection_resources null'
run client create "${C[@]}" --client-id bad --introspection-access resources
check "create refuses --introspection-access resources without a resource (1)" \
    eval 'rc_is 1 && err_has "--introspection-resource"'
run client create "${C[@]}" --client-id bad --introspection-resource urn:focus:api
check "create refuses --introspection-resource without --introspection-access resources (1)" \
    eval 'rc_is 1 && err_has "--introspection-access resources"'
run client create "${C[@]}" --client-id bad --introspection-access resources --introspection-resource urn:nope
check "create refuses an unknown --introspection-resource (1), naming it" \
    eval 'rc_is 1 && err_has "--introspection-resource" && err_has urn:nope'
run client create "${C[@]}" --client-id bad --introspection-access resources --introspection-resource urn:focus:api \
    --introspection-resource urn:focus:api
check "create refuses a duplicate --introspection-resource (1)" eval 'rc_is 1 && err_has duplicate'
run client create "${C[@]}" --client-id bad --introspection-access everything
check "create refuses an unknown --introspection-access (1), naming it" \
    eval 'rc_is 1 && err_has "--introspection-access" && err_has everything'
run client create "${C[@]}" --client-id bad --no-introspection-resources
check "create refuses --no-introspection-resources (2)" eval 'rc_is 2 && err_has "--no-introspection-resources"'
run client show bad "${C[@]}"
check "no refused create stored a client" rc_is 1

# ---- keys ----
run keys help
check "keys help exits 0" eval 'rc_is 0 && out_has rotate'
run keys list "${C[@]}"
check "keys list on a store without keys prints nothing" eval 'rc_is 0 && lines_are 0'
run keys rotate "${C[@]}"
KID1=$(jget "$OUT" kid)
check "keys rotate creates one key per configured algorithm" eval 'rc_is 0 && lines_are 1 && field_is alg RS256 && [ -n "$KID1" ]'
run keys list "${C[@]}"
check "keys list shows that key as current" eval 'rc_is 0 && lines_are 1 && field_is kid "$KID1" && field_is state current'
check "keys list shows no key material" eval 'out_lacks priv && out_lacks "\"d\""'

run keys rotate "${C[@]}" --alg RS256
KID2=$(jget "$OUT" kid)
check "a rotation yields a new kid" eval 'rc_is 0 && [ -n "$KID2" ] && [ "$KID2" != "$KID1" ]'
run keys list "${C[@]}"
OLD=$(line_of kid "$KID1")
NEW=$(line_of kid "$KID2")
check "after rotation both keys are listed" lines_are 2
check "the new key is current" eval '[ "$(jget "$NEW" state)" = current ]'
check "the old key is retired but still listed" eval '[ "$(jget "$OLD" state)" = retired ]'
check "the old key stays published for the longest token lifetime (3600 s)" \
    eval 'r=$(jget "$OLD" retired_at); u=$(jget "$OLD" unpublish_at); [[ $r =~ ^[0-9]+$ && $u =~ ^[0-9]+$ ]] && [ $((u - r)) -eq 3600 ]'

run keys rotate "${C[@]}" --publish-delay 3600
KID3=$(jget "$OUT" kid)
run keys list "${C[@]}"
check "with a publish delay the new key is 'next' and the current one keeps signing" \
    eval '[ "$(jget "$(line_of kid "$KID3")" state)" = next ] && [ "$(jget "$(line_of kid "$KID2")" state)" = current ]'

run keys rotate "${C[@]}" --alg HS256
check "keys rotate refuses an unsupported algorithm, naming --alg" eval 'rc_is 1 && err_has "--alg"'
run keys rotate "${C[@]}" --publish-delay soon
check "keys rotate refuses a non-numeric delay" eval 'rc_is 1 && err_has "--publish-delay"'
run keys list "${C[@]}" --alg RS256
check "keys list refuses rotate options (2)" rc_is 2
OSTIARY_KEYS_SECRET=another-secret-that-is-long-enough-0123456789 run keys rotate "${C[@]}"
check "keys rotate with a different key secret fails and adds no key" eval 'rc_is 1'
run keys list "${C[@]}"
check "the failed rotation left the key set as it was" lines_are 3

# ---- one rule book: the file's clients[] and `client create` accept and refuse the same metadata ----
# file_refuses YAML_CLIENT_LINES...: a configuration with this client stops every command (status 1).
file_refuses() {
    { cat "$TMP/ostiary.yaml"; printf 'clients:\n  - client_id: f\n'; printf '    %s\n' "$@"; } >"$TMP/rules.yaml"
    run client list --config "$TMP/rules.yaml"
    rc_is 1
}
run client create "${C[@]}" --client-id rule1 --redirect-uri https://my_app.example/cb
check "create refuses a redirect URI whose host has an '_', naming --redirect-uri" \
    eval 'rc_is 1 && err_has "--redirect-uri: has an invalid host"'
check "... as the file does" eval "file_refuses \"redirect_uris: ['https://my_app.example/cb']\" && err_has 'clients[0].redirect_uris[0]: has an invalid host'"
run client create "${C[@]}" --client-id rule2 --redirect-uri 'https://u:hunter2@app.example/cb'
check "create refuses a redirect URI with userinfo without echoing its password" \
    eval 'rc_is 1 && err_has "must not contain userinfo" && ! err_has hunter2'
run client create "${C[@]}" --client-id rule3 --redirect-uri 'http://'
check "create refuses a bare http://" eval 'rc_is 1 && err_has "has no host"'
run client create "${C[@]}" --client-id rule4 --grant-type client_credentials --grant-type refresh_token
check "create refuses refresh_token without a grant that yields one, as the file does" \
    eval 'rc_is 1 && err_has "--grant-type: refresh_token requires authorization_code"'
check "the file refuses duplicate redirect URIs, as create does" \
    eval "file_refuses 'client_secret: s' \"redirect_uris: ['https://a.example/cb', 'https://a.example/cb']\" && err_has 'clients[0].redirect_uris[1]: duplicate'"
check "the file refuses duplicate post-logout redirect URIs" \
    eval "file_refuses 'client_secret: s' \"post_logout_redirect_uris: ['https://a.example/', 'https://a.example/']\" && err_has 'clients[0].post_logout_redirect_uris[1]: duplicate'"
check "the file refuses a resource named twice, as create does" \
    eval "file_refuses 'client_secret: s' 'resources: [urn:focus:api, urn:focus:api]' && err_has 'clients[0].resources[1]: duplicate'"
check "the file refuses a client_name over 1024 bytes, as create does" \
    eval "file_refuses 'client_secret: s' \"client_name: '$(printf 'n%.0s' $(seq 1025))'\" && err_has 'clients[0].client_name: must be valid UTF-8 of at most 1024 bytes'"
run client list "${C[@]}"
check "no refused create stored a client" eval 'rc_is 0 && [ -z "$(printf "%s" "$OUT" | grep "\"rule[0-9]\"")" ]'

# ---- trusted_proxies: checked by every command, each bad entry named ----
OSTIARY_TRUSTED_PROXIES='127.0.0.1, 10.0.0.1/8' run keys list "${C[@]}"
check "a trusted_proxies range with host bits stops the command, naming the entry" \
    eval 'rc_is 1 && err_has "trusted_proxies[1]: address has bits set after the prefix length"'
OSTIARY_TRUSTED_PROXIES='10.0.0.0/8, fd00::/8, ::1' run keys list "${C[@]}"
check "valid trusted_proxies (OSTIARY_TRUSTED_PROXIES, a comma list) are accepted" rc_is 0

finish
