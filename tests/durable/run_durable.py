#!/usr/bin/env python3
"""Durable tables with real processes (docs/deploy.md, durability and restarts).

run_durable.py BLOOM CASE

  kill9_run   `bloom run counter.bloom --data-dir D` is killed with SIGKILL several times and
              rerun with the same D: every value printed before a kill is remembered (the next
              run prints bigger ones), a damaged log is refused with a message naming it, and a
              data directory of another program is refused.
  sim_crash   `bloom sim` with crash faults: acknowledged writes to a durable table survive.
  launcher_restart  `restart = true` in a deployment: a server killed with SIGKILL mid-run is
              restarted, recovers and rejoins; no acknowledged write is lost.
  outputs_kill9  outputs written as ticks complete: kill -9, rerun, clean stop.
  jepsen_kvs  examples/kvs with durable replicas, replicas and clients killed with SIGKILL again
              and again (restart = true), checked by a history checker.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from free_ports import free_ports  # noqa: E402


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run_until(bloom, args, lines_wanted, timeout=20):
    """Starts bloom, reads stdout lines until `lines_wanted` arrived, then kills it with SIGKILL."""
    p = subprocess.Popen([bloom] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.time() + timeout
    while len(lines) < lines_wanted and time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
    p.send_signal(signal.SIGKILL)
    p.wait()
    err = p.stderr.read()
    if len(lines) < lines_wanted:
        fail(f"bloom {' '.join(args)} printed {lines} then stopped; stderr:\n{err}")
    return [int(x) for x in lines], err


def kill9_run(bloom):
    prog = os.path.join(HERE, "counter.bloom")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        last = -1
        for round_ in range(5):
            values, err = run_until(bloom, ["run", prog, "--data-dir", data, "-q"], 4 + round_)
            if values != sorted(values) or len(set(values)) != len(values):
                fail(f"round {round_}: values not increasing: {values}")
            # The value printed last before a kill was synced with its successor: the next run
            # starts beyond it (at most one tick was completed but not printed).
            if values[0] <= last or values[0] > last + 2:
                fail(f"round {round_}: after {last} the rerun printed {values} (stderr: {err})")
            last = values[-1]
        print(f"ok: 5 kills, counter at {last}")

        # A byte flipped in the middle of the log: refused, naming the file, nothing changed.
        wal = os.path.join(data, "wal")
        values, _ = run_until(bloom, ["run", prog, "--data-dir", data, "-q"], 6)
        with open(wal, "r+b") as f:
            data_bytes = bytearray(f.read())
            mid = len(data_bytes) // 2
            data_bytes[mid] ^= 0x55
            f.seek(0)
            f.write(data_bytes)
        before = open(wal, "rb").read()
        r = subprocess.run([bloom, "run", prog, "--data-dir", data, "-q", "--max-ticks", "1"], capture_output=True, text=True)
        if r.returncode != 3 or wal not in r.stderr or "byte" not in r.stderr:
            fail(f"a corrupt log: exit {r.returncode}, stderr:\n{r.stderr}")
        if open(wal, "rb").read() != before:
            fail("the refused log was changed")
        print("ok: corrupt log refused: " + r.stderr.strip().splitlines()[0])

        # A torn last record: cut off with a warning, and the run goes on (from a fresh directory:
        # the corrupt log above is beyond repair).
        os.remove(wal)
        snap = os.path.join(data, "snapshot")
        if os.path.exists(snap):
            os.remove(snap)
        values, _ = run_until(bloom, ["run", prog, "--data-dir", data, "-q"], 5)
        with open(wal, "ab") as f:
            f.write(b"\x10\x00\x00")  # the start of a record a crash interrupted
        p = subprocess.Popen([bloom, "run", prog, "--data-dir", data], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = p.stdout.readline().strip()
        p.send_signal(signal.SIGKILL)
        p.wait()
        err = p.stderr.read()
        if "cut off" not in err or int(first) <= values[-1]:
            fail(f"a torn record: first value {first} after {values[-1]}, stderr:\n{err}")
        print("ok: torn record cut off")

        # Another program's data directory.
        other = os.path.join(tmp, "other.bloom")
        with open(other, "w") as f:
            f.write("table counter(k: int, n: string) key(k) durable;\n")
        r = subprocess.run([bloom, "run", other, "--data-dir", data], capture_output=True, text=True)
        if r.returncode != 3 or "other durable collections" not in r.stderr:
            fail(f"another program's data: exit {r.returncode}, stderr:\n{r.stderr}")
        print("ok: another program's data refused")

        # An unusable data directory.
        blocker = os.path.join(tmp, "file")
        open(blocker, "w").close()
        r = subprocess.run([bloom, "run", prog, "--data-dir", os.path.join(blocker, "d")], capture_output=True, text=True)
        if r.returncode != 3 or blocker not in r.stderr:
            fail(f"an unusable data directory: exit {r.returncode}, stderr:\n{r.stderr}")
        print("ok: unusable data directory refused")


def sim_crash(bloom):
    """bloom sim with crash faults: acknowledged writes survive the server's crashes (its table is
    durable), and the same deployment with the table not durable loses some (the test can fail)."""
    sim = os.path.join(HERE, "sim")
    with tempfile.TemporaryDirectory() as tmp:
        args = ["--runs", "100", "--faults", "crash=3,rate=0.3", "--invariant", os.path.join(sim, "invariant.bloom"), "-q",
                "--no-minimize", "--trace", os.path.join(tmp, "trace.json")]
        r = subprocess.run([bloom, "sim", os.path.join(sim, "deploy.toml")] + args, capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"durable server: exit {r.returncode}\n{r.stdout}{r.stderr}")
        print("ok: 100 runs with crashes, no acknowledged write lost")
        # The same with the table not durable: a copy of the deployment in tmp.
        for f in os.listdir(sim):
            text = open(os.path.join(sim, f)).read()
            if f == "server.bloom":
                text = text.replace(" durable;", ";")
            open(os.path.join(tmp, f), "w").write(text)
        r = subprocess.run([bloom, "sim", os.path.join(tmp, "deploy.toml")] + args, capture_output=True, text=True)
        if r.returncode != 5 or "was acknowledged but is not stored" not in r.stderr:
            fail(f"volatile server: expected a violation (exit 5), got exit {r.returncode}\n{r.stdout}{r.stderr}")
        print("ok: without `durable` a write is lost, as expected")


def pids_of(deployment, node):
    """The `bloom node` processes of `node` in this test's own deployment file (by its unique path)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            args = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in args]
        if "node" in args and deployment in args and "--name" in args and args[args.index("--name") + 1] == node:
            pids.append(int(d))
    return pids


def outputs_kill9(bloom):
    """Outputs as ticks complete: `bloom run -D OUT --data-dir DATA` killed with SIGKILL keeps
    every completed tick's output rows in OUT; a rerun with the same data directory carries the
    file on (nothing written twice), and a run that stops cleanly leaves it sorted."""
    prog = os.path.join(HERE, "seen.bloom")
    with tempfile.TemporaryDirectory() as tmp:
        data, out = os.path.join(tmp, "data"), os.path.join(tmp, "out")
        csv = os.path.join(out, "seen.csv")
        printed = []
        for round_ in range(3):
            values, err = run_until(bloom, ["run", prog, "--data-dir", data, "-D", out, "-q"], 5)
            printed += values
            rows = [int(x) for x in open(csv).read().split()]
            # A value is printed in the tick that outputs it: every printed value is in the file.
            if not set(printed) <= set(rows):
                fail(f"round {round_}: printed {sorted(set(printed) - set(rows))[:10]} but the output file lacks them: {rows}")
            if len(rows) != len(set(rows)):
                fail(f"round {round_}: rows written twice: {rows}")
        p = subprocess.run([bloom, "run", prog, "--data-dir", data, "-D", out, "-q", "--max-ticks", "3"], capture_output=True,
                           text=True)
        if p.returncode != 0:
            fail(f"the clean run failed: {p.stderr}")
        rows = [int(x) for x in open(csv).read().split()]
        if rows != list(range(rows[-1] + 1)):
            fail(f"after a clean stop the file is not 0..{rows[-1]} in order: {rows}")
        # Without a data directory a run writes its outputs once, at the end: a fresh rerun starts over.
        p = subprocess.run([bloom, "run", prog, "-D", out, "-q", "--max-ticks", "3"], capture_output=True, text=True)
        fresh = [int(x) for x in open(csv).read().split()]
        if p.returncode != 0 or fresh != list(range(len(fresh))) or not 0 < len(fresh) <= 3:
            fail(f"a run without --data-dir: exit {p.returncode}, {fresh}, {p.stderr}")
        print(f"ok: 3 kills, {len(rows)} rows carried on, sorted at the end")


def launcher_restart(bloom):
    """`restart = true`: the server (durable table) is killed with SIGKILL three times during the
    run; the launcher restarts it, it recovers and rejoins, and the run ends well (exit 0). History
    check: every write the client saw acknowledged is in the server's table at the end, and the
    table holds nothing that was never written."""
    src = os.path.join(HERE, "restart")
    writes = 200
    with tempfile.TemporaryDirectory() as tmp:
        ports = free_ports(2)
        dep = os.path.join(tmp, "deploy.toml")
        with open(dep, "w") as f:
            f.write(f"""insecure = true
[node.client]
program  = "{os.path.join(src, 'client.bloom')}"
endpoint = "tcp://127.0.0.1:{ports[0]}"
params   = {{ writes = {writes} }}

[node.server]
program  = "{os.path.join(src, 'server.bloom')}"
endpoint = "tcp://127.0.0.1:{ports[1]}"
data_dir = "data/server"
restart  = true
""")
        out = os.path.join(tmp, "out")
        p = subprocess.Popen([bloom, "run", dep, "-D", out, "--timeout", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        acked_lines, kills = 0, 0
        kill_at = [30, 80, 130]
        for line in p.stdout:
            if line.startswith("[client] acked"):
                acked_lines += 1
            if kills < len(kill_at) and acked_lines >= kill_at[kills]:
                pids = pids_of(dep, "server")
                if len(pids) != 1:
                    fail(f"expected one server process, found {pids}")
                os.kill(pids[0], signal.SIGKILL)
                kills += 1
        rc = p.wait()
        err = p.stderr.read()
        if rc != 0:
            fail(f"exit {rc} after {kills} kills, stderr:\n{err}")
        if kills != 3 or err.count("restarting it (restart = true)") != 3 or "was restarted 3 times" not in err:
            fail(f"{kills} kills; stderr:\n{err}")
        if not os.path.isdir(os.path.join(tmp, "data", "server")):
            fail("no data directory data/server next to the deployment file")
        acked = {int(x) for x in open(os.path.join(out, "client", "acks.csv")).read().split()}
        have = {int(x) for x in open(os.path.join(out, "server", "have.csv")).read().split()}
        if acked != set(range(writes)):
            fail(f"the client halted with {len(acked)} of {writes} writes acknowledged")
        if not acked <= have:
            fail(f"acknowledged but lost: {sorted(acked - have)[:20]}")
        if not have <= set(range(writes)):
            fail(f"stored but never written: {sorted(have - set(range(writes)))[:20]}")
        # Outputs are written as ticks complete and carried on by the restarted process: every
        # put an earlier process acknowledged is in `got`, once, and the file ends sorted.
        got_lines = open(os.path.join(out, "server", "got.csv")).read().split()
        got = [int(x) for x in got_lines]
        if not acked <= set(got):
            fail(f"acknowledged but missing from the server's output got.csv: {sorted(acked - set(got))[:20]}")
        if got != sorted(set(got)):
            fail(f"got.csv is not sorted and without duplicates: {got[:40]}")
        print(f"ok: 3 kills, {len(acked)} writes acknowledged, none lost, none missing from the outputs")
        if os.environ.get("VERBOSE"):
            print(err)


def jepsen_kvs(bloom):
    """examples/kvs with durable replica state (its `latest` and `data` tables made durable) under
    repeated SIGKILL of replicas and clients, all with `restart = true`. Each client runs a long
    generated script of puts and gets over a few keys (every value written once, so a value names
    its write). History checks: every get returns a value some put wrote ("" only for a key the
    client had not yet written); a get sees the client's own completed puts to its key or newer
    (versions are step * 100 + cid); and no acknowledged write is lost: at the end, for every put
    a client completed (a write quorum of 2 acknowledged it), at least 2 of the 3 replicas hold
    that key at that version or newer. Clients restart from step 1 (they are not durable): their
    history is that of their last start."""
    kvs = os.path.join(HERE, "..", "..", "examples", "kvs")
    steps, keys = 4000, ["a", "b", "c", "d"]
    with tempfile.TemporaryDirectory() as tmp:
        replica = open(os.path.join(kvs, "replica.bloom")).read()
        for decl in ["table  latest(key: string, version: lmax<int>) key(key);", "table  data(key: string, version: int, val: string);"]:
            if decl not in replica:
                fail(f"examples/kvs/replica.bloom no longer declares `{decl}`")
            replica = replica.replace(decl, decl[:-1] + " durable;")
        replica += "\noutput holds(key: string, version: int);\nholds(k, t) <= latest(k, m), t = m.value();\n"
        open(os.path.join(tmp, "replica.bloom"), "w").write(replica)
        scripts = {}
        for cid in (1, 2):
            d = os.path.join(tmp, "inputs", f"c{cid}")
            os.makedirs(d)
            rows = []
            for n in range(1, steps + 1):
                k = keys[(n * 7 + cid) % len(keys)]
                rows.append((n, "put", k, f"c{cid}s{n}") if n % 3 != 0 else (n, "get", k, ""))
            scripts[cid] = rows
            with open(os.path.join(d, "step.facts"), "w") as f:
                for r in rows:
                    f.write("\t".join(str(x) for x in r) + "\n")
        ports = free_ports(5)
        dep = os.path.join(tmp, "deploy.toml")
        with open(dep, "w") as f:
            f.write("insecure = true\n")
            for i, r in enumerate(["r1", "r2", "r3"]):
                f.write(f'[node.{r}]\nprogram = "replica.bloom"\nendpoint = "tcp://127.0.0.1:{ports[i]}"\n'
                        f'data_dir = "data/{r}"\nrestart = true\n')
            for cid in (1, 2):
                f.write(f'[node.c{cid}]\nprogram = "{os.path.join(kvs, "client.bloom")}"\n'
                        f'endpoint = "tcp://127.0.0.1:{ports[2 + cid]}"\nparams = {{ cid = {cid} }}\n'
                        f'facts = "inputs/c{cid}"\nrestart = true\n')
        out = os.path.join(tmp, "out")
        p = subprocess.Popen([bloom, "run", dep, "-D", out, "--timeout", "90"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # One node at a time, each after the previous one is back: a quorum of replicas stays up.
        victims = ["r1", "c1", "r2", "r3", "c2", "r1", "r2"]
        kills = 0
        # The schedule starts once every node's process is up (a slow start, as under ASan, must
        # not use up the run before the first kill).
        deadline = time.time() + 30
        while p.poll() is None and time.time() < deadline and any(len(pids_of(dep, n)) != 1 for n in ("r1", "r2", "r3", "c1", "c2")):
            time.sleep(0.01)
        for v in victims:
            # Spaced so that the step in progress at one kill has completed by the next: the kvs
            # client does not retry, so losing two of its three requests at once would stall it.
            time.sleep(0.3)
            if p.poll() is not None:
                break
            pids = pids_of(dep, v)
            if len(pids) == 1:
                os.kill(pids[0], signal.SIGKILL)
                kills += 1
                deadline = time.time() + 10
                while p.poll() is None and time.time() < deadline and len(pids_of(dep, v)) != 1:
                    time.sleep(0.01)
        rc = p.wait()
        err = p.stderr.read()
        if rc != 0:
            fail(f"exit {rc} after {kills} kills, stderr:\n{err}")
        if kills < 2:
            fail(f"the run ended after {kills} kills: too fast to test anything; stderr:\n{err}")

        def rows(path):
            if not os.path.exists(path):
                return []
            return [line.split("\t") for line in open(path).read().splitlines()]

        version_of = {}  # value -> (version, key)
        for cid, rs in scripts.items():
            for n, op, k, v in rs:
                if op == "put":
                    version_of[v] = (n * 100 + cid, k)
        completed = []  # (key, version) of every completed put
        for cid in (1, 2):
            puts = {int(n): (k, v) for n, k, v in rows(os.path.join(out, f"c{cid}", "put_done.csv"))}
            gets = {int(n): (k, v) for n, k, v in rows(os.path.join(out, f"c{cid}", "get_done.csv"))}
            if len(puts) + len(gets) != steps:
                fail(f"c{cid} completed {len(puts) + len(gets)} of {steps} steps; stderr:\n{err}")
            for n, (k, v) in puts.items():
                completed.append((k, n * 100 + cid))
            for n, (k, v) in gets.items():
                own = [m * 100 + cid for m, (pk, _) in puts.items() if pk == k and m < n]
                if v == "":
                    if own:
                        fail(f"c{cid} step {n}: get {k} returned nothing after its own put at step {max(own) // 100}")
                    continue
                if v not in version_of or version_of[v][1] != k:
                    fail(f"c{cid} step {n}: get {k} returned {v!r}, which no put of {k} wrote")
                if own and version_of[v][0] < max(own):
                    fail(f"c{cid} step {n}: get {k} returned version {version_of[v][0]}, older than its own put {max(own)}")
        holds = {}
        for r in ["r1", "r2", "r3"]:
            h = {}
            for k, t in rows(os.path.join(out, r, "holds.csv")):
                h[k] = max(h.get(k, -1), int(t))
            holds[r] = h
        for k, ver in completed:
            have = sum(1 for r in holds if holds[r].get(k, -1) >= ver)
            if have < 2:
                fail(f"acknowledged write lost: {k} version {ver} is on {have} replicas at the end")
        print(f"ok: {kills} kills, {len(completed)} completed puts all on a quorum, every get consistent")
        if os.environ.get("VERBOSE"):
            print(err)


CASES = {"kill9_run": kill9_run, "outputs_kill9": outputs_kill9, "sim_crash": sim_crash, "launcher_restart": launcher_restart, "jepsen_kvs": jepsen_kvs}

if __name__ == "__main__":
    CASES[sys.argv[2]](sys.argv[1])
