/*
 * test_fmt.c - formatting that never cuts silently (src/core/fmt.c).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/fmt.h"
#include "core/lg.h"

Test(fmt, fits_exactly_or_reports_a_cut)
{
    char buf[8];

    cr_assert_eq(lg_format(buf, sizeof(buf), "%s", "1234567"), LG_OK);
    cr_assert_str_eq(buf, "1234567");
    cr_assert_eq(lg_format(buf, sizeof(buf), "%s", "12345678"), LG_ERR);
    cr_assert_eq(lg_format(buf, sizeof(buf), "%llu", 18446744073709551615ULL), LG_ERR);
    cr_assert_eq(lg_format(buf, 0, "x"), LG_ERR);
}

Test(fmt, append_advances_only_when_it_fits)
{
    char buf[8];
    size_t len = 0;

    cr_assert_eq(lg_format_append(buf, sizeof(buf), &len, "%s", "abc"), LG_OK);
    cr_assert_eq(lg_format_append(buf, sizeof(buf), &len, "%s", "defg"), LG_OK);
    cr_assert_eq(len, 7);
    cr_assert_eq(lg_format_append(buf, sizeof(buf), &len, "%s", "h"), LG_ERR);
    cr_assert_eq(len, 7);
    buf[len] = '\0';
    cr_assert_str_eq(buf, "abcdefg");
}
