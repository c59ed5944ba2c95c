#!/usr/bin/env bash
# The inside of one submission's grading, started by grade_all.sh:
#
#   grade_sandbox.sh root STEP WORK UID   as root (with GRADE_NAMESPACES=1: in
#                                    new network, mount and PID namespaces,
#                                    loopback up, a private /tmp): sets the
#                                    limits, then drops to UID
#   grade_sandbox.sh userns STEP WORK     not root, in user, network, mount
#                                    and PID namespaces of its own (unshare
#                                    --map-root-user): the same loopback and
#                                    private /tmp, the machine read-only but
#                                    WORK, then the caller's own user id
#                                    again for the submission
#   grade_sandbox.sh user STEP WORK       as the grading user (or as
#                                    yourself without root): STEP build
#                                    builds the submission's programs, STEP
#                                    grade grades them and writes the reports
#
# WORK holds lab/ (the copy of the lab with the student's files), home/ and
# tmp/. The limits come from the environment (GRADE_* variables, set by
# grade_all.sh). Output: the build's messages on stdout,
# WORK/lab/build/grade-all-report/report.{json,xml,txt}, WORK/left (processes
# still running when grading ended).
set -uo pipefail

# set_limits: the resource limits of every process of the submission.
set_limits() {
    ulimit -c 0
    ulimit -t "$GRADE_CPU_SECONDS"
    ulimit -v $((GRADE_MEMORY_MB * 1024))
    ulimit -f $((GRADE_FILE_MB * 1024))
    ulimit -Hn "$GRADE_OPEN_FILES" 2>/dev/null || true
    ulimit -Sn 1024
    if [[ $(id -u) != 0 ]]; then
        # Not root: the submission runs as the caller, whose processes all
        # count towards one limit; so the limit is what the caller runs now
        # plus GRADE_PROCESSES, and a fork bomb stops there.
        ulimit -u $(($(ps -u "$(id -u)" --no-headers 2>/dev/null | wc -l) + GRADE_PROCESSES))
    elif [[ -n ${1:-} ]]; then
        ulimit -u "$GRADE_PROCESSES"
    fi
}

# private_tmp WORK: a private /tmp (and /dev/shm, /var/tmp), so the
# submission's scratch files never reach the machine's; when WORK itself is
# under one of them, it is carried over (through a descriptor opened before:
# the folder it names is hidden by then).
private_tmp() {
    local work=$1 dir fd
    exec {fd}<"$work" || return 1
    for dir in /tmp /dev/shm /var/tmp; do
        [[ -d $dir ]] && mount -t tmpfs -o "size=${GRADE_TMP_MB}m,mode=1777" tmpfs "$dir"
    done
    if [[ ! -d $work/lab ]]; then
        # (-c: mount must not resolve the descriptor's link to the hidden path)
        mkdir -p "$work" && mount -c --bind "/proc/self/fd/$fd" "$work" || return 1
    fi
    exec {fd}<&-
}

as_root() {
    local step=$1 work=$2 uid=$3
    if [[ -n ${GRADE_NAMESPACES:-} ]]; then
        ip link set lo up 2>/dev/null || true
        private_tmp "$work" || exit 1
    fi
    set_limits processes
    # The copy's own script (root-owned, as all of the copy but lessons/):
    # the lab this one came from may sit under the /tmp just hidden.
    exec setpriv --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs \
        -- bash "$work/lab/tests/lib/grade_sandbox.sh" user "$step" "$work"
}

# read_only_machine WORK: every mount read-only but WORK, where only the
# student's lessons/, the build folder, home/ and tmp/ stay writable (as
# root mode's ownership has it: the copy's tests and Makefile are the
# grader's). A user namespace may add read-only to a mount it inherited.
read_only_machine() {
    local work=$1 lab=$1/lab point
    mount --bind "$work" "$work" || return 1
    mount --bind "$lab" "$lab" || return 1
    mount --bind "$lab/lessons" "$lab/lessons" || return 1
    mount --bind "$lab/build" "$lab/build" || return 1
    mount -o remount,bind,ro "$lab" || return 1
    # Mount points are the fifth field of mountinfo, with octal escapes.
    while read -r point; do
        point=$(printf '%b' "$point")
        case $point in
        "$work" | "$work"/* | /proc | /proc/* | /sys | /sys/* | /dev | /dev/*) continue ;;
        esac
        mount -o remount,bind,ro "$point" 2>/dev/null || true
    done < <(awk '{ print $5 }' /proc/self/mountinfo)
    : >"$work/.write-test" 2>/dev/null || return 1
    rm -f "$work/.write-test"
}

# watch_namespace FLAG: counts the tasks of this PID namespace; at the
# process limit, writes FLAG and kills every one of them (but process 1).
watch_namespace() {
    local flag=$1 tasks
    while sleep 0.5; do
        tasks=(/proc/[0-9]*/task/[0-9]*)
        if ((${#tasks[@]} >= GRADE_PROCESSES - 2)); then
            echo "${#tasks[@]}" >"$flag"
            kill -s KILL -1 2>/dev/null
            return
        fi
    done
}

as_userns() {
    local step=$1 work=$2
    ip link set lo up || exit 1
    read_only_machine "$work" || exit 1
    private_tmp "$work" || exit 1
    watch_namespace "$work/nproc" &
    export GRADE_WATCHER=$! GRADE_USERNS=1
    set_limits processes
    # Back to the caller's own user id (a user namespace inside this one),
    # without the namespace's root powers: files keep their permissions.
    exec unshare --user --map-user="$GRADE_REAL_UID" --map-group="$GRADE_REAL_GID" \
        -- bash "$work/lab/tests/lib/grade_sandbox.sh" user "$step" "$work"
}

# The programs of the lessons graded, as make targets.
lesson_targets() {
    local lesson file
    for lesson in $GRADE_LESSONS; do
        for file in lessons/"$lesson"/*.c; do
            [[ -f $file ]] && printf 'build/%s\n' "${file%.c}"
        done
    done
}

as_user() {
    local step=$1 work=$2 lab=$2/lab
    # (In user namespaces the limits were set before the last one.)
    [[ $(id -u) == 0 || -n ${GRADE_USERNS:-} ]] || set_limits
    # Without namespaces, the session is all that holds what the submission
    # leaves running: its id, for grade_all.sh to end it.
    [[ -n ${GRADE_NAMESPACES:-} ]] || ps -o sid= -p $$ >"$work/session"
    cd "$lab" || exit 1
    export HOME=$work/home
    if [[ -n ${GRADE_NAMESPACES:-} ]]; then
        export TMPDIR=/tmp
    else
        export TMPDIR=$work/tmp
    fi
    export SOCKSTEP_ROOT=$lab SOCKSTEP_BUILD=$lab/build
    if [[ $step == build ]]; then
        local targets
        mapfile -t targets < <(lesson_targets)
        echo "== build: make -k ${targets[*]}"
        make --no-print-directory -k "${targets[@]}" 2>&1
        return 0
    fi
    local reports=$lab/build/grade-all-report
    mkdir -p "$reports"
    echo "== grade"
    [[ -n $TEST_FILTER ]] || unset TEST_FILTER
    LESSON=$GRADE_LESSON BATS_TEST_TIMEOUT=$GRADE_TEST_SECONDS \
        SOCKSTEP_REPORTS="json=$reports/report.json;junit=$reports/report.xml;text=$reports/report.txt" \
        bash tests/lib/grade.sh
    echo "== grade.sh exit status $?"
    # In the PID namespace this shell is process 1: any other process still
    # there was left behind by the submission (the namespace's end kills it).
    if [[ -n ${GRADE_NAMESPACES:-} ]]; then
        # (Not counted: this shell, and the watcher of user namespaces with
        # its sleep.)
        local proc pid parent left=0
        for proc in /proc/[0-9]*; do
            pid=${proc#/proc/}
            parent=$(sed -E 's/.*\) . ([0-9]+) .*/\1/' "$proc/stat" 2>/dev/null)
            [[ $pid == "$$" || $pid == "${GRADE_WATCHER:-}" || $parent == "${GRADE_WATCHER:-none}" ]] ||
                left=$((left + 1))
        done
        echo "$left" >"$work/left"
    fi
}

case ${1:-} in
root) as_root "$2" "$3" "$4" ;;
userns) as_userns "$2" "$3" ;;
user) as_user "$2" "$3" ;;
*)
    echo "usage: grade_sandbox.sh root build|grade WORK UID | userns|user build|grade WORK" >&2
    exit 2
    ;;
esac
