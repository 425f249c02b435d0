#!/usr/bin/env bash
# user_cli.test.sh: `ostiary user` and `ostiary consent` against a temporary SQLite store, black-box.
# Usage: tests/integration/user_cli.test.sh [path/to/ostiary]   (default build/release/ostiary)
# Prints one line per check and ends with "N passed, N failed"; exits non-zero if any check failed.
# Needs jq or python3 to read the JSON output; sqlite3, when present, adds checks on the stored rows
# (password hashes, revoked tokens, consents).
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
    # jget JSON PATH: a member (dotted path), raw for strings, compact JSON otherwise ("null" when absent).
    jget() { printf '%s' "$1" | jq -r "getpath(\"$2\" | split(\".\")) | if type == \"string\" then . else tojson end"; }
elif command -v python3 >/dev/null 2>&1; then
    jget() {
        python3 -c 'import json,sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))' "$1" "$2"
    }
else
    fail "jq or python3 is available to read JSON"
    finish
fi
HAVE_SQLITE=0
command -v sqlite3 >/dev/null 2>&1 && HAVE_SQLITE=1

# run ARGS...: runs the binary with stdin from /dev/null; sets OUT, ERR and RC without tripping set -e.
run() {
    if OUT=$("$BIN" "$@" </dev/null 2>"$TMP/stderr"); then RC=0; else RC=$?; fi
    ERR=$(cat "$TMP/stderr")
}
# run_in INPUT ARGS...: the same with INPUT on stdin.
run_in() {
    local input=$1
    shift
    if OUT=$(printf '%s' "$input" | "$BIN" "$@" 2>"$TMP/stderr"); then RC=0; else RC=$?; fi
    ERR=$(cat "$TMP/stderr")
}
rc_is() { [ "$RC" -eq "$1" ]; }
out_has() { grep -qF -- "$1" <<<"$OUT"; }
out_lacks() { ! grep -qiF -- "$1" <<<"$OUT"; }
err_has() { grep -qF -- "$1" <<<"$ERR"; }
err_lacks() { ! grep -qF -- "$1" <<<"$ERR"; }
field_is() { [ "$(jget "$OUT" "$1")" = "$2" ]; }
lines_are() { [ "$(printf '%s' "$OUT" | grep -c .)" -eq "$1" ]; }
line_of() { printf '%s\n' "$OUT" | grep -F "{\"$1\":\"$2\"" || true; }
sql() { sqlite3 "$DB" "$1"; }

DB=$TMP/ostiary.db
cat >"$TMP/ostiary.yaml" <<EOF
issuer: http://localhost:4000
storage: sqlite:$DB
keys:
  algorithms: [RS256]
users:
  - username: declared
    password: from-the-file
EOF
export OSTIARY_KEYS_SECRET=user-cli-test-key-secret-0123456789abcdef
unset OSTIARY_CONFIG OSTIARY_STORAGE OSTIARY_DEV 2>/dev/null || true
C=(--config "$TMP/ostiary.yaml")

# ---- help and usage errors ----
run user help
check "user help exits 0 and lists the subcommands" eval 'rc_is 0 && out_has passwd && out_has disable && out_has --password-stdin'
run consent help
check "consent help exits 0" eval 'rc_is 0 && out_has revoke'
run help
check "ostiary help lists user and consent" eval 'rc_is 0 && out_has "user " && out_has "consent "'
run user "${C[@]}"
check "user without a subcommand is a usage error (2)" rc_is 2
run user frobnicate "${C[@]}"
check "user with an unknown subcommand is a usage error (2)" rc_is 2
run user add alice --bogus "${C[@]}"
check "user add with an unknown option is a usage error (2), naming it" eval 'rc_is 2 && err_has "--bogus"'
run user show "${C[@]}"
check "user show without a username is a usage error (2)" eval 'rc_is 2 && err_has USERNAME'
run user add alice --enable "${C[@]}"
check "user add refuses --enable (2)" rc_is 2
run user add alice --password x --password-stdin "${C[@]}"
check "--password and --password-stdin together are a usage error (2)" rc_is 2
run user list extra "${C[@]}"
check "user list with an operand is a usage error (2)" rc_is 2
run consent revoke "${C[@]}"
check "consent revoke without a username is a usage error (2)" rc_is 2
run consent revoke a b c "${C[@]}"
check "consent revoke with three operands is a usage error (2)" rc_is 2

# ---- add ----
run_in $'wonderland\n' user add alice --password-stdin --name "Alice Liddell" --email alice@example.com \
    --email-verified --phone "+44 20 7946 0000" --claim locale=en-GB --claim address.country=UK \
    --claim "address.formatted=1 Rabbit Hole" "${C[@]}"
check "add with --password-stdin and claims exits 0" rc_is 0
ALICE_ID=$(jget "$OUT" id)
check "add generates a random 128-bit base64url id" eval '[[ $ALICE_ID =~ ^[A-Za-z0-9_-]{22}$ ]]'
check "add reports the username, has_password, not disabled, not from_config" \
    eval 'field_is username alice && field_is has_password true && field_is disabled false && field_is from_config false'
check "add stores the claims (email_verified as a boolean, address as an object)" \
    eval 'field_is claims.name "Alice Liddell" && field_is claims.email alice@example.com &&
          field_is claims.email_verified true && field_is claims.phone_number "+44 20 7946 0000" &&
          field_is claims.locale en-GB && field_is claims.address "{\"country\":\"UK\",\"formatted\":\"1 Rabbit Hole\"}"'
check "add never prints the password or its hash" eval 'out_lacks wonderland && out_lacks argon2 && out_lacks password_hash'
if [ $HAVE_SQLITE = 1 ]; then
    HASH=$(sql "SELECT password_hash FROM users WHERE username = 'alice'")
    check "the stored hash is argon2id with passwords.argon2id's defaults (19 MiB, 2 passes, 1 lane)" \
        eval '[[ $HASH == \$argon2id\$v=19\$m=19456,t=2,p=1\$* ]]'
    check "the stored hash does not contain the password" eval '[[ $HASH != *wonderland* ]]'
    # The configured parameters (here from the environment) are the ones the CLI hashes with.
    if OUT=$(printf 'looking-glass\n' | OSTIARY_PASSWORDS_ARGON2ID_MEMORY_KIB=8192 OSTIARY_PASSWORDS_ARGON2ID_ITERATIONS=3 \
        "$BIN" user add argon-param --password-stdin "${C[@]}" 2>"$TMP/stderr"); then RC=0; else RC=$?; fi
    HASH=$(sql "SELECT password_hash FROM users WHERE username = 'argon-param'")
    check "user add hashes with passwords.argon2id's configured memory and passes" \
        eval 'rc_is 0 && [[ $HASH == \$argon2id\$v=19\$m=8192,t=3,p=1\$* ]]'
    run user delete argon-param "${C[@]}"
fi

run_in $'builder\r\n' user add bob --password-stdin --id bob-sub-1 "${C[@]}"
check "add with --id keeps the given id" eval 'rc_is 0 && field_is id bob-sub-1 && field_is claims "{}"'
if [ $HAVE_SQLITE = 1 ]; then
    BOB_HASH=$(sql "SELECT password_hash FROM users WHERE username = 'bob'")
    check "--password-stdin strips the CRLF line ending" eval '[[ $BOB_HASH == \$argon2id\$* ]]'
fi

run user add carol "${C[@]}" --password s3cret-on-the-command-line
check "add with --password exits 0" eval 'rc_is 0 && field_is has_password true && out_lacks s3cret'
run user add dave "${C[@]}"
check "add without a password creates a user that cannot log in yet, and says so" \
    eval 'rc_is 0 && field_is has_password false && err_has "user passwd dave"'

run user add alice --password x "${C[@]}"
check "add refuses an existing username (1)" eval 'rc_is 1 && err_has "already exists"'
run user add erin --id bob-sub-1 "${C[@]}"
check "add refuses an existing id (1)" eval 'rc_is 1 && err_has "--id"'
run user add "a b" "${C[@]}"
check "add refuses a username with a space (1)" eval 'rc_is 1 && err_has USERNAME'
run user add declared --password x "${C[@]}"
check "add refuses a username declared in the configuration file" eval 'rc_is 1 && err_has "users[0]"'
run user add erin --claim favourite_colour=blue "${C[@]}"
check "add refuses a non-standard claim, naming --claim" eval 'rc_is 1 && err_has "--claim" && err_has favourite_colour'
run user add erin --email not-an-email "${C[@]}"
check "add refuses a malformed email, naming --email" eval 'rc_is 1 && err_has "--email"'
run user add erin --claim birthdate=04/05/1852 "${C[@]}"
check "add refuses a malformed birthdate" eval 'rc_is 1 && err_has birthdate'
run user add erin --claim 'website=javascript:alert(1)' "${C[@]}"
check "add refuses a non-http website" eval 'rc_is 1 && err_has website'
# URL claims: the rules of users[] in the file (the CLI used to check only the prefix).
run user add url1 --claim 'website=http://u:hunter2@h.example/' "${C[@]}"
check "add refuses a URL claim with userinfo, without echoing it" \
    eval 'rc_is 1 && err_has "--claim website: must not contain userinfo" && ! err_has hunter2'
run user add url2 --claim 'profile=http://' "${C[@]}"
check "add refuses a URL claim without a host" eval 'rc_is 1 && err_has "--claim profile: has no host"'
run user add url3 --claim 'picture=https://my_host.example/a.png' "${C[@]}"
check "add refuses a URL claim with an invalid host" eval 'rc_is 1 && err_has "--claim picture: has an invalid host"'
run user add erin --claim email_verified=yes "${C[@]}"
check "add refuses a non-boolean email_verified" eval 'rc_is 1 && err_has "true or false"'
run user add erin --claim address.city=Paris "${C[@]}"
check "add refuses an unknown address part" eval 'rc_is 1 && err_has city'
run user add erin --claim noequals "${C[@]}"
check "add refuses --claim without '='" eval 'rc_is 1 && err_has KEY=VALUE'
run_in "" user add erin --password-stdin "${C[@]}"
check "add --password-stdin with empty input fails (1)" rc_is 1
run_in $'\n' user add erin --password-stdin "${C[@]}"
check "add --password-stdin refuses an empty password" eval 'rc_is 1 && err_has empty'
run user show erin "${C[@]}"
check "none of the refused adds created the user" rc_is 1

# ---- list and show ----
run user list "${C[@]}"
check "list exits 0 with one line per user" eval 'rc_is 0 && lines_are 4'
check "list never shows passwords or hashes" \
    eval 'out_lacks argon2 && out_lacks password_hash && out_lacks wonderland && out_lacks builder && out_lacks s3cret'
AL=$(line_of username alice)
check "list line of alice has id, name, email, state" \
    eval '[ "$(jget "$AL" id)" = "$ALICE_ID" ] && [ "$(jget "$AL" name)" = "Alice Liddell" ] &&
          [ "$(jget "$AL" email)" = alice@example.com ] && [ "$(jget "$AL" disabled)" = false ] &&
          [ "$(jget "$AL" has_password)" = true ]'
check "list line of dave shows has_password false" eval '[ "$(jget "$(line_of username dave)" has_password)" = false ]'

run user show alice "${C[@]}"
check "show exits 0 with claims and timestamps, never the hash" \
    eval 'rc_is 0 && field_is id "$ALICE_ID" && field_is claims.email alice@example.com &&
          [[ $(jget "$OUT" created_at) =~ ^[0-9]+$ ]] && out_lacks argon2'
run user show nobody "${C[@]}"
check "show of an unknown user exits 1, naming it" eval 'rc_is 1 && err_has nobody'

# ---- update ----
run user update alice --name "Alice L." --claim email= --claim address.formatted= "${C[@]}"
check "update changes the given claims and removes emptied ones" \
    eval 'rc_is 0 && field_is claims.name "Alice L." && field_is claims.email null &&
          field_is claims.address "{\"country\":\"UK\"}" && field_is claims.locale en-GB && field_is claims.email_verified true'
run user show alice "${C[@]}"
check "update is stored" eval 'field_is claims.name "Alice L." && field_is has_password true'
run user update alice "${C[@]}"
check "update without options is a usage error (2)" rc_is 2
run user update alice --enable --disable "${C[@]}"
check "update with --enable and --disable is a usage error (2)" rc_is 2
run user update alice --password x "${C[@]}"
check "update refuses --password (2): passwords change with passwd" rc_is 2
run user update alice --claim birthdate=yesterday "${C[@]}"
check "update refuses a bad claim value" rc_is 1
run user update nobody --name x "${C[@]}"
check "update of an unknown user exits 1" rc_is 1

# ---- passwd ----
[ $HAVE_SQLITE = 1 ] && OLD_HASH=$(sql "SELECT password_hash FROM users WHERE username = 'alice'")
run_in $'looking-glass\n' user passwd alice --password-stdin "${C[@]}"
check "passwd --password-stdin exits 0 and reports the change" \
    eval 'rc_is 0 && field_is password_changed true && field_is username alice && out_lacks looking-glass'
if [ $HAVE_SQLITE = 1 ]; then
    check "passwd replaces the stored hash" \
        eval '[ "$(sql "SELECT password_hash FROM users WHERE username = '"'"'alice'"'"'")" != "$OLD_HASH" ]'
fi
run user passwd alice "${C[@]}"
check "passwd without a terminal or --password-stdin exits 1 and says how" eval 'rc_is 1 && err_has --password-stdin'
run_in $'pw\n' user passwd nobody --password-stdin "${C[@]}"
check "passwd of an unknown user exits 1" rc_is 1
run_in $'first-password\n' user passwd dave --password-stdin "${C[@]}"
run user show dave "${C[@]}"
check "passwd gives a password to a user without one" field_is has_password true

# ---- tokens and consents (rows written with sqlite3, as the server would) ----
if [ $HAVE_SQLITE = 1 ]; then
    # put_token KIND SUB: a live token of that kind for that user.
    put_token() {
        sql "INSERT INTO tokens (hash, kind, client_id, sub, scope, iat, exp)
             VALUES (randomblob(32), $1, 'app', '$2', 'openid', 1, 4102444800)"
    }
    live() { sql "SELECT count(*) FROM tokens WHERE sub = '$1' AND kind = $2 AND revoked_at = 0"; }
    put_consent() {
        sql "INSERT INTO consents (user_id, client_id, scope, resources, created_at, updated_at)
             VALUES ('$1', '$2', 'openid profile', '', 1, 1)"
    }
    put_token 5 "$ALICE_ID"
    put_token 5 "$ALICE_ID"
    put_token 2 "$ALICE_ID"
    put_token 1 "$ALICE_ID"
    put_token 5 bob-sub-1
    put_token 2 bob-sub-1
    put_consent "$ALICE_ID" app
    put_consent "$ALICE_ID" another-app
    put_consent bob-sub-1 app

    run consent list alice "${C[@]}"
    check "consent list shows one line per client" \
        eval 'rc_is 0 && lines_are 2 && out_has "\"client_id\":\"another-app\"" && out_has "\"scope\":\"openid profile\""'
    run consent list nobody "${C[@]}"
    check "consent list of an unknown user exits 1" rc_is 1
    run consent revoke alice app "${C[@]}"
    check "consent revoke USER CLIENT removes that consent only" \
        eval 'rc_is 0 && field_is client_id app && field_is refresh_tokens_revoked false &&
              [ "$(sql "SELECT count(*) FROM consents WHERE user_id = '"'"'$ALICE_ID'"'"'")" -eq 1 ]'
    check "... and keeps the refresh tokens (it says so)" eval '[ "$(live "$ALICE_ID" 2)" -eq 1 ] && err_has "stay valid"'
    run consent revoke alice app "${C[@]}"
    check "revoking a consent that does not exist exits 1" eval 'rc_is 1 && err_has app'
    run consent revoke bob "${C[@]}"
    check "consent revoke USER removes all and revokes the refresh tokens" \
        eval 'rc_is 0 && field_is client_id null && field_is refresh_tokens_revoked true &&
              [ "$(sql "SELECT count(*) FROM consents WHERE user_id = '"'"'bob-sub-1'"'"'")" -eq 0 ] &&
              [ "$(live bob-sub-1 2)" -eq 0 ] && [ "$(live bob-sub-1 5)" -eq 1 ]'

    # ---- disable: logged out everywhere ----
    run user disable alice "${C[@]}"
    check "disable exits 0 and reports disabled" eval 'rc_is 0 && field_is disabled true'
    check "disable revokes the login sessions and refresh tokens" \
        eval '[ "$(live "$ALICE_ID" 5)" -eq 0 ] && [ "$(live "$ALICE_ID" 2)" -eq 0 ]'
    check "disable leaves other users' tokens alone" eval '[ "$(live bob-sub-1 5)" -eq 1 ]'
    check "disable leaves access tokens to expire by themselves" eval '[ "$(live "$ALICE_ID" 1)" -eq 1 ]'
    run user update alice --enable "${C[@]}"
    check "update --enable enables again" eval 'rc_is 0 && field_is disabled false'
    put_token 5 "$ALICE_ID"
    run user update alice --disable "${C[@]}"
    check "update --disable disables and revokes the sessions" \
        eval 'rc_is 0 && field_is disabled true && [ "$(live "$ALICE_ID" 5)" -eq 0 ]'

    # ---- passwd logs the user out ----
    put_token 5 bob-sub-1
    run_in $'new-builder\n' user passwd bob --password-stdin "${C[@]}"
    check "passwd revokes the user's sessions" eval 'rc_is 0 && [ "$(live bob-sub-1 5)" -eq 0 ]'

    # ---- delete ----
    put_token 5 bob-sub-1
    put_consent bob-sub-1 app
    run user delete bob "${C[@]}"
    check "delete exits 0" eval 'rc_is 0 && field_is deleted true && field_is id bob-sub-1'
    check "delete removes the consents and revokes the sessions" \
        eval '[ "$(sql "SELECT count(*) FROM consents WHERE user_id = '"'"'bob-sub-1'"'"'")" -eq 0 ] &&
              [ "$(live bob-sub-1 5)" -eq 0 ]'
else
    run user disable alice "${C[@]}"
    check "disable exits 0 and reports disabled" eval 'rc_is 0 && field_is disabled true'
    run user delete bob "${C[@]}"
    check "delete exits 0" eval 'rc_is 0 && field_is deleted true'
fi
run user show bob "${C[@]}"
check "a deleted user is gone" rc_is 1
run user delete bob "${C[@]}"
check "deleting it again exits 1" rc_is 1
run user list "${C[@]}"
check "list shows the remaining users" eval 'rc_is 0 && lines_are 3 && [ -z "$(line_of username bob)" ]'

# ---- a username freed by delete gets a new id (a sub is never reassigned) ----
run user add bob "${C[@]}"
check "re-adding a deleted username gives a new id" eval 'rc_is 0 && [ "$(jget "$OUT" id)" != bob-sub-1 ]'

finish
