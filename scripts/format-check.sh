#!/bin/sh
# Format check: every C file git tracks is as clang-format (the repo's .clang-format) writes it;
# exit 1 with the differences otherwise. `make format` rewrites them.
set -eu
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
    echo "format: clang-format not found: install the Debian package 'clang-format' (scripts/deps.sh test)" >&2
    exit 2
fi
# shellcheck disable=SC2046 # one word per file name (none has a space)
clang-format --dry-run -Werror $(git ls-files '*.c' '*.h')
echo "format: every C file is formatted"
