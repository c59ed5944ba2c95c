#!/usr/bin/env bash
# `make doctor`: checks this machine for the lab and prints one line per item:
# "ok" with what was found, or "MISSING"/"note" with what to do. The core
# items (a C compiler, make, bash 4+, bats or npm to fetch it) are needed to
# grade anything: the exit status is 1 only when one of them is missing.
# Everything else turns on some tests (they are skipped, with the reason,
# without it) or a tool of the lab.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"
# shellcheck source=tests/lib/bats.sh
source "$here/bats.sh"

core_missing=0

ok() { printf '  ok       %-14s %s\n' "$1" "$2"; }
note() { printf '  note     %-14s %s\n' "$1" "$2"; }
missing() {
    printf '  MISSING  %-14s %s\n' "$1" "$2"
    [[ ${3:-} != core ]] || core_missing=1
}

# install_hint DEBIAN FEDORA BREW: the commands that install a tool.
install_hint() {
    local hint="install: sudo apt-get install $1"
    [[ $2 == - ]] || hint+=" | sudo dnf install $2"
    [[ $3 == - ]] || hint+=" | brew install $3"
    printf '%s\n' "$hint"
}

# tool NAME COMMAND WHAT DEBIAN FEDORA BREW [core]: one line for one tool.
tool() {
    local name=$1 cmd=$2 what=$3 path
    if path=$(command -v "$cmd"); then
        ok "$name" "$path"
    else
        missing "$name" "$what; $(install_hint "$4" "$5" "$6")" "${7:-}"
    fi
}

check_core() {
    echo "Core (needed to build and grade):"
    local cc=${CC:-cc} version
    if command -v "$cc" >/dev/null; then
        ok "C compiler" "$(command -v "$cc") ($("$cc" --version 2>/dev/null | head -n 1))"
    else
        missing "C compiler" "no '$cc'; $(install_hint build-essential gcc -) (macOS: xcode-select --install)" core
    fi
    tool make make "make runs every command of the lab" build-essential make make core
    version=${BASH_VERSINFO[0]:-0}
    if ((version >= 4)); then
        ok bash "$BASH_VERSION"
    else
        missing bash "bash $BASH_VERSION is older than 4; $(install_hint bash bash bash)" core
    fi
    check_bats
}

check_bats() {
    local system_libs="${BATS_LIB_PATH:-}:/usr/lib/bats:/usr/local/lib/bats:/usr/local/lib:/opt/homebrew/lib"
    if command -v bats >/dev/null && bats_version_ok bats && find_bats_libs "$system_libs" >/dev/null; then
        ok bats "$(command -v bats) ($(bats --version)), with bats-support and bats-assert"
    elif [[ -x $SOCKSTEP_ROOT/.deps/node_modules/bats/bin/bats ]]; then
        ok bats "installed from npm in .deps/"
    elif command -v npm >/dev/null; then
        ok bats "not installed, but npm is: the first make check installs ${BATS_NPM_PACKAGES[*]}"
    else
        missing bats "bats-core 1.5+ with bats-support and bats-assert; $(install_hint "bats bats-support bats-assert" bats "bats-core bats-support bats-assert") (or install Node.js: npm fetches them)" core
    fi
}

check_optional_tools() {
    echo
    echo "Optional (tests that need them are skipped without them; the lessons' Try it uses build/bin/tcp and build/bin/udp instead):"
    tool nc nc "lessons 03, 04, 06, 07: the test with nc" netcat-openbsd nmap-ncat netcat
    tool socat socat "lessons 02, 03, 04, 06, 07: the tests with socat" socat socat socat
    tool nginx nginx "lesson 01: the test against a real web server" nginx-light nginx nginx
    tool curl curl "lesson 01: comparing with curl" curl curl curl
    tool ip ip "lesson 05: lossy links in network namespaces" iproute2 iproute -
    tool tc tc "lesson 05: netem, packet loss on a link" iproute2 iproute-tc -
    tool nft nft "lessons 01 and 05: dropping packets with nftables" nftables nftables -
    tool ss ss "lesson 03 and later: seeing connections (ss -tn)" iproute2 iproute -
    tool inotifywait inotifywait "make watch reacts at once (without it, it looks once a second)" inotify-tools inotify-tools -
    tool valgrind valgrind "make valgrind" valgrind valgrind -
    tool shellcheck shellcheck "make lint (maintainers)" shellcheck ShellCheck shellcheck
    tool cppcheck cppcheck "make lint (maintainers)" cppcheck cppcheck cppcheck
    tool clang clang "make test CC=clang, make fuzz (maintainers)" clang clang llvm
}

check_loopback() {
    echo
    echo "Network:"
    if [[ -r /proc/net/if_inet6 ]] && grep -q '^0\{31\}1 ' /proc/net/if_inet6; then
        ok "IPv6 loopback" "::1 is up"
    elif [[ -r /proc/net/if_inet6 ]] || [[ -d /proc/sys/net/ipv6 ]]; then
        note "IPv6 loopback" "::1 is not configured: the IPv6 tests are skipped"
    else
        note "IPv6 loopback" "IPv6 is off on this machine: the IPv6 tests are skipped"
    fi
    local addresses
    if command -v getent >/dev/null; then
        addresses=$(getent ahosts localhost 2>/dev/null | awk '{ print $1 }' | awk '!seen[$0]++' | paste -sd ' ' -)
    fi
    if [[ -n ${addresses:-} ]]; then
        ok localhost "resolves to $addresses (a client must try each address in turn)"
    else
        note localhost "cannot tell what localhost resolves to (no getent): the servers listen on 127.0.0.1"
    fi
    check_default_ports
}

# listening PROTO HEXPORT: true when a socket is bound to that port, from
# /proc/net (no ss needed).
listening() {
    local file
    for file in "/proc/net/$1" "/proc/net/${1}6"; do
        [[ -r $file ]] || continue
        awk -v port=":$2" -v proto="$1" '
            NR > 1 && substr($2, length($2) - 4) == port && (proto == "udp" || $4 == "0A") { found = 1 }
            END { exit !found }' "$file" && return 0
    done
    return 1
}

check_default_ports() {
    if [[ ! -r /proc/net/tcp ]]; then
        note "ports" "cannot check (no /proc/net): the lessons start servers on -p 0, which always works"
        return
    fi
    if listening tcp 270F || listening udp 270F; then
        note "port 9999" "taken (the servers' default): start them on -p 0 as the lessons do"
    else
        ok "port 9999" "free (the servers' default; the lessons use -p 0 anyway)"
    fi
}

check_namespaces() {
    echo
    echo "Lesson 05 (real loss in network namespaces) and the gates:"
    if [[ $(id -u) != 0 ]]; then
        note "namespaces" "not root: the network namespace tests of lesson 05 are skipped (run make check as root, or in a VM or container with --privileged)"
    elif ! command -v ip >/dev/null; then
        missing "namespaces" "need ip; $(install_hint iproute2 iproute -)"
    elif ip netns add "sockstep-doctor-$$" 2>/dev/null; then
        ip netns delete "sockstep-doctor-$$" 2>/dev/null || true
        ok "namespaces" "ip netns works (root)"
    else
        note "namespaces" "this machine does not allow network namespaces: lesson 05's loss tests are skipped"
    fi
    if command -v unshare >/dev/null; then
        ok unshare "$(command -v unshare)"
    else
        note unshare "$(install_hint util-linux util-linux -)"
    fi
    if [[ -d /sys/module/sch_netem ]] || modinfo sch_netem >/dev/null 2>&1; then
        ok netem "the sch_netem module is available"
    else
        note netem "no sch_netem module: lesson 05 drops packets with nftables instead (or skips)"
    fi
    local scope
    scope=$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null) || scope=""
    if [[ -z $scope || $scope -le 1 ]]; then
        ok ptrace "LeakSanitizer can run (make sanitize)"
    else
        note ptrace "kernel.yama.ptrace_scope is $scope: LeakSanitizer fails; set it to 1 (sudo sysctl kernel.yama.ptrace_scope=1)"
    fi
}

check_wsl() {
    echo
    echo "System:"
    if grep -qi microsoft /proc/version 2>/dev/null; then
        note WSL "Windows Subsystem for Linux: keep the lab in the Linux file system (~/), not /mnt/c (slow, and make watch sees no file events there: it falls back to looking once a second); WSL 1 has no network namespaces; localhost from Windows reaches a server only on 127.0.0.1"
    else
        ok "system" "$(uname -sr)"
    fi
}

main() {
    echo "sockstep doctor: what this machine has for the lab"
    check_core
    check_optional_tools
    check_loopback
    check_namespaces
    check_wsl
    echo
    if ((core_missing)); then
        echo "A core requirement is missing: install it (the line above says how), then run make doctor again."
        return 1
    fi
    echo "The core is here: make check works. MISSING lines above only turn off some tests or tools."
}

main "$@"
