#!/usr/bin/env bash
# install-deps.sh: installs what building and testing Ostiary needs on Debian 12, and nothing else.
# Idempotent: asks dpkg-query which packages are missing and runs apt-get only for those, so a machine
# that has everything needs neither root nor the network. Then installs the integration tests' npm
# packages (tests/integration) when node_modules is missing or older than package-lock.json.
# Never downloads anything outside apt and npm (no browsers, no prebuilt binaries).
set -euo pipefail

cd "$(dirname "$0")/.."

log() { printf 'install-deps: %s\n' "$*"; }

# Build: compiler, pkg-config and the libraries the Makefile asks pkg-config for (libcurl, OpenSSL flavour:
# the HTTPS fetches of client JWKS, src/http/fetch.c).
# Tests: cmake (for ctest), clang (libFuzzer), wrk and sqlite3 (bench, debugging), curl, jq (CLI tests),
# chromium (Debian's build, driven by playwright-core in the browser tests; never a downloaded browser),
# openssl (the TLS tests' throwaway certificates); postgresql (the server of the throwaway test cluster,
# scripts/pg-test-cluster.sh) and postgresql-client (psql for the tests, pgbench for bench/).
# Packaging (`make deb`, tests/integration/deb.test.sh): dpkg-dev (dpkg-shlibdeps), lowdown (man pages
# from the Markdown docs), systemd (systemd-analyze verify/security of the unit), man-db (renders them).
PKGS=(build-essential pkg-config libh2o-evloop-dev libjansson-dev libssl-dev libsqlite3-dev libsodium-dev
      libyaml-dev libpq-dev libcurl4-openssl-dev cmake clang wrk sqlite3 curl ca-certificates jq chromium postgresql
      postgresql-client openssl dpkg-dev lowdown systemd man-db)

# Node.js: openid-client v6 and jose v6 need a Node with a global WebCrypto (Node >= 20 is supported).
# A Node that is already installed (e.g. from another apt source, which bundles npm) is kept when it
# is recent enough; Debian's nodejs (v18) and npm are installed only when there is no node at all.
NODE_MIN_MAJOR=20
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if command -v node >/dev/null 2>&1; then
    major=$(node_major)
    if [ "$major" -lt "$NODE_MIN_MAJOR" ]; then
        log "warning: node $(node --version) is older than v$NODE_MIN_MAJOR; the integration tests may fail"
    fi
    if ! command -v npm >/dev/null 2>&1; then
        PKGS+=(npm)
    fi
else
    PKGS+=(nodejs npm)
fi

missing=()
for p in "${PKGS[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            SUDO=(sudo -n)
        else
            log "error: not root and no sudo; install these packages first: ${missing[*]}" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    log "system packages: all present"
fi

if command -v node >/dev/null 2>&1 && [ "$(node_major)" -lt "$NODE_MIN_MAJOR" ]; then
    log "warning: node $(node --version): the integration tests need v$NODE_MIN_MAJOR or newer"
fi

# Integration test dependencies (openid-client, jose). `npm ci` installs exactly the lock file.
it=tests/integration
if [ -f "$it/package.json" ]; then
    stamp="$it/node_modules/.package-lock.json"
    if [ ! -d "$it/node_modules" ] || [ ! -f "$stamp" ] ||
        { [ -f "$it/package-lock.json" ] && [ "$it/package-lock.json" -nt "$stamp" ]; }; then
        log "installing npm packages in $it"
        if [ -f "$it/package-lock.json" ]; then
            (cd "$it" && npm ci --no-audit --no-fund --loglevel=error)
        else
            (cd "$it" && npm install --no-audit --no-fund --loglevel=error)
        fi
    else
        log "npm packages: present"
    fi
fi
