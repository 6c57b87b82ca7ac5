#!/usr/bin/env python3
"""Multi-node runs: run_dist.py BLOOM SEND_RAW CASE.

Each case writes a deployment file with free 127.0.0.1 ports into a temporary directory, runs
`bloom run` (real processes, real ZeroMQ sockets) or `bloom node`, and checks the exit status,
the outputs and the messages. Prints what it checked; exits non-zero on the first failure."""
import os
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
    if proc is not None:
        print("--- exit", proc.returncode, "\n--- stdout\n" + proc.stdout + "--- stderr\n" + proc.stderr)
    sys.exit(1)


def check(cond, msg, proc=None):
    if not cond:
        fail(msg, proc)
    print("ok:", msg)


def deployment(nodes, name="deploy.toml"):
    """nodes: list of (name, program, params dict, facts dir or None). Returns (path, endpoints)."""
    ports = free_ports(len(nodes))
    lines, endpoints = [], {}
    for (node, program, params, facts), port in zip(nodes, ports):
        endpoints[node] = "tcp://127.0.0.1:%d" % port
        lines.append("[node.%s]" % node)
        lines.append('program = "%s"' % os.path.join(PROGRAMS, program))
        lines.append('endpoint = "%s"' % endpoints[node])
        if params:
            def val(v):
                return ("true" if v else "false") if isinstance(v, bool) else ('"%s"' % v if isinstance(v, str) else str(v))
            lines.append("params = { %s }" % ", ".join("%s = %s" % (k, val(v)) for k, v in params.items()))
        if facts:
            lines.append('facts = "%s"' % os.path.join(PROGRAMS, "facts", facts))
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
    d, ep = deployment(PINGPONG + [("w", "ticker.bloom", {"limit": 60}, None)])
    out = os.path.join(TMP, "out")
    # Not a bloom message at all, and a bloom header from a sender that is not in the deployment.
    # The sender connects first: ZeroMQ delivers both as soon as node a listens, while the
    # ticker node w keeps the run going for 3 s.
    forged = b"BLOM" + (1).to_bytes(2, "little") + b"\0\0" + b"\0" * 16 + (7).to_bytes(2, "little") + b"mallory"
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
    d, _ = deployment([("u", "unknown_dest.bloom", None, None), ("v", "bcast.bloom", None, None)])
    p = bloom("run", d)
    check(p.returncode == 3, "exit 3", p)
    check("bloom: runtime error on node `u`: " in p.stderr and
          'unknown destination addr "nobody" for channel `hello`: no node of the deployment is called "nobody"' in p.stderr,
          "the runtime error names the node and the addr", p)


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
    d, _ = deployment(PINGPONG)
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
    for _ in range(200):  # the launcher handles signals once it starts nodes
        if node_pid(d, "t"):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    launcher.send_signal(signal.SIGINT)
    stdout, stderr = launcher.communicate(timeout=30)
    p = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr)
    check(p.returncode == 3, "SIGINT to the launcher ends the run (exit 3)", p)
    check("bloom: interrupted: asking every node to write its outputs and stop\n" in p.stderr, "it says so", p)
    check(read(os.path.join(out, "t", "beats.csv")) not in (None, ""), "the node wrote its outputs", p)
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
    d, _ = deployment(PINGPONG)
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
    launcher = subprocess.Popen([BLOOM, "run", d, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
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


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}
if CASE not in CASES:
    fail("unknown case " + CASE)
CASES[CASE]()
print("PASS:", CASE)
