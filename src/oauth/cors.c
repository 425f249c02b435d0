/* cors.c: cross-origin access (Fetch standard, CORS protocol) for the endpoints a browser-based public
 * client calls itself: token, revocation and userinfo. They take no cookies, so "*" without credentials is
 * safe; the interactive endpoints (authorize, login, consent) never get CORS headers. */
#include "oauth/endpoints.h"

#include "core/banned.h"

void oauth_cors_preflight(struct http_req *req, const char *methods)
{
    http_res_header(req, "Access-Control-Allow-Origin", "*");
    http_res_header(req, "Access-Control-Allow-Methods", methods);
    http_res_header(req, "Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP");
    http_res_header(req, "Access-Control-Max-Age", "600");
    http_res_body(req, 204, NULL, "", 0);
}

void oauth_cors_allow(struct http_req *req)
{
    http_res_header(req, "Access-Control-Allow-Origin", "*");
    /* So a browser client can read the Bearer or DPoP error of a 401 (RFC 6750 §3, RFC 9449 §7.1) and a
     * server nonce (RFC 9449 §8). */
    http_res_header(req, "Access-Control-Expose-Headers", "WWW-Authenticate, DPoP-Nonce");
}
