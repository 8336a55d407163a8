/*
 * accesslog.c - the buffered access log (see accesslog.h).
 */
#include "http/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define LG_ALOG_BUF   (64 * 1024)
#define LG_ALOG_FLUSH (LG_ALOG_BUF / 2)
#define LG_ALOG_LINE  8192
/* TLS fields: an SNI of up to 255 bytes and a subject, each byte escaped to at most 6 */
#define LG_ALOG_SNI_MAX     (6 * 255 + 8)
#define LG_ALOG_SUBJECT_MAX 2048
#define LG_ALOG_TLS_MAX     (LG_ALOG_SNI_MAX + LG_ALOG_SUBJECT_MAX + 256)

static int fd = -1;
static const char *path; /* NULL: stdout */
static lg_access_format_t format;
static char buf[LG_ALOG_BUF];
static size_t used;
static time_t cached_sec;
static char cached_local[40], cached_iso[40];

int lg_alog_enabled(void)
{
    return fd >= 0;
}

static int open_path(void)
{
    int nfd;

    if (path == NULL)
        return dup(STDOUT_FILENO);
    nfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (nfd < 0)
        lg_log(LG_LOG_ERR, "open() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
    return nfd;
}

int lg_alog_open(const lg_config_t *cf)
{
    format = cf->log.format;
    if (cf->log.access == NULL)
        return LG_OK;
    path = strcmp(cf->log.access, "stdout") == 0 ? NULL : cf->log.access;
    fd = open_path();
    return fd >= 0 ? LG_OK : LG_ERR;
}

void lg_alog_flush(void)
{
    size_t off = 0;

    while (fd >= 0 && off < used) {
        ssize_t n = write(fd, buf + off, used - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a full disk loses lines, never requests */
        off += (size_t)n;
    }
    used = 0;
}

void lg_alog_reopen(void)
{
    int nfd;

    if (fd < 0)
        return;
    lg_alog_flush();
    nfd = open_path();
    if (nfd < 0)
        return;
    close(fd);
    fd = nfd;
}

static void times_update(void)
{
    time_t now = time(NULL);
    struct tm tm;

    if (now == cached_sec)
        return;
    cached_sec = now;
    localtime_r(&now, &tm);
    strftime(cached_local, sizeof(cached_local), "%d/%b/%Y:%H:%M:%S %z", &tm);
    gmtime_r(&now, &tm);
    strftime(cached_iso, sizeof(cached_iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Length of the valid UTF-8 sequence at `s` (1 to 4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;

    if (s[0] < 0x80)
        return 1;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    }
    /* no overlong forms, no surrogates, nothing past U+10FFFF */
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
        return 0;
    return n;
}

size_t lg_alog_escape(char *out, size_t cap, const char *str, int json)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = 0, len;

    while (*s != '\0' && n + 8 < cap) {
        if (!json) {
            if (*s == '"' || *s == '\\' || *s < 0x20 || *s >= 0x7f)
                n += (size_t)snprintf(out + n, cap - n, "\\x%02X", *s);
            else
                out[n++] = (char)*s;
            s++;
        } else if (*s == '"' || *s == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*s++;
        } else if (*s < 0x20 || *s == 0x7f || (len = utf8_len(s)) == 0) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *s++);
        } else {
            memcpy(out + n, s, len);
            n += len;
            s += len;
        }
    }
    out[n] = '\0';
    return n;
}

/* The TLS fields of a json line (`,"tls_version":...`), "" for a plain request. */
static void json_tls(char *out, size_t cap, const SSL *ssl)
{
    char sni[LG_ALOG_SNI_MAX], subject[LG_ALOG_SUBJECT_MAX];
    lg_tls_info_t tls;

    out[0] = '\0';
    if (ssl == NULL)
        return;
    lg_tls_session_info(ssl, &tls);
    lg_alog_escape(sni, sizeof(sni), tls.sni != NULL ? tls.sni : "", 1);
    lg_alog_escape(subject, sizeof(subject), tls.subject, 1);
    snprintf(out, cap,
             ",\"tls_version\":\"%s\",\"tls_cipher\":\"%s\",\"tls_sni\":\"%s\","
             "\"tls_resumed\":%s,\"tls_client_subject\":\"%s\"",
             tls.version, tls.cipher, sni, tls.resumed ? "true" : "false", subject);
}

/* Buffer one formatted line (snprintf's `n` into `cap` bytes: cut to fit, still one line). */
static void append(char *line, int n, size_t cap)
{
    if (n < 0)
        return;
    if ((size_t)n >= cap) {
        n = (int)cap - 1;
        line[n - 1] = '\n';
    }
    if (used + (size_t)n > sizeof(buf))
        lg_alog_flush();
    memcpy(buf + used, line, (size_t)n);
    used += (size_t)n;
    if (used >= LG_ALOG_FLUSH)
        lg_alog_flush();
}

void lg_alog_write(const lg_alog_entry_t *e)
{
    char line[LG_ALOG_LINE], method[512], target[2048], ua[1024], ref[1024], rid[256];
    char tls[LG_ALOG_TLS_MAX];
    int json = format == LG_ACCESS_JSON;
    int n;

    if (fd < 0)
        return;
    times_update();
    /* the method too: a request line that did not parse logs whatever came before a space */
    lg_alog_escape(method, sizeof(method), e->method, json);
    lg_alog_escape(target, sizeof(target), e->target, json);
    lg_alog_escape(ua, sizeof(ua), e->user_agent, json);
    lg_alog_escape(ref, sizeof(ref), e->referer, json);
    lg_alog_escape(rid, sizeof(rid), e->request_id, json);
    if (json) {
        json_tls(tls, sizeof(tls), e->tls);
        n = snprintf(line, sizeof(line),
                     "{\"time\":\"%s\",\"client\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
                     "\"protocol\":\"%s\",\"status\":%d,\"bytes\":%llu,\"duration_ms\":%llu,"
                     "\"upstream\":\"%s\",\"upstream_ms\":%lld,\"pool\":\"%s\","
                     "\"listener\":\"%s\",\"request_id\":\"%s\",\"referer\":\"%s\","
                     "\"user_agent\":\"%s\"%s}\n",
                     cached_iso, e->client, method, target, e->protocol, e->status,
                     (unsigned long long)e->body_bytes, (unsigned long long)e->duration_ms,
                     e->upstream, (long long)e->upstream_ms, e->pool, e->listener, rid, ref, ua,
                     tls);
    } else {
        /* no request line at all (plain HTTP on a TLS port...): "-", as nginx writes it */
        n = snprintf(line, sizeof(line), "%s - - [%s] \"%s%s%s%s%s\" %d %llu \"%s\" \"%s\"\n",
                     e->client, cached_local, method[0] ? method : "-", method[0] ? " " : "",
                     method[0] ? target : "", method[0] ? " " : "", method[0] ? e->protocol : "",
                     e->status, (unsigned long long)e->body_bytes, ref[0] ? ref : "-",
                     ua[0] ? ua : "-");
    }
    append(line, n, sizeof(line));
}

void lg_alog_write_tcp(const lg_alog_tcp_t *e)
{
    char line[LG_ALOG_LINE], tls[LG_ALOG_TLS_MAX];
    const char *sni = e->sni != NULL ? e->sni : ""; /* a validated host name: nothing to escape */
    int n;

    if (fd < 0)
        return;
    times_update();
    if (format == LG_ACCESS_JSON) {
        json_tls(tls, sizeof(tls), e->tls);
        n = snprintf(line, sizeof(line),
                     "{\"time\":\"%s\",\"type\":\"tcp\",\"client\":\"%s\",\"client_port\":%u,"
                     "\"listener\":\"%s\",\"pool\":\"%s\",\"upstream\":\"%s\",\"bytes_in\":%llu,"
                     "\"bytes_out\":%llu,\"duration_ms\":%llu,\"end\":\"%s\"%s%s%s%s}\n",
                     cached_iso, e->client, e->client_port, e->listener, e->pool, e->upstream,
                     (unsigned long long)e->bytes_in, (unsigned long long)e->bytes_out,
                     (unsigned long long)e->duration_ms, e->end, tls, sni[0] ? ",\"sni\":\"" : "",
                     sni, sni[0] ? "\"" : "");
    } else {
        n = snprintf(line, sizeof(line), "%s%s%s:%u [%s] %s %s/%s %llu %llu %llu \"%s\"%s%s\n",
                     strchr(e->client, ':') != NULL ? "[" : "", e->client,
                     strchr(e->client, ':') != NULL ? "]" : "", e->client_port, cached_local,
                     e->listener, e->pool, e->upstream[0] ? e->upstream : "-",
                     (unsigned long long)e->duration_ms, (unsigned long long)e->bytes_in,
                     (unsigned long long)e->bytes_out, e->end, sni[0] ? " sni=" : "", sni);
    }
    append(line, n, sizeof(line));
}
