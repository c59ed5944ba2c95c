#!/usr/bin/env bats
# The "likely cause" of a failure sends the student to their own lesson:
# every function, constant or system call a cause names is one the lesson
# talks about (its README.md, or a TODO(step N) comment of its starter), and
# every step a cause or a test points to is a "## Step N" of its README.
# Checked for the shared hello tests (tests/lib/hello_server.bash, each text
# as the lesson gets it), and for the texts written in the lesson's own
# .bats file (strings in double quotes, test names included).

: "${SOCKSTEP_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${SOCKSTEP_BUILD:=$SOCKSTEP_ROOT/build}"
export SOCKSTEP_ROOT SOCKSTEP_BUILD
load '../lib/common'
load_assertions

# System calls and library functions that read as C only (read, write,
# close, poll... count when written as calls: "read()", "poll(...").
C_CALLS='bind getsockname getaddrinfo getnameinfo setsockopt fcntl waitpid sigaction pselect ppoll
epoll_pwait epoll_ctl getopt strtoul memchr memcpy strchr strlen strcpy fflush setrlimit getrlimit
accept4 recvfrom sendto strerror pthread_create pthread_detach'

# lesson_dir NN: lessons/NN-name.
lesson_dir() {
    local dir
    for dir in "$SOCKSTEP_ROOT"/lessons/"$1"-*/; do
        printf '%s\n' "${dir%/}"
        return 0
    done
    return 1
}

# lesson_text NN: what the lesson asks the student to read: its README and
# the TODO(step N) comments of its starter (not the code it gives).
lesson_text() {
    local dir
    dir=$(lesson_dir "$1") || return 1
    cat "$dir/README.md"
    awk '/TODO\(step/ { on = 1 } on { print } /\*\// { on = 0 }' "$dir"/*.c
}

# The errno names a cause may give (EXTRA, EXEC... are words, not errors).
ERRNO_NAMES='E(AGAIN|WOULDBLOCK|INTR|PIPE|CONNRESET|CONNREFUSED|CONNABORTED|ACCES|MFILE|NFILE|NOBUFS|NOMEM|CHILD|ADDRINUSE|INVAL|BADF|TIMEDOUT|NOENT|ISDIR|NOTDIR|LOOP|MSGSIZE|HOSTUNREACH|NETUNREACH|INPROGRESS|ALREADY|ISCONN|NOTCONN|PERM|EXIST|NOSPC|IO)'

# code_names: the code names in the texts on stdin (one a line), as "LINE
# NAME" lines: name(), name(args, snake_case, CONSTANT_NAME, errno names,
# the signals a program handles (not SIGINT and SIGTERM: the tests send
# those), and the calls of C_CALLS.
code_names() {
    local texts
    texts=$(cat)
    {
        grep -noE '\b[A-Za-z_][A-Za-z0-9_]*\(' <<<"$texts" | tr -d '('
        grep -noE '\b[a-z][a-z0-9]*(_[a-z0-9]+)+\b' <<<"$texts"
        grep -noE '\b[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]\b' <<<"$texts"
        grep -noE "\\b($ERRNO_NAMES|SIG(PIPE|CHLD|HUP|ALRM|USR1|USR2)|E?POLL[A-Z]+)\\b" <<<"$texts"
        grep -nowE "$(tr -s ' \n' '|' <<<"$C_CALLS" | sed 's/|$//')" <<<"$texts"
    } | tr ':' ' ' | sort -u
}

# step_numbers: the step numbers the texts on stdin point to ("step 3",
# "steps 1, 2 and 4", "steps 1 to 3": the numbers named), as "LINE N".
step_numbers() {
    grep -noiE '\bsteps? [0-9]+((, [0-9]+)*( (and|to) [0-9]+))?' | awk -F: '{
        n = split($2, w, /[^0-9]+/); for (i = 1; i <= n; i++) if (w[i] != "") print $1, w[i] }' | sort -u
}

# lesson_steps NN: the steps of the lesson's README ("## Step N").
lesson_steps() {
    sed -n 's/^## Step \([0-9][0-9]*\).*/\1/p' "$(lesson_dir "$1")/README.md" | sort -un
}

# not_in_lesson NN: the names and steps of the texts on stdin (one a line)
# the lesson does not have, as "TEXT -> NAME" lines; nothing when all are.
not_in_lesson() {
    local lesson=$1 dir="$BATS_TEST_TMPDIR/check.$1"
    mkdir -p "$dir"
    cat >"$dir/texts"
    lesson_text "$lesson" | grep -oE '[A-Za-z_][A-Za-z0-9_]*' | sort -u >"$dir/words"
    lesson_steps "$lesson" | sed 's/^/step /' >>"$dir/words"
    {
        code_names <"$dir/texts"
        step_numbers <"$dir/texts" | awk '{ print $1, "step " $2 }'
    } >"$dir/found"
    awk 'FILENAME == ARGV[1] { have[$0] = 1; next }
         FILENAME == ARGV[2] { text[FNR] = $0; next }
         { line = $1; name = substr($0, length($1) + 2); if (!(name in have)) print text[line] " -> " name }' \
        "$dir/words" "$dir/texts" "$dir/found"
}

# library_causes NN: every likely cause lib/hello_server gives lesson NN, for
# the hello_test_* functions its .bats file calls, with the step each call
# passes.
library_causes() {
    local lesson=$1 bats
    bats=$(ls "$SOCKSTEP_ROOT"/tests/"$lesson"-*.bats)
    # shellcheck disable=SC2016 # expanded by the inner bash
    SOCKSTEP_LESSON=$(basename "$bats" .bats) bash -c '
        source "$1/tests/lib/hello_server.bash"
        keys=$(grep -oE "_hello_cause [a-z0-9_]+\.[a-z0-9_]+" "$1/tests/lib/hello_server.bash" | cut -d" " -f2 | sort -u)
        grep -oE "hello_test_[a-z0-9_]+ \"[^\"]*\" \"step [0-9]+\"" "$2" |
            sed -E "s/^hello_test_([a-z0-9_]+) \"[^\"]*\" \"(step [0-9]+)\"/\1 \2/" | sort -u |
            while read -r function step; do
                for key in $keys; do
                    [[ ${key%%.*} == "$function" ]] || continue
                    _hello_cause "$key" "$step" signal=TERM call=accept
                done
            done' _ "$SOCKSTEP_ROOT" "$bats"
}

# bats_texts NN: every double-quoted string of lesson NN's .bats file, one a
# line, without its shell expansions ($VAR, ${...}, $(...)).
bats_texts() {
    local bats
    bats=$(ls "$SOCKSTEP_ROOT"/tests/"$1"-*.bats)
    # The lab's own programs and test helpers are not functions of the lesson.
    local tools
    tools=$({
        find "$SOCKSTEP_ROOT/tests/fixtures" "$SOCKSTEP_ROOT/tests/bench" "$SOCKSTEP_ROOT/solutions" \
            -name '*.c' -exec basename {} .c \;
        sed -n 's/^\([a-z_][a-z0-9_]*\)() {.*/\1/p' "$SOCKSTEP_ROOT"/tests/lib/*.bash
    } | sort -u | tr '\n' '|')
    grep -v '^ *#' "$bats" |
        grep -oE '"([^"\\]|\\.)*"' | sed -e 's/^"//' -e 's/"$//' |
        sed -E -e 's/\$\(\([^)]*\)\)//g' -e 's/\$\([A-Za-z_][A-Za-z0-9_]*//g' -e 's/\$\{[^}]*\}//g' \
            -e 's/\$[A-Za-z_][A-Za-z0-9_]*//g' -e 's/[A-Za-z_-]+=[^ ,]*//g' |
        sed -E "s/\b(${tools%|})\b//g" |
        awk 'length($0) > 0'
}

@test "the checker flags a cause naming another lesson's function or step" {
    run not_in_lesson 06 <<<"loop until all is written (write_all) (see step 9 of the lesson)"
    assert_output --partial "-> write_all"
    assert_output --partial "-> step 9"
    run not_in_lesson 06 <<<"set SO_REUSEADDR before bind()"
    assert_output --partial "-> SO_REUSEADDR"
    assert_output --partial "-> bind"
    run not_in_lesson 06 <<<"flush_output must send it, and wanted_events ask for POLLOUT (step 2)"
    assert_output ""
}

@test "the check reads the library's causes of each lesson that uses them" {
    local lesson n
    for lesson in 03 04 05 06 07 08; do
        n=$(library_causes "$lesson" | wc -l)
        ((n > 0)) || fail "no library cause found for lesson $lesson: the check would prove nothing"
    done
    run library_causes 06
    assert_output --partial "flush_output"
}

@test "every key of the library's causes is used by the test its name says" {
    # _hello_cause FUNCTION.WHAT appears only in hello_test_FUNCTION (or in
    # no function: the tables), so that a lesson gets the causes of the tests
    # it calls.
    run awk '/^[a-z_0-9]+\(\) \{/ { fn = $1; sub(/\(\)/, "", fn) } /^\}/ { fn = "" }
        { while (match($0, /_hello_cause [a-z0-9_]+\.[a-z0-9_]+/)) {
            key = substr($0, RSTART + 13, RLENGTH - 13); $0 = substr($0, RSTART + RLENGTH)
            split(key, part, ".")
            if (fn != "hello_test_" part[1]) print "key " key " used in " fn } }' \
        "$SOCKSTEP_ROOT/tests/lib/hello_server.bash"
    assert_output ""
}

@test "every key of the library's causes has a text" {
    # shellcheck disable=SC2016 # expanded by the inner bash
    run bash -c 'source "$1/tests/lib/hello_server.bash"
        for key in $(grep -oE "_hello_cause [a-z0-9_]+\.[a-z0-9_]+" "$1/tests/lib/hello_server.bash" | cut -d" " -f2 | sort -u); do
            _hello_default_cause "$key" >/dev/null || echo "no default text for $key"
        done' _ "$SOCKSTEP_ROOT"
    assert_output ""
}

# check_lesson NN: the library's causes and the .bats texts of lesson NN
# name only what the lesson has.
check_lesson() {
    local found
    found=$({
        library_causes "$1"
        bats_texts "$1"
    } | not_in_lesson "$1" | sort -u)
    if [[ -n $found ]]; then
        {
            echo "sent:     the likely causes and texts of lesson $1's tests"
            echo "expected: only names and steps of lessons/$1-*/README.md and the TODO(step N) comments of its starter"
            echo "got:      (text -> name or step the lesson does not have)"
            printf '%s\n' "$found" | head -n 20 | sed 's/^/          /'
            echo "likely cause: a cause written for another lesson: give this lesson its own text (tests/lib/hello_server.bash, _hello_lesson_cause) or pass it from the .bats file"
        } | fail
    fi
}

@test "lesson 01's likely causes name only lesson 01's steps and functions" {
    check_lesson 01
}

@test "lesson 02's likely causes name only lesson 02's steps and functions" {
    check_lesson 02
}

@test "lesson 03's likely causes name only lesson 03's steps and functions" {
    check_lesson 03
}

@test "lesson 04's likely causes name only lesson 04's steps and functions" {
    check_lesson 04
}

@test "lesson 05's likely causes name only lesson 05's steps and functions" {
    check_lesson 05
}

@test "lesson 06's likely causes name only lesson 06's steps and functions" {
    check_lesson 06
}

@test "lesson 07's likely causes name only lesson 07's steps and functions" {
    check_lesson 07
}

@test "lesson 08's likely causes name only lesson 08's steps and functions" {
    check_lesson 08
}

@test "lesson 09's likely causes name only lesson 09's steps and functions" {
    check_lesson 09
}
