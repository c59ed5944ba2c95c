#!/usr/bin/env bash
# fuzz.sh: fuzz the parsers of the reference solutions (make fuzz), or
# replay the checked-in corpus as a regression test (--replay, in make test).
#
#   bash tests/gates/fuzz.sh                   fuzz every target FUZZ_SECONDS each
#   bash tests/gates/fuzz.sh http_response     fuzz one target (or several)
#   bash tests/gates/fuzz.sh --replay          replay every corpus file, no fuzzing
#   bash tests/gates/fuzz.sh --list            list the targets
#
# The targets are the harnesses tests/gates/fuzz/fuzz_<target>.c. Each one
# #includes a solution's .c file (its main renamed) and calls its parsing
# functions, so what is fuzzed is the code students read. Each harness names
# its seed corpus in a `corpus: NAME` line: tests/gates/fuzz/corpus/NAME/.
#
# Fuzzing needs clang with libFuzzer (-fsanitize=fuzzer; Debian: clang and
# libclang-rt-dev). It builds each harness with address and undefined-
# behaviour sanitizers into build/fuzz/, copies the seeds into a temporary
# working corpus (the repository is never modified), and runs the fuzzer for
# FUZZ_SECONDS (default 20) per target. A crash, a sanitizer report, a
# failed property (the harness checks results, not only memory) or a
# timeout fails the run and leaves the input in build/fuzz/artifacts/.
#
# --replay builds each harness with a small main (tests/gates/fuzz/
# replay_main.c) instead of libFuzzer, with $CC (default cc: gcc or clang)
# and the sanitizers, and runs it on every corpus file: a few seconds.
#
# Everything built and found goes to build/fuzz/ ($SOCKSTEP_BUILD/fuzz).
# Environment: FUZZ_SECONDS (default 20), FUZZ_MAX_LEN (default 16384),
# FUZZ_CC (default clang), CC for --replay, FUZZ_VERBOSE=1 to see the
# programs' own error messages, CI=true to make a missing compiler an error.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1

fuzz_dir=tests/gates/fuzz
# The Makefile exports SOCKSTEP_BUILD (build, or the BUILD given to make).
build_dir=${SOCKSTEP_BUILD:-$root/build}
build_dir=${build_dir#"$root"/}/fuzz
seconds=${FUZZ_SECONDS:-20}
max_len=${FUZZ_MAX_LEN:-16384}
warn_flags=(-std=c17 -Wall -Wextra -Wno-unused-function)
sanitizers=address,undefined
san_flags=(-g -O1 -fno-omit-frame-pointer -fsanitize="$sanitizers"
    -fno-sanitize-recover=all -U_FORTIFY_SOURCE)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

usage() {
    echo "usage: fuzz.sh [--replay | --list] [TARGET...]" >&2
    exit 2
}

mode=fuzz
declare -a wanted=()
for arg in "$@"; do
    case $arg in
    --replay) mode=replay ;;
    --list) mode=list ;;
    -h | --help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) usage ;;
    *) wanted+=("$arg") ;;
    esac
done

case $seconds in
'' | *[!0-9]*)
    echo "fuzz.sh: FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2
    exit 2
    ;;
esac

# ---- the targets -----------------------------------------------------------

declare -a targets=()
for harness in "$fuzz_dir"/fuzz_*.c; do
    [ -e "$harness" ] || continue
    name=${harness##*/fuzz_}
    targets+=("${name%.c}")
done
if [ "${#wanted[@]}" -gt 0 ]; then
    for t in "${wanted[@]}"; do
        if [ ! -f "$fuzz_dir/fuzz_$t.c" ]; then
            echo "fuzz.sh: no target '$t' (targets: ${targets[*]})" >&2
            exit 2
        fi
    done
    targets=("${wanted[@]}")
fi

if [ "$mode" = list ]; then
    printf '%s\n' "${targets[@]}"
    exit 0
fi

# corpus_of TARGET: the seed folder named by the harness's `corpus:` line.
corpus_of() {
    local name
    name=$(sed -n 's/^ \* corpus: *\([A-Za-z0-9_-]*\).*/\1/p' "$fuzz_dir/fuzz_$1.c" | head -n 1)
    printf '%s\n' "$fuzz_dir/corpus/${name:-$1}"
}

# The solution file a harness includes, for messages.
solution_of() {
    sed -n 's|^#include "\.\./\.\./\.\./\(solutions/[^"]*\)"|\1|p' "$fuzz_dir/fuzz_$1.c" |
        head -n 1
}

# skip_or_fail WHY: a missing tool skips the whole run, except under CI. The
# last line says so: "fuzz: skipped (WHY)" (make test reports the gate as
# skipped, not passed).
skip_or_fail() {
    if [ "${CI:-}" = true ]; then
        echo "fuzz.sh: $1 (required when CI=true)" >&2
        exit 1
    fi
    echo "fuzz: skipped ($1)"
    exit 0
}

mkdir -p "$build_dir"
declare -a summary=()
failed=0

# ---- replay mode -----------------------------------------------------------

replay_target() {
    local t=$1 cc=${CC:-cc} corpus bin log
    corpus=$(corpus_of "$t")
    bin="$build_dir/replay_$t"
    log="$build_dir/replay_$t.log"
    if ! "$cc" "${warn_flags[@]}" "${san_flags[@]}" -pthread -o "$bin" \
        "$fuzz_dir/fuzz_$t.c" "$fuzz_dir/replay_main.c" -lm 2>"$log"; then
        cat "$log"
        summary+=("  $t: FAIL (does not build with $cc: is $(solution_of "$t") renamed?)")
        failed=1
        return
    fi
    # (In a subshell whose stderr is dropped: bash's own "Aborted" line.)
    if ("$bin" "$corpus" >"$log" 2>&1; exit $?) 2>/dev/null; then
        summary+=("  $t: ok ($(grep -c '^replay ' "$log") inputs from ${corpus#"$root"/})")
    else
        echo "---- $t: the last input replayed failed:"
        grep -v '^replay ' "$log" | head -n 40
        grep '^replay ' "$log" | tail -n 1
        summary+=("  $t: FAIL on $(grep '^replay ' "$log" | tail -n 1 | cut -d' ' -f2)")
        failed=1
    fi
}

if [ "$mode" = replay ]; then
    command -v "${CC:-cc}" >/dev/null 2>&1 || skip_or_fail "${CC:-cc} not installed"
    echo "== fuzz corpus replay: ${CC:-cc} ${san_flags[*]}"
    for t in "${targets[@]}"; do
        replay_target "$t"
    done
    echo "fuzz replay summary:"
    printf '%s\n' "${summary[@]}"
    if [ "$failed" -ne 0 ]; then
        echo "fuzz replay: FAILED"
        exit 1
    fi
    echo "fuzz replay: every corpus input passes"
    exit 0
fi

# ---- fuzz mode -------------------------------------------------------------

fuzz_cc=${FUZZ_CC:-clang}
command -v "$fuzz_cc" >/dev/null 2>&1 || skip_or_fail "$fuzz_cc not installed"
probe="$build_dir/probe"
if ! printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' |
    "$fuzz_cc" -fsanitize=fuzzer -x c -o "$probe" - >/dev/null 2>&1; then
    skip_or_fail "$fuzz_cc cannot build with -fsanitize=fuzzer: install libFuzzer, libclang-rt-dev"
fi
rm -f "$probe"

work=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

fuzz_target() {
    local t=$1 corpus bin log artifacts dict=() found
    corpus=$(corpus_of "$t")
    bin="$build_dir/fuzz_$t"
    log="$build_dir/fuzz_$t.log"
    artifacts="$build_dir/artifacts/$t"
    echo ""
    echo "== $t: $(solution_of "$t"), $seconds s, seeds from $corpus"
    if ! "$fuzz_cc" "${warn_flags[@]}" "${san_flags[@]}" -fsanitize=fuzzer -pthread \
        -o "$bin" "$fuzz_dir/fuzz_$t.c" -lm 2>"$log"; then
        cat "$log"
        summary+=("  $t: FAIL (does not build)")
        failed=1
        return
    fi
    mkdir -p "$work/$t" "$artifacts"
    if [ -d "$corpus" ]; then
        cp -R "$corpus"/. "$work/$t"/
    fi
    # A dictionary of the protocol's tokens, named like the corpus.
    if [ -f "$fuzz_dir/${corpus##*/}.dict" ]; then
        dict=(-dict="$fuzz_dir/${corpus##*/}.dict")
    fi
    rm -f "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* \
        "$artifacts"/oom-* "$artifacts"/slow-unit-*
    ("$bin" "$work/$t" "${dict[@]}" -max_total_time="$seconds" -max_len="$max_len" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1; exit $?) 2>/dev/null
    local rc=$?
    found=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' \
        -o -name 'timeout-*' -o -name 'oom-*' \) | head -n 1)
    if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
        # The report: from the sanitizer's or the harness's first line on.
        awk '/ERROR|runtime error|fuzz property failed|hello replies differ|deadly signal/ { p = 1 } p' \
            "$log" | head -n 60
        echo "---- $t FAILED (exit $rc). Reproducer: ${found:-(none written; see $log)}"
        if [ -n "$found" ]; then
            echo "  replay it:  $bin $found"
            echo "  keep it as a regression test once fixed:"
            echo "    cp $found $corpus/regress-<what-it-was>"
        fi
        summary+=("  $t: FAIL, reproducer ${found:-none} (log $log)")
        failed=1
    else
        local runs
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        summary+=("  $t: ok (${runs:-?} runs in $seconds s, $(find "$work/$t" -type f | wc -l) inputs in the corpus)")
    fi
}

for t in "${targets[@]}"; do
    fuzz_target "$t"
done

echo ""
echo "fuzz summary ($seconds s per target; logs in $build_dir/):"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
    echo "fuzz: FAILED"
    exit 1
fi
echo "fuzz: no crash, leak, timeout or failed property"
