#!/usr/bin/env bash
# lint.sh: the lab's static checks, run by `make lint` (and by `make test`).
#
#   bash tests/gates/lint.sh            check the whole repository
#   bash tests/gates/lint.sh FILE...    check only these files (C or shell);
#                                       a student's lessons/NN/*.c named here
#                                       gets the static analysis too
#
# What it runs:
#   clang-format  --dry-run --Werror with the repo's .clang-format, on every C
#                 file under solutions/, lessons/ and tests/
#   cppcheck      warning, style, performance and portability checks on the
#                 reference programs and the C peers the tests build
#                 (solutions/, tests/fixtures/, tests/bench/)
#   clang-tidy    the checks chosen in .clang-tidy (read it for the why), on
#                 the same files as cppcheck
#   ShellCheck    every shell file: .ci/run, tests/**/*.sh, tests/**/*.bash
#                 and the bats files (as bash)
#   yamllint      every YAML file (the CI templates in docs/), with .yamllint
#   twins         every page with a Chinese twin (PAGE.zh-CN.md) is in step
#                 with it: tests/gates/twins.sh (whole repository only)
#   shared        every copy of a helper the references share (marked
#                 "/* Shared: ... */") says the same, and the error
#                 vocabulary of docs/contract.md is the only one:
#                 tests/gates/shared_helpers.sh (whole repository only)
#
# Mutants (tests/mutants/) are patches, not C files: nothing to check there.
# The starters in lessons/ are only formatted.
#
# Exit status: 0 when every tool that ran is clean, 1 on any finding. A tool
# that is not installed is skipped with a message, except when CI=true, where
# a missing tool is an error (CI must check everything). The last line says
# what was skipped: "lint: skipped (TOOL, TOOL not installed)" when no tool
# ran, "lint: all clean, part skipped (TOOL not installed)" when some did.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1

jobs=$(nproc 2>/dev/null || echo 2)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-lint.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

declare -a summary=() missing=()
failed=0
ran=0

note() { printf '%s\n' "$*"; }
record() { # record TOOL STATUS DETAIL
    summary+=("$(printf '  %-13s %-8s %s' "$1" "$2" "$3")")
    if [ "$2" = FAIL ]; then
        failed=1
    fi
}

# have TOOL: true if installed; otherwise records a skip (or, under CI, a
# failure) and returns false.
have() {
    if command -v "$1" >/dev/null 2>&1; then
        ran=$((ran + 1))
        return 0
    fi
    missing+=("$1")
    if [ "${CI:-}" = true ]; then
        note "lint: $1 is not installed, and CI=true requires it"
        record "$1" FAIL "not installed (required when CI=true)"
    else
        note "lint: $1 is not installed: skipped (install it to run this check)"
        record "$1" skipped "not installed"
    fi
    return 1
}

# missing_list: the tools that were not installed, "a, b, c".
missing_list() {
    local IFS=,
    printf '%s' "${missing[*]}" | sed 's/,/, /g'
}

# ---- the files -------------------------------------------------------------

declare -a c_all=() c_analyse=() shell_files=() bats_files=() yaml_files=()

add_c() { # add_c FILE [explicit]: sort a C file into the right lists
    case "$1" in
    tests/mutants/* | tests/gates/*) c_all+=("$1") ;;
    lessons/*)
        # A student's file is analysed when named on the command line.
        c_all+=("$1")
        if [ -n "${2:-}" ]; then
            c_analyse+=("$1")
        fi
        ;;
    *)
        c_all+=("$1")
        c_analyse+=("$1")
        ;;
    esac
}

add_shell() {
    case "$1" in
    *.bats | *.bash) bats_files+=("$1") ;;
    *) shell_files+=("$1") ;;
    esac
}

if [ "$#" -gt 0 ]; then
    for f in "$@"; do
        f=${f#./}
        if [ ! -f "$f" ]; then
            note "lint: $f: no such file"
            exit 2
        fi
        case "$f" in
        *.c | *.h) add_c "$f" explicit ;;
        *.sh | *.bash | *.bats | .ci/run) add_shell "$f" ;;
        *.yml | *.yaml) yaml_files+=("$f") ;;
        *) note "lint: $f: not a C, shell or YAML file, ignored" ;;
        esac
    done
else
    while IFS= read -r f; do
        add_c "$f"
    done < <(find solutions lessons tests -type f \( -name '*.c' -o -name '*.h' \) \
        2>/dev/null | LC_ALL=C sort)
    if [ -f .ci/run ]; then
        add_shell .ci/run
    fi
    while IFS= read -r f; do
        add_shell "$f"
    done < <(find tests -type f \( -name '*.sh' -o -name '*.bash' -o -name '*.bats' \) \
        2>/dev/null | LC_ALL=C sort)
    while IFS= read -r f; do
        yaml_files+=("$f")
    done < <(find . -path ./build -prune -o -path ./.deps -prune -o -path ./.git -prune -o \
        -type f \( -name '*.yml' -o -name '*.yaml' \) -print 2>/dev/null | sed 's|^\./||' | LC_ALL=C sort)
fi

note "lint: ${#c_all[@]} C files (${#c_analyse[@]} analysed), $((${#shell_files[@]} + ${#bats_files[@]})) shell files"

# ---- clang-format ----------------------------------------------------------

run_clang_format() {
    [ "${#c_all[@]}" -gt 0 ] || return 0
    have clang-format || return 0
    note ""
    note "== clang-format --style=file:.clang-format --dry-run --Werror (${#c_all[@]} files)"
    local f bad=()
    for f in "${c_all[@]}"; do
        if ! clang-format --style="file:$root/.clang-format" --dry-run --Werror "$f" \
            >/dev/null 2>&1; then
            bad+=("$f")
            # Show what the formatter would change (the start of it).
            clang-format --style="file:$root/.clang-format" "$f" |
                diff -u --label "$f" --label "$f (formatted)" "$f" - | head -n 20
        fi
    done
    if [ "${#bad[@]}" -gt 0 ]; then
        note "not formatted (fix with: clang-format -i FILE):"
        printf '  %s\n' "${bad[@]}"
        record clang-format FAIL "${#bad[@]} file(s) not formatted"
    else
        record clang-format ok "${#c_all[@]} files"
    fi
}

# ---- cppcheck --------------------------------------------------------------

run_cppcheck() {
    [ "${#c_analyse[@]}" -gt 0 ] || return 0
    have cppcheck || return 0
    local checks=warning,style,performance,portability
    local cmd=(cppcheck --enable="$checks" --std=c11
        --library=posix --platform=unix64 --inline-suppr --error-exitcode=1
        --suppress=missingIncludeSystem --quiet -j "$jobs"
        --template='{file}:{line}:{column}: {severity}: {message} [{id}]')
    note ""
    note "== ${cmd[*]} (${#c_analyse[@]} files)"
    local out="$tmp/cppcheck.txt" n
    "${cmd[@]}" "${c_analyse[@]}" >"$out" 2>&1
    local rc=$?
    n=$(grep -cE '^[^ ]+:[0-9]+:[0-9]+: ' "$out")
    if [ "$rc" -ne 0 ] || [ "$n" -gt 0 ]; then
        cat "$out"
        record cppcheck FAIL "$n finding(s)"
    else
        record cppcheck ok "${#c_analyse[@]} files"
    fi
}

# ---- clang-tidy ------------------------------------------------------------

# tidy_one OUTDIR FILE: clang-tidy on one file, findings to OUTDIR/<file>.txt.
# The size and complexity limits are for the textbook code (solutions/):
# the test peers in tests/ are tools, and only get the bug-finding checks,
# with the static analyzer's search bounded (max-nodes) to save time.
tidy_one() {
    local dir=$1 file=$2 out checks=()
    out="$dir/$(printf %s "$file" | tr / _).txt"
    case $file in
    tests/*)
        local limits=-readability-function-size,-readability-function-cognitive-complexity
        checks=(--checks="$limits")
        if [ -z "$TIDY_EXTRA" ]; then
            checks+=(--extra-arg=-Xclang --extra-arg=-analyzer-config
                --extra-arg=-Xclang --extra-arg=max-nodes=100000)
        fi
        ;;
    esac
    # shellcheck disable=SC2086 # TIDY_EXTRA is a list of words on purpose
    if ! clang-tidy --config-file="$root/.clang-tidy" "${checks[@]}" $TIDY_EXTRA --quiet \
        "$file" -- -std=c17 -Wall -Wextra -Wpedantic -pthread >"$out" 2>&1; then
        echo "$file" >>"$dir/failed"
    fi
}

run_clang_tidy() {
    [ "${#c_analyse[@]}" -gt 0 ] || return 0
    have clang-tidy || return 0
    TIDY_EXTRA=""
    if [ -n "${LINT_QUICK:-}" ] && [ "${LINT_QUICK:-}" != 0 ]; then
        # The static analyzer explores fewer paths: about five times faster,
        # and it can miss a bug hidden deep in a loop. CI runs the full one.
        TIDY_EXTRA="--extra-arg=-Xclang --extra-arg=-analyzer-config"
        TIDY_EXTRA+=" --extra-arg=-Xclang --extra-arg=max-nodes=50000"
    fi
    export TIDY_EXTRA root
    export -f tidy_one
    note ""
    note "== clang-tidy --config-file=.clang-tidy $TIDY_EXTRA FILE -- -std=c17 -Wall -Wextra -Wpedantic -pthread"
    note "   (${#c_analyse[@]} files, $jobs at a time; files in tests/ without the size limits)"
    mkdir -p "$tmp/tidy"
    # One process per file, in parallel; each writes its findings to its own
    # file so the output is not interleaved.
    printf '%s\n' "${c_analyse[@]}" |
        xargs -P "$jobs" -I{} bash -c 'tidy_one "$@"' _ "$tmp/tidy" {}
    if [ -s "$tmp/tidy/failed" ]; then
        local f n=0
        while IFS= read -r f; do
            grep -v -E '^[0-9]+ (warnings?|errors?)( and [0-9]+ errors?)? generated\.$' \
                "$tmp/tidy/$(printf %s "$f" | tr / _).txt"
            n=$((n + 1))
        done < <(sort "$tmp/tidy/failed")
        record clang-tidy FAIL "findings in $n file(s)"
    else
        record clang-tidy ok "${#c_analyse[@]} files"
    fi
}

# ---- shellcheck ------------------------------------------------------------

run_shellcheck() {
    local total=$((${#shell_files[@]} + ${#bats_files[@]}))
    [ "$total" -gt 0 ] || return 0
    have shellcheck || return 0
    # Excluded everywhere:
    #   SC1091  a sourced file could not be followed (its path is computed at
    #           run time): not a finding about this file;
    #   SC2119, SC2120  a function with optional arguments called without
    #           any: that is what optional means;
    #   SC2016  "expressions don't expand in single quotes": the tests pass
    #           small scripts to `bash -c '...'`, single-quoted on purpose.
    # Excluded in bats files and their helpers (tests/**/*.bash) only:
    #   SC2154  "referenced but not assigned": bats's `run` assigns $status,
    #           $output, $stderr and $stderr_lines, which ShellCheck 0.9
    #           does not know about outside a .bats file.
    local cmd=(shellcheck -s bash -f gcc -e SC1091 -e SC2119 -e SC2120 -e SC2016)
    note ""
    note "== ${cmd[*]} (${#shell_files[@]} scripts); bats files and helpers also -e SC2154 (${#bats_files[@]})"
    local out="$tmp/shellcheck.txt" n rc=0
    : >"$out"
    if [ "${#shell_files[@]}" -gt 0 ]; then
        "${cmd[@]}" "${shell_files[@]}" >>"$out" 2>&1 || rc=1
    fi
    if [ "${#bats_files[@]}" -gt 0 ]; then
        "${cmd[@]}" -e SC2154 "${bats_files[@]}" >>"$out" 2>&1 || rc=1
    fi
    n=$(grep -cE '^[^ ]+:[0-9]+:[0-9]+: ' "$out")
    if [ "$rc" -ne 0 ]; then
        cat "$out"
        record shellcheck FAIL "$n finding(s)"
    else
        record shellcheck ok "$total files"
    fi
}

# ---- yamllint --------------------------------------------------------------

run_yamllint() {
    [ "${#yaml_files[@]}" -gt 0 ] || return 0
    have yamllint || return 0
    local cmd=(yamllint -f parsable -c "$root/.yamllint")
    note ""
    note "== ${cmd[*]} (${#yaml_files[@]} files)"
    if "${cmd[@]}" "${yaml_files[@]}" >"$tmp/yamllint.txt" 2>&1; then
        record yamllint ok "${#yaml_files[@]} files"
    else
        cat "$tmp/yamllint.txt"
        record yamllint FAIL "$(grep -c . "$tmp/yamllint.txt") finding(s)"
    fi
}

# ---- twins (translated pages) ----------------------------------------------

# Runs only on the whole repository, and only where there is a twin to check.
run_twins() {
    [ "$#" -eq 0 ] || return 0
    [ -f "$root/tests/gates/twins.sh" ] || return 0
    [ -n "$(find "$root" -name '*.zh-CN.md' -not -path '*/build/*' -print -quit)" ] || return 0
    ran=$((ran + 1))
    note ""
    note "== bash tests/gates/twins.sh"
    if bash "$root/tests/gates/twins.sh"; then
        record twins ok "translated pages in step"
    else
        record twins FAIL "a translated page is out of step"
    fi
}

# ---- shared helpers --------------------------------------------------------

# Runs only on the whole repository: it compares copies across lessons.
run_shared_helpers() {
    [ "$#" -eq 0 ] || return 0
    [ -f "$root/tests/gates/shared_helpers.sh" ] || return 0
    ran=$((ran + 1))
    note ""
    note "== bash tests/gates/shared_helpers.sh"
    if bash "$root/tests/gates/shared_helpers.sh"; then
        record shared ok "every copy of each shared helper alike"
    else
        record shared FAIL "two copies of a shared helper differ, or one is unmarked"
    fi
}

start=$SECONDS
run_clang_format
run_cppcheck
run_clang_tidy
run_shellcheck
run_yamllint
run_twins "$@"
run_shared_helpers "$@"

note ""
note "lint summary ($((SECONDS - start)) s):"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
    note "lint: FAILED (fix the findings above; see .clang-tidy for why each check is on)"
    exit 1
fi
if [ "${#missing[@]}" -eq 0 ]; then
    note "lint: all clean"
elif [ "$ran" -eq 0 ]; then
    note "lint: skipped ($(missing_list) not installed)"
else
    note "lint: all clean, part skipped ($(missing_list) not installed)"
fi
