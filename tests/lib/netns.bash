# shellcheck shell=bash
# The variables set here (NETNS_CLIENT, NETNS_SERVER, ...) are read by the
# test files.
# shellcheck disable=SC2034
#
# Two network namespaces joined by a veth pair, to show packet loss for real
# (lesson 05). Load it after lib/common:
#
#     load 'lib/common'
#     load 'lib/netns'
#     teardown() { cleanup_background; netns_cleanup; }
#
#     netns_setup              # client 198.18.0.1/24 <-veth-> server 198.18.0.2/24
#     netns_make_lossy 30      # drop 30% of what the client sends the server
#     start_server ip netns exec "$NETNS_SERVER" PROGRAM -b "$NETNS_SERVER_ADDR" -p 0
#     run ip netns exec "$NETNS_CLIENT" PROGRAM ...
#
# Needs root and iproute2 (the test is skipped otherwise). The loss comes
# from the kernel: `tc qdisc ... netem loss N%` on the client's end of the
# link where the kernel has netem, otherwise an nftables rule in the
# server's namespace that drops a random share of the UDP and TCP packets
# arriving from the client. Both drop in the same direction only (client to
# server), which keeps the TCP comparison quick.
#
# Environment:
#   SOCKSTEP_NO_NETNS=1          skip these tests (the relay tests still run)
#   SOCKSTEP_LOSS_METHOD=netem   use only netem (skip if the kernel lacks it)
#   SOCKSTEP_LOSS_METHOD=nft     use only nftables
#
# Names are unique per test run (pid and test number) and short enough for
# interface names (15 characters). netns_cleanup stops what still runs in
# the namespaces and deletes them, which removes the veth pair, the qdisc
# and the nftables table with them.

NETNS_CLIENT_ADDR=198.18.0.1
NETNS_SERVER_ADDR=198.18.0.2
NETNS_CLIENT=
NETNS_SERVER=
NETNS_CLIENT_DEV=
NETNS_SERVER_DEV=
NETNS_LOSS_METHOD=
_NETNS_CREATED=()

# netns_setup: creates the two namespaces and the link; fails the test (after
# skipping it when namespaces are not available) if a step does not work.
netns_setup() {
    require_netns
    local id="$$${BATS_TEST_NUMBER:-0}"
    NETNS_CLIENT="sockstep-$id-c"
    NETNS_SERVER="sockstep-$id-s"
    NETNS_CLIENT_DEV="skc$id"
    NETNS_SERVER_DEV="sks$id"
    NETNS_CLIENT_DEV=${NETNS_CLIENT_DEV:0:15}
    NETNS_SERVER_DEV=${NETNS_SERVER_DEV:0:15}

    _netns_run ip netns add "$NETNS_CLIENT" || return 1
    _NETNS_CREATED+=("$NETNS_CLIENT")
    _netns_run ip netns add "$NETNS_SERVER" || return 1
    _NETNS_CREATED+=("$NETNS_SERVER")
    # Created directly inside the namespaces: the root namespace never sees
    # these interfaces.
    _netns_run ip link add "$NETNS_CLIENT_DEV" netns "$NETNS_CLIENT" type veth \
        peer name "$NETNS_SERVER_DEV" netns "$NETNS_SERVER" || return 1
    _netns_side "$NETNS_CLIENT" "$NETNS_CLIENT_DEV" "$NETNS_CLIENT_ADDR" || return 1
    _netns_side "$NETNS_SERVER" "$NETNS_SERVER_DEV" "$NETNS_SERVER_ADDR" || return 1
    # Fixed neighbour entries: a lost ARP request would add a second of
    # delay that has nothing to do with the lesson.
    _netns_neighbour "$NETNS_CLIENT" "$NETNS_CLIENT_DEV" "$NETNS_SERVER" \
        "$NETNS_SERVER_DEV" "$NETNS_SERVER_ADDR" || return 1
    _netns_neighbour "$NETNS_SERVER" "$NETNS_SERVER_DEV" "$NETNS_CLIENT" \
        "$NETNS_CLIENT_DEV" "$NETNS_CLIENT_ADDR" || return 1
}

# netns_make_lossy PERCENT: the kernel drops PERCENT % of the packets going
# from the client to the server. Sets NETNS_LOSS_METHOD (netem or nft).
netns_make_lossy() {
    local percent=$1 method=${SOCKSTEP_LOSS_METHOD:-auto}
    if [[ $method == auto || $method == netem ]] && command -v tc >/dev/null &&
        ip netns exec "$NETNS_CLIENT" tc qdisc add dev "$NETNS_CLIENT_DEV" root \
            netem loss "$percent%" 2>/dev/null; then
        NETNS_LOSS_METHOD=netem
        return 0
    fi
    [[ $method != netem ]] || skip "this kernel has no netem (tc qdisc ... netem)"
    if [[ $method == auto || $method == nft ]] && command -v nft >/dev/null &&
        ip netns exec "$NETNS_SERVER" nft -f - 2>/dev/null <<EOF; then
table inet sockstep_lossy {
    chain input {
        type filter hook input priority 0; policy accept;
        iifname "$NETNS_SERVER_DEV" meta l4proto { udp, tcp } numgen random mod 100 < $percent drop
    }
}
EOF
        NETNS_LOSS_METHOD=nft
        return 0
    fi
    skip "cannot make the link lossy: neither tc netem nor nftables works here"
}

# netns_cleanup: stops every process still inside the namespaces this test
# made (they were all started by the test) and deletes the namespaces.
netns_cleanup() {
    local ns pid
    for ns in "${_NETNS_CREATED[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -s KILL "$pid" 2>/dev/null || true
        done
        ip netns delete "$ns" 2>/dev/null || true
    done
    _NETNS_CREATED=()
}

# netns_leftovers: prints namespaces and interfaces of this test run that
# still exist (nothing when the clean-up worked).
netns_leftovers() {
    ip netns list 2>/dev/null | grep -F "sockstep-$$" || true
    ip -o link show 2>/dev/null | grep -E "sk[cs]$$" || true
}

_netns_run() {
    local out
    if ! out=$("$@" 2>&1); then
        fail "network namespace set-up failed: $* -> $out"
        return 1
    fi
}

_netns_side() {
    _netns_run ip -n "$1" link set lo up &&
        _netns_run ip -n "$1" addr add "$3/24" dev "$2" &&
        _netns_run ip -n "$1" link set "$2" up
}

# _netns_neighbour NS DEV PEER_NS PEER_DEV PEER_ADDR
_netns_neighbour() {
    local mac
    mac=$(ip -n "$3" -o link show "$4" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
    [[ -n $mac ]] || {
        fail "cannot read the MAC address of $4 in $3"
        return 1
    }
    _netns_run ip -n "$1" neigh replace "$5" lladdr "$mac" dev "$2" nud permanent
}
