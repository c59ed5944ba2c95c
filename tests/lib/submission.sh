# shellcheck shell=bash
# Puts a student's submission into a copy of the lab, for grade_all.sh and
# the Gradescope autograder. Sourced.
#
#   place_submission SUBMISSION LAB
#
# SUBMISSION is either a whole repository (a folder holding lessons/NN-name/,
# at most three levels down) or just the .c files, anywhere below it: a file
# named like one of the lab's starters (hello_threads.c) goes to that
# starter's lesson folder. Only regular files named like a starter are taken
# (no symbolic links, nothing over 1 MiB); the lab's own tests, Makefile and
# fixtures always come from the lab. Prints one line per file placed
# ("placed 03-threaded-server/hello_threads.c") or ignored, and returns 1
# when nothing was placed.
#
#   add_hidden_tests DIR LAB
#
# Appends every DIR/NN-name.bats (extra @test blocks) to the lab's
# tests/NN-name.bats and keeps a copy in tests/hidden/ (report.sh marks
# those tests hidden).

# _starter_lesson LAB FILE_NAME: the lesson folder whose starter has that name.
_starter_lesson() {
    local lab=$1 name=$2 found
    found=$(compgen -G "$lab/lessons/[0-9][0-9]-*/$name" | head -n 1)
    [[ -n $found ]] || return 1
    basename "$(dirname "$found")"
}

_place_file() {
    local file=$1 lab=$2 lesson=$3 name
    name=$(basename "$file")
    if [[ -L $file || ! -f $file ]]; then
        echo "ignored $file (not a regular file)"
        return 1
    fi
    if (($(stat -c %s "$file") > 1048576)); then
        echo "ignored $file (over 1 MiB)"
        return 1
    fi
    cp -- "$file" "$lab/lessons/$lesson/$name" || return 1
    echo "placed $lesson/$name"
}

place_submission() {
    local src=$1 lab=$2 placed=0 repo file lesson name
    repo=$(find "$src" -maxdepth 3 -type d -name lessons 2>/dev/null | LC_ALL=C sort | head -n 1)
    if [[ -n $repo ]] && compgen -G "$repo/[0-9][0-9]-*/*.c" >/dev/null; then
        for file in "$repo"/[0-9][0-9]-*/*.c; do
            lesson=$(basename "$(dirname "$file")")
            name=$(basename "$file")
            if [[ -f $lab/lessons/$lesson/$name ]]; then
                _place_file "$file" "$lab" "$lesson" && placed=$((placed + 1))
            else
                echo "ignored $lesson/$name (no such program in the lab)"
            fi
        done
    else
        while IFS= read -r file; do
            name=$(basename "$file")
            if lesson=$(_starter_lesson "$lab" "$name"); then
                _place_file "$file" "$lab" "$lesson" && placed=$((placed + 1))
            else
                echo "ignored ${file#"$src"/} (no lesson has a program of that name)"
            fi
        done < <(find "$src" -maxdepth 4 -name '*.c' \( -type f -o -type l \) 2>/dev/null | LC_ALL=C sort)
    fi
    ((placed > 0))
}

add_hidden_tests() {
    local dir=$1 lab=$2 file lesson
    [[ -n $dir ]] || return 0
    if [[ ! -d $dir ]]; then
        echo "sockstep: HIDDEN_TESTS=$dir is not a folder" >&2
        return 1
    fi
    mkdir -p "$lab/tests/hidden"
    for file in "$dir"/[0-9][0-9]-*.bats; do
        [[ -f $file ]] || continue
        lesson=$(basename "$file" .bats)
        if [[ ! -f $lab/tests/$lesson.bats ]]; then
            echo "sockstep: hidden tests $file: no lesson $lesson" >&2
            return 1
        fi
        cp "$file" "$lab/tests/hidden/$lesson.bats"
        printf '\n# ---- hidden tests (%s)\n' "$(basename "$file")" >>"$lab/tests/$lesson.bats"
        cat "$file" >>"$lab/tests/$lesson.bats"
    done
}
