/*
 * test_docs.c - the documentation stands alone: every relative link of README.md and of the
 * pages in docs/ names a file of the repository, docs/architecture.md describes its plan itself
 * instead of pointing at a design file kept elsewhere, and what lifeguard does not do yet is
 * said plainly.
 */
#include <criterion/criterion.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const docs[] = {"README.md",          "docs/architecture.md",
                                   "docs/benchmarks.md", "docs/configuration.md",
                                   "docs/docker.md",     "docs/security.md"};

static char *read_doc(const char *rel)
{
    char *path, *text = NULL;
    size_t cap = 0;
    FILE *f;

    cr_assert(asprintf(&path, "%s/%s", LG_SOURCE_DIR, rel) >= 0);
    f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    cr_assert_geq(getdelim(&text, &cap, '\0', f), 0);
    fclose(f);
    free(path);
    return text;
}

/* Every "](target)" that is not a URL nor an anchor is a file next to the document. */
Test(docs, relative_links_name_files_of_the_repository)
{
    size_t i, links = 0;

    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        char *text = read_doc(docs[i]), *p = text, *dir, *copy = strdup(docs[i]);

        dir = dirname(copy);
        while ((p = strstr(p, "](")) != NULL) {
            char *end = strchr(p + 2, ')'), *target, *path;

            cr_assert_not_null(end);
            target = strndup(p + 2, (size_t)(end - p - 2));
            p = end;
            if (strstr(target, "://") != NULL || target[0] == '#')
                goto next;
            *strchrnul(target, '#') = '\0';
            cr_assert(asprintf(&path, "%s/%s/%s", LG_SOURCE_DIR, dir, target) >= 0);
            cr_assert_eq(access(path, F_OK), 0, "%s links to %s, which is not in the repository",
                         docs[i], target);
            links++;
            free(path);
        next:
            free(target);
        }
        free(copy);
        free(text);
    }
    cr_assert_geq(links, 10);
}

Test(docs, architecture_needs_no_file_outside_the_repository)
{
    char *text = read_doc("docs/architecture.md");

    cr_assert_null(strstr(text, "DESIGN.md"), "docs/architecture.md refers to DESIGN.md");
    cr_assert_null(strstr(text, "../shared"), "docs/architecture.md refers to ../shared");
    cr_assert_not_null(strstr(text, "## The plan\n"), "the plan is not described");
    free(text);
}

Test(docs, what_is_not_done_yet_is_said)
{
    char *readme = read_doc("README.md"), *conf = read_doc("docs/configuration.md");

    cr_assert_not_null(strstr(readme, "## What it does not do yet\n\n- **No HTTP/2 to backends**"));
    cr_assert_not_null(strstr(readme, "(no `dns-01`, so no wildcard certificates from ACME)"));
    cr_assert_not_null(strstr(readme, "(docs/tls.md)"), "README does not link docs/tls.md");
    cr_assert_not_null(strstr(readme, "(docs/http2.md)"), "README does not link docs/http2.md");
    cr_assert_not_null(strstr(conf, "**Not yet supported:** HTTP/2 to backends"));
    cr_assert_not_null(strstr(conf, "TLS to backends is a pool's [`tls`](#pool-tls)"));
    free(readme);
    free(conf);
}
