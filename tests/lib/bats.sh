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

install_bats_from_npm() {
    local deps=$1
    echo "sockstep: installing ${BATS_NPM_PACKAGES[*]} into ${deps#"$SOCKSTEP_ROOT"/} (once)" >&2
    mkdir -p "$deps"
    npm install --silent --no-audit --no-fund --prefix "$deps" "${BATS_NPM_PACKAGES[@]}" >&2
}

bats_missing() {
    cat >&2 <<'EOF'
sockstep: bats-core 1.5+ with bats-support and bats-assert is needed to run the tests.
  Debian/Ubuntu: sudo apt-get install bats bats-support bats-assert
  macOS:         brew install bats-core bats-support bats-assert
  any system with Node.js: npm is used automatically when it is installed
EOF
    return 1
}

find_bats() {
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
