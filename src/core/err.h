/* err.h: error detail for the layers below oauth/ (store, jose, http, config). Functions return 0 on
 * success and a negative code on failure, and write a human-readable reason into a struct errbuf that
 * stays untouched on success (git's api-error-handling). The text is for logs and the CLI, never for
 * clients: the endpoint turns such a failure into server_error (temporarily_unavailable for
 * ERR_UNAVAILABLE). */
#ifndef OSTIARY_ERR_H
#define OSTIARY_ERR_H

struct errbuf {
    char msg[512];
};

/* Common negative codes; modules may add their own below -100. */
enum {
    ERR_FAIL = -1,      /* generic failure, see errbuf */
    ERR_NOTFOUND = -2,  /* the looked-up row or key does not exist */
    ERR_CONFLICT = -3,  /* already consumed / already exists / lost a race */
    ERR_INVALID = -4,   /* input rejected */
    ERR_UNAVAILABLE = -5, /* a service we depend on (the database) cannot be reached now; retry later */
};

void errbuf_set(struct errbuf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
