/*
 * answer.c - a route's answer without a backend: `redirect` (Location expanded from the
 * route's template) or `respond` (status, body, content type from the configuration).
 */
#include "exchange/xint.h"

#include "core/log.h"
#include "core/net.h"
#include "http/diag.h"

/*
 * The longest Location written: well within a buffer (at least 20 KiB), next to the other
 * fields of the reply and the route's response header rules.
 */
#define LG_LOCATION_MAX 8192

/*
 * The Location of a redirect into loc, its length in *n: LG_OK, or LG_ERR (logged) when it
 * cannot be written whole and valid: no host to name, a value too long or with a control byte.
 */
static int location(lg_exchange_t *x, const lg_req_head_t *rq, const lg_tmpl_t *to, char *loc,
                    size_t *n)
{
    char ip[LG_IP_STRLEN], ctx[LG_DIAG_MAX];
    lg_tmpl_vars_t v;
    const char *why = NULL;

    lg_net_ip_text(x->peer, ip, sizeof(ip));
    lg_x_tmpl_vars(x, rq, ip, &v);
    if ((to->vars & (1u << LG_VAR_HOST)) && v.v[LG_VAR_HOST].len == 0)
        why = "the request names no host";
    else if (lg_tmpl_expand(to, &v, loc, LG_LOCATION_MAX, n) != LG_OK)
        why = "too long, or a value holds a control byte";
    if (why == NULL)
        return LG_OK;
    lg_log(LG_LOG_INFO, "redirect target cannot be written (%s)%s", why,
           lg_exchange_context(x, ctx, sizeof(ctx)));
    return LG_ERR;
}

void lg_x_answer(lg_exchange_t *x, const lg_req_head_t *rq)
{
    const lg_answer_conf_t *a = x->route->answer;
    lg_reply_t r = {.status = (int)a->status};
    lg_buf_t *loc = NULL;
    size_t n;

    if (!a->redirect) {
        r.body = (lg_span_t){a->body, a->body_len};
        if (a->content_type != NULL)
            r.content_type = (lg_span_t){a->content_type, strlen(a->content_type)};
        lg_x_reply(x, &r);
        return;
    }
    if ((loc = lg_buf_get()) == NULL) {
        lg_x_end(x, LG_XEND_REPLY, 503);
        return;
    }
    if (location(x, rq, &a->to, loc->data, &n) != LG_OK) {
        lg_buf_put(&loc);
        lg_x_end(x, LG_XEND_REPLY, 500);
        return;
    }
    r.location = (lg_span_t){loc->data, n};
    lg_x_reply(x, &r); /* the front copied the reply: loc may go (x may be gone too) */
    lg_buf_put(&loc);
}
