# shellcheck shell=bash
# Lesson lookup shared by the harness scripts (grade, selftest, demo, bench,
# hint, progress). SOCKSTEP_ROOT is the repository; SOCKSTEP_BUILD the build
# folder; LESSON an optional filter: "3", "03" or "03-threaded-server".

: "${SOCKSTEP_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SOCKSTEP_BUILD:=$SOCKSTEP_ROOT/build}"

# Prints the lesson names (NN-name) that have a test file, filtered by
# $LESSON when set. Fails with a message when the filter matches nothing.
list_lessons() {
    local filter=${LESSON:-} file name found=0
    if [[ $filter =~ ^[0-9]+$ ]]; then
        filter=$(printf '%02d' "$((10#$filter))")
    fi
    for file in "$SOCKSTEP_ROOT"/tests/[0-9][0-9]-*.bats; do
        [[ -f $file ]] || continue
        name=$(basename "$file" .bats)
        if [[ -z $filter || $name == "$filter" || $name == "$filter"-* ]]; then
            printf '%s\n' "$name"
            found=1
        fi
    done
    if ((found == 0)); then
        echo "sockstep: no lesson matches LESSON=${LESSON:-}; lessons: $(lesson_names)" >&2
        return 1
    fi
}

lesson_names() {
    local file names=()
    for file in "$SOCKSTEP_ROOT"/tests/[0-9][0-9]-*.bats; do
        [[ -f $file ]] && names+=("$(basename "$file" .bats)")
    done
    echo "${names[*]}"
}

# The steps a starter leaves to the student: the N of every TODO(step N).
starter_steps() {
    cat "$SOCKSTEP_ROOT/lessons/$1"/*.c 2>/dev/null |
        grep -o 'TODO(step [0-9]*)' | grep -o '[0-9]*' | sort -un
}
