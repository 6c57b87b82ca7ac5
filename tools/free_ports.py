"""free_ports(n): n distinct TCP ports on 127.0.0.1 that were free a moment ago, for
deployments written at run time (tests/dist/run_dist.py, tests/golden/run_dist_examples.sh,
bench/net/node_bench.py). Each is bound to check that it is free (all at once, so they differ)
and closed again, so another process may take one before a node binds it, and the node then says
it cannot listen. To make that rare under `ctest -j`, the ports are drawn at random from below
the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), which the many outgoing
connections of the other tests' nodes take their local ports from; only another test drawing
the same port at the same moment can collide."""
import random
import socket


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(n):
    low, high = 10000, _ephemeral_low() - 1
    socks, ports = [], []
    try:
        for _ in range(n):
            for attempt in range(200):
                s = socket.socket()
                # The last attempt lets the kernel choose, should the range be crowded.
                port = random.randint(low, high) if attempt < 199 and high > low else 0
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    s.close()
                    continue
                socks.append(s)
                ports.append(s.getsockname()[1])
                break
            else:
                raise OSError("free_ports: no free TCP port on 127.0.0.1")
    finally:
        for s in socks:
            s.close()
    return ports
