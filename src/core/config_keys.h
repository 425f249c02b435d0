/* config_keys.h: every setting of the configuration, declared once. From these lists come the members of
 * struct config (config.h), the YAML binding (config_yaml.c), defaults, bounds and release
 * (config_schema.c), the OSTIARY_* names (config_env.c: OSTIARY_ + the key path upper-cased, '.' -> '_')
 * and the key table of docs/configuration.md (config_doc_table(), checked by a test).
 *
 * A row: X(name, TYPE, default, min, max, flags, doc)
 *   TYPE     STR (text), U32 (a checked decimal), BOOL (true/false, yes/no, 1/0), LIST (of text; max is its
 *            entry cap; a count member n_<name> comes with it); in entries also BOOLSTR (a boolean kept as
 *            the text "true"/"false", NULL when absent) and ADDRESS (the mapping of struct cfg_address).
 *   default  the value when absent, written as in the environment (a LIST: comma-separated); NULL: unset.
 *   min, max U32: the inclusive bounds config_validate() checks (entries: their validators).
 *   flags    CFG_SECRET: never echoed, wiped when freed. CFG_RESTART: read at start only; a reload (SIGHUP)
 *            that finds it changed keeps the running value and logs that it needs a restart.
 *   doc      the "accepted values" column of the key table (U32 rows get "min..max" in front, LIST rows
 *            their cap and the environment's comma list after). */
#ifndef OSTIARY_CONFIG_KEYS_H
#define OSTIARY_CONFIG_KEYS_H

#include "core/claims.h"

enum cfg_key_flags { CFG_SECRET = 1 << 0, CFG_RESTART = 1 << 1 };

#define CFG_DAY 86400u
/* A per-entry access_token_ttl (resources[], clients[]): 0 means "inherit". */
#define CFG_ENTRY_TTL_MAX (366u * CFG_DAY)

/* clang-format off */

/* Top-level settings. */
#define CONFIG_TOP(X)                                                                                        \
    X(issuer, STR, "http://localhost:4000", 0, 0, CFG_RESTART,                                               \
      "absolute `http`/`https` URL, see [issuer](#issuer)")                                                  \
    X(listen, STR, "127.0.0.1:4000", 0, 0, CFG_RESTART,                                                      \
      "`host:port`, `[ipv6]:port` or `:port` (= `0.0.0.0:port`)")                                            \
    X(storage, STR, "sqlite:./var/ostiary.db", 0, 0, CFG_RESTART,                                            \
      "`sqlite:<file path>`, or `postgres://user:password@host:port/database?params` for several "          \
      "instances on one PostgreSQL ([deployment.md](deployment.md))")                                        \
    X(workers, U32, "0", 0, 1024, CFG_RESTART,                                                               \
      "event-loop threads; 0 = number of online CPUs. As many pool threads again verify login passwords "    \
      "(argon2id) off the loops; each thread has its own store connection (on PostgreSQL: twice `workers` "  \
      "connections per instance; more workers than cores can hide database round trips, see "                \
      "[deployment.md](deployment.md#threads-and-connections))")                                             \
    X(log_level, STR, "info", 0, 0, CFG_RESTART, "`debug`, `info`, `warn`, `error`")                         \
    X(dev, BOOL, "false", 0, 0, CFG_RESTART, "boolean, see [dev mode](#dev-mode)")                           \
    /* Off: a plain-HTTP listener sees HTTP/2 only from clients that assume it without asking (prior        \
     * knowledge), which in production means a proxy configured for it. */                                  \
    X(http2_cleartext, BOOL, "false", 0, 0, CFG_RESTART,                                                     \
      "boolean: also serve HTTP/2 on the plain-HTTP listener, see [http2_cleartext](#http2_cleartext)")      \
    /* Empty: X-Forwarded-For is read from nobody unless the operator names their proxies. */               \
    X(trusted_proxies, LIST, NULL, 0, 64, CFG_RESTART,                                                       \
      "IP addresses and CIDR ranges of your reverse proxies, see [trusted_proxies](#trusted_proxies)")

/* The sections (mappings of settings): S(name, ROWS). */
#define CONFIG_SECTIONS(S)                                                                                   \
    S(keys, CONFIG_KEYS)                                                                                     \
    S(tokens, CONFIG_TOKENS)                                                                                 \
    S(limits, CONFIG_LIMITS)                                                                                 \
    S(sessions, CONFIG_SESSIONS)                                                                             \
    S(refresh, CONFIG_REFRESH)                                                                               \
    S(userinfo, CONFIG_USERINFO)                                                                             \
    S(pkce, CONFIG_PKCE)                                                                                     \
    S(login, CONFIG_LOGIN)                                                                                   \
    S(device, CONFIG_DEVICE)                                                                                 \
    S(ui, CONFIG_UI)                                                                                         \
    S(tls, CONFIG_TLS)                                                                                       \
    S(admin, CONFIG_ADMIN)                                                                                   \
    S(fetch, CONFIG_FETCH)                                                                                   \
    S(par, CONFIG_PAR)                                                                                       \
    S(registration, CONFIG_REGISTRATION)                                                                     \
    S(passwords, CONFIG_PASSWORDS)                                                                           \
    S(dpop, CONFIG_DPOP)

/* Mappings inside a section, each named by a SECTION row of its section: S(name, ROWS). */
#define CONFIG_SUBSECTIONS(S) S(argon2id, CONFIG_PASSWORDS_ARGON2ID)

#define CONFIG_KEYS(X)                                                                                       \
    X(algorithms, LIST, "RS256", 0, 8, CFG_RESTART,                                                          \
      "at least one of `RS256`, `ES256`, `EdDSA`, no duplicates")                                            \
    X(secret, STR, NULL, 0, 0, CFG_SECRET | CFG_RESTART, "at least 32 characters; never shown in a message") \
    X(secret_file, STR, NULL, 0, 0, CFG_RESTART,                                                             \
      "path of a file holding the secret; not with `keys.secret`")                                           \
    X(reload_interval, U32, "60", 1, CFG_DAY, 0, "seconds between reloads of the keys from the store")   \
    /* Off: rotation is an operator's decision until they turn it on (`ostiary keys rotate` meanwhile). */ \
    X(rotation_period, U32, "0", 0, 3660 * CFG_DAY, 0,                                                       \
      "seconds a key signs before the next one takes over; 0: no automatic rotation "                        \
      "([keys.md](keys.md#automatic-rotation))")                                                             \
    X(publish_ahead, U32, "86400", 0, 366 * CFG_DAY, 0,                                                      \
      "seconds a new key of the automatic rotation is in the JWKS before it signs; at least "                \
      "`keys.reload_interval`, less than `keys.rotation_period`")

#define CONFIG_TOKENS(X)                                                                                     \
    X(access_token_ttl, U32, "600", 1, 366 * CFG_DAY, 0, "seconds")                                          \
    X(refresh_token_ttl, U32, "1209600", 1, 3660 * CFG_DAY, 0, "seconds (the default is 14 days)")          \
    X(id_token_ttl, U32, "3600", 1, 366 * CFG_DAY, 0, "seconds")                                             \
    /* RFC 6749 §4.1.2: a maximum authorization code lifetime of 10 minutes is RECOMMENDED. */              \
    X(code_ttl, U32, "60", 1, 600, 0, "seconds (authorization codes)")

#define CONFIG_LIMITS(X)                                                                                     \
    X(max_body_bytes, U32, "65536", 1024, 16u * 1024 * 1024, CFG_RESTART,                                    \
      "; larger bodies get 413 and the connection is closed (after the client had time to read the 413, "   \
      "see [HTTP](#http))")                                                                                  \
    X(max_params, U32, "64", 8, 4096, 0,                                                                     \
      "parameters per query or form body; more is `invalid_request` (400)")                                  \
    X(max_header_bytes, U32, "16384", 1024, 1024 * 1024, CFG_RESTART, "; larger header sections get 431")    \
    X(request_timeout_ms, U32, "10000", 100, 600000, CFG_RESTART,                                            \
      "; a request not fully received in this time has its connection closed (no response is sent)")        \
    /* Login posts waiting for a password-hashing thread; a full queue answers 503 at once. */              \
    X(login_queue, U32, "32", 1, 100000, CFG_RESTART,                                                        \
      "login posts waiting for a password-hashing thread; one more gets the login page again, 503 with "    \
      "`Retry-After`, without being hashed ([users.md](users.md#the-login-queue))")

#define CONFIG_SESSIONS(X)                                                                                   \
    X(ttl, U32, "86400", 60, 366 * CFG_DAY, 0,                                                               \
      "seconds: lifetime of a login session (fixed from the login; not extended by use)")                    \
    X(cookie_name, STR, "ostiary_session", 0, 0, 0,                                                          \
      "1..64 characters of an RFC 6265 cookie name (letters, digits, ``!#$%&'*+-.^_`\\|~``)")

/* RFC 9700 §4.14.2: off by default (any reuse of a rotated token revokes the family, as Hydra and Auth0
 * default to); a grace period trades some of that detection for tolerance of lost responses. */
#define CONFIG_REFRESH(X)                                                                                    \
    X(refresh_grace_period, U32, "0", 0, 300, 0,                                                             \
      "seconds during which a used refresh token may be presented once more (a lost response); 0: any "      \
      "reuse revokes the family ([below](#refresh_grace_period))")

#define CONFIG_USERINFO(X)                                                                                   \
    X(allow_query_token, BOOL, "false", 0, 0, 0, "accept `?access_token=` at userinfo (RFC 6750 §2.3)")

#define CONFIG_PKCE(X)                                                                                       \
    X(required, BOOL, "true", 0, 0, 0, "default of `require_pkce` for clients that do not set it")

/* The first delay; the limiter doubles it per further failure up to 15 minutes (session/users.h). */
#define CONFIG_LOGIN(X)                                                                                      \
    X(max_failures, U32, "5", 1, 1000, CFG_RESTART,                                                          \
      "failed logins per (username, address) and per known browser (device cookie) before a delay; per "     \
      "address and per username (browsers without a device cookie for it), 4 times as many "               \
      "([users.md](users.md#login-and-the-failed-login-limiter))")                                           \
    X(lockout_seconds, U32, "30", 1, 900, CFG_RESTART,                                                       \
      ": the first delay; doubled per further failure, at most 15 minutes")

/* The device authorization grant (RFC 8628). RFC 8628 §3.2: interval defaults to 5 s; §6.1: a short-lived,
 * rate-limited user code keeps guessing hopeless (docs/device.md has the arithmetic). */
#define CONFIG_DEVICE(X)                                                                                     \
    X(code_ttl, U32, "600", 1, 1800, 0,                                                                      \
      "seconds: lifetime of a device code and its user code (`expires_in`, [device.md](device.md))")        \
    X(interval, U32, "5", 1, 60, 0,                                                                          \
      "seconds a device waits between two polls of the token endpoint (`interval`); a faster poll gets "     \
      "`slow_down` and 5 s more for that device code")                                                       \
    X(max_failures, U32, "5", 1, 1000, 0,                                                                    \
      "wrong user codes on the verification page per address and per browser before a delay")               \
    X(lockout_seconds, U32, "60", 1, 900, CFG_RESTART,                                                       \
      ": the first delay after `device.max_failures` wrong codes; doubled per further one, at most 15 "      \
      "minutes")

#define CONFIG_UI(X)                                                                                         \
    X(dir, STR, NULL, 0, 0, 0,                                                                               \
      "directory of page templates ([web/README.md](../web/README.md)); not empty; unset: the built-in "     \
      "pages")

/* Unset: plain HTTP (a proxy in front terminates TLS). HSTS: one year, the common preload-list minimum. */
#define CONFIG_TLS(X)                                                                                        \
    X(cert_file, STR, NULL, 0, 0, CFG_RESTART,                                                               \
      "PEM file: the server certificate, then its chain; with `tls.key_file`, every listener speaks TLS "   \
      "only, see [tls](#tls)")                                                                               \
    X(key_file, STR, NULL, 0, 0, CFG_RESTART, "PEM file of the certificate's private key")                   \
    X(hsts_max_age, U32, "31536000", 0, 2 * 366 * CFG_DAY, CFG_RESTART,                                      \
      "seconds of the `Strict-Transport-Security` header sent when the issuer is `https`; 0: none")

/* Unset: no admin listener. Loopback only, so the admin API is never reached from the network by default. */
#define CONFIG_ADMIN(X)                                                                                      \
    X(listen, STR, NULL, 0, 0, CFG_RESTART,                                                                  \
      "`host:port` of the admin API's listener, a loopback address unless TLS is on; unset: no admin "       \
      "listener, see "                                                                                       \
      "[admin](#admin)")                                                                                     \
    /* Off: a scrape needs a token of the admin API with ostiary:metrics, as every admin route does. */     \
    X(metrics_public, BOOL, "false", 0, 0, 0,                                                                \
      "boolean: serve `GET /metrics` of the admin listener without a token, see [metrics](#metrics)")

/* Users' password hashes. */
#define CONFIG_PASSWORDS(X) X(argon2id, SECTION, NULL, 0, 0, 0, "")

/* OWASP's minimum for argon2id (Password Storage Cheat Sheet: 19 MiB, 2 passes, 1 lane; libsodium's
 * crypto_pwhash uses one lane). The lower bounds are libsodium's own minimum (8 KiB, 1 pass). */
#define CONFIG_PASSWORDS_ARGON2ID(X)                                                                         \
    X(memory_kib, U32, "19456", 8, 1048576, CFG_RESTART,                                                     \
      "KiB of memory per hash; new hashes and, at the next login, any stored hash made with other "          \
      "parameters use it ([users.md](users.md#password-hashing))")                                           \
    X(iterations, U32, "2", 1, 64, CFG_RESTART,                                                              \
      "passes over that memory; as above")

/* HTTPS fetches of documents clients publish (jwks_uri): http/fetch.h. Bounded so that a slow or huge
 * document costs a pool thread a few seconds and some KiB at most. */
#define CONFIG_FETCH(X)                                                                                      \
    X(ca_file, STR, NULL, 0, 0, CFG_RESTART,                                                                 \
      "PEM file of the CAs trusted for these fetches; unset: the system's CA store")                        \
    X(timeout_ms, U32, "5000", 100, 30000, CFG_RESTART, "; the whole fetch (the connect phase: half of it)")  \
    X(max_bytes, U32, "65536", 1024, 1048576, CFG_RESTART, "; a larger document fails the fetch")           \
    X(cache_min_seconds, U32, "60", 0, CFG_DAY, CFG_RESTART,                                                 \
      ": a fetched document is kept at least this long, whatever its `Cache-Control` says")                 \
    X(cache_max_seconds, U32, "86400", 1, 7 * CFG_DAY, CFG_RESTART,                                          \
      ": and at most this long (`max-age` is honoured in between)")                                         \
    X(refetch_seconds, U32, "10", 0, 3600, CFG_RESTART,                                                      \
      ": at most one fetch of a URL per this many seconds, when a token names a key the cached JWKS lacks "  \
      "or after a failed fetch")                                                                          \
    /* Off: a URL a client registers (jwks_uri) must not make the server reach into its own network (SSRF). */ \
    X(allow_private_addresses, BOOL, "false", 0, 0, CFG_RESTART,                                             \
      "boolean: also connect to addresses that are not public (loopback, private, link-local, CGNAT, "       \
      "multicast, unspecified; checked on the address connected to), which lets any client that registers "  \
      "a URL make the server send requests into its own network; for tests and closed networks only")

/* Pushed authorization requests (RFC 9126). Not required by default: a client may still send its request
 * through the browser, as every client library does unless told otherwise. */
#define CONFIG_PAR(X)                                                                                        \
    X(required, BOOL, "false", 0, 0, 0,                                                                      \
      "boolean: every authorization request must come through `/request` (RFC 9126 §5; a client's own "     \
      "`require_pushed_authorization_requests` asks it for that client only), see [par](#par)")             \
    /* RFC 9126 §2.2: short-lived; 5 to 600 seconds is the range it gives as reasonable. */                 \
    X(request_uri_ttl, U32, "60", 5, 600, 0, "seconds a pushed request's `request_uri` can be used (once)")

/* Dynamic client registration (RFC 7591, RFC 7592): off, and when on, only with an initial access token
 * unless `open` says otherwise. The policy limits what a registered client may ask for. */
#define CONFIG_REGISTRATION(X)                                                                               \
    X(enabled, BOOL, "false", 0, 0, 0,                                                                       \
      "boolean: serve `POST /reg` and advertise `registration_endpoint`, see "                               \
      "[registration](#registration)")                                                                       \
    X(open, BOOL, "false", 0, 0, 0,                                                                          \
      "boolean: register anybody, without an initial access token (`ostiary registration token create`)")   \
    X(grant_types, LIST, "authorization_code,refresh_token", 0, 8, 0,                                        \
      "the grant types a registered client may have")                                                        \
    X(response_types, LIST, "code", 0, 8, 0, "the response types a registered client may have")              \
    X(auth_methods, LIST, "client_secret_basic,client_secret_post,none", 0, 8, 0,                            \
      "the `token_endpoint_auth_method` values a registered client may have")                                \
    X(scopes, LIST, "openid,profile,email,offline_access", 0, 256, 0,                                        \
      "the scopes a registered client may register (and gets when it names none)")                          \
    X(resources, LIST, NULL, 0, 64, 0,                                                                       \
      "the APIs (`resources[].identifier`) a registered client may get tokens for; empty: none")             \
    X(redirect_uri_schemes, LIST, "https", 0, 16, 0,                                                         \
      "the schemes a registered redirect URI may have (`https`, a native app's `com.example.app`)")          \
    X(redirect_uri_hosts, LIST, NULL, 0, 256, 0,                                                             \
      "the hosts of registered `http(s)` redirect URIs: `rp.example.com`, or `*.example.com` for its "       \
      "subdomains; empty: any host")                                                                         \
    X(allow_localhost, BOOL, "false", 0, 0, 0,                                                               \
      "boolean: allow redirect URIs to `localhost`, `127.0.0.1` and `[::1]` (over `http` too), whatever "    \
      "the schemes and hosts")                                                                               \
    X(rate_limit, U32, "10", 1, 100000, CFG_RESTART,                                                         \
      "registrations per address before a wait of 60 s, doubled per further registration (at most 15 "     \
      "minutes; forgotten 15 minutes after the last)")                                                       \
    /* Off: a client_id that is a URL makes the server fetch that URL, for anybody who names one. */         \
    X(client_id_metadata_documents, BOOL, "false", 0, 0, 0,                                                  \
      "boolean: accept as `client_id` an `https` URL whose JSON document describes the client (OAuth "      \
      "Client ID Metadata Documents), checked by this policy too; see [registration](#registration)")

/* DPoP (RFC 9449, docs/dpop.md). Nonces off: a proof's iat window and its single-use jti already bound
 * replay; server nonces (§8) also bound pre-generated proofs, at the cost of one more round trip for each
 * client that does not hold a current nonce. */
#define CONFIG_DPOP(X)                                                                                       \
    X(nonce, BOOL, "false", 0, 0, 0,                                                                         \
      "boolean: require a server-provided nonce in every DPoP proof (`use_dpop_nonce`, `DPoP-Nonce`), see "  \
      "[dpop.md](dpop.md#server-nonces)")                                                                    \
    X(proof_max_age, U32, "60", 5, 600, 0,                                                                   \
      "seconds: how old a proof's `iat` may be (10 seconds ahead are allowed for clock skew); its `jti` is "  \
      "remembered that long")

/* The lists of mappings, from the file only: E(name, struct, ROWS, max entries). */
#define CONFIG_ENTRIES(E)                                                                                    \
    E(resources, cfg_resource, CONFIG_RESOURCE, 256)                                                         \
    E(clients, cfg_client, CONFIG_CLIENT, 4096)                                                              \
    E(users, cfg_user, CONFIG_USER, 4096)

/* resources[]: APIs (RFC 8707). Checked by config_validate(). */
#define CONFIG_RESOURCE(X)                                                                                   \
    X(identifier, STR, NULL, 0, 0, 0, "")                                                                    \
    X(audience, STR, NULL, 0, 0, 0, "")                                                                      \
    X(scopes, LIST, NULL, 0, 256, 0, "")                                                                     \
    X(access_token_format, STR, NULL, 0, 0, 0, "")                                                           \
    X(signing_alg, STR, NULL, 0, 0, 0, "")                                                                   \
    X(access_token_ttl, U32, NULL, 0, CFG_ENTRY_TTL_MAX, 0, "")

/* clients[]: RFC 7591 §2 metadata names. Checked by oauth/client_check.c. */
#define CONFIG_CLIENT(X)                                                                                     \
    X(client_id, STR, NULL, 0, 0, 0, "")                                                                     \
    X(client_secret, STR, NULL, 0, 0, CFG_SECRET, "")                                                        \
    X(client_secret_sha256, STR, NULL, 0, 0, CFG_SECRET, "")                                                 \
    X(client_name, STR, NULL, 0, 0, 0, "")                                                                   \
    X(application_type, STR, NULL, 0, 0, 0, "")                                                              \
    X(grant_types, LIST, NULL, 0, 8, 0, "")                                                                  \
    X(response_types, LIST, NULL, 0, 8, 0, "")                                                               \
    X(redirect_uris, LIST, NULL, 0, 64, 0, "")                                                               \
    X(token_endpoint_auth_method, STR, NULL, 0, 0, 0, "")                                                    \
    X(token_endpoint_auth_signing_alg, STR, NULL, 0, 0, 0, "")                                               \
    X(jwks, STR, NULL, 0, 0, 0, "")                                                                          \
    X(jwks_uri, STR, NULL, 0, 0, 0, "")                                                                      \
    X(scope, STR, NULL, 0, 0, 0, "")                                                                         \
    X(resources, LIST, NULL, 0, 64, 0, "")                                                                   \
    X(access_token_ttl, U32, NULL, 0, CFG_ENTRY_TTL_MAX, 0, "")                                              \
    X(post_logout_redirect_uris, LIST, NULL, 0, 64, 0, "")                                                   \
    X(id_token_signed_response_alg, STR, NULL, 0, 0, 0, "")                                                  \
    X(id_token_claims, STR, NULL, 0, 0, 0, "")                                                               \
    X(refresh_token_policy, STR, NULL, 0, 0, 0, "")                                                          \
    X(pkce_methods, LIST, NULL, 0, 4, 0, "")                                                                 \
    X(require_pkce, STR, NULL, 0, 0, 0, "")                                                                  \
    X(require_pushed_authorization_requests, STR, NULL, 0, 0, 0, "")                                         \
    X(introspection_access, STR, NULL, 0, 0, 0, "")                                                          \
    X(introspection_resources, LIST, NULL, 0, 64, 0, "")                                                     \
    X(dpop_bound_access_tokens, STR, NULL, 0, 0, 0, "")                                                     \
    X(request_object_signing_alg, STR, NULL, 0, 0, 0, "")                                                    \
    X(require_signed_request_object, STR, NULL, 0, 0, 0, "")

/* users[]: end users (docs/users.md). Checked by session/user_check.c. The claims are those of claims.h:
 * a text claim is STR, a boolean BOOLSTR, the address ADDRESS; updated_at is the store's. */
#define CONFIG_USER(X)                                                                                       \
    X(id, STR, NULL, 0, 0, 0, "")                                                                            \
    X(username, STR, NULL, 0, 0, 0, "")                                                                      \
    X(password, STR, NULL, 0, 0, CFG_SECRET, "")                                                             \
    X(password_hash, STR, NULL, 0, 0, CFG_SECRET, "")                                                        \
    X(disabled, BOOL, NULL, 0, 0, 0, "")                                                                     \
    OIDC_CLAIMS(CFG_CLAIM_ROW, X)
#define CFG_CLAIM_ROW(X, n, kind, scope, option) CFG_CLAIM_ROW_##kind(X, n)
#define CFG_CLAIM_ROW_CLAIM_TEXT(X, n) X(n, STR, NULL, 0, 0, 0, "")
#define CFG_CLAIM_ROW_CLAIM_URL(X, n) X(n, STR, NULL, 0, 0, 0, "")
#define CFG_CLAIM_ROW_CLAIM_EMAIL(X, n) X(n, STR, NULL, 0, 0, 0, "")
#define CFG_CLAIM_ROW_CLAIM_DATE(X, n) X(n, STR, NULL, 0, 0, 0, "")
#define CFG_CLAIM_ROW_CLAIM_BOOL(X, n) X(n, BOOLSTR, NULL, 0, 0, 0, "")
#define CFG_CLAIM_ROW_CLAIM_ADDRESS(X, n) X(n, ADDRESS, NULL, 0, 0, 0, "")
#define CFG_CLAIM_ROW_CLAIM_TIME(X, n)

/* users[].address (OIDC Core §5.1.1). */
#define CONFIG_ADDRESS(X) OIDC_ADDRESS_PARTS(CFG_ADDRESS_ROW, X)
#define CFG_ADDRESS_ROW(X, n, multiline) X(n, STR, NULL, 0, 0, 0, "")

/* clang-format on */

/* The members a row declares (struct config and its entries, config.h). */
#define CFG_MEMBER(name, type, def, min, max, flags, doc) CFG_MEMBER_##type(name)
#define CFG_MEMBER_STR(n) char *n;
#define CFG_MEMBER_U32(n) uint32_t n;
#define CFG_MEMBER_BOOL(n) bool n;
#define CFG_MEMBER_BOOLSTR(n) char *n;
#define CFG_MEMBER_LIST(n)                                                                                   \
    char **n;                                                                                                \
    unsigned n_##n;
#define CFG_MEMBER_ADDRESS(n) struct cfg_address *n;
#define CFG_MEMBER_SECTION(n) struct cfg_##n n;

#endif
