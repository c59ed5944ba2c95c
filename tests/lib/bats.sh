# shellcheck shell=bash
# BATS is read by the scripts that source this file.
# shellcheck disable=SC2034
# Finds bats-core (1.5 or later) with bats-support and bats-assert, sourced by
# the harness scripts. The system's copies are used when they are new enough;
# otherwise pinned versions are installed from the npm registry into .deps/
# (git-ignored) the first time they are needed.
#
# After find_bats: BATS is the bats executable, and SOCKSTEP_BATS_LIBS a
# colon-separated list of folders holding bats-support/ and bats-assert/
# (tests/lib/common.bash reads it). SOCKSTEP_BATS=npm uses the npm copies even
# when the system has bats.

# Pinned versions installed when the system has none.
BATS_NPM_PACKAGES=(bats@1.11.1 bats-support@0.3.0 bats-assert@2.2.4)

bats_version_ok() {
    local version
    version=$("$1" --version 2>/dev/null) || return 1
    version=${version#Bats }
    local major=${version%%.*} rest=${version#*.}
    local minor=${rest%%.*}
    [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
    ((major > 1 || (major == 1 && minor >= 5)))
}

# Prints the first folder of $1 (colon-separated) holding both libraries.
find_bats_libs() {
    local dir
    local IFS=:
    for dir in $1; do
        if [[ -f $dir/bats-support/load.bash && -f $dir/bats-assert/load.bash ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    return 1
}

# install_bats_from_npm DEPS: npm's output goes to DEPS/npm-install.log; on
# failure its last error lines are shown with the path of its own debug log
# (where a TLS or registry failure is explained).
install_bats_from_npm() {
    local deps=$1 log=$1/npm-install.log rc=0
    echo "sockstep: installing ${BATS_NPM_PACKAGES[*]} into ${deps#"$SOCKSTEP_ROOT"/} with npm (once;" \
        "needs the npm registry, https://registry.npmjs.org, reachable)" >&2
    mkdir -p "$deps"
    npm install --no-audit --no-fund --loglevel=error --prefix "$deps" "${BATS_NPM_PACKAGES[@]}" \
        >"$log" 2>&1 || rc=$?
    ((rc == 0)) && return 0
    npm_failed "$rc" "$log"
    return 1
}

# npm_failed STATUS LOG: npm's last error lines, and where its logs are.
npm_failed() {
    local errors debug_log
    errors=$(grep -E '^npm (ERR!|error) ' "$2" | grep -v 'A complete log of this run' | tail -n 8)
    debug_log=$(sed -n 's/.*A complete log of this run can be found in:* *//p' "$2" | tail -n 1)
    {
        echo "sockstep: npm install failed (exit status $1); its last lines:"
        printf '%s\n' "${errors:-$(tail -n 8 "$2")}" | sed 's/^/    /'
        echo "  npm's output: ${2#"$SOCKSTEP_ROOT"/}"
        [[ -z $debug_log ]] || echo "  npm's own log: $debug_log"
        echo "  (npm needs https://registry.npmjs.org reachable: check a proxy or TLS setting, or install the packages below)"
    } >&2
}

# need_procps: bats stops a test that runs past BATS_TEST_TIMEOUT with pkill
# or ps; without either it runs no test at all (it only prints the plan and
# an error per test), so this is checked before anything runs.
need_procps() {
    if command -v pkill >/dev/null || command -v ps >/dev/null; then
        return 0
    fi
    echo "sockstep: the tests need ps and pkill (bats stops a test that hangs with them): install procps" \
        "(Debian/Ubuntu: sudo apt-get install procps; Fedora: sudo dnf install procps-ng)" >&2
    return 1
}

bats_missing() {
    cat >&2 <<'EOF'
sockstep: bats-core 1.5+ with bats-support and bats-assert is needed to run the tests.
  Debian/Ubuntu: sudo apt-get install bats bats-support bats-assert
  Fedora:        sudo dnf install npm (bats-core is then installed from npm)
  macOS:         brew install bats-core; brew tap bats-core/bats-core; brew install bats-support bats-assert
  any system with Node.js: npm is used automatically when it is installed
  (README.md, "Quick start", lists every package per platform)
EOF
    return 1
}

find_bats() {
    need_procps || return 1
    local system_libs="${BATS_LIB_PATH:-}:/usr/lib/bats:/usr/local/lib/bats:/usr/local/lib:/opt/homebrew/lib"
    local deps="$SOCKSTEP_ROOT/.deps"
    local libs
    # SOCKSTEP_BATS=npm skips the system's bats (to test the npm install).
    if [[ ${SOCKSTEP_BATS:-} != npm ]] && command -v bats >/dev/null && bats_version_ok bats &&
        libs=$(find_bats_libs "$system_libs"); then
        BATS=$(command -v bats)
        SOCKSTEP_BATS_LIBS=$libs
    else
        if [[ ! -x $deps/node_modules/bats/bin/bats ]]; then
            command -v npm >/dev/null || bats_missing || return 1
            install_bats_from_npm "$deps" || bats_missing || return 1
        fi
        BATS=$deps/node_modules/bats/bin/bats
        SOCKSTEP_BATS_LIBS=$deps/node_modules
    fi
    export SOCKSTEP_BATS_LIBS
}
