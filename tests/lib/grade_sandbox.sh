#!/usr/bin/env bash
# The inside of one submission's grading, started by grade_all.sh:
#
#   grade_sandbox.sh root STEP WORK UID   as root (with GRADE_NAMESPACES=1: in
#                                    new network, mount and PID namespaces,
#                                    loopback up, a private /tmp): sets the
#                                    limits, then drops to UID
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

as_root() {
    local step=$1 work=$2 uid=$3 dir
    if [[ -n ${GRADE_NAMESPACES:-} ]]; then
        ip link set lo up 2>/dev/null || true
        # A private /tmp (and /dev/shm, /var/tmp): the submission's scratch
        # files never reach the machine's.
        # When WORK itself is under one of them, it is carried over.
        local stage=""
        if [[ $work == /tmp/* || $work == /dev/shm/* || $work == /var/tmp/* ]]; then
            stage=$(mktemp -d /run/sockstep-grade.XXXXXX) && mount --bind "$work" "$stage" || exit 1
        fi
        for dir in /tmp /dev/shm /var/tmp; do
            [[ -d $dir ]] && mount -t tmpfs -o "size=${GRADE_TMP_MB}m,mode=1777" tmpfs "$dir"
        done
        if [[ -n $stage ]]; then
            mkdir -p "$work" && mount --move "$stage" "$work" && rmdir "$stage" || exit 1
        fi
    fi
    set_limits processes
    # The copy's own script (root-owned, as all of the copy but lessons/):
    # the lab this one came from may sit under the /tmp just hidden.
    exec setpriv --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs \
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
    [[ $(id -u) == 0 ]] || set_limits
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
        local proc left=0
        for proc in /proc/[0-9]*; do
            [[ ${proc#/proc/} == "$$" ]] || left=$((left + 1))
        done
        echo "$left" >"$work/left"
    fi
}

case ${1:-} in
root) as_root "$2" "$3" "$4" ;;
user) as_user "$2" "$3" ;;
*)
    echo "usage: grade_sandbox.sh root build|grade WORK UID | user build|grade WORK" >&2
    exit 2
    ;;
esac
