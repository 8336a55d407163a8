#!/bin/sh
# Size check: list every function longer than 70 lines and every source file longer than 700
# lines under src/ (or the directories given), and exit 1 when there is one, 0 when there is
# none. A long function or file is a sign that two jobs share a room: split it by job.
# Function lengths come from pmccabe (Debian package 'pmccabe', in `scripts/deps.sh test`).
#   scripts/size.sh            (or `make size`)
#   scripts/size.sh src/admin  only some directories
set -eu
cd "$(dirname "$0")/.."
FUNC_MAX=70
FILE_MAX=700

if ! command -v pmccabe >/dev/null 2>&1; then
    echo "size: pmccabe not found: install the Debian package 'pmccabe' (scripts/deps.sh test)" >&2
    exit 2
fi
[ $# -gt 0 ] || set -- src
files=$(find "$@" -name '*.[ch]' | sort)
[ -n "$files" ] || { echo "size: no C sources under $*" >&2; exit 2; }

# pmccabe: complexity, complexity, statements, first line, lines, "file(line): name"
# shellcheck disable=SC2086 # one word per file name (none has a space)
over=$( {
    pmccabe $files | awk -v max="$FUNC_MAX" -F '\t' '$5 > max {
        split($6, at, "[(]"); sub(/^[^ ]* /, "", $6)
        printf "%s:%s: function %s is %d lines (over %d)\n", at[1], $4, $6, $5, max }'
    # shellcheck disable=SC2086
    wc -l $files | awk -v max="$FILE_MAX" '$2 != "total" && $1 > max {
        printf "%s: %d lines (over %d)\n", $2, $1, max }'
} )
if [ -n "$over" ]; then
    echo "$over"
    echo "size: $(echo "$over" | wc -l) over the limits (functions $FUNC_MAX lines, files $FILE_MAX)" >&2
    exit 1
fi
echo "size: every function within $FUNC_MAX lines, every file within $FILE_MAX ($(echo "$files" | wc -l) files)"
