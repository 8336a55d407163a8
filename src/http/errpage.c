/*
 * errpage.c - fixed error responses: status line, Date, a short text body, framing.
 */
#include "http/errpage.h"

#include <string.h>
#include <time.h>

#include "core/fmt.h"
#include "core/lg.h"

const char *lg_status_reason(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Internal Server Error";
    }
}

unsigned lg_retry_after(int status, unsigned asked)
{
    if (status == 429)
        return LG_MAX(asked, 1u);
    return status == 503 ? LG_RETRY_AFTER_SEC : 0;
}

size_t lg_errpage(int status, unsigned retry_after, int keep_alive, int head_only, char *buf,
                  size_t cap)
{
    const char *reason = lg_status_reason(status);
    char date[64], body[128], retry[32] = "";
    unsigned ra = lg_retry_after(status, retry_after);
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    if (strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0 ||
        lg_format(body, sizeof(body), "%d %s\n", status, reason) != LG_OK ||
        (ra != 0 && lg_format(retry, sizeof(retry), "Retry-After: %u\r\n", ra) != LG_OK) ||
        lg_format(buf, cap,
                  "HTTP/1.1 %d %s\r\nServer: lifeguard\r\nDate: %s\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n%s"
                  "Connection: %s\r\n\r\n%s",
                  status, reason, date, strlen(body), retry, keep_alive ? "keep-alive" : "close",
                  head_only ? "" : body) != LG_OK)
        return 0;
    return strlen(buf);
}
