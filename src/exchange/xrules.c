/*
 * xrules.c - the header rules of an exchange's route (http/rules.h) and the values of their
 * variables: from the request while its head is there, and for the response from what was kept
 * of it (the head's buffer is reused by then).
 */
#include "exchange/xint.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/net.h"

/* Variables whose values are in the request head: kept for response rules that use them. */
#define LG_VARS_OF_HEAD                                                                            \
    (1u << LG_VAR_HOST | 1u << LG_VAR_URI | 1u << LG_VAR_PATH | 1u << LG_VAR_QUERY)
/* At most this much of a request is kept for its response rules (Host and target). */
#define LG_X_KEEP_MAX 4096

/* The request's Host and normalised target, for response rules (x->kept). */
struct lg_x_kept {
    lg_span_t host, uri;
    char data[];
};

const lg_hdr_rules_t *lg_x_req_rules(const lg_exchange_t *x, const lg_req_head_t *rq,
                                     const char *ip, lg_rule_vals_t *vals)
{
    const lg_hdr_rules_t *r = x->route != NULL ? x->route->request_headers : NULL;

    if (r == NULL)
        return NULL;
    vals->absent = 0;
    if (r->vars != 0)
        lg_x_tmpl_vars(x, rq, ip, &vals->v);
    return r;
}

void lg_x_rules_keep(lg_exchange_t *x, const lg_req_head_t *rq)
{
    const lg_hdr_rules_t *r = x->route->response_headers;
    size_t len = rq->host.len + rq->path.len;
    struct lg_x_kept *k;

    if (r == NULL || (r->vars & LG_VARS_OF_HEAD) == 0 || len > LG_X_KEEP_MAX)
        return; /* too long: the fields that would use them are left out */
    if ((k = malloc(sizeof(*k) + len)) == NULL) {
        lg_log(LG_LOG_ERR, "malloc() of %zu bytes failed: response header rules lose {host} {uri}",
               sizeof(*k) + len);
        return;
    }
    if (rq->host.len > 0) /* an HTTP/1.0 request may have none (p NULL) */
        memcpy(k->data, rq->host.p, rq->host.len);
    memcpy(k->data + rq->host.len, rq->path.p, rq->path.len);
    k->host = (lg_span_t){k->data, rq->host.len};
    k->uri = (lg_span_t){k->data + rq->host.len, rq->path.len};
    x->kept = k;
}

void lg_x_rules_release(lg_exchange_t *x)
{
    free(x->kept);
    x->kept = NULL;
}

const lg_hdr_rules_t *lg_x_rsp_rules(const lg_exchange_t *x, lg_rule_vals_t *vals)
{
    const lg_hdr_rules_t *r = x->route != NULL ? x->route->response_headers : NULL;
    lg_req_head_t rq = {.host = {"", 0}, .path = {"", 0}};

    if (r == NULL)
        return NULL;
    vals->absent = 0;
    if (r->vars == 0)
        return r;
    if (x->kept != NULL) {
        rq.host = x->kept->host;
        rq.path = x->kept->uri;
    } else {
        vals->absent = r->vars & LG_VARS_OF_HEAD;
    }
    vals->ip[0] = '\0';
    if (r->vars & (1u << LG_VAR_CLIENT_IP))
        lg_net_ip_text(x->peer, vals->ip, sizeof(vals->ip));
    lg_x_tmpl_vars(x, &rq, vals->ip, &vals->v);
    return r;
}

/*
 * The route's response rules on own reply *m: its fields that a rule removes or sets go, the
 * rules' fields come after the others, within limits.max_header_size for the whole head (the
 * longest left out when they do not all fit, see lg_hdr_rules_fit).
 */
void lg_x_reply_rules(const lg_exchange_t *x, lg_reply_msg_t *m)
{
    lg_rule_vals_t vals;
    const lg_hdr_rules_t *r = lg_x_rsp_rules(x, &vals);
    lg_rule_field_t f[LG_REPLY_FIELDS_MAX];
    /* the head goes into one buffer beside the body (HTTP/1.1): it fits there too */
    size_t n = 0, used,
           limit = LG_MIN(x->w->conf->limits.max_header_size,
                          lg_buf_size() - LG_MIN(m->body.len, lg_buf_size()));

    if (r == NULL)
        return;
    for (size_t k = 0; k < m->n; k++)
        if (!lg_hdr_rules_drop(r, m->f[k].name))
            m->f[n++] = m->f[k];
    m->n = n;
    used = lg_reply_msg_fields_len(m) + LG_REPLY_FRAME_MAX;
    n = LG_REPLY_FIELDS_MAX - m->n;
    m->vals = lg_hdr_rules_fit(r, &vals, limit > used ? limit - used : 0, f, &n);
    for (size_t k = 0; k < n; k++)
        lg_reply_msg_add(m, f[k].rule->name, f[k].value);
}
