/* revoke.c: token revocation (RFC 7009). Requires client authentication; answers 200 for unknown,
 * expired and already revoked tokens (§2.2); refuses, with invalid_request, to revoke a live token that
 * was issued to another client (§2.1). A refresh token revokes its whole grant (§2.1: the access tokens
 * of the same grant too); an access token only itself (JWTs by their row, or by jti). CORS is open for
 * browser-based public clients (cors.c). */
#include <string.h>

#include "app.h"
#include "core/log.h"
#include "core/rand.h"
#include "oauth/client.h"
#include "oauth/endpoints.h"
#include "oauth/tokens.h"
#include "core/banned.h"

void oauth_revoke_handle(struct http_req *req)
{
    struct form f;
    struct client c;
    struct str token;
    struct oauth_error e = backchannel_form(req, &f);
    if (!oauth_failed(e))
        e = client_authenticate(req, &f, true, &c);
    if (!oauth_failed(e))
        e = token_param_parse(&f, &token);
    if (!oauth_failed(e)) {
        bool foreign = false;
        struct errbuf err;
        int rc = token_revoke(req->worker, req->arena, token.p, token.len, c.client_id, clock_now(), &foreign, &err);
        if (rc != 0) {
            e = oauth_store_failed(req, "revoke", rc, &err);
        } else if (foreign) {
            e = OAUTH_ERROR(INVALID_REQUEST, "the token was not issued to this client");
        }
    }
    if (oauth_failed(e)) {
        oauth_error_send_json(req, e);
        return;
    }
    http_res_no_store(req);
    http_res_body(req, 200, NULL, "", 0);
}
