#!/usr/bin/env bats
# The grader tells the truth on a machine that lacks tools: it never passes
# code it did not test. Each test hides tools from PATH itself (a folder of
# links to every other command), or puts a fake tool first on PATH, or runs
# the harness on a small lab of its own in a temporary folder:
#   - without ps and pkill (procps), `make check` stops at once, naming procps;
#   - a bats run that reports fewer results than it planned, no result at
#     all, or only skips, is a failure that says so;
#   - a gate whose tools are missing says "skipped (TOOL, ... not installed)",
#     and `make test` reports it skipped, not ok;
#   - the reasons tests were skipped are summarised, once per reason;
#   - a failed npm install shows npm's own error and where its log is;
#   - require_netns probes `ip netns exec`, and skips with the reason.

# $stderr is set by bats' `run --separate-stderr`.
# shellcheck disable=SC2154
load '../lib/common'
load_assertions

teardown() {
    cleanup_background
    # What a fake bats left running (its pid in left-behind.pid).
    if [[ -s $BATS_TEST_TMPDIR/left-behind.pid ]]; then
        kill "$(cat "$BATS_TEST_TMPDIR/left-behind.pid")" 2>/dev/null || true
    fi
}

setup() {
    # These tests are about a machine that lacks tools; with CI=true the
    # gates require every tool instead (tests/gates/lint.sh, fuzz.sh).
    unset CI
    ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    BUILD=${SOCKSTEP_BUILD:-$ROOT/build}
    FAKES="$BATS_TEST_TMPDIR/fakes"
    mkdir -p "$FAKES"
}

# ------------------------------------------------------------------ helpers

# hide_commands NAME...: PATH becomes one folder of links to every command
# on PATH except NAME... (the first of each name, as the shell would find it).
# The folder is made once per set of names and kept for the file's tests.
hide_commands() {
    local key dir d
    key=$(printf '%s\n' "$@" | sort | paste -sd - -)
    dir="$BATS_FILE_TMPDIR/path-without-$key"
    if [[ ! -d $dir ]]; then
        mkdir -p "$dir.new"
        local IFS=:
        for d in $PATH; do
            # A name already linked (from an earlier folder of PATH) stays.
            [[ ! -d $d ]] || ln -s -t "$dir.new" -- "$d"/* 2>/dev/null || true
        done
        for d in "$@"; do
            rm -f "$dir.new/$d"
        done
        mv "$dir.new" "$dir"
    fi
    PATH=$dir
}

# fake_command NAME SCRIPT: a command NAME, first on PATH, running SCRIPT.
fake_command() {
    printf '#!/bin/bash\n%s\n' "$2" >"$FAKES/$1"
    chmod +x "$FAKES/$1"
    [[ :$PATH: == *":$FAKES:"* ]] || PATH="$FAKES:$PATH"
}

# fake_bats TAP: a bats 1.11 that prints TAP (printf escapes) for any file.
fake_bats() {
    fake_command bats "[[ \$1 == --version ]] && { echo 'Bats 1.11.0'; exit 0; }
printf '$1'"
    # find_bats also wants the two libraries: empty ones do.
    mkdir -p "$BATS_TEST_TMPDIR/libs/bats-support" "$BATS_TEST_TMPDIR/libs/bats-assert"
    touch "$BATS_TEST_TMPDIR/libs/bats-support/load.bash" "$BATS_TEST_TMPDIR/libs/bats-assert/load.bash"
    export BATS_LIB_PATH="$BATS_TEST_TMPDIR/libs"
    unset SOCKSTEP_BATS
}

# mini_lab: a lab of its own in a temporary folder (LAB), with the real
# harness scripts and lesson 00-mini, whose tests are MINI_TESTS (bats
# source); its programs folders exist and are empty.
mini_lab() {
    LAB="$BATS_TEST_TMPDIR/lab"
    mkdir -p "$LAB/tests/gates" "$LAB/lessons/00-mini" "$LAB/build/lessons/00-mini" \
        "$LAB/build/solutions/00-mini" "$LAB/build/fixtures"
    cp -R "$ROOT/tests/lib" "$LAB/tests/"
    printf '%s\n' "${MINI_TESTS:-}" >"$LAB/tests/00-mini.bats"
    printf '/* TODO(step 1) */\n' >"$LAB/lessons/00-mini/mini.c"
}

# in_lab CMD...: runs CMD in the mini lab, as make would, with LAB_LESSON,
# LAB_FILTER and LAB_SOLUTIONS for LESSON, TEST_FILTER and SOLUTIONS (the
# outer run's own settings are not passed on). The mini lab's tests take
# milliseconds; their timeout is short because bats can leave its countdown
# (a `sleep TIMEOUT`) behind after a test that ends at once, holding the
# output pipe open until it ends.
in_lab() {
    (cd "$LAB" && SOCKSTEP_ROOT=$LAB SOCKSTEP_BUILD=$LAB/build LESSON=${LAB_LESSON:-} \
        TEST_FILTER=${LAB_FILTER:-} SOLUTIONS=${LAB_SOLUTIONS:-} SANITIZE='' VALGRIND='' \
        BATS_TEST_TIMEOUT=10 "$@")
}

# ------------------------------------------------- the tools the harness needs

@test "without ps and pkill, make check stops before any test, with one line naming procps" {
    hide_commands ps pkill
    run --separate-stderr make -s -C "$ROOT" --no-print-directory check LESSON=02 BUILD="$BUILD"
    if ((status == 0)); then
        report_mismatch "make check LESSON=02, with ps and pkill hidden from PATH" \
            "a non-zero exit status" "status 0; stdout: $output" \
            "bats runs no test without ps or pkill: the harness must check for procps first"
    fi
    local named
    named=$(printf '%s\n%s\n' "$output" "$stderr" | grep -c procps) || true
    if [[ $named != 1 ]]; then
        report_mismatch "make check LESSON=02, with ps and pkill hidden from PATH" \
            "one line naming procps" "$named such lines in: $stderr" \
            "need_procps in tests/lib/bats.sh, called by find_bats"
        return 1
    fi
    if [[ $output == *" passed, "* ]]; then
        report_mismatch "make check LESSON=02, with ps and pkill hidden" "no score" "$output" \
            "the check must come before any test runs"
    fi
}

# ------------------------------------------------ results that do not add up

@test "a bats run that reports fewer results than it planned fails, saying how many" {
    # What bats prints when it cannot run its tests (no pkill or ps).
    fake_bats '1..3\nok 1 step 1: one\nError: Cannot execute timeout because neither pkill nor ps are available\nError: Cannot execute timeout because neither pkill nor ps are available\n'
    mini_lab
    LAB_LESSON=00 run in_lab bash tests/lib/grade.sh
    if ((status == 0)); then
        report_mismatch "grade.sh, bats planning 3 tests and reporting 1" "a non-zero exit status" \
            "status 0; output: $output" "check_run_complete in tests/lib/run.sh"
        return 1
    fi
    assert_output --partial "bats planned 3 tests and reported 1"
    assert_output --partial "neither pkill nor ps are available"
    assert_line "1 passed, 1 failed, 0 skipped"
}

@test "a truncated TAP stream fed to the runner records a failed run" {
    fake_command truncated "printf '1..5\nok 1 step 1: one\nok 2 step 1: two\n'"
    mkdir -p "$BATS_TEST_TMPDIR/programs"
    touch "$BATS_TEST_TMPDIR/x.bats"
    run bash -c 'source "$1/tests/lib/run.sh"; BATS=truncated
        run_bats_file "$2/x.bats" "$2/programs" "$2/results.tsv" quiet; echo "status $?"
        cut -f1,3 "$2/results.tsv"; run_failures "$2/results.tsv"' _ "$ROOT" "$BATS_TEST_TMPDIR"
    assert_line "status 1"
    assert_line --index 1 $'ok\tstep 1: one'
    assert_line --index 3 $'fail\tthe test run: bats planned 5 tests and reported 2'
    assert_line --index 4 'the test run: bats planned 5 tests and reported 2'
}

@test "a process bats leaves behind holding its output does not hold up the grade" {
    # As bats's own timeout countdown can be left behind: a sleep that keeps
    # the output pipe open after bats has exited.
    fake_bats '1..1\nok 1 step 1: one\n'
    fake_command bats "$(cat "$FAKES/bats")
sleep 45 &
echo \$! >'$BATS_TEST_TMPDIR/left-behind.pid'"
    mini_lab
    local started=$SECONDS
    LAB_LESSON=00 run in_lab bash tests/lib/grade.sh
    assert_success
    assert_line "1 passed, 0 failed, 0 skipped"
    if ((SECONDS - started > 30)); then
        report_mismatch "grade.sh, with bats leaving a 45 s sleep holding its output" \
            "the grade as soon as bats exits" "$((SECONDS - started)) s" \
            "run_bats_file must stop reading at RUN_END_MARK, not at the end of the pipe"
    fi
}

@test "a lesson with no test is a failure, not a pass" {
    MINI_TESTS='# no test here' mini_lab
    LAB_LESSON=00 run in_lab bash tests/lib/grade.sh
    assert_failure
    assert_output --partial "bats found no test to run"
    assert_line "0 passed, 1 failed, 0 skipped"
}

@test "a lesson whose every test is skipped is a failure: nothing was tested" {
    MINI_TESTS='@test "step 1: needs socat" { skip "socat is not installed"; }' mini_lab
    LAB_LESSON=00 run in_lab bash tests/lib/grade.sh
    assert_failure
    assert_output --partial "every test was skipped (1): nothing was tested"
}

@test "a filter that matches no test is a failure, naming the filter" {
    MINI_TESTS='@test "step 1: one" { true; }' mini_lab
    LAB_LESSON=00 LAB_FILTER='^step 9: ' run in_lab bash tests/lib/grade.sh
    assert_failure
    assert_output --partial "none matches TEST_FILTER='^step 9: '"
}

# ---------------------------------------------------------- skip reasons

# Nine skipped tests for two reasons, and one that passes.
skipping_tests() {
    local i
    echo '@test "step 1: runs" { true; }'
    for i in 1 2 3 4 5; do
        echo "@test \"step 1: socat $i\" { skip 'socat is not installed'; }"
    done
    for i in 1 2 3 4; do
        echo "@test \"step 1: nc $i\" { skip 'nc is not installed'; }"
    done
}

@test "make check summarises the reasons for skipping, once per reason" {
    MINI_TESTS=$(skipping_tests) mini_lab
    LAB_LESSON=00 LAB_SOLUTIONS=1 run in_lab bash tests/lib/grade.sh
    assert_success
    assert_line "9 skipped: socat is not installed (5), nc is not installed (4)"
    assert_line "1 passed, 0 failed, 9 skipped"
}

@test "make test summarises the reasons for skipping, and reports a gate without its tools as skipped" {
    # (and one that only the reference passes, for the starter to fail)
    MINI_TESTS="$(skipping_tests)"$'\n''@test "step 1: the starter fails" { [[ $SOCKSTEP_PROGRAMS == */solutions/* ]]; }' mini_lab
    # A C file and a shell file for the lint gate to check, with no tool to do it.
    cp "$ROOT/tests/gates/lint.sh" "$LAB/tests/gates/"
    mkdir -p "$LAB/solutions/00-mini"
    printf 'int main(void) { return 0; }\n' >"$LAB/solutions/00-mini/mini.c"
    # The starter's one source: the reference and its step patch.
    in_lab bash tests/lib/steps.sh split 00 >/dev/null
    hide_commands clang-format cppcheck clang-tidy shellcheck
    run in_lab bash tests/lib/selftest.sh
    assert_success
    assert_line "  ok    00-mini: the reference passes all 11 tests (9 skipped)"
    assert_line "  skip  gate: lint: skipped (clang-format, cppcheck, clang-tidy, shellcheck not installed)"
    refute_line --partial "ok    gate: lint"
    assert_line "9 skipped: socat is not installed (5), nc is not installed (4)"
    assert_line "  ok    00-mini: the starters are what 'make starters' makes of the references"
    assert_line "selftest: 4 passed, 0 failed, 1 skipped"
}

# ---------------------------------------------------------------- gates

@test "the lint gate with its tools hidden says skipped, naming them" {
    hide_commands clang-format cppcheck clang-tidy shellcheck
    run bash "$ROOT/tests/gates/lint.sh" "$ROOT/tests/lib/run.sh" "$ROOT/solutions/02-tcp-client/hello_client.c"
    assert_success
    assert_line "lint: skipped (clang-format, cppcheck, clang-tidy, shellcheck not installed)"
}

@test "the lint gate with one tool hidden says which part was skipped" {
    command -v shellcheck >/dev/null || skip "shellcheck is not installed"
    hide_commands clang-format cppcheck clang-tidy
    run bash "$ROOT/tests/gates/lint.sh" "$ROOT/tests/lib/run.sh" "$ROOT/solutions/02-tcp-client/hello_client.c"
    assert_success
    assert_line "lint: all clean, part skipped (clang-format, cppcheck, clang-tidy not installed)"
}

@test "the fuzz gate without its compiler says skipped, naming it" {
    hide_commands clang
    FUZZ_CC=clang SOCKSTEP_BUILD="$BATS_TEST_TMPDIR/build" run bash "$ROOT/tests/gates/fuzz.sh"
    assert_success
    assert_line "fuzz: skipped (clang not installed)"
}

# ------------------------------------------------------------------- npm

@test "a failed npm install shows npm's last error lines and its log path" {
    fake_command npm 'echo "npm ERR! code SELF_SIGNED_CERT_IN_CHAIN" >&2
echo "npm ERR! errno SELF_SIGNED_CERT_IN_CHAIN" >&2
echo "npm ERR! request to https://registry.npmjs.org/bats failed, reason: self-signed certificate in certificate chain" >&2
echo "" >&2
echo "npm ERR! A complete log of this run can be found in: /root/.npm/_logs/2026-debug-0.log" >&2
exit 1'
    mkdir -p "$BATS_TEST_TMPDIR/root"
    run --separate-stderr env SOCKSTEP_ROOT="$BATS_TEST_TMPDIR/root" SOCKSTEP_BATS=npm \
        bash -c 'source "$1/tests/lib/bats.sh"; find_bats' _ "$ROOT"
    assert_failure
    [[ $stderr == *"npm install failed (exit status 1)"* ]] ||
        report_mismatch "find_bats, npm failing" "npm install failed (exit status 1)" "$stderr"
    [[ $stderr == *"npm ERR! request to https://registry.npmjs.org/bats failed, reason: self-signed certificate"* ]] ||
        report_mismatch "find_bats, npm failing" "npm's error line" "$stderr"
    [[ $stderr == *"npm's own log: /root/.npm/_logs/2026-debug-0.log"* ]] ||
        report_mismatch "find_bats, npm failing" "npm's log path" "$stderr"
    [[ $stderr == *"npm's output: .deps/npm-install.log"* ]] ||
        report_mismatch "find_bats, npm failing" "where npm's output was kept" "$stderr"
    [[ $stderr == *"bats-core 1.5+ with bats-support and bats-assert is needed"* ]] ||
        report_mismatch "find_bats, npm failing" "what to install instead" "$stderr"
}

# --------------------------------------------------------------- namespaces

# probe_netns IP_SCRIPT: require_netns with a fake ip; prints why it skipped.
probe_netns() {
    [[ $(id -u) == 0 ]] || skip "the namespace probe runs as root"
    unset SOCKSTEP_NO_NETNS
    fake_command ip "$1"
    # shellcheck disable=SC2317 # called by require_netns
    skip() { printf 'skipped: %s\n' "$*"; exit 0; }
    run require_netns
}

@test "require_netns skips when ip netns exec cannot enter a namespace, with the reason" {
    probe_netns '[[ "$1 $2" == "netns exec" ]] && { echo "mount --make-rslave /: Permission denied" >&2; exit 1; }
exit 0'
    assert_output "skipped: cannot enter a network namespace here (ip netns exec: mount --make-rslave /: Permission denied)"
}

@test "require_netns skips when ip netns add is refused, with the reason" {
    probe_netns '[[ "$1 $2" == "netns add" ]] && { echo "mkdir /run/netns failed: Read-only file system" >&2; exit 1; }
exit 0'
    assert_output "skipped: this machine does not allow network namespaces (ip netns add: mkdir /run/netns failed: Read-only file system)"
}

@test "require_netns lets the test run when namespaces work" {
    probe_netns 'exit 0'
    assert_success
    assert_output ""
}
