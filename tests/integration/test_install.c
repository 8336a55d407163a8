/*
 * test_install.c - `make install` and the command line as a user meets them: the install rules
 * (cmake --install, which `make install` runs) into a DESTDIR in a temp dir, with the files,
 * their content, the systemd unit, the man page and the compiled-in configuration path checked;
 * a second install keeping an edited configuration; PREFIX and DESTDIR passed on by the
 * Makefile; and `lifeguard --help`.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lg_test.h"

#define UNIT_PATH "/lib/systemd/system/lifeguard.service"
#define MAN_PATH  "/share/man/man8/lifeguard.8"

/* ---- helpers */

/* A DESTDIR, removed with what was installed into it when the test process exits. */
static char *destdir(void)
{
    return lg_test_tempdir();
}

/* Run `cmd` with sh; its exit status, and what it printed (stdout, and stderr unless the
 * command redirects it) in *out, harness-owned. */
static int run(const char *cmd, char **out)
{
    FILE *f = popen(cmd, "r");
    char *text = NULL;
    size_t cap = 0;
    ssize_t n;
    int st;

    cr_assert_not_null(f, "popen(%s)", cmd);
    n = getdelim(&text, &cap, '\0', f);
    if (n < 0) {
        free(text);
        text = strdup("");
    }
    st = pclose(f);
    *out = lg_test_keep(text, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* cmake --install of the build into DESTDIR `dir` with `prefix`; fails the test on an error. */
static char *install(const char *dir, const char *prefix)
{
    char *out;
    int rc = run(lg_fmt("DESTDIR='%s' '%s' --install '%s' --prefix '%s' 2>&1", dir, LG_CMAKE,
                        LG_BUILD_DIR, prefix),
                 &out);

    cr_assert_eq(rc, 0, "install failed (%d):\n%s", rc, out);
    return out;
}

static char *read_installed(const char *dir, const char *path)
{
    char *full = lg_fmt("%s%s", dir, path);
    char *text = lg_test_read_file(full, NULL);

    cr_assert_not_null(text, "%s was not installed", full);
    return lg_test_keep(text, NULL);
}

/* ---- install */

Test(install, files_unit_man_page_and_default_config_path, .timeout = 120)
{
    static const char *const unit_lines[] = {
        "ExecStartPre=/usr/sbin/lifeguard -t -c " LG_CONF_PATH "\n",
        "ExecStart=/usr/sbin/lifeguard -c " LG_CONF_PATH "\n",
        "ExecReload=/bin/kill -s HUP $MAINPID\n",
        "KillSignal=SIGQUIT\n",
        "KillMode=mixed\n",
        "LimitNOFILE=",
        "WantedBy=multi-user.target\n",
    };
    char *dir = destdir(), *bin = lg_fmt("%s/usr/sbin/lifeguard", dir), *unit, *man, *conf, *out;
    struct stat st;
    size_t i;
    int rc;

    install(dir, "/usr");
    cr_assert_eq(stat(bin, &st), 0, "no %s", bin);
    cr_assert(S_ISREG(st.st_mode) && (st.st_mode & 0111) == 0111, "%s is not executable", bin);

    /* the default configuration, and the installed binary reads it by default */
    conf = read_installed(dir, LG_CONF_PATH);
    cr_assert_str_eq(
        conf, lg_test_keep(lg_test_read_file(LG_SOURCE_DIR "/conf/lifeguard.yaml", NULL), NULL));
    rc = run(lg_fmt("'%s' -t -c '%s%s' 2>&1", bin, dir, LG_CONF_PATH), &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_not_null(strstr(out, "configuration ok"), "%s", out);
    rc = run(lg_fmt("'%s' --help", bin), &out);
    cr_assert_not_null(strstr(out, "(default: " LG_CONF_PATH ")"), "%s", out);
    if (access(LG_CONF_PATH, F_OK) != 0) {
        rc = run(lg_fmt("'%s' -t 2>&1", bin), &out);
        cr_assert_eq(rc, 1, "%s", out);
        cr_assert_not_null(strstr(out, LG_CONF_PATH ": error: cannot open"), "%s", out);
    }

    unit = read_installed(dir, "/usr" UNIT_PATH);
    for (i = 0; i < sizeof(unit_lines) / sizeof(unit_lines[0]); i++)
        cr_assert_not_null(strstr(unit, unit_lines[i]), "no \"%s\" in the unit:\n%s", unit_lines[i],
                           unit);
    cr_assert_null(strchr(unit, '@'), "a placeholder is left in the unit:\n%s", unit);
    if (access("/usr/bin/systemd-analyze", X_OK) == 0) {
        /* its complaints about this machine (no such binary, no sysinit.target) do not count */
        run(lg_fmt("cd / && systemd-analyze verify '%s/usr" UNIT_PATH "' 2>&1", dir), &out);
        cr_assert_null(strstr(out, "Unknown"), "%s", out);
        cr_assert_null(strstr(out, "Failed to parse"), "%s", out);
        cr_assert_null(strstr(out, "Invalid"), "%s", out);
    }

    man = read_installed(dir, "/usr" MAN_PATH);
    cr_assert_not_null(strstr(man, ".TH LIFEGUARD 8"), "%s", man);
    cr_assert_not_null(strstr(man, ".I " LG_CONF_PATH "\n"), "the man page names no config path");
    cr_assert_not_null(strstr(man, ".B lifeguard healthcheck\n"), "no healthcheck in the man page");
    cr_assert_null(strchr(man, '@'), "a placeholder is left in the man page");
    if (access("/usr/bin/groff", X_OK) == 0) {
        rc = run(lg_fmt("groff -man -Tutf8 -ww -z '%s/usr" MAN_PATH "' 2>&1", dir), &out);
        cr_assert(rc == 0 && out[0] == '\0', "groff warns about lifeguard.8 (%d):\n%s", rc, out);
    }
}

Test(install, a_second_install_keeps_an_edited_config, .timeout = 120)
{
    char *dir = destdir(), *conf_path = lg_fmt("%s%s", dir, LG_CONF_PATH), *edited, *out;
    FILE *f;

    install(dir, "/usr");
    edited = lg_fmt("%s# edited by the operator\n", read_installed(dir, LG_CONF_PATH));
    f = fopen(conf_path, "w");
    cr_assert_not_null(f);
    fputs(edited, f);
    cr_assert_eq(fclose(f), 0);

    out = install(dir, "/usr");
    cr_assert_str_eq(read_installed(dir, LG_CONF_PATH), edited);
    cr_assert_not_null(strstr(out, lg_fmt("Keeping: %s (already there)", conf_path)), "%s", out);
    /* the rest is installed again */
    cr_assert_not_null(strstr(out, lg_fmt("Installing: %s/usr" UNIT_PATH, dir)), "%s", out);
}

Test(install, prefix_places_binary_and_unit, .timeout = 120)
{
    char *dir = destdir(), *unit;
    struct stat st;

    install(dir, "/opt/lg");
    cr_assert_eq(stat(lg_fmt("%s/opt/lg/sbin/lifeguard", dir), &st), 0);
    cr_assert_eq(stat(lg_fmt("%s/opt/lg" MAN_PATH, dir), &st), 0);
    unit = read_installed(dir, "/opt/lg" UNIT_PATH);
    cr_assert_not_null(strstr(unit, "ExecStart=/opt/lg/sbin/lifeguard -c " LG_CONF_PATH "\n"), "%s",
                       unit);
    /* the configuration path is compiled in: it does not move with the prefix */
    cr_assert_eq(stat(lg_fmt("%s%s", dir, LG_CONF_PATH), &st), 0);
}

/* `make install PREFIX=P DESTDIR=D` runs the install rules with them (make -n: nothing is run). */
Test(install, makefile_passes_prefix_and_destdir)
{
    char *out;
    int rc = run(lg_fmt("make -s -n -C '%s' install BUILD='%s' PREFIX=/opt/x DESTDIR=/tmp/pkg 2>&1",
                        LG_SOURCE_DIR, LG_BUILD_DIR),
                 &out);

    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_not_null(
        strstr(out,
               lg_fmt("DESTDIR=\"/tmp/pkg\" cmake --install %s --prefix \"/opt/x\"", LG_BUILD_DIR)),
        "%s", out);
}

/* ---- the command line */

Test(cli, help_covers_the_whole_command_line)
{
    static const char *const want[] = {
        "usage: lifeguard [-c FILE]",
        "lifeguard -t [-c FILE]",
        "lifeguard -s SIGNAL [-c FILE]",
        "lifeguard healthcheck [-c FILE]",
        "lifeguard -V | --version",
        "lifeguard -h | --help",
        "-c FILE    the configuration (default: " LG_CONF_PATH ")",
        "reload  ",
        "stop    ",
        "quit    ",
        "reopen  ",
        "/run/lifeguard.pid",
        "lifeguard(8)",
    };
    char *help, *h, *err;
    size_t i;

    cr_assert_eq(run(lg_fmt("'%s' --help 2>/dev/null", LG_BINARY), &help), 0);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_assert_not_null(strstr(help, want[i]), "no \"%s\" in --help:\n%s", want[i], help);
    cr_assert_eq(run(lg_fmt("'%s' -h 2>/dev/null", LG_BINARY), &h), 0);
    cr_assert_str_eq(h, help);

    /* a usage error: status 2, the help on stderr, nothing on stdout */
    cr_assert_eq(run(lg_fmt("'%s' --no-such-option 2>/dev/null", LG_BINARY), &err), 2);
    cr_assert_str_eq(err, "");
    cr_assert_eq(run(lg_fmt("'%s' --no-such-option 2>&1 >/dev/null", LG_BINARY), &err), 2);
    cr_assert_not_null(strstr(err, "usage: lifeguard"), "%s", err);
    cr_assert_eq(run(lg_fmt("'%s' --version", LG_BINARY), &h), 0);
    cr_assert_eq(strncmp(h, "lifeguard ", 10), 0, "%s", h);
}
