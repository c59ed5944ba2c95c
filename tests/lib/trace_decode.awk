# trace_decode.awk: turns `tcpdump -nn -tt -S -X -r trace.pcap` into one
# line per packet, tab-separated, for tests/lib/trace.sh to print as a
# timeline and as a Mermaid diagram:
#
#   ms  from  to  proto  flags  seq  ack  len  bytes
#
#   ms     time since the first packet, in milliseconds (3 decimals)
#   from   who sent it: a name from the roles file (by port); else "server"
#   to     ("server 2"...) for a port that receives a SYN, and "client",
#          "client 2", ... for the others, in the order they first appear
#   proto  TCP or UDP
#   flags  TCP: SYN, SYN-ACK, or FIN, RST, PSH, ACK joined by ", "; UDP: -
#   seq    TCP: relative sequence number (0 is the SYN); UDP: -
#   ack    TCP: relative acknowledgement number, - without ACK; UDP: -
#   len    payload bytes
#   bytes  the first payload bytes (FIRST, default 40), escaped: \n \r \t
#          \0 \\ \" and \xNN; "..." follows when the payload is longer
#
# The packet's bytes come from the hex dump (IPv4 or IPv6, TCP or UDP), so
# nothing depends on how tcpdump words its summary line. Other packets are
# skipped.
#
#   awk -v roles=FILE [-v first=40] -f trace_decode.awk
#
# roles: lines "PORT<TAB>NAME" (the exchange's servers; tests/lib/trace.sh).

BEGIN {
    FS = "\n"
    if (first == "") first = 40
    for (i = 0; i < 256; i++) hexval[sprintf("%02x", i)] = i
    if (roles != "") {
        while ((getline line < roles) > 0) {
            split(line, part, "\t")
            if (part[1] != "" && part[2] != "") role[part[1]] = part[2]
        }
        close(roles)
    }
    clients = 0
    start = ""
}

# A packet's summary line: its time starts it.
/^[0-9]+\.[0-9]+ / {
    finish_packet()
    split($0, word, " ")
    stamp = word[1]
    nbytes = 0
    next
}

# A line of the hex dump: "\t0x0010:  4500 003c ...  ascii".
/^[ \t]+0x[0-9a-f]+:  / {
    hex = $0
    sub(/^[ \t]+0x[0-9a-f]+:  /, "", hex)
    hex = substr(hex, 1, 40)
    gsub(/ /, "", hex)
    for (i = 1; i + 1 <= length(hex); i += 2) byte[nbytes++] = hexval[substr(hex, i, 2)]
    next
}

END { finish_packet() }

# Bit N of a byte (no bitwise operators in POSIX awk).
function bit(value, n) { return int(value / 2 ^ n) % 2 }

function u16(at) { return byte[at] * 256 + byte[at + 1] }
function u32(at) { return ((byte[at] * 256 + byte[at + 1]) * 256 + byte[at + 2]) * 256 + byte[at + 3] }

function ipv4(at) { return byte[at] "." byte[at + 1] "." byte[at + 2] "." byte[at + 3] }

function ipv6(at,    s, i) {
    s = ""
    for (i = 0; i < 16; i += 2) s = s (i ? ":" : "") sprintf("%x", u16(at + i))
    return "[" s "]"
}

# The name of an endpoint ("ADDR:PORT"): its port's role, or the next client.
function name_of(endpoint, port) {
    if (port in role) return role[port]
    if (!(endpoint in named)) {
        clients++
        named[endpoint] = clients == 1 ? "client" : "client " clients
    }
    return named[endpoint]
}

function escaped(from, count,    s, i, b, shown) {
    s = ""
    shown = count < first ? count : first
    for (i = 0; i < shown; i++) {
        b = byte[from + i]
        if (b == 92) s = s "\\\\"
        else if (b == 34) s = s "\\\""
        else if (b == 10) s = s "\\n"
        else if (b == 13) s = s "\\r"
        else if (b == 9) s = s "\\t"
        else if (b == 0) s = s "\\0"
        else if (b < 32 || b > 126) s = s sprintf("\\x%02x", b)
        else s = s sprintf("%c", b)
    }
    if (count > shown) s = s "..."
    return s
}

function tcp_flags(f,    s) {
    if (bit(f, 1)) return bit(f, 4) ? "SYN-ACK" : "SYN"
    s = ""
    if (bit(f, 0)) s = s ", FIN"
    if (bit(f, 2)) s = s ", RST"
    if (bit(f, 3)) s = s ", PSH"
    if (bit(f, 4)) s = s ", ACK"
    return s == "" ? "none" : substr(s, 3)
}

# (a - b) mod 2^32
function minus32(a, b) { return a >= b ? a - b : a + 4294967296 - b }

function finish_packet(    version, l4, proto, src, dst, sport, dport, total, from, to, flow, back, hl, f, seq, ack, payload, len, relseq, relack, ms) {
    if (stamp == "" || nbytes < 20) { stamp = ""; return }
    version = int(byte[0] / 16)
    if (version == 4) {
        l4 = (byte[0] % 16) * 4
        proto = byte[9]
        total = u16(2)
        src = ipv4(12)
        dst = ipv4(16)
    } else if (version == 6) {
        l4 = 40
        proto = byte[6]
        total = 40 + u16(4)
        src = ipv6(8)
        dst = ipv6(24)
    } else {
        stamp = ""
        return
    }
    if (total > nbytes) total = nbytes
    if (proto != 6 && proto != 17) { stamp = ""; return }
    sport = u16(l4)
    dport = u16(l4 + 2)
    # A port nobody named that receives a SYN is a server's.
    if (proto == 6 && bit(byte[l4 + 13], 1) && !bit(byte[l4 + 13], 4) && !(dport in role))
        role[dport] = ++servers == 1 ? "server" : "server " servers
    from = name_of(src ":" sport, sport)
    to = name_of(dst ":" dport, dport)
    if (start == "") start = stamp
    ms = sprintf("%.3f", (stamp - start) * 1000)
    if (proto == 17) {
        payload = l4 + 8
        len = total - payload
        print ms "\t" from "\t" to "\tUDP\t-\t-\t-\t" len "\t" escaped(payload, len)
        stamp = ""
        return
    }
    flow = src ":" sport ">" dst ":" dport
    back = dst ":" dport ">" src ":" sport
    hl = int(byte[l4 + 12] / 16) * 4
    f = byte[l4 + 13]
    seq = u32(l4 + 4)
    ack = u32(l4 + 8)
    payload = l4 + hl
    len = total - payload
    if (!(flow in isn)) isn[flow] = seq
    relseq = minus32(seq, isn[flow])
    relack = "-"
    if (bit(f, 4)) relack = (back in isn) ? minus32(ack, isn[back]) : ack
    print ms "\t" from "\t" to "\tTCP\t" tcp_flags(f) "\t" relseq "\t" relack "\t" len "\t" escaped(payload, len)
    stamp = ""
}
