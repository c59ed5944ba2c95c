#!/usr/bin/env bash
# steps.sh: the one source of every starter. The reference in solutions/ is
# the only hand-written program; each step a student writes is kept as a
# patch that cuts that step out of it:
#
#   tests/steps/NN-name/<prog>.step-N.patch   cuts step N (applied to the
#                                             reference with the steps after
#                                             N already cut)
#   tests/steps/NN-name/<prog>.starter.patch  the starter's own header and
#                                             paths (applied last)
#
# Applied from the last step down to step 1, then the starter patch, always
# without fuzz, they give lessons/NN-name/<prog>.c. Stopped after step N+1,
# they give "rung N": the program as a student has it after doing steps 1 to
# N, which `make test` builds and grades (the ladder).
#
#   steps.sh starters           writes every starter (LESSON=NN: one lesson)
#   steps.sh check              fails, naming the file, when a committed
#                               starter differs from what the patches give
#   steps.sh rung LESSON PROG N OUT    writes rung N of PROG to OUT
#   steps.sh steps LESSON       the step numbers the lesson's tests name
#   steps.sh split LESSON...    (after a starter was edited by hand on
#                               purpose) derives the patches again from the
#                               reference and that starter
#
# docs/instructors.md ("Changing a step") says when to use which.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"

steps_dir() {
    printf '%s\n' "$SOCKSTEP_ROOT/tests/steps/$1"
}

# lesson_programs LESSON: the programs of a lesson (from its references).
lesson_programs() {
    local file
    for file in "$SOCKSTEP_ROOT/solutions/$1"/*.c; do
        [[ -f $file ]] && basename "$file" .c
    done
}

# lesson_steps LESSON: the step numbers the lesson's tests name, in order.
lesson_steps() {
    sed -n -E 's/^@test "step ([0-9]+): .*/\1/p' "$SOCKSTEP_ROOT/tests/$1.bats" | sort -un
}

# step_patches LESSON PROG: the step patches of PROG, last step first.
step_patches() {
    local dir
    dir=$(steps_dir "$1")
    compgen -G "$dir/$2.step-*.patch" | sed -E 's/.*\.step-([0-9]+)\.patch$/\1 &/' |
        sort -rn | cut -d' ' -f2-
}

patch_step() {
    patch -s -F0 -r - --no-backup-if-mismatch "$1" "$2"
}

# apply_chain LESSON PROG N OUT [starter]: the reference, with every step
# after N cut (and, with "starter", the starter's header too), in OUT.
apply_chain() {
    local lesson=$1 prog=$2 n=$3 out=$4 frame=${5:-} patchfile step
    cp "$SOCKSTEP_ROOT/solutions/$lesson/$prog.c" "$out" || return 1
    while IFS= read -r patchfile; do
        [[ -n $patchfile ]] || continue
        step=${patchfile##*.step-}
        step=${step%.patch}
        ((step > n)) || continue
        # (Empty: the step changes nothing in this program.)
        [[ -s $patchfile ]] || continue
        patch_step "$out" "$patchfile" >/dev/null || {
            echo "steps: ${patchfile#"$SOCKSTEP_ROOT"/} no longer applies to solutions/$lesson/$prog.c: see 'Changing a step' in docs/instructors.md" >&2
            return 1
        }
    done < <(step_patches "$lesson" "$prog")
    if [[ -n $frame ]]; then
        patchfile="$(steps_dir "$lesson")/$prog.starter.patch"
        if [[ -f $patchfile ]] && ! patch_step "$out" "$patchfile" >/dev/null; then
            echo "steps: ${patchfile#"$SOCKSTEP_ROOT"/} no longer applies: see 'Changing a step' in docs/instructors.md" >&2
            return 1
        fi
    fi
}

# write_starters: every starter, from its reference and patches.
write_starters() {
    local lesson prog status=0
    for lesson in $(list_lessons); do
        for prog in $(lesson_programs "$lesson"); do
            [[ -d $(steps_dir "$lesson") ]] || continue
            apply_chain "$lesson" "$prog" 0 "$SOCKSTEP_ROOT/lessons/$lesson/$prog.c.new" starter || {
                rm -f "$SOCKSTEP_ROOT/lessons/$lesson/$prog.c.new"
                status=1
                continue
            }
            if cmp -s "$SOCKSTEP_ROOT/lessons/$lesson/$prog.c.new" "$SOCKSTEP_ROOT/lessons/$lesson/$prog.c"; then
                rm -f "$SOCKSTEP_ROOT/lessons/$lesson/$prog.c.new"
            else
                mv "$SOCKSTEP_ROOT/lessons/$lesson/$prog.c.new" "$SOCKSTEP_ROOT/lessons/$lesson/$prog.c"
                echo "starters: wrote lessons/$lesson/$prog.c"
            fi
        done
    done
    return "$status"
}

# check_starters: every committed starter is what its patches give.
check_starters() {
    local lesson prog tmp status=0 n=0
    tmp=$(mktemp) || return 1
    for lesson in $(list_lessons); do
        for prog in $(lesson_programs "$lesson"); do
            if [[ ! -d $(steps_dir "$lesson") ]]; then
                echo "starters: tests/steps/$lesson is missing: lessons/$lesson/$prog.c has no source"
                status=1
                continue
            fi
            n=$((n + 1))
            if ! apply_chain "$lesson" "$prog" 0 "$tmp" starter; then
                status=1
            elif ! cmp -s "$tmp" "$SOCKSTEP_ROOT/lessons/$lesson/$prog.c"; then
                echo "starters: lessons/$lesson/$prog.c differs from what 'make starters' makes of solutions/$lesson/$prog.c:"
                diff -u --label "what make starters writes" --label "lessons/$lesson/$prog.c" \
                    "$tmp" "$SOCKSTEP_ROOT/lessons/$lesson/$prog.c" | head -n 20
                status=1
            fi
        done
    done
    rm -f "$tmp"
    ((status == 0)) && echo "starters: all $n starters are what 'make starters' makes"
    return "$status"
}

# ------------------------------------------------------- deriving patches

# classify_hunks REF STARTER: the starter as -U0 hunks of the reference,
# each with the step it belongs to, "frame" (the header comment) or a step
# number. Output, per hunk: "@@ STEP OLDSTART OLDCOUNT" then its "+" lines.
# A hunk whose new text says TODO(step N) is step N (two steps in one
# hunk: the later; the rungs between are then the starter's text there,
# until they get code of their own: steps.sh unpack). A hunk without one is
# part of the step whose function it sits in (the next such hunk first:
# declarations come before their use); outside any, lines only removed (a
# helper) go with the next step, lines added (a stub helper the cut steps
# call) with the highest: in every rung below the top.
classify_hunks() {
    { diff -U0 "$1" "$2" || true; } | awk -v ref="$1" '
        BEGIN {
            while ((getline line < ref) > 0) {
                refline[++nref] = line
                if (!header_end && line ~ /\*\//) header_end = nref
            }
        }
        /^@@ / {
            split($2, o, ",")
            h++
            start[h] = substr(o[1], 2) + 0
            count[h] = (2 in o) ? o[2] + 0 : 1
            step[h] = ""
            adds[h] = 0
            next
        }
        /^\+/ {
            text[h] = text[h] $0 "\n"
            if ($0 !~ /^\+[ \t]*$/) adds[h] = 1
            if (match($0, /TODO\(step [0-9]+\)/)) {
                todo = substr($0, RSTART + 10, RLENGTH - 11) + 0
                if (step[h] != "" && step[h] != todo)
                    printf "steps: the change at line %d of %s holds steps %s and %s: the rungs between are the starter there\n", start[h], ref, step[h], todo > "/dev/stderr"
                if (step[h] == "" || todo > step[h]) step[h] = todo
            }
        }
        # Whether a function ends between reference lines FROM and TO.
        function apart(from, to,   i) {
            for (i = from; i < to; i++)
                if (refline[i] ~ /^}/) return 1
            return 0
        }
        function end_of(i) { return start[i] + (count[i] == 0 ? 1 : count[i]) }
        END {
            for (i = 1; i <= h; i++)
                if (step[i] != "" && step[i] > top) top = step[i]
            for (i = 1; i <= h; i++) {
                if (step[i] != "") { resolved[i] = step[i]; continue }
                if (start[i] <= header_end) { resolved[i] = "frame"; continue }
                after = ""; before = ""
                for (j = i + 1; j <= h; j++) if (step[j] != "") { after = j; break }
                for (j = i - 1; j >= 1; j--) if (step[j] != "") { before = j; break }
                if (after != "" && !apart(end_of(i), start[after]))
                    resolved[i] = step[after]
                else if (before != "" && !apart(end_of(before), start[i]))
                    resolved[i] = step[before]
                else if (!adds[i] && after != "")
                    resolved[i] = step[after]
                else
                    resolved[i] = top
            }
            for (i = 1; i <= h; i++)
                printf "@@ %s %d %d\n%s", resolved[i], start[i], count[i], text[i]
        }'
}

# apply_hunks REF HUNKS MAXSTEP: REF with the hunks of steps above MAXSTEP
# (and, when MAXSTEP is "frame", every hunk) applied.
apply_hunks() {
    awk -v max="$3" '
        FNR == NR {
            if (/^@@ /) { h++; step[h] = $2; start[h] = $3; count[h] = $4; next }
            text[h] = text[h] substr($0, 2) "\n"; has[h] = 1
            next
        }
        FNR == 1 {
            for (i = 1; i <= h; i++) {
                if (!(max == "frame" || (step[i] != "frame" && step[i] + 0 > max + 0))) continue
                # A pure insertion (count 0) goes after its line.
                at = count[i] == 0 ? start[i] + 1 : start[i]
                ins[at] = ins[at] (has[i] ? text[i] : "")
                for (j = 0; j < count[i]; j++) drop[start[i] + j] = 1
            }
        }
        {
            if (FNR in ins) printf "%s", ins[FNR]
            if (!(FNR in drop)) print
        }
        END {
            n = FNR + 1
            if (n in ins) printf "%s", ins[n]
        }' "$2" "$1"
}

# unpack_lesson LESSON DIR: every rung of every program of LESSON as a file
# to edit: DIR/<prog>.rung-N.c for each step N of the chain (and the top
# rung, the reference) and DIR/<prog>.starter.c.
unpack_lesson() {
    local lesson=$1 dir=$2 prog step
    mkdir -p "$dir"
    for prog in $(lesson_programs "$lesson"); do
        for step in $(chain_steps "$lesson" "$prog"); do
            apply_chain "$lesson" "$prog" "$step" "$dir/$prog.rung-$step.c" || return 1
        done
        apply_chain "$lesson" "$prog" 0 "$dir/$prog.starter.c" starter || return 1
    done
    echo "steps: the rungs of $lesson are in $dir: edit them, then steps.sh pack $lesson $dir"
}

# chain_steps LESSON PROG: the rungs a program's chain has (the top one,
# the reference, included), highest first.
chain_steps() {
    local patchfile top=0 steps=() step
    while IFS= read -r patchfile; do
        [[ -n $patchfile ]] || continue
        step=${patchfile##*.step-}
        steps+=("$((${step%.patch} - 1))")
        ((${step%.patch} > top)) && top=${step%.patch}
    done < <(step_patches "$1" "$2")
    printf '%s\n' "$top" "${steps[@]}"
}

# pack_lesson LESSON DIR: the patches again, from edited rungs (unpack).
pack_lesson() {
    local lesson=$1 dir=$2 prog out prev step
    out=$(steps_dir "$lesson")
    for prog in $(lesson_programs "$lesson"); do
        cmp -s "$dir/$prog.rung-$(chain_steps "$lesson" "$prog" | head -n 1).c" \
            "$SOCKSTEP_ROOT/solutions/$lesson/$prog.c" ||
            echo "steps: note: $prog's top rung differs from its reference; the reference is what counts"
        prev=$SOCKSTEP_ROOT/solutions/$lesson/$prog.c
        for step in $(chain_steps "$lesson" "$prog" | tail -n +2); do
            diff -u --label "a/$prog.c" --label "b/$prog.c" "$prev" "$dir/$prog.rung-$step.c" \
                >"$out/$prog.step-$((step + 1)).patch"
            prev=$dir/$prog.rung-$step.c
        done
        diff -u --label "a/$prog.c" --label "b/$prog.c" "$prev" "$dir/$prog.starter.c" >"$out/$prog.starter.patch"
    done
    echo "steps: packed $lesson; now make starters"
}

# split_lesson LESSON: tests/steps/LESSON from the reference and the starter.
split_lesson() {
    local lesson=$1 prog ref starter dir tmp hunks steps step prev
    dir=$(steps_dir "$lesson")
    # The rungs written by hand (unpack, pack) live only in the patches.
    if compgen -G "$dir/*.patch" >/dev/null && [[ ${FORCE:-} != 1 ]]; then
        echo "steps: tests/steps/$lesson has its patches already: split would lose the rungs written by hand there; use unpack and pack (FORCE=1 splits anyway)" >&2
        return 1
    fi
    tmp=$(mktemp -d) || return 1
    mkdir -p "$dir"
    for prog in $(lesson_programs "$lesson"); do
        ref=$SOCKSTEP_ROOT/solutions/$lesson/$prog.c
        starter=$SOCKSTEP_ROOT/lessons/$lesson/$prog.c
        hunks=$tmp/$prog.hunks
        classify_hunks "$ref" "$starter" >"$hunks" || return 1
        rm -f "$dir/$prog".step-*.patch "$dir/$prog.starter.patch"
        steps=$(awk '/^@@ / && $2 != "frame" { print $2 }' "$hunks" | sort -rn | uniq)
        prev=$tmp/$prog.rung-top.c
        cp "$ref" "$prev"
        for step in $steps; do
            apply_hunks "$ref" "$hunks" $((step - 1)) >"$tmp/$prog.rung-$((step - 1)).c"
            diff -u --label "a/$prog.c" --label "b/$prog.c" "$prev" "$tmp/$prog.rung-$((step - 1)).c" \
                >"$dir/$prog.step-$step.patch"
            prev=$tmp/$prog.rung-$((step - 1)).c
        done
        diff -u --label "a/$prog.c" --label "b/$prog.c" "$prev" "$starter" >"$dir/$prog.starter.patch"
        [[ -s $dir/$prog.starter.patch ]] || rm -f "$dir/$prog.starter.patch"
        echo "steps: tests/steps/$lesson/$prog: steps $(sort -n <<<"$steps" | paste -sd' ' -)"
    done
    rm -rf "$tmp"
}

case ${1:-} in
starters) write_starters ;;
check) check_starters ;;
rung) apply_chain "$2" "$3" "$4" "$5" ;;
unpack) unpack_lesson "$(LESSON=$2 list_lessons)" "$3" ;;
pack) pack_lesson "$(LESSON=$2 list_lessons)" "$3" ;;
steps) lesson_steps "$2" ;;
programs) lesson_programs "$2" ;;
split)
    shift
    for lesson in "$@"; do
        split_lesson "$(LESSON=$lesson list_lessons)" || exit 1
    done
    ;;
*)
    echo "usage: steps.sh starters | check | rung LESSON PROG N OUT | steps LESSON | split LESSON..." >&2
    exit 2
    ;;
esac
