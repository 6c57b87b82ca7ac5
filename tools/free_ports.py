"""free_ports(n): n distinct TCP ports on 127.0.0.1 that were free a moment ago, for
deployments written at run time (tests/dist/run_dist.py, tests/golden/run_dist_examples.sh,
bench/net/node_bench.py). Each is bound to learn its number (all at once, so they differ) and
closed again, so another process may take one before a node binds it: rare, and the node then
says it cannot listen."""
import socket


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports
