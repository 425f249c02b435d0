/* validate.h: syntax checks shared by the configuration loader and the CLI, so that a value accepted in
 * the YAML file is accepted on the command line and the reverse: visible ASCII identifiers, scope tokens
 * and lists (RFC 6749 §3.3), URI schemes (RFC 3986 §3.1), http(s) URLs, loopback hosts (RFC 8252 §7.3),
 * claim text, e-mail addresses and birthdates (OIDC Core §5.1), checked numbers and booleans. Pure
 * functions on NUL-terminated strings. */
#ifndef OSTIARY_VALIDATE_H
#define OSTIARY_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Visible ASCII only: no spaces, controls or raw UTF-8 (URIs carry those percent-encoded). */
bool valid_visible_ascii(const char *s);
/* RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
bool valid_scope_token(const char *s, size_t n);
/* RFC 6749 §3.3: scope-token *( SP scope-token ), exactly one space between tokens; "" is not valid. */
bool valid_scope_list(const char *s);
/* RFC 3986 §3.1: length of the scheme before ':', or 0 when there is no valid scheme. */
size_t uri_scheme_len(const char *s);
/* localhost, [::1], or 127.0.0.0/8 as a canonical dotted quad. */
bool host_is_loopback(const char *h, size_t n);
/* Valid UTF-8 without control characters; line breaks only when multiline (OIDC Core §5.1.1). */
bool valid_claim_text(const char *s, bool multiline);
/* OIDC Core §5.1: YYYY-MM-DD (year 0000 meaning omitted) or YYYY. */
bool valid_birthdate(const char *s);
/* A deliberately loose RFC 5322 addr-spec: something@something, no spaces or control characters. The
 * address is shown to relying parties, not used to send mail. */
bool valid_email(const char *s);

/* An absolute http or https URL split by http_url_check(). */
struct url_parts {
    bool https;
    const char *host; /* as written, brackets included for IPv6 */
    size_t host_len;
    const char *path; /* from the first '/', '?' or '#' after the authority, or "" */
};
/* The reason http_url_check() gives for a URL with userinfo. Such a URL may carry a password: a caller
 * that gets this reason (compare the pointer) must not echo the URL. */
extern const char url_userinfo_reason[];
/* Checks an absolute http or https URL: lower-case scheme, visible ASCII, no userinfo, a host of letters,
 * digits, '.' and '-' (or a bracketed IPv6 literal), an optional port 1..65535. Returns NULL and fills
 * *u, or the reason ("must be an absolute http or https URL", "has an invalid host", ...). */
const char *http_url_check(const char *s, struct url_parts *u);

/* A port (RFC 3986 §3.2.3) of n bytes: 1 to 5 digits, at most 65535. The port, or -1. */
int parse_port(const char *p, size_t n);
/* Checked decimal conversion: digits only (no sign, blank or "0x"), within uint32_t. 0, or -1. */
int parse_u32(const char *s, uint32_t *out);
/* The booleans of the configuration: true/false, yes/no, 1/0, in any case. 0, or -1 (out untouched). */
int parse_bool(const char *s, bool *out);

#endif
