# trace_check.awk: reads what `make trace` wrote back, for the tests of
# tests/harness/trace.bats.
#
#   mode=timeline  trace.txt -> one line per packet: FROM TO FLAGS SEQ LEN BYTES
#   mode=mermaid   trace.md  -> the same lines (entity codes decoded)
#   mode=check     those lines on stdin, checked against the expectations in
#                  the file `expect` (the lines an exchange's expect_NAME
#                  prints; tests/trace/lib.sh says what each means). Exit 0
#                  when all hold; else prints what was expected, what the
#                  trace has instead, and exits 1.
#
# Fields are tab-separated; FLAGS is "UDP" for a datagram.

BEGIN { FS = "\t" }

mode == "timeline" && /^ *[0-9]+\.[0-9]+ ms  / {
    line = $0
    pbytes = ""
    q = index(line, "\"")
    if (q) {
        pbytes = substr(line, q + 1)
        sub(/"$/, "", pbytes)
        line = substr(line, 1, q - 1)
    }
    sub(/^ +/, "", line)
    sub(/ +$/, "", line)
    n = split(line, f, /  +/)
    split(f[2], d, " → ")
    plen = 0
    pseq = "-"
    for (i = 4; i <= n; i++) {
        if (f[i] ~ /^[0-9]+ bytes?$/) plen = f[i] + 0
        if (f[i] ~ /^seq [0-9]+$/) pseq = substr(f[i], 5)
    }
    print d[1] "\t" d[2] "\t" f[3] "\t" pseq "\t" plen "\t" pbytes
    next
}

mode == "mermaid" && /^    participant P[0-9]+ as / {
    name = $0
    sub(/^    participant P[0-9]+ as /, "", name)
    split($0, w, " ")
    who[w[2]] = name
    next
}

mode == "mermaid" && /^    P[0-9]+->>P[0-9]+: / {
    line = $0
    sub(/^    /, "", line)
    a = index(line, "->>")
    c = index(line, ": ")
    pfrom = who[substr(line, 1, a - 1)]
    pto = who[substr(line, a + 3, c - a - 3)]
    msg = decode(substr(line, c + 2))
    pbytes = ""
    q = index(msg, "\"")
    if (q) {
        pbytes = substr(msg, q + 1)
        sub(/"$/, "", pbytes)
        msg = substr(msg, 1, q - 1)
    }
    sub(/^[0-9.]+ ms /, "", msg)
    pflags = msg
    if (pflags ~ /^UDP/) pflags = "UDP"
    else sub(/ seq .*/, "", pflags)
    plen = 0
    if (match(msg, /[0-9]+ bytes? *$/)) plen = substr(msg, RSTART) + 0
    pseq = "-"
    if (match(msg, / seq [0-9]+/)) pseq = substr(msg, RSTART + 5, RLENGTH - 5)
    print pfrom "\t" pto "\t" pflags "\t" pseq "\t" plen "\t" pbytes
    next
}

mode == "check" {
    n++
    from[n] = $1; to[n] = $2; flags[n] = $3; len[n] = $5 + 0; bytes[n] = $6
    # A retransmission repeats bytes (or a FIN) already sent: expectations
    # skip it, as the receiver does.
    dir = $1 "\t" $2
    if ($3 != "UDP" && len[n] > 0) {
        retrans[n] = (dir in sent) && $4 + len[n] <= sent[dir]
        if (!(dir in sent) || $4 + len[n] > sent[dir]) sent[dir] = $4 + len[n]
    }
    if (index(", " $3 ",", ", FIN,")) {
        if (dir in fin) retrans[n] = 1
        fin[dir] = 1
    }
}

END {
    if (mode != "check") exit 0
    cursor = 0
    while ((getline want < expect) > 0) {
        if (want == "") continue
        if (!holds(want)) {
            print "expected: " want
            print "after:    " (cursor ? "packet " cursor ": " show(cursor) : "the start of the trace")
            print "got:      " problem
            exit 1
        }
    }
    exit 0
}

function decode(s) {
    gsub(/#35;/, "\001", s)
    gsub(/#59;/, ";", s)
    gsub(/#lt;/, "<", s)
    gsub(/#gt;/, ">", s)
    gsub(/\001/, "#", s)
    return s
}

function show(i) {
    return from[i] " -> " to[i] " " flags[i] (len[i] ? " " len[i] " bytes \"" bytes[i] "\"" : "")
}

function has(i, flag) { return index(", " flags[i] ",", ", " flag ",") > 0 }

function data(i) { return len[i] > 0 && flags[i] != "UDP" }

# next_from A B KIND: the first packet after the cursor from A to B that is
# data (TCP with payload), a datagram, or any packet; 0 if none.
function next_from(a, b, kind,    i) {
    for (i = cursor + 1; i <= n; i++) {
        if (from[i] != a || to[i] != b || retrans[i]) continue
        if (kind == "data" && !data(i)) continue
        if (kind == "datagram" && flags[i] != "UDP") continue
        return i
    }
    return 0
}

function find_flag(a, b, flag, start,    i) {
    for (i = start + 1; i <= n; i++)
        if (from[i] == a && to[i] == b && (flags[i] == flag || (flag != "SYN-ACK" && flag != "SYN" && has(i, flag))))
            return i
    return 0
}

function holds(want,    w, k, a, b, text, i, j, count) {
    k = split(want, w, " ")
    a = w[2]; b = w[3]
    gsub(/_/, " ", a)
    gsub(/_/, " ", b)
    text = want
    sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", text)
    problem = ""
    if (w[1] == "handshake") {
        if (!(i = find_flag(a, b, "SYN", cursor))) { problem = "no SYN from " a " to " b; return 0 }
        if (!(j = find_flag(b, a, "SYN-ACK", i))) { problem = "no SYN-ACK from " b " to " a " after its SYN"; return 0 }
        if (!(k = find_flag(a, b, "ACK", j))) { problem = "no ACK from " a " to " b " after the SYN-ACK"; return 0 }
        cursor = k
        return 1
    }
    if (w[1] == "data" || w[1] == "datagram") {
        if (!(i = next_from(a, b, w[1]))) { problem = "no more " (w[1] == "data" ? "data" : "datagrams") " from " a " to " b; return 0 }
        if (index(bytes[i], text) != 1) { problem = "packet " i ": " show(i); return 0 }
        cursor = i
        return 1
    }
    if (w[1] == "segments" || w[1] == "datagrams") {
        count = 0
        for (i = cursor + 1; i <= n && count < text + 0; i++)
            if (from[i] == a && to[i] == b && !retrans[i] && (w[1] == "segments" ? data(i) : flags[i] == "UDP")) count++
        if (count < text + 0) { problem = count " " (w[1] == "segments" ? "segments with data" : "datagrams") " from " a " to " b; return 0 }
        cursor = i - 1
        return 1
    }
    if (w[1] == "fin") {
        for (i = cursor + 1; i <= n; i++) {
            if (!has(i, "FIN") || retrans[i]) continue
            if (!((from[i] == a && to[i] == b) || (from[i] == b && to[i] == a))) continue
            if (from[i] != a) { problem = "packet " i ": " show(i) " (the FIN came from " from[i] " first)"; return 0 }
            cursor = i
            return 1
        }
        problem = "no FIN between " a " and " b
        return 0
    }
    if (w[1] == "fins") {
        i = j = 0
        for (k = cursor + 1; k <= n; k++) {
            if (!has(k, "FIN") || retrans[k]) continue
            if (!i && from[k] == a && to[k] == b) i = k
            if (!j && from[k] == b && to[k] == a) j = k
        }
        if (!i || !j) { problem = "no FIN from " (i ? b : a) " to " (i ? a : b); return 0 }
        cursor = i > j ? i : j
        return 1
    }
    if (w[1] == "rst") {
        if (!(i = find_flag(a, b, "RST", cursor))) { problem = "no RST from " a " to " b; return 0 }
        cursor = i
        return 1
    }
    if (w[1] == "no-rst") {
        for (i = 1; i <= n; i++)
            if (from[i] == a && has(i, "RST")) { problem = "packet " i ": " show(i); return 0 }
        return 1
    }
    problem = "an expectation this checker does not know: " w[1]
    return 0
}
