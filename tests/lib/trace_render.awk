# trace_render.awk: prints the packets of events.tsv (trace_decode.awk) as
#   mode=timeline  the timeline `make trace` shows, one line per packet:
#        0.213 ms  server → client  PSH, ACK  seq 1  ack 1  9 bytes  "Welcome!\n"
#   mode=mermaid   a Markdown file with a Mermaid sequence diagram of the
#                  same packets, in the same order, with the same words
#
#   awk -v mode=timeline|mermaid [-v title=TEXT] -f trace_render.awk FILE FILE
#
# (FILE twice: the first pass measures the names, the second prints.)

BEGIN { FS = "\t" }

NR == FNR {
    dir = $2 " → " $3
    if (length(dir) > width) width = length(dir)
    if (!($2 in pid)) add_participant($2)
    if (!($3 in pid)) add_participant($3)
    packets++
    next
}

FNR == 1 { start_output() }

{
    if (mode == "mermaid") print "    " pid[$2] "->>" pid[$3] ": " mermaid_text($1 " ms " what(" "))
    else printf "%10s ms  %-" width "s  %s\n", $1, $2 " → " $3, what("  ")
}

END {
    if (packets == 0) {
        start_output()
        if (mode != "mermaid") print "(no packets were captured)"
    }
    if (mode == "mermaid") print "```"
}

function add_participant(name) {
    order[++participants] = name
    pid[name] = "P" participants
}

function start_output(    i) {
    if (started++) return
    if (mode == "mermaid") {
        print "# " (title == "" ? "On the wire" : title)
        print ""
        print "Every packet of the exchange, as `make trace` printed it: time since the"
        print "first packet, TCP flags, relative sequence and acknowledgement numbers,"
        print "payload bytes and their start. The capture is `trace.pcap` beside this file."
        print ""
        print "```mermaid"
        print "sequenceDiagram"
        for (i = 1; i <= participants; i++) print "    participant " pid[order[i]] " as " order[i]
        return
    }
    print "Every packet, in order: time since the first one, who sent it to whom, the"
    print "TCP flags (SYN opens, ACK acknowledges, PSH carries data, FIN closes one"
    print "direction, RST aborts), sequence numbers counted from 0 at each side's SYN,"
    print "and the payload's size and first bytes. UDP datagrams show size and bytes."
    print ""
}

# The packet in words: flags, seq, ack, payload; fields apart by SEP. The
# timeline (SEP two spaces) lines them up in columns.
function what(sep,    s, size) {
    size = $8 (($8 == 1) ? " byte" : " bytes")
    if (sep == " ") {
        s = $4 == "UDP" ? "UDP" : $5 " seq " $6 ($7 == "-" ? "" : " ack " $7)
    } else {
        s = $4 == "UDP" ? "UDP     " : sprintf("%-8s  seq %-6s  %-10s", $5, $6, $7 == "-" ? "" : "ack " $7)
        size = sprintf("%11s", size)
    }
    if ($8 > 0 || $4 == "UDP") s = s sep size sep "\"" $9 "\""
    sub(/ +$/, "", s)
    return s
}

# Mermaid reads ; # < > in a message as syntax: its entity codes instead.
function mermaid_text(s,    out, i, c) {
    out = ""
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "#") c = "#35;"
        else if (c == ";") c = "#59;"
        else if (c == "<") c = "#lt;"
        else if (c == ">") c = "#gt;"
        out = out c
    }
    return out
}
