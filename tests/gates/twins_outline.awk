# twins_outline.awk: the parts of a Markdown page that its translation must
# keep, one per line, for tests/gates/twins.sh to compare:
#
#   S <TAB> line <TAB> kind <TAB> text   structure: every heading ("h2", "h3"...)
#                                       and every numbered list item ("ol0 3"
#                                       is item 3 at the outer level)
#   C <TAB> line <TAB> n <TAB> text      every line of every fenced code
#                                       block, fences included (block n), and
#                                       of every indented code block (lines
#                                       indented 4 spaces after a blank line,
#                                       outside a list)
#   K <TAB> line <TAB> section <TAB> cmd every inline code span that is a
#                                       command (a command word and its
#                                       arguments, or a program's path under
#                                       build/ or ./), with its section
#
# Inline spans are read per paragraph, so a span wrapped over two lines is
# one span; runs of white space inside it count as one space.

BEGIN {
    OFS = "\t"
    split("make bats bash sh nc curl wget socat ss strace tcpdump gdb valgrind " \
        "ulimit kill cat printf echo sudo git man wrk ab grep ls cd sysctl ip " \
        "lsof time python3 ps ip6tables nft apt-get apt dnf brew cc gcc clang " \
        "head tail watch ./", w, " ")
    for (i in w) {
        cmdword[w[i]] = 1
    }
    section = 0
    fence = ""
    block = 0
    para = ""
    para_line = 0
    indented = 0
    in_list = 0
    blank_before = 1
}

function flush_para(    rest, span, start, first) {
    rest = para
    while ((start = index(rest, "`")) > 0) {
        rest = substr(rest, start + 1)
        if ((start = index(rest, "`")) == 0) {
            break
        }
        span = substr(rest, 1, start - 1)
        rest = substr(rest, start + 1)
        gsub(/[ \t]+/, " ", span)
        sub(/^ /, "", span)
        sub(/ $/, "", span)
        first = span
        sub(/ .*/, "", first)
        # A command word with arguments, or a program run by its path.
        if ((first in cmdword && span != first) || first ~ /^(build\/|\.\/)/) {
            print "K", para_line, section, span
        }
    }
    para = ""
    para_line = 0
}

# Inside a fenced code block: every line is kept as it is.
fence != "" {
    print "C", FNR, block, $0
    if ($0 ~ /^[ \t]*```+[ \t]*$/ && index($0, fence) > 0) {
        fence = ""
    }
    next
}

# An indented code block: 4 spaces after a blank line, not in a list; it
# goes on over blank lines while the lines stay indented.
indented && /^    / {
    print "C", FNR, block, $0
    blank_before = 0
    next
}
indented && /^[ \t]*$/ {
    blank_before = 1
    next
}
indented {
    indented = 0
}
blank_before && !in_list && /^    [^ ]/ {
    flush_para()
    indented = 1
    block++
    print "C", FNR, block, $0
    blank_before = 0
    next
}

/^[ \t]*```/ {
    flush_para()
    fence = $0
    sub(/`+.*/, "", fence)
    fence = fence "```"
    block++
    print "C", FNR, block, $0
    next
}

/^#+ / {
    flush_para()
    in_list = 0
    blank_before = 0
    section++
    level = $0
    sub(/ .*/, "", level)
    print "S", FNR, "h" length(level), $0
    next
}

/^[ \t]*$/ {
    flush_para()
    blank_before = 1
    next
}

{
    blank_before = 0
    if ($0 ~ /^ *([-*+]|[0-9]+\.) /) {
        in_list = 1
    } else if ($0 !~ /^ /) {
        in_list = 0
    }
    if (match($0, /^ *[0-9]+\. /)) {
        flush_para()
        item = $0
        sub(/^ */, "", item)
        indent = length($0) - length(item)
        sub(/\..*/, "", item)
        print "S", FNR, "ol" int((indent + 1) / 3) " " item, $0
    }
    if (para_line == 0) {
        para_line = FNR
    }
    para = para " " $0
}

END {
    flush_para()
}
