# shellcheck shell=bash
# The learner's state, shared by grade.sh (make check), watch.sh (make
# watch) and progress.sh (make progress), sourced after lessons.sh and run.sh.
#
# The last graded score of each lesson is kept in SOCKSTEP_STATE (default
# .sockstep/ in the repository, git-ignored; `make clean` leaves it): one
# line per lesson in scores.tsv:
#   <lesson> TAB <passed> TAB <failed> TAB <skipped> TAB <date, UTC ISO 8601>

: "${SOCKSTEP_STATE:=$SOCKSTEP_ROOT/.sockstep}"

scores_file() {
    printf '%s\n' "$SOCKSTEP_STATE/scores.tsv"
}

# record_score LESSON RESULTS: remembers the score of a whole-lesson run of
# the student's programs (a run with TEST_FILTER is not the lesson's score).
record_score() {
    local lesson=$1 results=$2 file tmp pass fail skip
    [[ -z ${TEST_FILTER:-} ]] || return 0
    file=$(scores_file)
    mkdir -p "${file%/*}" 2>/dev/null || return 0
    pass=$(count_results "$results" ok)
    fail=$(count_results "$results" fail)
    skip=$(count_results "$results" skip)
    tmp="$file.$$"
    {
        [[ -f $file ]] && awk -F'\t' -v l="$lesson" '$1 != l' "$file"
        printf '%s\t%s\t%s\t%s\t%s\n' "$lesson" "$pass" "$fail" "$skip" \
            "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } >"$tmp" && sort -o "$tmp" "$tmp" && mv -f "$tmp" "$file"
}

# last_score LESSON: prints "passed failed skipped date" of the lesson's last
# graded run; fails when it was never graded.
last_score() {
    local file
    file=$(scores_file)
    [[ -f $file ]] || return 1
    awk -F'\t' -v l="$1" '$1 == l { print $2, $3, $4, $5; found = 1 } END { exit !found }' "$file"
}

# reveal LESSON: after a green lesson, where to read the reference.
reveal() {
    local lesson=$1 source name
    echo "  Lesson $lesson is green. Now compare your program with the reference:"
    for source in "$SOCKSTEP_ROOT/lessons/$lesson"/*.c; do
        [[ -f $source ]] || continue
        name=${source##*/}
        [[ -f $SOCKSTEP_ROOT/solutions/$lesson/$name ]] || continue
        echo "    diff -u lessons/$lesson/$name solutions/$lesson/$name"
    done
    echo "  (side by side: diff -y -W 160 --suppress-common-lines, or: git diff --no-index)"
}

# after_lesson LESSON RESULTS: what grading the student's programs adds: the
# score is remembered, and a green lesson points to its reference.
after_lesson() {
    local lesson=$1 results=$2
    record_score "$lesson" "$results"
    if [[ -z ${TEST_FILTER:-} && $(count_results "$results" fail) == 0 &&
        $(count_results "$results" ok) -gt 0 ]]; then
        reveal "$lesson"
    fi
}
