#!/usr/bin/env bash
# `make reset LESSON=NN`: puts the lesson's starter back, to start the lesson
# over. The student's file is never lost: it is first copied beside itself as
# lessons/NN-name/<prog>.c.<YYYYmmdd-HHMMSS>.bak (checked byte for byte
# before the starter replaces it). The starter is the file as committed in
# git (STARTER_REF, default HEAD; e.g. STARTER_REF=origin/main when you
# committed your own work). The lesson's hint count starts again too.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"

ref=${STARTER_REF:-HEAD}

die() {
    echo "make reset: $*" >&2
    exit 1
}

# backup_name FILE: a name beside FILE that does not exist yet.
backup_name() {
    local base n=1 name
    base="$1.$(date +%Y%m%d-%H%M%S)"
    name="$base.bak"
    while [[ -e $name ]]; do
        n=$((n + 1))
        name="$base-$n.bak"
    done
    printf '%s\n' "$name"
}

# reset_file PATH (relative to the repository): backs up, then restores.
reset_file() {
    local path=$1 starter backup
    starter=$(mktemp) || die "cannot make a temporary file"
    if ! git -C "$SOCKSTEP_ROOT" show "$ref:$path" >"$starter" 2>/dev/null; then
        rm -f "$starter"
        die "no starter for $path in git ($ref); your file is unchanged"
    fi
    if [[ -f $SOCKSTEP_ROOT/$path ]] && cmp -s "$starter" "$SOCKSTEP_ROOT/$path"; then
        rm -f "$starter"
        echo "  $path is the starter already"
        return 0
    fi
    if [[ -f $SOCKSTEP_ROOT/$path ]]; then
        backup=$(backup_name "$SOCKSTEP_ROOT/$path")
        if ! cp -p "$SOCKSTEP_ROOT/$path" "$backup" || ! cmp -s "$SOCKSTEP_ROOT/$path" "$backup"; then
            rm -f "$starter"
            die "cannot back up $path to ${backup#"$SOCKSTEP_ROOT"/}; your file is unchanged"
        fi
    fi
    # Written to a temporary name first and renamed: the file is whole or
    # untouched, never half written.
    if ! cp "$starter" "$SOCKSTEP_ROOT/$path.reset.$$" ||
        ! mv -f "$SOCKSTEP_ROOT/$path.reset.$$" "$SOCKSTEP_ROOT/$path"; then
        rm -f "$starter" "$SOCKSTEP_ROOT/$path.reset.$$"
        die "cannot write $path; your file is unchanged${backup:+ (and copied to ${backup#"$SOCKSTEP_ROOT"/})}"
    fi
    rm -f "$starter"
    echo "  $path: the starter again; your version is in ${backup#"$SOCKSTEP_ROOT"/}"
}

main() {
    local lesson path paths
    if [[ -z ${LESSON:-} ]]; then
        echo "usage: make reset LESSON=NN   (lessons: $(lesson_names))" >&2
        return 2
    fi
    lesson=$(list_lessons) || return 2
    if [[ $(wc -l <<<"$lesson") -ne 1 ]]; then
        echo "make reset: LESSON=$LESSON names more than one lesson" >&2
        return 2
    fi
    git -C "$SOCKSTEP_ROOT" rev-parse --git-dir >/dev/null 2>&1 ||
        die "not a git checkout: the starters come from git (clone the lab to use make reset)"
    paths=$(git -C "$SOCKSTEP_ROOT" ls-tree --name-only "$ref" "lessons/$lesson/" 2>/dev/null | grep '\.c$') ||
        die "no starter of lesson $lesson in git ($ref): your files are unchanged"
    echo "Resetting lesson $lesson to its starter:"
    for path in $paths; do
        reset_file "$path"
    done
    rm -f "$SOCKSTEP_BUILD/hints/$lesson"
    echo "Start again with step 1 of lessons/$lesson/README.md; your old file stays beside the starter."
}

main "$@"
