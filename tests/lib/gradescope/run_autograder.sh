#!/usr/bin/env bash
# Gradescope's entry point (packed as `run_autograder` by
# `make gradescope-autograder`): grades one submission and writes
# /autograder/results/results.json, whatever the submission does.
#
#   AUTOGRADER_ROOT   the /autograder tree (default /autograder; the tests
#                     pass a fake one)
# Settings packed beside it in settings.env (LESSON, GRADE_SECONDS,
# GRADE_TEST_SECONDS, TEST_FILTER, GRADESCOPE_HIDDEN_VISIBILITY); the
# environment overrides them.
#
# The submission (/autograder/submission) is a whole repository or just the
# .c files, in either layout (tests/lib/submission.sh). It is graded in a
# fresh copy of the lab packed in source/lab, so nothing a student changed
# outside lessons/ takes part.
set -uo pipefail

root=${AUTOGRADER_ROOT:-/autograder}
source_dir=$root/source
results=$root/results/results.json
# settings.env, for each setting the environment does not set already.
if [[ -f $source_dir/settings.env ]]; then
    while IFS='=' read -r key value; do
        [[ $key =~ ^[A-Z_]+$ && -z ${!key+set} ]] || continue
        eval "$key=$value"
    done <"$source_dir/settings.env"
fi
: "${GRADE_SECONDS:=1200}" "${GRADE_TEST_SECONDS:=60}"
mkdir -p "$root/results"

# results_message TEXT: a valid results.json that says TEXT (score 0).
results_message() {
    jq -n --arg o "$1" '{score: 0, max_score: 0, execution_time: 0, output: $o, tests: []}' >"$results"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-grade.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
# With its timestamps (-p): the test peers setup.sh built stay built.
cp -R -p "$source_dir/lab" "$work/lab"
lab=$work/lab
# shellcheck source=tests/lib/submission.sh
source "$lab/tests/lib/submission.sh"
if ! place_submission "$root/submission" "$lab" >"$work/placed.txt"; then
    results_message "No file of the lab was found in the submission: submit your lessons/ folder or the .c files (e.g. hello_threads.c). $(head -c 1000 "$work/placed.txt")"
    exit 0
fi

cd "$lab" || exit 1
export SOCKSTEP_ROOT=$lab SOCKSTEP_BUILD=$lab/build LESSON=${LESSON:-} BATS_TEST_TIMEOUT=$GRADE_TEST_SECONDS
export GRADESCOPE_HIDDEN_VISIBILITY=${GRADESCOPE_HIDDEN_VISIBILITY:-after_published}
[[ -n ${TEST_FILTER:-} ]] && export TEST_FILTER
[[ -n $LESSON ]] || unset LESSON
make --no-print-directory -k fixtures benchtools lessons >"$work/build.log" 2>&1
# For the instructor's view of the run (students see results.json only).
sed 's/^/build: /' "$work/build.log"
build_errors=$(grep -E '^lessons/.*: (fatal )?error:' "$work/build.log" | head -n 5)

# The grading, bounded: a hanging program cannot keep the results unwritten.
# Where a PID namespace can be made, everything the submission started ends
# with it; elsewhere (Gradescope's container) the container's end does that.
# Without root, user namespaces can make one too, with a second one inside
# to give the grading back its own user id (not the namespace's root).
ns=()
if unshare --pid --fork --kill-child --mount-proc true 2>/dev/null; then
    ns=(unshare --pid --fork --kill-child --mount-proc)
elif unshare --user --map-root-user --pid --fork --kill-child --mount-proc true 2>/dev/null; then
    ns=(unshare --user --map-root-user --pid --fork --kill-child --mount-proc
        unshare --user --map-user="$(id -u)" --map-group="$(id -g)")
fi
timeout --signal=KILL "$GRADE_SECONDS" "${ns[@]}" setsid \
    env SOCKSTEP_REPORTS="gradescope=$work/results.json" bash tests/lib/grade.sh >"$work/grade.log" 2>&1
status=$?
if ((status == 137)); then
    results_message "Grading stopped after ${GRADE_SECONDS} s: a program hangs (a server that does not stop on SIGTERM, a client that waits for ever?). Run 'make check' on your machine to see which test hangs.${build_errors:+ Build errors: $build_errors}"
elif ! jq -e '.tests | type == "array"' "$work/results.json" >/dev/null 2>&1; then
    results_message "Grading ended (status $status) without results. Last lines: $(tail -n 20 "$work/grade.log")"
else
    if [[ -n $build_errors ]]; then
        jq --arg b "$build_errors" '.output = "Your program does not compile:\n" + $b + "\n\n" + .output' \
            "$work/results.json" >"$results"
    else
        cp "$work/results.json" "$results"
    fi
fi
exit 0
