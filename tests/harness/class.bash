# shellcheck shell=bash
# Helpers for the tests of grading at class scale (class-*.bats): a folder of
# submissions built from the lab itself (the reference, the starter, mutants)
# and hostile ones made from the reference by putting a few lines in front of
# its main(). Lesson 03 (hello_threads) is the lesson graded: it is short.

CLASS_LESSON=03-threaded-server
CLASS_PROG=hello_threads

# class_from_reference FILE CODE CALL: the reference with CODE put before
# main() and CALL as main's first statement.
class_from_reference() {
    local file=$1 code=$2 call=$3
    awk -v code="$code" -v call="$call" '
        /^int main\(/ { print code; print ""; in_main = 1 }
        { print }
        in_main && /^\{/ { print "    " call; in_main = 0 }' \
        "$SOCKSTEP_ROOT/solutions/$CLASS_LESSON/$CLASS_PROG.c" >"$file"
}

# class_submission DIR NAME: an empty submission folder DIR/NAME; prints the
# path of its .c file.
class_submission() {
    mkdir -p "$1/$2"
    printf '%s\n' "$1/$2/$CLASS_PROG.c"
}

# class_mutant SLUG: the source of a built mutant of the lesson.
class_mutant() {
    local source="$SOCKSTEP_BUILD/mutants/$CLASS_LESSON/$1/$CLASS_PROG.c"
    if [[ ! -f $source ]]; then
        make -C "$SOCKSTEP_ROOT" --no-print-directory BUILD="$SOCKSTEP_BUILD" \
            "$SOCKSTEP_BUILD/mutants/$CLASS_LESSON/$1/$CLASS_PROG" >/dev/null || return 1
    fi
    printf '%s\n' "$source"
}

# The hostile programs' code (C, put in front of the reference's main).
CLASS_NEVER_EXITS='static void hostile(void)
{
    /* Never listens, never answers, never ends on a signal it can ignore. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    for (;;)
        pause();
}'
CLASS_FORK_BOMB='static void hostile(void)
{
    /* Forks until the process limit says no, and every copy stays. */
    while (fork() >= 0) {
    }
    for (;;)
        pause();
}'
CLASS_FLOOD='static void hostile(void)
{
    /* Writes without end to a file in $HOME and to stdout. */
    static char block[1024];
    char path[4096];
    const char *home = getenv("HOME");
    int fd;
    memset(block, 0x78, sizeof block); /* x */
    snprintf(path, sizeof path, "%s/flood.txt", home ? home : ".");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (;;) {
        if (fd >= 0 && write(fd, block, sizeof block) < 0)
            fd = -1;
        if (write(STDOUT_FILENO, block, sizeof block) < 0)
            break;
    }
    for (;;)
        pause();
}'
CLASS_HOLDS_PORT='static void hostile(void)
{
    /* A child that leaves the session and holds 127.0.0.1:9999 for ever;
       the server itself then goes on as the reference. */
    struct sockaddr_in a;
    int fd;
    if (fork() != 0)
        return;
    setsid();
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    fd = open("/dev/null", O_RDWR);
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(9999);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1) != 0)
        _exit(0);
    for (;;)
        pause();
}'
CLASS_DELETES='static void hostile(void)
{
    /* Tries to delete the grading folder (three levels above its copy of
       the lab) and to write a file there, then serves as the reference. */
    char command[8192];
    const char *root = getenv("SOCKSTEP_ROOT");
    if (root == NULL || strchr(root, 39) != NULL)
        return;
    snprintf(command, sizeof command, "t=$(cd %c%s/../../..%c && pwd -P) && touch $t/pwned; rm -rf $t",
             39, root, 39);
    if (system(command) == -1)
        return;
}'
# class_hostile_folder DIR: the submissions every grade-all test uses.
class_hostile_folder() {
    local dir=$1 lab=$SOCKSTEP_ROOT/solutions/$CLASS_LESSON/$CLASS_PROG.c
    local includes='#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>'
    mkdir -p "$dir"
    cp "$lab" "$(class_submission "$dir" reference)"
    cp "$SOCKSTEP_ROOT/lessons/$CLASS_LESSON/$CLASS_PROG.c" "$(class_submission "$dir" starter)"
    cp "$(class_mutant fixed-recv)" "$(class_submission "$dir" mutant-fixed-recv)" || return 1
    cp "$(class_mutant leaks-fd)" "$(class_submission "$dir" mutant-leaks-fd)" || return 1
    class_from_reference "$(class_submission "$dir" no-compile)" 'this is not C;' ''
    class_from_reference "$(class_submission "$dir" never-exits)" "$CLASS_NEVER_EXITS" 'hostile();'
    class_from_reference "$(class_submission "$dir" fork-bomb)" "$CLASS_FORK_BOMB" 'hostile();'
    class_from_reference "$(class_submission "$dir" flood)" "$includes"$'\n'"$CLASS_FLOOD" 'hostile();'
    class_from_reference "$(class_submission "$dir" holds-9999)" "$includes"$'\n'"$CLASS_HOLDS_PORT" 'hostile();'
    class_from_reference "$(class_submission "$dir" deletes)" "$CLASS_DELETES" 'hostile();'
}

# clean_env CMD...: CMD without this bats run's environment (a grading run
# starts a bats of its own, which must not take this one's state for its
# own), and without bats-core's folder in PATH.
clean_env() {
    env -i PATH="$(tr ':' '\n' <<<"$PATH" | grep -v '/bats-core' | paste -sd: -)" HOME="$HOME" \
        LANG=C.UTF-8 TERM=dumb SOCKSTEP_ROOT="$SOCKSTEP_ROOT" SOCKSTEP_BUILD="$SOCKSTEP_BUILD" "$@"
}

# class_cannot_contain: prints why this machine cannot contain a hostile
# submission (neither root nor unprivileged user namespaces), or nothing.
class_cannot_contain() {
    [[ $(id -u) == 0 ]] && return 0
    unshare --user --map-root-user --net --mount --pid --fork --kill-child true 2>/dev/null && return 0
    echo "not root and no user namespaces here: what a hostile submission starts would outlive its grading (run as root, or where unshare --user works)"
}

# The small limits the tests grade under (seconds, not minutes).
class_limits() {
    export GRADE_SECONDS=${CLASS_GRADE_SECONDS:-20} GRADE_TEST_SECONDS=8 GRADE_CPU_SECONDS=20
    export GRADE_PROCESSES=200 GRADE_MEMORY_MB=2048 GRADE_FILE_MB=16 GRADE_TMP_MB=128
    # User ids of their own (an instructor's grade-all uses 64000 and up);
    # CLASS_UID_BASE moves them, for two test runs on one machine at once.
    export GRADE_UID_BASE=${CLASS_UID_BASE:-64100} LESSON=03
    # Five of lesson 03's tests, quick when the program works, that the
    # starter and the two mutants fail in part: seconds per submission.
    export TEST_FILTER=$CLASS_FILTER
}
CLASS_FILTER="^step [1-5]: (prints 'listening|a bad command|answers Michael|CRLF|SIGTERM)"

# csv_value FILE STUDENT COLUMN: one field of a student's row of results.csv
# (COLUMN by name). Every column but the last (reason) is a plain value; the
# reason is printed unquoted.
csv_value() {
    awk -v student="$2" -v column="$3" '
        NR == 1 { for (i = 1; i <= split($0, h, ","); i++) col[h[i]] = i; next }
        {
            line = $0; n = 0
            while (n < 9 && (p = index(line, ",")) > 0) { f[++n] = substr(line, 1, p - 1); line = substr(line, p + 1) }
            f[10] = line
            if (f[10] ~ /^".*"$/) { f[10] = substr(f[10], 2, length(f[10]) - 2); gsub(/""/, "\"", f[10]) }
            if (f[1] == student) { print f[col[column]]; found = 1; exit }
        }
        END { exit !found }' "$1"
}

# uid_processes_left: processes of the grading user ids still running.
uid_processes_left() {
    ps -e -o uid=,pid=,comm= | awk -v lo=$((GRADE_UID_BASE + 1)) -v hi=$((GRADE_UID_BASE + 16)) \
        '$1 >= lo && $1 <= hi'
}
