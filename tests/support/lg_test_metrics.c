/*
 * lg_test_metrics.c - one sample of a Prometheus text body (/metrics), by name and exact labels.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "lg_test.h"

/* Parse `{a="x",b="y"}` at *p into names/values (unescaped); returns the count, -1 if malformed. */
static int metric_labels(const char **p, char names[][64], char values[][256], int max)
{
    const char *s = *p;
    int n = 0;

    if (*s != '{')
        return 0;
    s++;
    while (*s != '}') {
        size_t k = 0, v = 0;

        if (n == max)
            return -1;
        while (*s != '=' && *s != '\0' && k < 63)
            names[n][k++] = *s++;
        names[n][k] = '\0';
        if (s[0] != '=' || s[1] != '"')
            return -1;
        s += 2;
        while (*s != '"' && *s != '\0' && v < 255) {
            if (*s == '\\') {
                s++;
                values[n][v++] = *s == 'n' ? '\n' : *s;
                s++;
            } else {
                values[n][v++] = *s++;
            }
        }
        values[n][v] = '\0';
        if (*s != '"')
            return -1;
        s++;
        n++;
        if (*s == ',')
            s++;
        else if (*s != '}')
            return -1;
    }
    *p = s + 1;
    return n;
}

/*
 * The value of the sample `name` whose labels are exactly `labels` (`a="x",b="y"`, any order;
 * "" for none) in a /metrics body: NAN when there is none; fails the test when there are two.
 */
double lg_metric(const char *body, const char *name, const char *labels)
{
    char wn[8][64], wv[8][256], gn[8][64], gv[8][256];
    const char *wl = lg_fmt("{%s}", labels);
    int want = labels[0] != '\0' ? metric_labels(&wl, wn, wv, 8) : 0, found = 0;
    double value = NAN;
    size_t nlen = strlen(name);

    cr_assert_geq(want, 0, "bad labels in the test: %s", labels);
    for (const char *line = body; line != NULL && *line != '\0';) {
        const char *eol = strchr(line, '\n');

        if (strncmp(line, name, nlen) == 0 && (line[nlen] == '{' || line[nlen] == ' ')) {
            const char *p = line + nlen;
            int got = metric_labels(&p, gn, gv, 8), match = got == want;

            cr_assert_geq(got, 0, "malformed sample: %.*s", (int)(eol ? eol - line : 200), line);
            for (int i = 0; match && i < want; i++) {
                int one = 0;

                for (int j = 0; j < got; j++)
                    one |= strcmp(wn[i], gn[j]) == 0 && strcmp(wv[i], gv[j]) == 0;
                match = one;
            }
            if (match) {
                cr_assert_eq(found, 0, "two samples %s{%s}", name, labels);
                found = 1;
                value = strtod(p, NULL);
            }
        }
        line = eol != NULL ? eol + 1 : NULL;
    }
    return value;
}
