#!/usr/bin/env python3
"""Multi-node runs: run_dist.py BLOOM SEND_RAW CASE.

Each case writes a deployment file with free 127.0.0.1 ports into a temporary directory, runs
`bloom run` (real processes, real ZeroMQ sockets) or `bloom node`, and checks the exit status,
the outputs and the messages. Prints what it checked; exits non-zero on the first failure."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from free_ports import free_ports  # noqa: E402

PROGRAMS = os.path.join(HERE, "programs")
BLOOM, SEND_RAW, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
TMP = tempfile.mkdtemp(prefix="bloom-dist-")


def fail(msg, proc=None):
    print("FAIL:", msg)
    print("(the case's files are kept in %s)" % TMP)
    if proc is not None:
        print("--- exit", proc.returncode, "\n--- stdout\n" + proc.stdout + "--- stderr\n" + proc.stderr)
    sys.exit(1)


def check(cond, msg, proc=None):
    if not cond:
        fail(msg, proc)
    print("ok:", msg)


def deployment(nodes, name="deploy.toml", host="127.0.0.1", insecure=False, keys=None):
    """nodes: list of (name, program, params dict, facts dir or None). Returns (path, endpoints).
    insecure: plaintext (`insecure = true`); keys: node -> (public key, secret key file)."""
    ports = free_ports(len(nodes))
    lines, endpoints = ["insecure = true", ""] if insecure else [], {}
    for (node, program, params, facts), port in zip(nodes, ports):
        endpoints[node] = "tcp://%s:%d" % (host, port)
        lines.append("[node.%s]" % node)
        lines.append('program = "%s"' % os.path.join(PROGRAMS, program))
        lines.append('endpoint = "%s"' % endpoints[node])
        if params:
            def val(v):
                if isinstance(v, list):
                    return "[%s]" % ", ".join(val(x) for x in v)
                return ("true" if v else "false") if isinstance(v, bool) else ('"%s"' % v if isinstance(v, str) else str(v))
            lines.append("params = { %s }" % ", ".join("%s = %s" % (k, val(v)) for k, v in params.items()))
        if facts:
            lines.append('facts = "%s"' % os.path.join(PROGRAMS, "facts", facts))
        if keys:
            lines.append('public_key = "%s"' % keys[node][0])
            if keys[node][1]:
                lines.append('secret_key_file = "%s"' % keys[node][1])
        lines.append("")
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path, endpoints


def bloom(*args, cwd=None, timeout=90):
    return subprocess.run([BLOOM, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


PINGPONG = [("a", "ping.bloom", {"peer": "b"}, "a"), ("b", "ping.bloom", {"peer": "a"}, None)]
SEEN_A = "b\t1\nb\t3\nb\t5\n"
SEEN_B = "a\t0\na\t2\na\t4\na\t6\n"


def check_pingpong(p, out, label):
    check(p.returncode == 0, label + ": exit 0", p)
    check(read(os.path.join(out, "a", "seen.csv")) == SEEN_A, label + ": a/seen.csv has the odd balls from b", p)
    check(read(os.path.join(out, "b", "seen.csv")) == SEEN_B, label + ": b/seen.csv has the even balls from a", p)
    check("[b] got 0\n" in p.stdout and "[a] got 5\n" in p.stdout, label + ": stdout lines carry the node's prefix", p)


def case_pingpong():
    d, _ = deployment(PINGPONG)
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "-D", out)
    check_pingpong(p, out, "processes")
    check("bloom: node `a`: 4 ticks, 4 messages sent, 3 received, 0 dropped\n" in p.stderr, "summary of a", p)
    check("bloom: node `b`: 5 ticks, 3 messages sent, 4 received, 0 dropped\n" in p.stderr, "summary of b", p)
    q = bloom("run", d, "-q")  # no -D: outputs printed per node, in the file's order
    check(q.returncode == 0 and q.stderr == "", "-q: exit 0, nothing on stderr", q)
    check(q.stdout.endswith("[a] seen(\"b\", 1)\n[a] seen(\"b\", 3)\n[a] seen(\"b\", 5)\n"
                            "[b] seen(\"a\", 0)\n[b] seen(\"a\", 2)\n[b] seen(\"a\", 4)\n[b] seen(\"a\", 6)\n"),
          "without -D the outputs are printed node by node", q)


BCAST = [("n1", "bcast.bloom", None, "n1"), ("n2", "bcast.bloom", None, "n2"), ("n3", "bcast.bloom", None, "n3")]
BCAST_EXPECTED = {
    "n1": {"got": "n2\t20\nn3\t300\n", "acked": "n2\t1\nn2\t2\nn3\t1\nn3\t2\n"},
    "n2": {"got": "n1\t1\nn1\t2\nn3\t300\n", "acked": "n1\t20\nn3\t20\n"},
    "n3": {"got": "n1\t1\nn1\t2\nn2\t20\n", "acked": "n1\t300\nn2\t300\n"},
}


def check_bcast(p, out, label):
    check(p.returncode == 0, label + ": exit 0", p)
    for node, files in BCAST_EXPECTED.items():
        for name, text in files.items():
            got = read(os.path.join(out, node, name + ".csv"))
            check(got == text, "%s: %s/%s.csv" % (label, node, name), p)


def case_broadcast():
    d, _ = deployment(BCAST)
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "-D", out)
    check_bcast(p, out, "broadcast")
    # each node sends one msg message to each peer (both items in one) and one ack per received message
    check("bloom: node `n1`: " in p.stderr and "4 messages sent, 4 received, 0 dropped" in p.stderr, "broadcast counts", p)


def case_in_process():
    d, _ = deployment(PINGPONG)
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "-D", out, "--in-process")
    check_pingpong(p, out, "in-process")
    check("bloom: node `a`: 4 ticks, 4 messages sent, 3 received, 0 dropped\n" in p.stderr, "in-process summary of a", p)
    d, _ = deployment(BCAST, "bcast.toml")
    out = os.path.join(TMP, "out2")
    p = bloom("run", d, "-D", out, "--in-process")
    check_bcast(p, out, "in-process broadcast")


def node_pid(deploy, name):
    """The pid of this test's `bloom node ... --name NAME` process for this deployment file."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"node" in argv and deploy.encode() in argv and b"--name" in argv:
            i = argv.index(b"--name")
            if i + 1 < len(argv) and argv[i + 1] == name.encode():
                return int(pid)
    return None


def case_killed_node():
    d, _ = deployment(PINGPONG + [("t", "ticker.bloom", None, None)])
    out = os.path.join(TMP, "out")
    launcher = subprocess.Popen([BLOOM, "run", d, "-D", out, "--timeout", "60"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    pid = None
    for _ in range(200):
        pid = node_pid(d, "t")
        if pid:
            break
        time.sleep(0.05)
    check(pid is not None, "the ticker node's process is running")
    time.sleep(1.0)
    os.kill(pid, signal.SIGKILL)
    stdout, stderr = launcher.communicate(timeout=60)
    p = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr)
    check(p.returncode == 3, "the launcher exits 3 after a node died", p)
    check("bloom: error: node `t` exited with signal 9 (Killed)\n" in p.stderr, "it reports the killed node and the signal", p)
    check("bloom: node `t` exited with signal 9 (Killed); 0 messages addressed to it were lost\n" in p.stderr,
          "the final report names it again with the lost messages", p)
    check(read(os.path.join(out, "a", "seen.csv")) == SEEN_A and read(os.path.join(out, "b", "seen.csv")) == SEEN_B,
          "the other nodes ran to quiescence and wrote their outputs", p)


def case_garbage():
    d, ep = deployment(PINGPONG + [("w", "ticker.bloom", {"limit": 60}, None)], insecure=True)
    out = os.path.join(TMP, "out")
    # Without CURVE (insecure = true): not a bloom message at all, and a bloom header from a sender that is not in the deployment.
    # The sender connects first: ZeroMQ delivers both as soon as node a listens, while the
    # ticker node w keeps the run going for 3 s.
    forged = forged_header("mallory")
    sender = subprocess.Popen([SEND_RAW, ep["a"], "deadbeef", forged.hex()])
    launcher = subprocess.Popen([BLOOM, "run", d, "-D", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = launcher.communicate(timeout=60)
    sender.wait(timeout=30)
    p = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr)
    check(p.returncode == 0, "the run still ends well", p)
    check("bloom: node `a`: 4 ticks, 4 messages sent, 3 received, 2 dropped\n" in p.stderr, "the two messages are dropped and counted", p)
    check("bloom: warning: node `a` dropped a message (4 bytes): " in p.stderr, "the garbage is logged with its reason", p)
    check("bloom: warning: node `a` dropped a message from `mallory`" in p.stderr, "the forged one names its sender", p)
    check(read(os.path.join(out, "a", "seen.csv")) == SEEN_A, "a's outputs are unaffected", p)


def case_schema_mismatch():
    d, _ = deployment([("x", "vote_int.bloom", {"other": "y"}, None), ("y", "vote_string.bloom", None, None)])
    p = bloom("run", d)
    check(p.stderr.startswith("bloom: warning: channel `vote` is (addr, int) in node `x` but (addr, string) in node `y`: "
                              "messages between them will be refused\n"), "the launcher warns before the run", p)
    check(p.returncode == 3, "a refused message makes the run exit 3", p)
    check("bloom: error: node `y` refused a message from `x`: channel `vote` has a different schema at the sender" in p.stderr,
          "the refusal names the node, the sender, the channel", p)
    check("(addr, int)" in p.stderr and "(addr, string)" in p.stderr, "and both schemas", p)
    check("bloom: node `y`: 1 tick, 0 messages sent, 1 received, 0 dropped, 1 refused\n" in p.stderr,
          "the refused message counts as received (the counts balance: the run ended)", p)


def case_unknown_destination():
    # The program itself sends to an addr that no node has: the tuple is dropped and counted, the
    # node runs on (nothing from the network may stop it), and the run reports it (exit 3).
    d, _ = deployment([("u", "unknown_dest.bloom", None, None), ("v", "bcast.bloom", None, None)])
    p = bloom("run", d)
    check(p.returncode == 3, "exit 3", p)
    check('bloom: warning: node `u` dropped a tuple on channel `hello` for "nobody": no node of the deployment has that addr\n'
          in p.stderr, "the warning names the node, the channel and the addr", p)
    check("bloom: error: node `u` dropped 1 tuple addressed to addrs that are not nodes of the deployment\n" in p.stderr,
          "the end of the run reports it", p)
    check("runtime error" not in p.stderr and "bloom: node `u`: 1 tick, 0 messages sent, 0 received, 0 dropped, 1 undeliverable\n"
          in p.stderr, "the node did not fail", p)


def case_foreign_deployment():
    # Another deployment shares an endpoint with this one: its node `a` (the same name as one of
    # ours) sends v a msg whose src is "bogus". Before deployment ids, v took it, acknowledged to
    # "bogus" (which once stopped v) and the forged count kept the run from ever ending. Now v
    # drops it as a message of another deployment, the launcher names the sender and its
    # deployment file, and the run ends as if it had never come.
    d, ep = deployment(PINGPONG + [("v", "bcast.bloom", None, None), ("t", "ticker.bloom", {"limit": 40}, None)], insecure=True)
    attack = os.path.join(TMP, "attack.toml")
    with open(attack, "w") as f:
        f.write('insecure = true\n\n[node.a]\nprogram = "%s"\nendpoint = "tcp://127.0.0.1:%d"\n\n[node.v]\nprogram = "%s"\nendpoint = "%s"\n'
                % (os.path.join(PROGRAMS, "forge_msg.bloom"), free_ports(1)[0], os.path.join(PROGRAMS, "bcast.bloom"), ep["v"]))
    out = os.path.join(TMP, "out")
    launcher = subprocess.Popen([BLOOM, "run", d, "-D", out, "--timeout", "30"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    check(wait_for_pid(d, "v") is not None, "node v's process is running")
    time.sleep(0.5)
    a = bloom("node", os.path.join(PROGRAMS, "forge_msg.bloom"), "--deployment", attack, "--name", "a", timeout=30)
    check(a.returncode == 0, "the other deployment's node sent its message and halted", a)
    stdout, stderr = launcher.communicate(timeout=60)
    p = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr)
    check(p.returncode == 0, "the run ends well (quiescent, not timed out)", p)
    check("bloom: warning: node `v` dropped a message from `a` of `attack.toml`, another deployment or another run" in p.stderr,
          "v logs the drop, naming the sender and its deployment", p)
    check("bloom: warning: node `v` dropped 1 message of another deployment or run sharing its endpoint, from `a` of `attack.toml`\n"
          in p.stderr, "the launcher's report names them too", p)
    check("bogus" not in p.stderr, "nothing was acknowledged to the forged src", p)
    check(read(os.path.join(out, "v", "got.csv")) == "", "v took nothing from it", p)
    check(read(os.path.join(out, "a", "seen.csv")) == SEEN_A, "the others are unaffected", p)


def forged_header(sender, deployment=0, deployment_name=b""):
    """A bloom message header (wire version 2) naming `sender`, as bytes: the rest is missing."""
    name = sender.encode()
    return (b"BLOM" + (2).to_bytes(2, "little") + b"\0\0" + deployment.to_bytes(8, "little") + b"\0" * 28 +
            len(name).to_bytes(2, "little") + name + len(deployment_name).to_bytes(1, "little") + deployment_name)


def case_flood():
    # 1,000 forged messages, each from a different sender name of 20,000 bytes, then a frame
    # bigger than the deployment's max_message_size: all dropped, the warnings bounded in number
    # and length, the oversized frame refused, and the run unaffected.
    # w keeps the run going for 15 s: time for the flood to arrive even on a loaded machine (in
    # 6 s, 791 of the 1,000 had arrived once while two builds and a test run shared 2 cores).
    d, ep = deployment(PINGPONG + [("w", "ticker.bloom", {"limit": 300}, None)], insecure=True)
    with open(d, "a") as f:
        f.write("\n")
    text = read(d)
    with open(d, "w") as f:
        f.write("max_message_size = 32768\n\n" + text)
    lines = "".join(forged_header("m%05d" % i + "x" * 20000).hex() + "\n" for i in range(1000))
    sender = subprocess.Popen([SEND_RAW, ep["a"], "-"], stdin=subprocess.PIPE, text=True)
    big = subprocess.Popen([SEND_RAW, ep["a"], "-"], stdin=subprocess.PIPE, text=True)
    out = os.path.join(TMP, "out")
    launcher = subprocess.Popen([BLOOM, "run", d, "-D", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sender.communicate(lines, timeout=60)
    big.stdin.write((b"\0" * 65536).hex() + "\n")
    big.stdin.close()
    stdout, stderr = launcher.communicate(timeout=60)
    big.kill()  # its frame was refused: it would linger 10 s trying to deliver it
    big.wait(timeout=30)
    p = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr)
    check(p.returncode == 0, "the run ends well", p)
    check("bloom: node `a`: 4 ticks, 4 messages sent, 3 received, 1000 dropped\n" in p.stderr,
          "the 1,000 forged messages are dropped and counted; the oversized frame never arrives", p)
    warned = [l for l in p.stderr.splitlines() if l.startswith("bloom: warning: node `a` dropped a message from `m")]
    check(0 < len(warned) <= 20, "at most 20 of them are logged (%d)" % len(warned), p)
    check(all(len(l) < 500 for l in warned) and "... (20006 bytes)" in warned[0], "each with the sender name cut short", p)
    check(len(p.stderr) < 20000, "stderr stays small (%d bytes)" % len(p.stderr), p)
    check(read(os.path.join(out, "a", "seen.csv")) == SEEN_A, "a's outputs are unaffected", p)


def memory_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def case_flood_100k():
    # 100,000 forged messages (headers of another deployment, from 1,000 sender names): every one
    # dropped and counted, the node keeps running with bounded memory (what it keeps per drop is
    # bounded: a counter, the first few sender names, rate-limited warnings), and the run is
    # unaffected. w keeps the run going for 20 s, ample time for the flood to arrive.
    d, ep = deployment(PINGPONG + [("w", "ticker.bloom", {"limit": 400}, None)], insecure=True)
    out = os.path.join(TMP, "out")
    # ASan's quarantine would hold freed memory as if it were in use: kept small for this measure.
    env = dict(os.environ, ASAN_OPTIONS=(os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=8").lstrip(":"))
    launcher = subprocess.Popen([BLOOM, "run", d, "-D", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    pid = wait_for_pid(d, "a")
    check(pid is not None, "node a's process is running")
    time.sleep(1.0)
    before = memory_kb(pid, "VmRSS")
    lines = "".join(forged_header("m%03d" % (i % 1000), deployment=0xBAD, deployment_name=b"other.toml").hex() + "\n"
                    for i in range(100000))
    sender = subprocess.Popen([SEND_RAW, ep["a"], "-"], stdin=subprocess.PIPE, text=True)
    sender.communicate(lines, timeout=60)
    time.sleep(2.0)
    peak = memory_kb(pid, "VmHWM")
    stdout, stderr = launcher.communicate(timeout=60)
    p = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr)
    check(p.returncode == 0, "the run ends well", p)
    check("bloom: node `a`: 4 ticks, 4 messages sent, 3 received, 100000 dropped\n" in p.stderr,
          "all 100,000 are dropped and counted", p)
    check("bloom: warning: node `a` dropped 100000 messages of another deployment or run sharing its endpoint, from `m000` of "
          "`other.toml`, `m001` of `other.toml`," in p.stderr, "the report names the first senders and their deployment", p)
    check(len(p.stderr) < 20000, "stderr stays small (%d bytes)" % len(p.stderr), p)
    check(peak is not None and before is not None and peak - before < 64 * 1024,
          "node a's memory grew by %s KB during the flood (bound: 64 MB)" % (peak - before if peak and before else "?"), p)
    check(read(os.path.join(out, "a", "seen.csv")) == SEEN_A, "a's outputs are unaffected", p)
    print("node a: %d KB resident before the flood, peak %d KB" % (before, peak))


def case_bad_deployment():
    cases = os.path.join(HERE, "bad")
    for name in sorted(os.listdir(cases)):
        if not name.endswith(".toml"):
            continue
        p = bloom("run", os.path.join("bad", name), cwd=HERE)
        expected = read(os.path.join(cases, name[:-5] + ".expected"))
        check(p.returncode == 2 and p.stderr == expected, "bad/%s: exit 2 and the expected errors" % name, p)


def case_broken_program():
    d, _ = deployment([("a", "ping.bloom", None, None), ("z", "broken.bloom", None, None)])
    p = bloom("run", d)
    check(p.returncode == 1, "exit 1 (compile error)", p)
    check("broken.bloom:2:" in p.stderr, "the program's diagnostics are shown", p)
    check("error: the program of node `z` (%s) does not compile: see above" % os.path.join(PROGRAMS, "broken.bloom") in p.stderr,
          "and the node they belong to", p)


def case_node_alone():
    # The nodes' keys come from the deployment file (bloom keygen): CURVE between them.
    d, _ = deployment(PINGPONG, keys={n: keygen(n) for n in ("a", "b")})
    outs = {n: os.path.join(TMP, "out_" + n) for n in ("a", "b")}
    procs = {}
    for n in ("b", "a"):  # b first: it just waits; a starts the game
        procs[n] = subprocess.Popen([BLOOM, "node", os.path.join(PROGRAMS, "ping.bloom"), "--deployment", d, "--name", n,
                                     "-D", outs[n]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(100):  # the game ends when b has seen 6
        time.sleep(0.05)
        if procs["b"].poll() is not None:
            break
    time.sleep(0.3)
    for n in ("a", "b"):
        procs[n].send_signal(signal.SIGTERM)
    results = {}
    for n in ("a", "b"):
        stdout, stderr = procs[n].communicate(timeout=30)
        results[n] = subprocess.CompletedProcess(procs[n].args, procs[n].returncode, stdout, stderr)
        check(results[n].returncode == 0, "bloom node %s: SIGTERM stops it cleanly (exit 0)" % n, results[n])
    check(read(os.path.join(outs["a"], "seen.csv")) == SEEN_A, "bloom node a wrote its outputs", results["a"])
    check(read(os.path.join(outs["b"], "seen.csv")) == SEEN_B, "bloom node b wrote its outputs", results["b"])
    check("got 6" in results["b"].stdout, "its stdout lines are printed unprefixed", results["b"])
    p = bloom("node", os.path.join(PROGRAMS, "ping.bloom"), "--deployment", d, "--name", "zz")
    check(p.returncode == 2 and "--name zz: the deployment %s has no such node (it has: a b)" % d in p.stderr,
          "an unknown --name is a usage error listing the nodes", p)


def case_timeout():
    d, _ = deployment([("t", "ticker.bloom", None, None), ("a", "ping.bloom", {"peer": "a", "rounds": 0}, "a")])
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "--timeout", "3", "-D", out)
    check(p.returncode == 3, "exit 3 at the timeout", p)
    check("bloom: error: no global quiescence after 3 s: still busy:\n  node `t`: busy (running, " in p.stderr,
          "the report names the busy node", p)
    check("node `a`: busy" not in p.stderr, "and not the idle one", p)
    check(read(os.path.join(out, "a", "seen.csv")) == "a\t0\n", "outputs are still written", p)
    check(read(os.path.join(out, "t", "beats.csv")) not in (None, ""), "also by the busy node", p)


def case_port_in_use():
    d, ep = deployment(PINGPONG)
    port = int(ep["b"].rsplit(":", 1)[1])
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    p = bloom("run", d, "--timeout", "30")
    holder.close()
    check(p.returncode == 3, "a node that cannot bind its endpoint fails the run", p)
    check("bloom: error: node `b` cannot listen on %s: Address already in use\n" % ep["b"] in p.stderr, "it says which node and endpoint", p)
    check("bloom: node `b` could not run; 1 message addressed to it was lost\n" in p.stderr,
          "a's message to it is reported lost, and the run still ends", p)


def case_interrupted():
    d, _ = deployment([("t", "ticker.bloom", None, None)])
    out = os.path.join(TMP, "out")
    launcher = subprocess.Popen([BLOOM, "run", d, "-D", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The node writes its outputs as it ticks: interrupt it once it has ticked (a fixed wait was
    # too short for a sanitizer build on a loaded machine).
    beats = os.path.join(out, "t", "beats.csv")
    for _ in range(600):
        if node_pid(d, "t") and read(beats):
            break
        time.sleep(0.05)
    seen = read(beats) or ""
    launcher.send_signal(signal.SIGINT)
    stdout, stderr = launcher.communicate(timeout=30)
    p = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr)
    check(p.returncode == 3, "SIGINT to the launcher ends the run (exit 3)", p)
    check("bloom: interrupted: asking every node to write its outputs and stop\n" in p.stderr, "it says so", p)
    final = read(beats) or ""
    check(seen != "" and final.startswith(seen) and final.endswith("\n"), "the node wrote its outputs, whole lines", p)
    check(node_pid(d, "t") is None, "and no node process is left", p)


def case_out_dir_blocked():
    # out/b cannot be a directory (a file is there): nothing starts, in both modes, exit 2.
    d, _ = deployment(PINGPONG)
    out = os.path.join(TMP, "out")
    os.makedirs(out)
    with open(os.path.join(out, "b"), "w") as f:
        f.write("in the way\n")
    for mode in ([], ["--in-process"]):
        p = bloom("run", d, "-D", out, *mode)
        label = "in-process" if mode else "processes"
        check(p.returncode == 2, label + ": exit 2 when an output directory cannot be made", p)
        check("bloom: error: -D %s: cannot create the directory: " % os.path.join(out, "b") in p.stderr, label + ": it names it", p)
        check("terminate" not in p.stderr and not os.path.exists(os.path.join(out, "a", "seen.csv")), label + ": no node ran", p)
        check(node_pid(d, "a") is None, label + ": no node process is left", p)


def case_bad_options():
    d, _ = deployment(PINGPONG, insecure=True)
    for t in ("nan", "inf", "1e30"):
        p = bloom("run", d, "--timeout", t)
        check(p.returncode == 2 and "--timeout" in p.stderr, "--timeout %s is refused (exit 2), not an instant timeout" % t, p)
    p = bloom("node", os.path.join(PROGRAMS, "ping.bloom"), "--deployment", d, "--name", "a", "--control", "nonsense")
    check(p.returncode == 2 and "bloom: error: node `a`: --control nonsense: " in p.stderr and "internal error" not in p.stderr,
          "a malformed --control is a usage error naming it", p)


def case_launcher_killed():
    # kill -9 of the launcher: its nodes notice (SIGTERM from the kernel) and exit, and its
    # control socket's temporary directory is not left behind.
    d, _ = deployment([("t", "ticker.bloom", None, None), ("a", "ping.bloom", {"peer": "a", "rounds": 0}, "a")])
    tmpdir = os.path.join(TMP, "tmp")
    os.makedirs(tmpdir)
    env = dict(os.environ, TMPDIR=tmpdir)
    out = os.path.join(TMP, "out")
    launcher = subprocess.Popen([BLOOM, "run", d, "-q", "-D", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    pids = None
    for _ in range(200):
        pids = [node_pid(d, "t"), node_pid(d, "a")]
        if all(pids):
            break
        time.sleep(0.05)
    check(all(pids), "both node processes are running")
    time.sleep(1.5)  # the waves have started: every node is connected
    launcher.kill()
    launcher.communicate(timeout=30)
    for _ in range(100):
        if node_pid(d, "t") is None and node_pid(d, "a") is None:
            break
        time.sleep(0.05)
    check(node_pid(d, "t") is None and node_pid(d, "a") is None, "the nodes exit when their launcher dies")
    check(os.listdir(tmpdir) == [], "no control directory is left in TMPDIR (%s)" % os.listdir(tmpdir))
    # Outputs are written as ticks complete: the beats of t's completed ticks are on disk (about
    # 30 in 1.5 s), each once, although nobody asked t to write its outputs.
    beats = [int(x) for x in read(os.path.join(out, "t", "beats.csv")).split()]
    check(len(beats) >= 5 and len(set(beats)) == len(beats), "the killed run's outputs are on disk (%d beats)" % len(beats))


def wait_for_pid(deploy, name):
    for _ in range(200):
        pid = node_pid(deploy, name)
        if pid:
            return pid
        time.sleep(0.05)
    return None


def wait_for_line(stream, text, lines):
    """Reads `stream` line by line (into `lines`) until a line contains `text`; whether one did."""
    while True:
        line = stream.readline()
        if not line:
            return False
        lines.append(line)
        if text in line:
            return True


def case_killed_receiver():
    # b is killed after the game: the 4 balls a sent it had all arrived, and the report must say
    # so (a, which finished well, is still counted as their sender). t keeps the run going.
    d, _ = deployment(PINGPONG + [("t", "ticker.bloom", {"limit": 100}, None)])
    out = os.path.join(TMP, "out")
    launcher = subprocess.Popen([BLOOM, "run", d, "-D", out, "--timeout", "60"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    seen = []
    check(wait_for_line(launcher.stdout, "[b] got 6", seen), "the game ends")
    time.sleep(1.0)  # the launcher's waves see b's counts after its last ball (they run every few ms)
    pid = node_pid(d, "b")
    check(pid is not None, "node b's process is running")
    os.kill(pid, signal.SIGKILL)
    launcher.wait(timeout=60)  # little output: the pipes do not fill meanwhile
    stdout, stderr = "".join(seen) + launcher.stdout.read(), launcher.stderr.read()
    p = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr)
    check(p.returncode == 3, "exit 3 after a node died", p)
    check("bloom: node `b` exited with signal 9 (Killed); 0 messages addressed to it were lost\n" in p.stderr,
          "the messages b had received are not reported lost", p)
    check(read(os.path.join(out, "a", "seen.csv")) == SEEN_A, "a wrote its outputs", p)


def case_frozen_node():
    # a is frozen with SIGSTOP once the game is over; t halts after 3 s. Every wave waits for
    # a: the timeout report must name a, not t (whose last complete wave said busy).
    d, _ = deployment(PINGPONG + [("t", "ticker.bloom", {"limit": 60}, None)])
    out = os.path.join(TMP, "out")
    launcher = subprocess.Popen([BLOOM, "run", d, "-D", out, "--timeout", "10"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    seen = []
    check(wait_for_line(launcher.stdout, "[b] got 6", seen), "the game ends")
    pid = node_pid(d, "a")
    check(pid is not None, "node a's process is running")
    os.kill(pid, signal.SIGSTOP)
    lines = []
    for line in launcher.stderr:  # until the timeout report, then a may go on and finish
        lines.append(line)
        if "no global quiescence" in line:
            break
    os.kill(pid, signal.SIGCONT)
    launcher.wait(timeout=60)  # little output: the pipes do not fill meanwhile
    stdout, stderr = "".join(seen) + launcher.stdout.read(), launcher.stderr.read()
    p = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, "".join(lines) + stderr)
    check(p.returncode == 3, "exit 3 at the timeout", p)
    check("bloom: error: no global quiescence after 10 s: still busy:\n  node `a`: not answering the launcher for " in p.stderr,
          "the report names the frozen node first", p)
    check("node `t`: busy" not in p.stderr, "and not the node that halted meanwhile", p)
    check(read(os.path.join(out, "a", "seen.csv")) == SEEN_A, "a, continued, still wrote its outputs", p)


def case_launcher_paused():
    # The launcher is stopped for longer than --timeout while the nodes finish: once it runs
    # again, the pause does not count against the timeout and the run ends well.
    d, _ = deployment(PINGPONG + [("t", "ticker.bloom", {"limit": 10}, None)])
    out = os.path.join(TMP, "out")
    launcher = subprocess.Popen([BLOOM, "run", d, "-D", out, "--timeout", "2"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    check(wait_for_pid(d, "t") is not None, "the node processes are running")
    launcher.send_signal(signal.SIGSTOP)
    time.sleep(4)
    launcher.send_signal(signal.SIGCONT)
    stdout, stderr = launcher.communicate(timeout=60)
    p = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr)
    check(p.returncode == 0 and "no global quiescence" not in p.stderr, "exit 0, no timeout reported", p)
    check(read(os.path.join(out, "a", "seen.csv")) == SEEN_A and read(os.path.join(out, "t", "beats.csv")) not in (None, ""),
          "every node wrote its outputs", p)


def sanitized():
    """Whether BLOOM is an ASan build (it reserves terabytes of address space: no RLIMIT_AS)."""
    with open(BLOOM, "rb") as f:
        return b"__asan_init" in f.read()


def limit_memory():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))


def case_out_of_memory():
    if sanitized():
        print("skipped: sanitizer build")
        return
    prog = os.path.join(PROGRAMS, "memory_hog.bloom")
    out = os.path.join(TMP, "out")
    p = subprocess.run([BLOOM, "run", prog, "-D", out], capture_output=True, text=True, timeout=120, preexec_fn=limit_memory)
    check(p.returncode == 3, "bloom run: exit 3 when memory runs out", p)
    check("bloom: error: out of memory in tick 1; writing the outputs of the completed ticks\n" in p.stderr
          and "internal error" not in p.stderr, "it says so, naming the tick", p)
    check(read(os.path.join(out, "first.csv")) == "1\n", "the outputs of tick 0 are written", p)
    d, _ = deployment(PINGPONG + [("m", "memory_hog.bloom", None, None)])
    out = os.path.join(TMP, "out2")
    p = subprocess.run([BLOOM, "run", d, "-D", out], capture_output=True, text=True, timeout=120, preexec_fn=limit_memory)
    check(p.returncode == 3, "deployment: exit 3", p)
    check("bloom: runtime error on node `m`: out of memory in tick 1\n" in p.stderr, "the node's error names it", p)
    check(read(os.path.join(out, "m", "first.csv")) == "1\n", "its outputs of tick 0 are written", p)
    check(read(os.path.join(out, "a", "seen.csv")) == SEEN_A, "the other nodes are unaffected", p)


def case_fast_sender():
    # s sends 40,001 messages, one per tick, to r, which the test freezes for 3 s right away: the
    # queue to r fills, and s must wait instead of dropping. Every message arrives, exit 0.
    d, _ = deployment([("s", "fast_sender.bloom", {"peer": "r"}, None), ("r", "slow_receiver.bloom", None, None)])
    out = os.path.join(TMP, "out")
    launcher = subprocess.Popen([BLOOM, "run", d, "-D", out, "--timeout", "100"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    pid = wait_for_pid(d, "r")
    check(pid is not None, "node r's process is running")
    os.kill(pid, signal.SIGSTOP)
    time.sleep(3)
    os.kill(pid, signal.SIGCONT)
    stdout, stderr = launcher.communicate(timeout=120)
    p = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr)
    check(p.returncode == 0, "exit 0", p)
    seen = read(os.path.join(out, "r", "seen.csv")) or ""
    check(seen == "".join("%d\n" % n for n in sorted(range(40001), key=str)) or
          sorted(int(x) for x in seen.split()) == list(range(40001)), "r got all 40,001 messages", p)
    check("bloom: node `s`: 40002 ticks, 40001 messages sent, 0 received, 0 dropped, waited " in p.stderr,
          "s sent them all, waiting for r's queue to drain", p)
    check("bloom: node `r`: " in p.stderr and ", 0 messages sent, 40001 received, 0 dropped\n" in p.stderr, "r received them all", p)
    # The same in-process (threads over inproc://), without the freeze.
    out = os.path.join(TMP, "out2")
    p = bloom("run", d, "-D", out, "--in-process", "--timeout", "100")
    check(p.returncode == 0 and sorted(int(x) for x in (read(os.path.join(out, "r", "seen.csv")) or "").split()) == list(range(40001)),
          "in-process: every message arrives", p)


def case_endpoints():
    # Host names are resolved: a deployment on tcp://localhost:PORT runs.
    d, _ = deployment(PINGPONG, host="localhost")
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "-D", out)
    check_pingpong(p, out, "localhost")
    # inproc:// endpoints: refused for processes (naming the place), fine with --in-process.
    path = os.path.join(TMP, "inproc.toml")
    with open(path, "w") as f:
        f.write('insecure = true\n\n[node.a]\nprogram = "%s"\nendpoint = "inproc://a"\nparams = { peer = "b" }\nfacts = "%s"\n\n'
                '[node.b]\nprogram = "%s"\nendpoint = "inproc://b"\nparams = { peer = "a" }\n'
                % (os.path.join(PROGRAMS, "ping.bloom"), os.path.join(PROGRAMS, "facts", "a"), os.path.join(PROGRAMS, "ping.bloom")))
    p = bloom("run", path, "--timeout", "20")
    check(p.returncode == 2 and ("%s:5:12: error: node `a` has the endpoint `inproc://a`, which only threads of one process reach: "
                                 "use tcp:// or ipc://, or run the deployment with --in-process\n" % path) in p.stderr,
          "processes: inproc:// is refused before anything starts", p)
    out = os.path.join(TMP, "out2")
    p = bloom("run", path, "-D", out, "--in-process")
    check_pingpong(p, out, "in-process with inproc:// endpoints")
    p = bloom("node", os.path.join(PROGRAMS, "ping.bloom"), "--deployment", path, "--name", "b", timeout=20)
    check(p.returncode == 3 and "which only threads of one process reach" in p.stderr, "bloom node refuses it too", p)


def case_param_types():
    d, _ = deployment([("a", "ping.bloom", {"peer": 5, "rounds": "3"}, "a"), ("b", "ping.bloom", {"peer": "a"}, None)])
    p = bloom("run", d)
    ping = os.path.join(PROGRAMS, "ping.bloom")
    check(p.returncode == 2, "exit 2 (a bad deployment file)", p)
    check('%s:4:19: error: param `peer` of node `a` is addr in %s, but the deployment gives an integer (5): write it in quotes, "5"\n'
          % (d, ping) in p.stderr, "an integer for an addr param is refused, naming the place", p)
    check('%s:4:31: error: param `rounds` of node `a` is int in %s, but the deployment gives a string ("3")\n' % (d, ping) in p.stderr,
          "a string for an int param too", p)
    p = bloom("check", d)
    check(p.returncode != 0 and "param `peer` of node `a` is addr" in p.stderr, "bloom check D.toml says the same", p)
    # An lset param takes an array (docs/deploy.md): each node greets the peers it is given.
    d, _ = deployment([("a", "set_param.bloom", {"peers": ["b", "c"]}, None), ("b", "set_param.bloom", {"peers": ["a"]}, None),
                       ("c", "set_param.bloom", {"peers": []}, None)], "set.toml")
    out = os.path.join(TMP, "set_out")
    p = bloom("run", d, "-D", out, "--timeout", "30")
    check(p.returncode == 0, "a run with array params", p)
    for node, want in (("a", ["b"]), ("b", ["a"]), ("c", ["a"])):
        with open(os.path.join(out, node, "heard.csv")) as f:
            check(sorted(f.read().split()) == want, "%s heard %s" % (node, want), p)
    d, _ = deployment([("a", "set_param.bloom", {"peers": [1, 2]}, None), ("b", "set_param.bloom", {"peers": "a"}, None)], "set_bad.toml")
    p = bloom("run", d)
    check(p.returncode == 2 and "error: param `peers` of node `a` is lset<addr> in" in p.stderr
          and "but the deployment gives an array (1,2)" in p.stderr, "an array of ints for an lset<addr> param is refused", p)
    check("error: param `peers` of node `b` is lset<addr> in" in p.stderr and 'but the deployment gives a string ("a")' in p.stderr,
          "a string for an lset param too", p)


def case_facts_fifo():
    # A FIFO where a facts file should be: refused at once (it used to block the node forever).
    facts = os.path.join(TMP, "facts")
    os.makedirs(facts)
    os.mkfifo(os.path.join(facts, "start.facts"))
    d, _ = deployment([("a", "ping.bloom", {"peer": "b"}, None), ("b", "ping.bloom", {"peer": "a"}, None)])
    with open(d) as f:
        text = f.read()
    with open(d, "w") as f:
        f.write(text.replace('params = { peer = "b" }', 'params = { peer = "b" }\nfacts = "%s"' % facts, 1))
    p = bloom("run", d, "--timeout", "20")
    check(p.returncode == 3 and "start.facts: not a regular file (a FIFO): a facts file must be a regular file" in p.stderr
          and "no global quiescence" not in p.stderr, "the node says why and the run ends", p)


def keygen(name):
    """A key pair from `bloom keygen`: (public key, secret key file)."""
    p = bloom("keygen", name, "--dir", TMP)
    check(p.returncode == 0 and 'public_key = "' in p.stdout, "bloom keygen %s" % name, p)
    public = p.stdout.split('public_key = "', 1)[1].split('"', 1)[0]
    return public, os.path.join(TMP, name + ".secret")


def case_curve():
    # By default a run uses CURVE with keys made for it: plaintext bytes from outside never get
    # through the handshake (nothing arrives, nothing is dropped), and the run ends well.
    d, ep = deployment(PINGPONG + [("w", "ticker.bloom", {"limit": 30}, None)])
    sender = subprocess.Popen([SEND_RAW, ep["a"], "deadbeef", forged_header("mallory").hex()])
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "-D", out)
    sender.kill()
    sender.wait(timeout=30)
    check_pingpong(p, out, "ephemeral keys")
    check("bloom: node `a`: 4 ticks, 4 messages sent, 3 received, 0 dropped\n" in p.stderr, "plaintext never reaches the node", p)
    check(not any(k in p.stderr for k in ("mallory", "deadbeef")), "and is not logged", p)

    # Keys from `bloom keygen` in the deployment file. An insider holding a's key claims to be b:
    # refused (the header's sender is not the key's owner). An outsider with its own key claims
    # to be a: refused at the handshake. v gets neither, and the run ends well.
    keys = {n: keygen(n) for n in ("a", "b", "v", "t")}
    d, ep = deployment(PINGPONG + [("v", "bcast.bloom", None, None), ("t", "ticker.bloom", {"limit": 100}, None)], name="keyed.toml",
                       keys=keys)
    out = os.path.join(TMP, "out2")
    launcher = subprocess.Popen([BLOOM, "run", d, "-D", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(wait_for_pid(d, "v") is not None, "node v's process is running")
    time.sleep(0.5)
    forge = os.path.join(PROGRAMS, "forge_msg.bloom")
    outsider = keygen("x")

    def attack(name, as_node, key):
        path = os.path.join(TMP, name)
        with open(path, "w") as f:
            f.write('[node.%s]\nprogram = "%s"\nendpoint = "tcp://127.0.0.1:%d"\npublic_key = "%s"\nsecret_key_file = "%s"\n\n'
                    '[node.v]\nprogram = "%s"\nendpoint = "%s"\npublic_key = "%s"\n'
                    % (as_node, forge, free_ports(1)[0], key[0], key[1], os.path.join(PROGRAMS, "bcast.bloom"), ep["v"], keys["v"][0]))
        a = bloom("node", forge, "--deployment", path, "--name", as_node, timeout=30)
        check(a.returncode == 0, "the forger (%s) ran" % name, a)

    attack("insider.toml", "b", keys["a"])
    attack("outsider.toml", "a", outsider)
    stdout, stderr = launcher.communicate(timeout=60)
    p = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr)
    check(p.returncode == 0, "file keys: exit 0", p)
    check(read(os.path.join(out, "a", "seen.csv")) == SEEN_A, "the game ran over CURVE with the file's keys", p)
    check("bloom: warning: node `v` dropped a message that names `b` as its sender but came under the key of node `a`\n" in p.stderr,
          "the insider's forged sender name is refused", p)
    check("bloom: node `v`: 1 tick, 0 messages sent, 0 received, 1 dropped\n" in p.stderr,
          "only that one message reached v: the outsider's key was refused at the handshake", p)
    check(read(os.path.join(out, "v", "got.csv")) == "", "nothing forged was delivered", p)

    # bloom node without keys in a secure deployment: refused, saying what to do.
    d, _ = deployment(PINGPONG, name="nokeys.toml")
    p = bloom("node", os.path.join(PROGRAMS, "ping.bloom"), "--deployment", d, "--name", "a")
    check(p.returncode == 2 and "gives its nodes no keys" in p.stderr and "insecure = true" in p.stderr,
          "bloom node needs keys or insecure = true", p)


def case_failure_detector():
    """stdlib/failure_detector.bloom on three processes: `gone` halts at once and comes to be
    suspected; `alive` answers and is not suspected at the end; the deployment ends by itself."""
    d, _ = deployment([("watcher", "fd_watcher.bloom", None, None), ("alive", "fd_alive.bloom", None, None),
                       ("gone", "fd_gone.bloom", None, None)])
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "-D", out)
    check(p.returncode == 0, "exit 0: every node halted", p)
    check(read(os.path.join(out, "watcher", "gave_up.csv")) == "", "the watcher did not give up", p)
    check(read(os.path.join(out, "watcher", "suspected_at_end.csv")) == "gone\n", "only `gone` is suspected at the end", p)


def case_leader():
    """stdlib/leader.bloom on three processes: n1 (the least rank) halts at once; n2 and n3 both
    decide on n2, then halt."""
    d, _ = deployment([("n1", "le_stopped.bloom", None, None), ("n2", "le_member.bloom", None, None),
                       ("n3", "le_member.bloom", None, None)])
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "-D", out)
    check(p.returncode == 0, "exit 0: every node halted", p)
    for node in ("n2", "n3"):
        check(read(os.path.join(out, node, "gave_up.csv")) == "", node + " did not give up", p)
        check(read(os.path.join(out, node, "leader_at_decision.csv")) == "n2\n", node + " decided on n2", p)


def case_twopc():
    """stdlib/twopc.bloom on four processes (the programs of tests/sim/twopc): p2 votes no on
    transaction 2, so 1, 3 and 4 commit and 2 aborts, everywhere; nobody is left in doubt, and
    the deployment ends by itself once every decision is acknowledged."""
    sim = os.path.join(HERE, "..", "sim", "twopc")
    d, _ = deployment([("c", os.path.join(sim, "coordinator.bloom"), None, os.path.join(sim, "inputs", "c")),
                       ("p1", os.path.join(sim, "participant.bloom"), None, None),
                       ("p2", os.path.join(sim, "participant.bloom"), {"vote_no": 2}, None),
                       ("p3", os.path.join(sim, "participant.bloom"), None, None)])
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "-D", out)
    check(p.returncode == 0, "exit 0: the deployment ended by itself", p)
    decisions = "1\ttrue\n2\tfalse\n3\ttrue\n4\ttrue\n"
    check(read(os.path.join(out, "c", "outcome.csv")) == decisions, "the coordinator decided 1, 3, 4 commit, 2 abort", p)
    for node in ("p1", "p2", "p3"):
        check(read(os.path.join(out, node, "learned.csv")) == decisions, node + " learned every decision", p)


def case_paxos():
    """stdlib/paxos.bloom on three processes (the programs of tests/sim/paxos): a proposes x and
    b proposes y at once; all three learn the same one, and the deployment ends by itself."""
    member = os.path.join(HERE, "..", "sim", "paxos", "member.bloom")
    d, _ = deployment([("a", member, {"value": "x"}, None), ("b", member, {"value": "y"}, None),
                       ("c", member, None, None)])
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "-D", out)
    check(p.returncode == 0, "exit 0: the deployment ended by itself", p)
    learned = [read(os.path.join(out, n, "learned.csv")) for n in ("a", "b", "c")]
    check(learned[0] in ("x\n", "y\n") and learned.count(learned[0]) == 3,
          "a, b and c learned one and the same proposed value: %r" % learned, p)


def case_causal():
    """stdlib/causal.bloom on three processes (the programs of tests/sim/causal): 9 messages,
    some broadcast only after others are delivered. Every member delivers all of them, each once,
    and each after every message its sender had delivered (up to the tick of the broadcast) or
    broadcast before it; the deployment ends by itself once everything is acknowledged."""
    member = os.path.join(HERE, "..", "sim", "causal", "member.bloom")
    nodes = ("a", "b", "c")
    d, _ = deployment([(n, member, None, None) for n in nodes])
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "-D", out)
    check(p.returncode == 0, "exit 0: the deployment ended by itself", p)
    messages = {("a", 1), ("a", 2), ("a", 3), ("a", 4), ("b", 21), ("b", 22), ("c", 31), ("c", 32), ("c", 33)}
    got, sent = {}, {}
    for n in nodes:
        rows = [l.split("\t") for l in (read(os.path.join(out, n, "delivered.csv")) or "").splitlines()]
        keys = [(s, int(i)) for s, i, _, _ in rows]
        check(sorted(keys) == sorted(messages), n + " delivered each of the 9 messages once: %r" % rows, p)
        got[n] = {(s, int(i)): int(at) for s, i, _, at in rows}
        sent[n] = {int(i): int(at) for i, at in (l.split("\t") for l in read(os.path.join(out, n, "broadcast.csv")).splitlines())}
    bad = []
    for s in nodes:
        for i, a in sent[s].items():
            deps = {m for m, b in got[s].items() if b <= a}
            deps |= {(s, j) for j, b in sent[s].items() if b < a or (b == a and j < i)}
            for n in nodes:
                bad += ["%s delivered %s:%d at %d, not after %s:%d (%d)" % (n, s, i, got[n][(s, i)], t, j, got[n][(t, j)])
                        for t, j in deps if got[n][(t, j)] >= got[n][(s, i)]]
    check(not bad, "every member delivered every message after those it causally follows: %r" % bad, p)
    check(sent["b"][21] >= got["b"][("a", 1)] and sent["c"][33] >= got["c"][("b", 22)],
          "the chains are real: b broadcast 21 after delivering a:1, c 33 after b:22", p)


def case_phi_accrual():
    """stdlib/phi_accrual.bloom on four processes (the programs of tests/sim/phi_accrual): n1, n2
    and n3 watch each other and `gone`, which halts at once; each comes to suspect `gone` and,
    when it decides, no live member; every node halts."""
    sim = os.path.join(HERE, "..", "sim", "phi_accrual")
    member = os.path.join(sim, "member.bloom")
    d, _ = deployment([("n1", member, None, None), ("n2", member, None, None), ("n3", member, None, None),
                       ("gone", os.path.join(sim, "gone.bloom"), None, None)])
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "-D", out)
    check(p.returncode == 0, "exit 0: every node halted", p)
    for node in ("n1", "n2", "n3"):
        check(read(os.path.join(out, node, "gave_up.csv")) == "", node + " did not give up", p)
        check(read(os.path.join(out, node, "suspected_at_decision.csv")) == "gone\n",
              node + " suspected `gone` and no live member when it decided", p)


def case_gossip_membership():
    """stdlib/gossip_membership.bloom on five processes (the programs of
    tests/sim/gossip_membership): each is seeded with n1 only; `gone` gossips for 3 s and stops.
    n1..n4 each come to list the four live members as alive and `gone` as failed; every node
    halts."""
    sim = os.path.join(HERE, "..", "sim", "gossip_membership")
    member = os.path.join(sim, "member.bloom")
    d, _ = deployment([("n%d" % i, member, None, None) for i in range(1, 5)] +
                      [("gone", os.path.join(sim, "gone.bloom"), None, None)])
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "-D", out)
    check(p.returncode == 0, "exit 0: every node halted", p)
    for node in ("n1", "n2", "n3", "n4"):
        check(read(os.path.join(out, node, "gave_up.csv")) == "", node + " did not give up", p)
        check(read(os.path.join(out, node, "alive_at_decision.csv")) == "n1\nn2\nn3\nn4\n",
              node + " listed n1..n4 as alive when it decided", p)
        check(read(os.path.join(out, node, "failed_at_decision.csv")) == "gone\n",
              node + " listed `gone` (only) as failed when it decided", p)


CRDT_SIM = os.path.join(HERE, "..", "sim", "crdt")
# "Within a few seconds": a run takes under 1 s here; the sanitizer tree (BLOOM_TEST_QUICK) is slower.
CRDT_LIMIT_S = 20 if os.environ.get("BLOOM_TEST_QUICK") else 10


def crdt_run(deploy, out, timeout_s):
    """bloom run of a CRDT deployment with a --timeout; returns (process, seconds it took)."""
    start = time.monotonic()
    p = bloom("run", deploy, "-D", out, "--timeout", str(timeout_s), timeout=timeout_s + 60)
    return p, time.monotonic() - start


def case_crdt_gcounter():
    """stdlib/crdt/gcounter.bloom on three processes (the programs of tests/sim/crdt/gcounter):
    the resends are one-shot delays re-armed only while a peer has not acknowledged our state,
    so once all three hold every entry nothing is pending and the deployment ends by itself,
    within a few seconds, every replica with the counter 21. A mutant antientropy.bloom that
    re-arms its resend whether or not the peer is pending never ends: caught by --timeout."""
    node = os.path.join(CRDT_SIM, "gcounter", "node.bloom")
    nodes = [(n, node, None, os.path.join(CRDT_SIM, "gcounter", "inputs", n)) for n in ("r1", "r2", "r3")]
    d, _ = deployment(nodes)
    out = os.path.join(TMP, "out")
    p, took = crdt_run(d, out, 30)
    check(p.returncode == 0, "exit 0: the deployment ended by itself (%.1f s)" % took, p)
    check(took < CRDT_LIMIT_S, "within %d s (%.1f s; the resends start at 100 ms)" % (CRDT_LIMIT_S, took), p)
    check("halted" not in p.stderr, "no node halted: the nodes went idle", p)
    for n in ("r1", "r2", "r3"):
        check(read(os.path.join(out, n, "total.csv")) == "21\n", n + " ended with the counter 21", p)
    # The mutant: a copy of stdlib/crdt and of the test program beside it.
    root = os.path.join(TMP, "mutant")
    shutil.copytree(os.path.join(HERE, "..", "..", "stdlib", "crdt"), os.path.join(root, "stdlib", "crdt"))
    shutil.copytree(os.path.join(CRDT_SIM, "gcounter"), os.path.join(root, "tests", "sim", "crdt", "gcounter"))
    ae = os.path.join(root, "stdlib", "crdt", "antientropy.bloom")
    src = read(ae)
    rearm = "retry(p, least(w * 2, max_retry_ms)) <~ retry(p, w), pending(p);"
    check(rearm in src, "the mutant's rule is in antientropy.bloom")
    with open(ae, "w") as f:
        f.write(src.replace(rearm, "retry(p, least(w * 2, max_retry_ms)) <~ retry(p, w);"))
    node = os.path.join(root, "tests", "sim", "crdt", "gcounter", "node.bloom")
    d, _ = deployment([(n, node, None, os.path.join(CRDT_SIM, "gcounter", "inputs", n)) for n in ("r1", "r2", "r3")],
                      name="mutant.toml")
    p, took = crdt_run(d, os.path.join(TMP, "out_mutant"), 4)
    check(p.returncode == 3 and "no global quiescence after 4 s" in p.stderr,
          "the mutant that always re-arms its resend does not end (timeout)", p)


def case_crdt_modules():
    """The other seven modules of stdlib/crdt on three processes each (the programs and inputs of
    tests/sim/crdt/MODULE): every deployment ends by itself, no node halted, and every replica
    ends with the outputs the simulation test expects of it (tests/sim/crdt/MODULE/expected)."""
    for module in ("pncounter", "gset", "twopset", "orset", "lwwregister", "mvregister", "lwwmap"):
        here = os.path.join(CRDT_SIM, module)
        nodes = [(n, os.path.join(here, "node.bloom"), None, os.path.join(here, "inputs", n)) for n in ("r1", "r2", "r3")]
        d, _ = deployment(nodes, name=module + ".toml")
        out = os.path.join(TMP, module)
        p, took = crdt_run(d, out, 30)
        check(p.returncode == 0 and took < CRDT_LIMIT_S and "halted" not in p.stderr,
              "%s: the deployment ended by itself within %d s (%.1f s), no node halted" % (module, CRDT_LIMIT_S, took), p)
        for n in ("r1", "r2", "r3"):
            expected = os.path.join(here, "expected", n)
            files = sorted(os.listdir(expected))
            same = all(read(os.path.join(out, n, f)) == read(os.path.join(expected, f)) for f in files)
            check(files and same, "%s: %s ended with the expected %s" % (module, n, ", ".join(files)), p)


def case_crdt_cart():
    """examples/crdt_cart on three processes: each device shows its cart once the others held
    exactly its cart, and the deployment ends by itself within a few seconds (no halt())."""
    ex = os.path.join(HERE, "..", "..", "examples", "crdt_cart")
    dev = os.path.join(ex, "device.bloom")
    nodes = [(n, dev, None, os.path.join(ex, "inputs", n)) for n in ("phone", "laptop", "tablet")]
    d, _ = deployment(nodes)
    out = os.path.join(TMP, "out")
    p, took = crdt_run(d, out, 30)
    check(p.returncode == 0, "exit 0: the deployment ended by itself (%.1f s)" % took, p)
    check(took < CRDT_LIMIT_S, "within %d s (%.1f s)" % (CRDT_LIMIT_S, took), p)
    check("halted" not in p.stderr, "no node halted: the nodes went idle", p)
    for n in ("phone", "laptop", "tablet"):
        check(read(os.path.join(out, n, "order.csv")) == "apple\t3\nbread\t1\nmilk\t2\n",
              n + " ordered apple 3, bread 1, milk 2 (and nothing else)", p)


def case_replog():
    """stdlib/replog.bloom on three processes (the programs of tests/sim/replog): a, b and c
    submit ten commands while the leader hint moves from a to b; all three end with the same
    log holding each command, and the deployment ends by itself."""
    member = os.path.join(HERE, "..", "sim", "replog", "member.bloom")
    d, _ = deployment([("a", member, {"cmds": ["x1", "x2", "x3", "x4"]}, None),
                       ("b", member, {"cmds": ["z1", "z2"]}, None),
                       ("c", member, {"cmds": ["y1", "y2", "y3", "y4"]}, None)])
    out = os.path.join(TMP, "out")
    p = bloom("run", d, "-D", out)
    check(p.returncode == 0, "exit 0: the deployment ended by itself", p)
    logs = [read(os.path.join(out, n, "log.csv")) for n in ("a", "b", "c")]
    check(logs[0] is not None and logs.count(logs[0]) == 3, "a, b and c have the same log: %r" % logs, p)
    rows = [line.split("\t") for line in logs[0].splitlines()]
    slots = sorted(int(s) for s, _ in rows)
    cmds = sorted(c for _, c in rows if c != "")
    check(slots == list(range(len(slots))), "the log has no gaps: %r" % slots, p)
    check(sorted(set(cmds)) == ["x1", "x2", "x3", "x4", "y1", "y2", "y3", "y4", "z1", "z2"],
          "every command is in it, and nothing else: %r" % cmds, p)


def case_stdlib_delivery():
    """stdlib/reliable.bloom, fifo.bloom and lamport.bloom on real processes (the programs of
    tests/sim/reliable, fifo and lamport): everything sent arrives, and each deployment ends by
    itself (their resends are delays, so nothing is pending once all is acknowledged)."""
    sim = os.path.join(HERE, "..", "sim")
    for module, seq in (("reliable", "id"), ("fifo", "seq")):
        d = os.path.join(sim, module)
        facts = os.path.join(d, "facts") if module == "reliable" else os.path.join(d, "inputs", "sender")
        deploy, _ = deployment([("sender", os.path.join(d, "sender.bloom"), None, facts),
                                ("receiver", os.path.join(d, "receiver.bloom"), None, None)], name=module + ".toml")
        out = os.path.join(TMP, module)
        p = bloom("run", deploy, "-D", out)
        check(p.returncode == 0, module + ": exit 0, the deployment ended by itself", p)
        sent = sorted(l.split("\t") for l in read(os.path.join(facts, "outbox.facts")).splitlines())
        got = sorted([i, m] for s, i, m in (l.split("\t") for l in (read(os.path.join(out, "receiver", "got.csv")) or "").splitlines()))
        check(got == sent, "%s: the receiver got each of the %d messages (%s, payload)" % (module, len(sent), seq), p)
        if module == "reliable":
            check(read(os.path.join(out, "sender", "acked_all.csv")) == "\n", "reliable: the sender saw every message acknowledged", p)
    node = os.path.join(sim, "lamport", "node.bloom")
    deploy, _ = deployment([("n1", node, {"next": "n2", "first": True}, None), ("n2", node, {"next": "n3"}, None),
                            ("n3", node, {"next": "n1"}, None)], name="lamport.toml")
    out = os.path.join(TMP, "lamport")
    p = bloom("run", deploy, "-D", out)
    check(p.returncode == 0, "lamport: exit 0, the deployment ended by itself", p)
    tokens, late = set(), []
    for n in ("n1", "n2", "n3"):
        for line in (read(os.path.join(out, n, "received.csv")) or "").splitlines():
            src, payload, ts, at = line.split("\t")
            tokens.add(payload)
            if int(at) <= int(ts):
                late.append((n, line))
    check(tokens == {"hello"} | {str(i) for i in range(12)}, "lamport: the token went round to 11 and every hello arrived: %r" % sorted(tokens), p)
    check(not late, "lamport: every message is received at a clock above its stamp: %r" % late, p)


def case_sharded_kvs():
    """examples/sharded_kvs with a real crash: b1, shard 1's first leader, runs without its
    scripted halt and is killed (SIGKILL) one second after it started. b2 and b3 must suspect
    it, elect b2, and answer the clients' later requests: every client answer and every live
    replica's final state are those of examples/sharded_kvs/expected, and the others end by
    themselves (the launcher then exits 3 for the killed node)."""
    ex = os.path.join(HERE, "..", "..", "examples", "sharded_kvs")
    nodes = [(n, os.path.join(ex, "replica.bloom"), None, None) for n in ("a1", "a2", "a3", "b1", "b2", "b3")]
    nodes += [(c, os.path.join(ex, "client.bloom"), None, os.path.join(ex, "inputs", c)) for c in ("c1", "c2")]
    d, _ = deployment(nodes)
    out = os.path.join(TMP, "out")
    launcher = subprocess.Popen([BLOOM, "run", d, "-D", out, "--timeout", "60"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    pid = wait_for_pid(d, "b1")
    check(pid is not None, "b1's process is running")
    time.sleep(1.0)
    os.kill(pid, signal.SIGKILL)
    stdout, stderr = launcher.communicate(timeout=90)
    p = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr)
    check(p.returncode == 3 and "node `b1` exited with signal 9 (Killed)" in p.stderr,
          "the launcher exits 3, naming the killed b1", p)
    for node, name in [("c1", "answer"), ("c2", "answer"), ("c1", "gave_up"), ("c2", "gave_up"),
                       ("a1", "final_kv"), ("a2", "final_kv"), ("a3", "final_kv"), ("b2", "final_kv"),
                       ("b3", "final_kv")]:
        got = read(os.path.join(out, node, name + ".csv"))
        want = read(os.path.join(ex, "expected", node, name + ".csv"))
        check(got is not None and sorted(got.splitlines()) == sorted(want.splitlines()),
              "%s/%s.csv is as expected: %r" % (node, name, got), p)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}
if CASE not in CASES:
    fail("unknown case " + CASE)
CASES[CASE]()
print("PASS:", CASE)
shutil.rmtree(TMP, ignore_errors=True)  # kept only when the case fails (fail)
