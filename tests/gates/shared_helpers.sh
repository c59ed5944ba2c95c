#!/usr/bin/env bash
# shared_helpers.sh: every copy of a shared helper says the same, run by
# `make lint` (tests/gates/lint.sh).
#
#   bash tests/gates/shared_helpers.sh [ROOT]
#
# Each reference in solutions/ stands alone in its folder, so a helper that
# several lessons need (die_errno, usage_error, format_address, ...) is
# copied into each. A copy is marked by the line
#
#   /* Shared: the same text in every lesson that has it (make lint checks). */
#
# right above it (above its comment, if it has one). The copy runs from the
# line after the marker to the closing `}` at column 0 (a function) or to
# its `#define` line (a constant). This check fails, naming the helper, the
# two files and the first line where they differ, when two marked copies of
# the same name differ; when a helper or constant of a known shared name is
# defined without the marker; when a reference does not define PROG as its
# own name; and when a retired name of the old vocabulary comes back.
# The starters' not_implemented (lessons/, not in any reference) is checked
# the same way.
#
# Exit status: 0 clean, 1 on any finding.
set -uo pipefail

root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$root" || exit 1

marker='/* Shared: the same text in every lesson that has it (make lint checks). */'

# The names that must always be marked: the error vocabulary (docs/contract.md)
# and the helpers and constants more than one reference has.
known_functions="die_errno die usage_error log_errno fail fail_errno format_address
    write_all open_listener open_nonblocking_listener open_udp_socket ignore_sigpipe
    on_stop_signal install_signal_handlers install_stop_handlers is_valid_port
    parse_port parse_number set_nonblocking set_blocking announce_listener
    line_reader_init line_reader_fill not_implemented now_ms now_us hex_value
    is_exit_line send_hello send_without_delay serve_client pause_after_failed_accept
    wait_for_client buffer_pending buffer_release queue_text reject_long_line answer_line
    keep_partial_line feed_input fill_poll_set remove_closed_connections reserve_connection
    crc32_update packet_checksum put_u16 put_u32 get_u16 get_u32 encode_packet
    length_fits_type decode_packet buffer_append parse_seconds flush_output read_line"
known_constants="LINE_LIMIT PEER_MAX"
# The old names, each replaced by one of the vocabulary.
retired="PROGRAM_NAME log_error die_plain handle_stop_signal print_listening MAX_LINE_LEN
    MAX_NAME"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockstep-shared.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

status=0
found() {
    printf 'shared_helpers: %s\n' "$*"
    status=1
}

# extract FILE ONLY: each marked copy of FILE into $tmp/copies/NAME/N (its
# text) and $tmp/copies/NAME/N.from (FILE:LINE), and on stdout the known
# names FILE defines unmarked ("unmarked NAME LINE"). With ONLY, just the
# copies of that name.
extract() {
    awk -v marker="$marker" -v file="$1" -v only="${2:-}" -v dir="$tmp/copies" \
        -v functions="$known_functions" -v constants="$known_constants" '
        BEGIN {
            n = split(functions, f, /[ \t\n]+/)
            for (i = 1; i <= n; i++) if (f[i] != "") isfn[f[i]] = 1
            n = split(constants, c, /[ \t\n]+/)
            for (i = 1; i <= n; i++) if (c[i] != "") isconst[c[i]] = 1
        }
        function finish(   path) {
            if (name != "" && (only == "" || name == only)) {
                system("mkdir -p \"" dir "/" name "\"")
                path = dir "/" name "/" (++count[name]) "-" flat
                printf "%s", text > path
                close(path)
                print file ":" start > (path ".from")
                close(path ".from")
            }
            inblock = 0; name = ""; text = ""
        }
        BEGIN { flat = file; gsub(/\//, "%", flat) }
        $0 == marker { inblock = 1; start = FNR + 1; name = ""; text = ""; next }
        inblock {
            text = text $0 "\n"
            if (name == "" && match($0, /^#define [A-Za-z_][A-Za-z_0-9]*/)) {
                name = substr($0, 9, RLENGTH - 8)
                finish()
                next
            }
            if (name == "" && $0 ~ /^[A-Za-z_]/ && match($0, /[A-Za-z_][A-Za-z_0-9]*\(/))
                name = substr($0, RSTART, RLENGTH - 1)
            if ($0 ~ /^}/) finish()
            next
        }
        # A definition of a known name outside a marked copy.
        /^[A-Za-z_][^;]*\(/ && $0 !~ /;[ \t]*$/ {
            if (match($0, /[A-Za-z_][A-Za-z_0-9]*\(/)) {
                nm = substr($0, RSTART, RLENGTH - 1)
                if (nm in isfn && (only == "" || nm == only)) print "unmarked " nm " " FNR
            }
        }
        only == "" && /^#define [A-Za-z_]/ {
            nm = $2
            if (nm in isconst) print "unmarked " nm " " FNR
        }
        only == "" && /^[ \t]+[A-Z_][A-Z_0-9]* = / {
            nm = $1
            if (nm in isconst) print "unmarked " nm " " FNR
        }
        END { if (inblock) print "unterminated " (name == "" ? "?" : name) " " start }
    ' "$1"
}

shopt -s nullglob
refs=(solutions/*/*.c)
starters=(lessons/*/*.c)
if [ "${#refs[@]}" -eq 0 ]; then
    found "no reference in $root/solutions"
    exit 1
fi

for f in "${refs[@]}"; do
    while read -r what name line; do
        case $what in
        unmarked) found "$name in $f:$line has a shared name but no marker line above it: '$marker'" ;;
        unterminated) found "the copy of $name marked at $f:$line has no end ('}' at column 0 or a #define)" ;;
        esac
    done < <(extract "$f")
    prog=$(basename "$f" .c)
    grep -qxF "#define PROG \"$prog\"" "$f" ||
        found "$f does not define PROG as its name: #define PROG \"$prog\""
done
for f in "${starters[@]}"; do
    while read -r what name line; do
        case $what in
        unmarked) found "$name in $f:$line has a shared name but no marker line above it: '$marker'" ;;
        unterminated) found "the copy of $name marked at $f:$line has no end ('}' at column 0 or a #define)" ;;
        esac
    done < <(extract "$f" not_implemented)
done

# Every copy against the first of its name.
copies=0
helpers=0
for dir in "$tmp"/copies/*/; do
    [ -d "$dir" ] || continue
    name=$(basename "$dir")
    helpers=$((helpers + 1))
    first=""
    for copy in "$dir"*; do
        case $copy in *.from) continue ;; esac
        copies=$((copies + 1))
        if [ -z "$first" ]; then
            first=$copy
            continue
        fi
        if ! cmp -s "$first" "$copy"; then
            a=$(cat "$first.from") b=$(cat "$copy.from")
            # The first line that differs, counted from the line after the marker.
            n=$(awk 'NR == FNR { a[FNR] = $0; na = FNR; next }
                { nb = FNR; if (!(FNR in a) || a[FNR] != $0) { print FNR; done = 1; exit } }
                END { if (!done) print (nb < na ? nb + 1 : na + 1) }' "$first" "$copy")
            found "$name differs between ${a%:*} and ${b%:*}, first at line $n of the copy:"
            printf '  %s:%s: %s\n' "${a%:*}" "$((${a##*:} + n - 1))" "$(sed -n "${n}p" "$first")"
            printf '  %s:%s: %s\n' "${b%:*}" "$((${b##*:} + n - 1))" "$(sed -n "${n}p" "$copy")"
        fi
    done
done

# The retired names.
for name in $retired; do
    hits=$(grep -lw -- "$name" "${refs[@]}" "${starters[@]}" tests/fixtures/*.c tests/fixtures/*.h \
        2>/dev/null | paste -sd' ' -)
    [ -z "$hits" ] || found "$name is a retired name (docs/contract.md has the vocabulary): $hits"
done

if [ "$status" -eq 0 ]; then
    echo "shared_helpers: $helpers shared helpers and constants, $copies copies, all alike"
fi
exit "$status"
