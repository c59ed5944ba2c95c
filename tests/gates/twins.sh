#!/usr/bin/env bash
# twins.sh: every English page that has a Chinese twin (PAGE.zh-CN.md beside
# PAGE.md) is kept in step with it. Run by `make lint` (tests/gates/lint.sh).
#
#   bash tests/gates/twins.sh         check the repository
#   bash tests/gates/twins.sh DIR     check the pages under DIR instead
#
# For each pair it checks, in this order, and reports the first difference:
#   links      the English page links to its twin near its top, and back
#   structure  the same headings at the same levels, and the same numbered
#              list items (number and depth), in the same order
#   code       the same fenced code blocks, byte for byte, in the same order
#   commands   in each section, the same inline commands (`make ...`,
#              `nc ...`, `build/...`: a code span that starts with a command
#              word, see twins_outline.awk), in any order within the section;
#              the twin may add commands that pass LANG=zh (the way to the
#              Chinese hints), which the English page has no reason to name
# A twin without its English page is an error too.
#
# Exit status: 0 when every pair is in step, 1 otherwise.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${1:-$(cd "$here/../.." && pwd)}
outline_awk="$here/twins_outline.awk"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-twins.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# twin_pages: the Chinese pages under the root, relative to it, sorted.
twin_pages() {
    (cd "$root" && find . \( -name build -o -name .deps -o -name node_modules -o -name .git \) \
        -prune -o -type f -name '*.zh-CN.md' -print) | sed 's|^\./||' | LC_ALL=C sort
}

# links EN ZH: each page names the other in a link within its first 5 lines.
check_links() {
    local en=$1 zh=$2
    if ! head -n 5 "$root/$en" | grep -qF "]($(basename "$zh"))"; then
        echo "twins: $en: no link to its Chinese twin in its first 5 lines (add: [中文](${zh##*/}))"
        return 1
    fi
    if ! head -n 5 "$root/$zh" | grep -qF "]($(basename "$en"))"; then
        echo "twins: $zh: no link back to ${en##*/} in its first 5 lines (add: [English](${en##*/}))"
        return 1
    fi
}

# compare_seq KIND WHAT EN ZH: the KIND records of both outlines must be
# equal one for one (structure: the kind field; code: block and text).
compare_seq() {
    local kind=$1 what=$2 en=$3 zh=$4
    awk -F '\t' -v kind="$kind" -v what="$what" -v en="$en" -v zh="$zh" '
        function key(rec, f) {
            split(rec, f, "\t")
            return kind == "S" ? f[3] : f[3] "\t" f[4]
        }
        function show(rec, name, f) {
            split(rec, f, "\t")
            return name ":" f[2] ": " f[4] (kind == "S" ? "  [" f[3] "]" : "")
        }
        { file = FILENAME == ARGV[1] ? 1 : 2 }
        $1 != kind { next }
        file == 1 { a[++na] = $0; next }
        { b[++nb] = $0 }
        END {
            n = na > nb ? na : nb
            for (i = 1; i <= n; i++) {
                if (i > na) {
                    print "twins: " zh ": " what " differs from " en ": extra in the twin: " show(b[i], zh)
                    exit 1
                }
                if (i > nb) {
                    print "twins: " zh ": " what " differs from " en ": missing from the twin: " show(a[i], en)
                    exit 1
                }
                if (key(a[i]) != key(b[i])) {
                    print "twins: " zh ": " what " differs from " en ":"
                    print "  " show(a[i], en)
                    print "  " show(b[i], zh)
                    exit 1
                }
            }
        }' "$tmp/en" "$tmp/zh"
}

# compare_commands EN ZH: per section, the same inline commands (a multiset).
compare_commands() {
    local en=$1 zh=$2
    awk -F '\t' -v en="$en" -v zh="$zh" '
        { file = FILENAME == ARGV[1] ? 1 : 2 }
        $1 == "S" && $3 ~ /^h/ { if (file == 1) heading[++nh] = $2 ": " $4; next }
        $1 != "K" { next }
        { k = $3 "\t" $4 }
        file == 1 { ca[k]++; order_a[++na] = $0; next }
        $4 ~ /LANG=zh/ { next }
        { cb[k]++; order_b[++nb] = $0 }
        function where(s) { return s == 0 ? "before the first heading" : "the section " en ":" heading[s] }
        END {
            for (i = 1; i <= na; i++) {
                split(order_a[i], f, "\t")
                k = f[3] "\t" f[4]
                if (ca[k] > cb[k] + 0) {
                    print "twins: " zh ": commands differ from " en ": `" f[4] "` (" en ":" f[2] ") is missing from the twin, in " where(f[3])
                    for (j = 1; j <= nb; j++) {
                        split(order_b[j], g, "\t")
                        if (g[3] == f[3] && cb[g[3] "\t" g[4]] > ca[g[3] "\t" g[4]] + 0) {
                            print "  the twin has `" g[4] "` there instead (" zh ":" g[2] ")"
                            break
                        }
                    }
                    exit 1
                }
            }
            for (i = 1; i <= nb; i++) {
                split(order_b[i], f, "\t")
                k = f[3] "\t" f[4]
                if (cb[k] > ca[k] + 0) {
                    print "twins: " zh ": commands differ from " en ": `" f[4] "` (" zh ":" f[2] ") is not in the English page, in " where(f[3])
                    exit 1
                }
            }
        }' "$tmp/en" "$tmp/zh"
}

# check_pair EN ZH: every check on one pair, stopping at the first problem.
check_pair() {
    local en=$1 zh=$2
    check_links "$en" "$zh" || return 1
    awk -f "$outline_awk" "$root/$en" >"$tmp/en" || return 1
    awk -f "$outline_awk" "$root/$zh" >"$tmp/zh" || return 1
    compare_seq S structure "$en" "$zh" || return 1
    compare_seq C "code blocks" "$en" "$zh" || return 1
    compare_commands "$en" "$zh" || return 1
}

main() {
    local zh en pairs=0 bad=0
    while IFS= read -r zh; do
        en=${zh%.zh-CN.md}.md
        if [[ ! -f $root/$en ]]; then
            echo "twins: $zh: there is no English page $en"
            bad=$((bad + 1))
            continue
        fi
        pairs=$((pairs + 1))
        if ! check_pair "$en" "$zh"; then
            bad=$((bad + 1))
        fi
    done < <(twin_pages)
    if ((bad > 0)); then
        echo "twins: $bad of $pairs page(s) out of step with their English original"
        echo "       (carry the English change over to the .zh-CN.md page)"
        return 1
    fi
    echo "twins: $pairs page(s) in step with their English original"
}

main
