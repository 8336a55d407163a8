#!/bin/sh
# Run every libFuzzer target built in BUILD/fuzz for SECONDS each (make fuzz; docs/fuzzing.md).
#   scripts/fuzz.sh BUILD SECONDS
# Target fuzz_NAME starts from a copy of its committed seeds fuzz/corpus/NAME in
# BUILD/fuzz-corpus/NAME (kept between runs, so coverage accumulates; the repository is never
# written), with the dictionary fuzz/fuzz_NAME.dict when there is one. A crash, leak, timeout or
# out-of-memory input is kept in BUILD/fuzz-crashes/NAME/.
# The targets run one after the other, niced; the exit status is 1 when any of them failed.
set -eu
build=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
failed=""
found=0

for bin in "$build"/fuzz/fuzz_*; do
    name=${bin##*/fuzz_}
    # a binary left from a target whose source is gone is not run
    [ -x "$bin" ] && [ -f "$root/fuzz/fuzz_$name.c" ] || continue
    found=$((found + 1))
    corpus="$build/fuzz-corpus/$name"
    crashes="$build/fuzz-crashes/$name"
    mkdir -p "$corpus" "$crashes"
    if [ -d "$root/fuzz/corpus/$name" ]; then
        cp -R "$root/fuzz/corpus/$name/." "$corpus/"
    fi
    set --
    if [ -f "$root/fuzz/fuzz_$name.dict" ]; then
        set -- -dict="$root/fuzz/fuzz_$name.dict"
    fi
    echo "fuzz: $name for ${seconds}s (corpus $corpus)"
    # -timeout: one input running this long is a hang; -rss_limit_mb: a leak or blow-up
    if ! nice -n 10 "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "$@" "$corpus" >"$build/fuzz-$name.log" 2>&1; then
        tail -n 60 "$build/fuzz-$name.log" >&2
        echo "fuzz: $name FAILED; input kept in $crashes/ (reproduce: $bin FILE)" >&2
        failed="$failed $name"
    else
        grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' \
            "$build/fuzz-$name.log" | sed "s/^/fuzz: $name: /" || true
    fi
done
if [ "$found" -eq 0 ]; then
    echo "fuzz: no target in $build/fuzz" >&2
    exit 1
fi
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed" >&2
    exit 1
fi
echo "fuzz: $found targets ran ${seconds}s each without a failure"
