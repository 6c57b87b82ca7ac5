#!/usr/bin/env python3
"""Writes a gossip deployment of N nodes running gossip.bloom: DIR/deploy.toml and
DIR/facts/nNNN/{peer,incr}.facts. Node i's peers are i+1, i+2, i+4, ... (mod N); its
increment is (i % 7) + 1, so every node's final total is sum((i % 7) + 1 for i in range(N)).

Usage: gen_gossip.py N DIR
"""
import os
import sys


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    n, out = int(sys.argv[1]), sys.argv[2]
    program = os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "gossip.bloom"), out)
    os.makedirs(out, exist_ok=True)
    name = lambda i: f"n{i:04d}"
    with open(os.path.join(out, "deploy.toml"), "w") as d:
        d.write(f"# {n} nodes gossiping a G-Counter (bench/sim/gen_gossip.py). Expected total: "
                f"{sum(i % 7 + 1 for i in range(n))}\n")
        for i in range(n):
            facts = os.path.join(out, "facts", name(i))
            os.makedirs(facts, exist_ok=True)
            peers = sorted({(i + (1 << k)) % n for k in range(n.bit_length()) if (1 << k) < n} - {i})
            with open(os.path.join(facts, "peer.facts"), "w") as f:
                f.writelines(f"{name(p)}\n" for p in peers)
            with open(os.path.join(facts, "incr.facts"), "w") as f:
                f.write(f"1\t{i % 7 + 1}\n")
            # Endpoints are never used by `bloom sim`, but a deployment must name one per node.
            d.write(f'[node.{name(i)}]\nprogram = "{program}"\nendpoint = "ipc:///tmp/bloom-gossip-{name(i)}"\n'
                    f'params = {{ nodes = {n} }}\nfacts = "facts/{name(i)}"\n\n')
    return 0


if __name__ == "__main__":
    sys.exit(main())
