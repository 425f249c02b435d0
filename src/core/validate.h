/* validate.h: syntax checks shared by the configuration loader and the CLI, so that a value accepted in
 * the YAML file is accepted on the command line and the reverse: visible ASCII identifiers, scope tokens
 * and lists (RFC 6749 §3.3), URI schemes (RFC 3986 §3.1), loopback hosts (RFC 8252 §7.3), claim text
 * and birthdates (OIDC Core §5.1). Pure functions on NUL-terminated strings. */
#ifndef OSTIARY_VALIDATE_H
#define OSTIARY_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

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

#endif
