/*
 * path.h - normalising a request path before it is routed and forwarded.
 *
 * A backend normalises the path it receives (or its framework does) before it looks at it. If
 * lifeguard routed on the raw bytes, "//internal/", "/a/../internal/" or "/%69nternal/" would
 * miss a `path_prefix: /internal/` rule that the backend's normalisation brings back. So the
 * path is normalised once, routed on, and that same normalised path is what the backend gets:
 * what it sees means to it exactly what it meant to us.
 */
#ifndef LG_PATH_H
#define LG_PATH_H

#include <stddef.h>

/*
 * Normalise an origin-form target `in[0..len)` ("/path" or "/path?query"; "" and "?query" are
 * taken as "/" and "/?query", for absolute-form targets) into out[0..cap), in this order:
 *   - percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) are decoded, every other
 *     escape keeps its value with upper-case hex; bytes a URI cannot hold raw (non-ASCII, `"`,
 *     `<`, `>`, `\`, `^`, backquote, `{`, `|`, `}`) are percent-encoded;
 *   - runs of slashes are merged into one (nginx's merge_slashes, on by default);
 *   - dot segments are removed (RFC 3986 5.2.4), including those that were percent-encoded.
 * The query is copied as it is, once validated. The result normalises to itself.
 * Returns 0 with *outlen set; 400 for a target that is refused: not starting with '/', an
 * encoded '/' or control character (%2F, %00, ...), a malformed escape (%zz, %4), a raw control
 * character, space or '#', a ".." that climbs above the root; 414 when out is too small.
 */
int lg_path_normalize(const char *in, size_t len, char *out, size_t cap, size_t *outlen);

/*
 * A normalised target path[0..len) without its first n bytes (a path_prefix it starts with),
 * kept absolute, into out[0..cap): "/api/users" less "/api" or "/api/" is "/users", "/api" less
 * "/api" is "/", "/api?q=1" less "/api" is "/?q=1". What is left is normalised as above, since
 * a prefix that ends inside a segment can leave a dot segment first ("/a./x" less "/a" is "/x";
 * "/a../x" less "/a" would climb above the root: 400). Returns 0, 400 or 414.
 */
int lg_path_strip(const char *path, size_t len, size_t n, char *out, size_t cap, size_t *outlen);

#endif
