#!/usr/bin/env bats
# The learner's loop: make watch, make doctor, make reset, make progress and
# the reveal after a green lesson, run in a copy of the lab (the real lessons
# are never touched); the lessons' "Try it" commands (no fixed port, no
# machine-wide pgrep); every starter and reference builds warning-free.

# (A harness file sits one folder deeper than a lesson's.)
: "${SOCKSTEP_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
# make test: about 120 s (its parts start first).
load '../lib/common'
load_assertions

# ---------------------------------------------------------------- helpers

# path_without TOOL...: a folder of links to every command on PATH but
# TOOL..., to put on PATH instead of it.
path_without() {
    local dir="$BATS_TEST_TMPDIR/path" hidden=" $* " d f name dirs links=()
    local -A seen=()
    mkdir -p "$dir"
    IFS=: read -ra dirs <<<"$PATH"
    for d in "${dirs[@]}"; do
        for f in "$d"/*; do
            name=${f##*/}
            [[ -x $f && -z ${seen[$name]:-} && $hidden != *" $name "* ]] || continue
            seen[$name]=1
            links+=("$f")
        done
    done
    # One ln for them all: one per command costs seconds.
    ((${#links[@]} == 0)) || ln -s "${links[@]}" "$dir/"
    printf '%s\n' "$dir"
}

# lab_copy: a copy of the lab with lesson 02, its tests and the built test
# peers, in $LAB (a git checkout, as a student's is).
lab_copy() {
    LAB="$BATS_TEST_TMPDIR/lab"
    mkdir -p "$LAB/lessons" "$LAB/solutions" "$LAB/tests" "$LAB/build"
    cp "$SOCKSTEP_ROOT/Makefile" "$LAB/"
    cp -r "$SOCKSTEP_ROOT/lessons/02-tcp-client" "$LAB/lessons/"
    cp -r "$SOCKSTEP_ROOT/solutions/02-tcp-client" "$LAB/solutions/"
    cp -r "$SOCKSTEP_ROOT/tests/lib" "$SOCKSTEP_ROOT/tests/02-tcp-client.bats" "$LAB/tests/"
    cp -rp "$SOCKSTEP_ROOT/tests/fixtures" "$LAB/tests/"
    # The peers as built, newer than their sources: make does not rebuild them.
    cp -rp "$SOCKSTEP_FIXTURES" "$LAB/build/fixtures"
    [[ ! -d $SOCKSTEP_FIXTURES/../bin ]] || cp -rp "$SOCKSTEP_FIXTURES/../bin" "$LAB/build/bin"
    git -C "$LAB" init -q
    git -C "$LAB" add -A
    git -C "$LAB" -c user.name=lab -c user.email=lab@localhost commit -qm starter
    export SOCKSTEP_STATE="$LAB/.sockstep"
}

# lab_env CMD...: CMD without the settings of the run that tests the lab.
lab_env() {
    env -u SOCKSTEP_ROOT -u SOCKSTEP_BUILD -u SOCKSTEP_PROGRAMS -u SOCKSTEP_FIXTURES \
        -u SOCKSTEP_LESSON -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u TEST_FILTER -u LESSON \
        -u SOLUTIONS "$@"
}

# lab_make ARGS...: make in the copy, with its own build folder.
lab_make() {
    lab_env make --no-print-directory -C "$LAB" "$@"
}

# lab_processes: processes still running anything of the copy.
lab_processes() {
    local f pid
    # One grep over every command line (the glob is expanded before it
    # starts, so it does not find itself); a tr and grep per process cost
    # seconds on a busy machine.
    local line files
    mapfile -t files < <(grep -l -a -F -- "$LAB" /proc/[0-9]*/cmdline 2>/dev/null)
    for f in "${files[@]}"; do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        [[ $pid != "$$" && $pid != "$BASHPID" ]] || continue
        line=$({ tr '\0' ' ' <"$f"; } 2>/dev/null) || continue # (gone since)
        [[ -z $line ]] || echo "$pid $line"
    done
}

# lines_at_least FILE PATTERN N: FILE has N lines matching PATTERN.
lines_at_least() {
    local n
    n=$(grep -c -- "$2" "$1" 2>/dev/null) || true
    ((${n:-0} >= $3))
}

# watch_regrades PATH SECONDS: starts make watch LESSON=02 in the copy (its
# own session, as in a terminal), saves the starter while it waits after the
# first grading, and expects a second grading to start within SECONDS; then stops
# it as Ctrl-C would (SIGINT to the process group) and expects nothing left.
watch_regrades() {
    local path=$1 limit=$2 out="$BATS_TEST_TMPDIR/watch.out" pid saved started took left
    lab_copy
    # A job started with & ignores SIGINT; in a terminal it would not
    # (env --default-signal undoes that). One simple command, so that $! is
    # the session's leader: make watch itself.
    # shellcheck disable=SC2016 # $1 is the inner shell's
    PATH=$path env -u SOCKSTEP_ROOT -u SOCKSTEP_BUILD -u SOCKSTEP_PROGRAMS -u SOCKSTEP_FIXTURES \
        -u SOCKSTEP_LESSON -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u LESSON -u SOLUTIONS \
        --default-signal=INT setsid bash -c 'cd "$1" && exec make --no-print-directory watch LESSON=02 TEST_FILTER="step 1:"' \
        _ "$LAB" >"$out" 2>&1 </dev/null &
    pid=$!
    _SOCKSTEP_PIDS+=("$pid")
    if ! wait_until 60 grep -q '^-- waiting for a change' "$out"; then
        fail "make watch did not grade within 60 s; it printed: $(tail -n 20 "$out")"
        return 1
    fi
    # Saved while it waits (not just after it graded): the wait must notice.
    sleep 1.5
    saved=$(date +%s%N)
    printf '/* saved */\n' >>"$LAB/lessons/02-tcp-client/hello_client.c"
    if ! wait_until $((limit + 2)) lines_at_least "$out" '^== .* building and grading' 2; then
        fail "after a save, make watch did not grade again; it printed: $(tail -n 20 "$out")"
        return 1
    fi
    started=$(date +%s%N)
    took=$(((started - saved) / 1000000))
    wait_until 60 lines_at_least "$out" '^score: ' 2 ||
        fail "the second grading did not end; make watch printed: $(tail -n 20 "$out")"
    kill -s INT -- "-$pid" 2>/dev/null || true
    wait_exit "$pid" 10 || fail "make watch still runs 10 s after Ctrl-C (SIGINT to its group)"
    wait_until 10 test -z "$(lab_processes)" || true
    left=$(lab_processes)
    [[ -z $left ]] || fail "left running after Ctrl-C: $left"
    echo "# graded again $took ms after the save" >&3
    ((took <= limit * 1000)) ||
        fail "make watch graded again $took ms after the save (expected within $limit s)"
    grep -q '^FAIL  step 1: ' "$out" ||
        fail "make watch did not show the first failing test in full: $(head -n 20 "$out")"
}

# ------------------------------------------------------------------ watch

@test "make watch re-grades within 2 s of a save with inotifywait, and Ctrl-C leaves nothing running" {
    require_command inotifywait
    watch_regrades "$PATH" 2
    grep -q 'file events' "$BATS_TEST_TMPDIR/watch.out" ||
        fail "make watch did not use inotifywait: $(head -n 3 "$BATS_TEST_TMPDIR/watch.out")"
}

@test "make watch re-grades within 3 s of a save without inotifywait (looking once a second)" {
    watch_regrades "$(path_without inotifywait)" 3
    grep -q 'looking once a second' "$BATS_TEST_TMPDIR/watch.out" ||
        fail "make watch did not fall back to polling: $(head -n 3 "$BATS_TEST_TMPDIR/watch.out")"
}

@test "make watch without LESSON says how to use it, exit 2" {
    lab_copy
    run -2 lab_make watch
    assert_output --partial 'usage: make watch LESSON=NN'
}

# ----------------------------------------------------------------- doctor

@test "make doctor names a missing optional tool and its package, and exits 0" {
    PATH=$(path_without socat inotifywait) run bash "$SOCKSTEP_ROOT/tests/lib/doctor.sh"
    assert_success
    assert_line --regexp '^  MISSING  socat .*apt-get install socat'
    assert_line --regexp '^  MISSING  inotifywait .*inotify-tools'
    assert_line --regexp '^  ok       make '
}

@test "make doctor exits 1 when a core tool is missing, and names its package" {
    PATH=$(path_without cc) run env -u CC bash "$SOCKSTEP_ROOT/tests/lib/doctor.sh"
    assert_failure 1
    assert_line --regexp "^  MISSING  C compiler .*build-essential"
}

# ------------------------------------------------------------------ reset

@test "make reset puts the starter back and keeps the student's file, byte for byte" {
    lab_copy
    local file="$LAB/lessons/02-tcp-client/hello_client.c" backups
    printf 'my work\n\0with a NUL byte\n' >"$file"
    cp "$file" "$BATS_TEST_TMPDIR/mine"
    run lab_make reset LESSON=02
    assert_success
    git -C "$LAB" diff --quiet -- lessons/ || fail "the starter is not back: $(git -C "$LAB" diff --stat)"
    backups=$(compgen -G "$file.*.bak")
    [[ $(wc -l <<<"$backups") == 1 ]] || fail "expected one backup, found: $backups"
    cmp "$BATS_TEST_TMPDIR/mine" "$backups" || fail "the backup differs from the student's file"
    # A second change and reset in the same second keeps both versions.
    printf 'second try\n' >"$file"
    run lab_make reset LESSON=02
    assert_success
    [[ $(compgen -G "$file.*.bak" | wc -l) == 2 ]] || fail "a second reset lost a backup: $(compgen -G "$file.*.bak")"
    grep -qx 'second try' "$file".*.bak || fail "the second version is not kept"
    cmp -s "$BATS_TEST_TMPDIR/mine" "$backups" || fail "the first backup changed"
}

@test "make reset with no starter to restore leaves the student's file alone" {
    lab_copy
    local file="$LAB/lessons/02-tcp-client/hello_client.c"
    printf 'my work\n' >"$file"
    run lab_make reset LESSON=02 STARTER_REF=no-such-commit
    assert_failure
    assert_output --partial 'unchanged'
    [[ $(cat "$file") == 'my work' ]] || fail "the student's file changed"
    run -2 lab_make reset
    assert_output --partial 'usage: make reset LESSON=NN'
}

# -------------------------------------------------- progress and reveal

@test "make progress shows the last score and date of each lesson graded, and what is next" {
    lab_copy
    run lab_make progress
    assert_success
    assert_line --regexp '^02-tcp-client +- +never graded'
    assert_line --partial 'Next: lesson 02-tcp-client'
    # A grading of the starter is remembered.
    lab_make check LESSON=02 >/dev/null 2>&1 || true
    run lab_make progress
    assert_success
    assert_line --regexp "^02-tcp-client +[0-9]+/[0-9]+ +$(date -u +%Y-%m-%d) [0-9:]{8}Z$"
    assert_line --partial 'Next: lesson 02-tcp-client'
}

@test "after a green lesson, make check says so and shows how to compare with the reference" {
    lab_copy
    cp "$LAB/solutions/02-tcp-client/hello_client.c" "$LAB/lessons/02-tcp-client/"
    # A whole lesson that passes, made quick: the copy keeps only its step 1.
    awk '/^@test "step [2-9]/ { skip = 1 } /^@test "step 1:/ { skip = 0 } !skip' \
        "$SOCKSTEP_ROOT/tests/02-tcp-client.bats" >"$LAB/tests/02-tcp-client.bats"
    run lab_make check LESSON=02
    assert_success
    assert_line --partial 'Lesson 02-tcp-client is green'
    assert_line --partial 'diff -u lessons/02-tcp-client/hello_client.c solutions/02-tcp-client/hello_client.c'
    run lab_make progress
    assert_line --regexp "^02-tcp-client +done +$(date -u +%Y-%m-%d)"
    assert_line --partial 'Every lesson passed'
    # A failing lesson does not reveal anything.
    git -C "$LAB" checkout -q -- lessons/
    run lab_make check LESSON=02
    assert_failure
    refute_output --partial 'is green'
}

# ------------------------------------------------------ the lessons' text

# The lessons the rules below are checked on: every lesson (a new lesson
# joins the list once its text and starter follow them).
CHECKED_LESSONS="01 02 03 04 05 06 07 08 09"

# checked_files GLOB: the files of the checked lessons matching GLOB
# (README.md, HINTS.md, *.c), one per line.
checked_files() {
    local n dir file
    for n in $CHECKED_LESSONS; do
        for dir in "$SOCKSTEP_ROOT"/lessons/"$n"-*/; do
            for file in "$dir"$1; do
                [[ -f $file ]] && printf '%s\n' "$file"
            done
        done
    done
}

# try_blocks FILE: the command blocks of a lesson's text (fenced blocks that
# are not diagrams, and indented lines that are commands), each line
# prefixed with FILE:LINE.
try_blocks() {
    awk -v f="$1" '
        /^ *```/ { if (inside) { inside = 0 } else { inside = 1; diagram = ($0 ~ /mermaid/) }; next }
        (inside && !diagram) || (!inside && /^    +(\$ |build\/)/) { print f ":" NR ": " $0 }' "$1"
}

@test "every command block of the lessons uses no fixed port 9999/8080 and no machine-wide pgrep" {
    # (pgrep NAME, pgrep -n NAME, pgrep -o NAME: any process of that name)
    local file found=""
    for file in $(checked_files README.md) $(checked_files HINTS.md); do
        # pgrep -P PID looks only at the children of one process: allowed.
        found+=$(try_blocks "$file" | sed 's/pgrep -P [^ )]*//g' | grep -E '\b9999\b|\b8080\b|pgrep' |
            sed "s|$SOCKSTEP_ROOT/||")$'\n'

    done
    found=$(grep . <<<"$found") || true
    [[ -z $found ]] || fail "commands a student is told to type with a fixed port or pgrep (start servers on -p 0, read the port with build/bin/port, address processes by \$!):
$found"
}

@test "every command block of the lessons needs no nc or socat (build/bin/tcp and build/bin/udp instead)" {
    local file found=""
    for file in $(checked_files README.md); do
        found+=$(try_blocks "$file" | grep -E '(^|[|;&] *|\$ )(nc|socat) ' | sed "s|$SOCKSTEP_ROOT/||")$'\n'

    done
    found=$(grep . <<<"$found") || true
    [[ -z $found ]] || fail "commands that need nc or socat (show them only as an alternative, in the text):
$found"
}

# ------------------------------------------------ warning-free at every stop

# compile_quiet CC FILE: compiles FILE with the lab's flags and -Werror. gcc
# compiles at -O2, as the Makefile does (some of its warnings come from the
# optimiser); clang only checks (-fsyntax-only: its warnings all come from
# the front end, and it takes a tenth of the time).
compile_quiet() {
    local mode=(-O2 -c -o /dev/null)
    [[ $1 == clang ]] && mode=(-fsyntax-only)
    "$1" -std=c17 -Wall -Wextra -Wpedantic -Werror -pthread "${mode[@]}" -x c "$2" 2>&1
}

# with_stand_ins STARTER REFERENCE: the reference (every step done) plus the
# functions the starter adds to stand in for missing steps (not_implemented),
# left behind uncalled as a student who finished would leave them.
with_stand_ins() {
    local starter=$1 reference=$2 name
    cat "$reference"
    for name in $(grep -oE '^[_a-zA-Z][^(;]*\b[a-z_0-9]+\(' "$starter" | grep -oE '[a-z_0-9]+\($' | tr -d '(' | sort -u); do
        grep -qE "^[_a-zA-Z][^(;]*\b$name\(" "$reference" && continue
        awk -v n="$name" '!on && $0 ~ ("^[_a-zA-Z][^(;]*[ *]" n "[(]") && $0 !~ /;[ ]*$/ { on = 1 }
            on { print } on && /^}/ { on = 0 }' "$starter"
    done
}

# gcc builds each starter and reference with -Werror before this runs (make
# test builds them first, WERROR=1), and each rung between them (the ladder);
# it builds here only what neither builds: the reference with the starter's
# stand-ins left in. clang checks all three.
@test "every lesson builds warning-free: the starter, every step done, and done with the stand-ins left in" {
    local starter reference out problems=""
    for starter in $(checked_files '*.c'); do
        reference=$SOCKSTEP_ROOT/solutions/${starter#"$SOCKSTEP_ROOT"/lessons/}
        [[ -f $reference ]] || continue
        with_stand_ins "$starter" "$reference" >"$BATS_TEST_TMPDIR/done.c"
        out=$(compile_quiet cc "$BATS_TEST_TMPDIR/done.c") ||
            problems+="cc, every step of ${starter#"$SOCKSTEP_ROOT"/} done, its stand-ins left in:"$'\n'"$out"$'\n'
        command -v clang >/dev/null || continue
        out=$(compile_quiet clang "$starter") || problems+="clang, starter ${starter#"$SOCKSTEP_ROOT"/}:"$'\n'"$out"$'\n'
        out=$(compile_quiet clang "$reference") || problems+="clang, reference ${reference#"$SOCKSTEP_ROOT"/}:"$'\n'"$out"$'\n'
        out=$(compile_quiet clang "$BATS_TEST_TMPDIR/done.c") ||
            problems+="clang, every step of ${starter#"$SOCKSTEP_ROOT"/} done, its stand-ins left in:"$'\n'"$out"$'\n'
    done
    [[ -z $problems ]] || fail "warnings where a student can stop:
$problems"
}
