#!/usr/bin/env bash
# build-deb.sh BINARY OUTDIR: the Debian package of an ostiary binary (what `make deb` runs on the release
# build). Contents:
#   /usr/bin/ostiary
#   /etc/ostiary/ostiary.yaml                      example configuration (a conffile), packaging/ostiary.yaml
#   /lib/systemd/system/ostiary.service            the sandboxed unit, packaging/ostiary.service
#   /usr/share/man/man1/ostiary.1.gz               from docs/cli.md
#   /usr/share/man/man5/ostiary.yaml.5.gz          from docs/configuration.md
#   /usr/share/man/man7/ostiary-users.7.gz         from docs/users.md
#   /usr/share/man/man7/ostiary-keys.7.gz          from docs/keys.md
#   /usr/share/doc/ostiary/                        README.md, the docs, copyright
# Maintainer scripts: packaging/debian/{postinst,prerm,postrm}. Depends: computed by dpkg-shlibdeps from
# the binary. Man pages: lowdown (Debian package `lowdown`) renders the Markdown. Built with dpkg-deb
# --root-owner-group (no fakeroot needed). Prints the path of the .deb.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 BINARY OUTDIR" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
OUT=$2
for tool in dpkg-deb dpkg-shlibdeps lowdown gzip; do
    command -v "$tool" >/dev/null || { echo "build-deb: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "build-deb: no binary at $1" >&2; exit 1; }

VERSION=$(cat "$ROOT/VERSION")
[ "$("$BIN" --version)" = "ostiary $VERSION" ] || {
    echo "build-deb: $1 says '$("$BIN" --version)', VERSION says $VERSION: rebuild it" >&2
    exit 1
}
ARCH=$(dpkg --print-architecture)
mkdir -p "$OUT"
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
PKG=$STAGE/pkg

install -D -m 0755 "$BIN" "$PKG/usr/bin/ostiary"
strip --strip-unneeded "$PKG/usr/bin/ostiary" 2>/dev/null || true
install -D -m 0644 "$ROOT/packaging/ostiary.yaml" "$PKG/etc/ostiary/ostiary.yaml"
install -D -m 0644 "$ROOT/packaging/ostiary.service" "$PKG/lib/systemd/system/ostiary.service"

# Man pages: a NAME section (what whatis/apropos read), then the document as it is.
DATE=$(date -u -d "@$(stat -c %Y "$ROOT/VERSION")" +%Y-%m-%d)
man_page() { # SOURCE NAME SECTION WHATIS
    local src=$1 name=$2 sec=$3 what=$4 dir="$PKG/usr/share/man/man$3"
    mkdir -p "$dir"
    { printf '# NAME\n\n%s - %s\n\n' "$name" "$what"; cat "$ROOT/$src"; } |
        lowdown -s -Tman -M "title=$name" -M "section=$sec" -M "date=$DATE" -M "source=Ostiary $VERSION" \
            -M "volume=Ostiary" >"$dir/$name.$sec"
    gzip -9n "$dir/$name.$sec"
}
man_page docs/cli.md ostiary 1 "OAuth 2.0 and OpenID Connect provider: the ostiary command"
man_page docs/configuration.md ostiary.yaml 5 "configuration of the Ostiary OAuth 2.0 and OpenID Connect provider"
man_page docs/users.md ostiary-users 7 "end users, their claims, consents and the failed-login limiter in Ostiary"
man_page docs/keys.md ostiary-keys 7 "signing keys, their encryption at rest and rotation in Ostiary"

DOC=$PKG/usr/share/doc/ostiary
install -D -m 0644 "$ROOT/README.md" "$DOC/README.md"
for f in cli configuration users keys; do install -m 0644 "$ROOT/docs/$f.md" "$DOC/$f.md"; done
cat >"$DOC/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ostiary
Comment: OAuth 2.0 and OpenID Connect provider. Built from the Ostiary source tree, version $VERSION.
COPY

# Depends, from the libraries the binary links (dpkg-shlibdeps wants a debian/control to read).
mkdir -p "$STAGE/debian"
printf 'Source: ostiary\n\nPackage: ostiary\nArchitecture: any\n' >"$STAGE/debian/control"
DEPENDS=$(cd "$STAGE" && dpkg-shlibdeps -O -e pkg/usr/bin/ostiary 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$DEPENDS" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

mkdir -p "$PKG/DEBIAN"
SIZE=$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
cat >"$PKG/DEBIAN/control" <<CTRL
Package: ostiary
Version: $VERSION
Architecture: $ARCH
Maintainer: Ostiary maintainers <maintainers@ostiary.invalid>
Installed-Size: $SIZE
Depends: $DEPENDS
Recommends: systemd
Section: net
Priority: optional
Description: OAuth 2.0 authorization server and OpenID Connect provider
 One binary with an embedded SQLite store: client credentials, authorization
 code with PKCE, refresh token rotation, introspection, revocation, userinfo,
 login and consent pages, native TLS and HTTP/2, reload on SIGHUP.
 .
 Runs as a sandboxed systemd service (ostiary.service); configure
 /etc/ostiary/ostiary.yaml, then: systemctl enable --now ostiary.
CTRL
echo /etc/ostiary/ostiary.yaml >"$PKG/DEBIAN/conffiles"
install -m 0755 "$ROOT/packaging/debian/postinst" "$ROOT/packaging/debian/prerm" "$ROOT/packaging/debian/postrm" \
    "$PKG/DEBIAN/"
chmod -R u+rwX,go+rX,go-w "$PKG"

DEB="$OUT/ostiary_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$PKG" "$DEB" >/dev/null
echo "$DEB"
