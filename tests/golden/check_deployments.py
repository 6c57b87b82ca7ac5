#!/usr/bin/env python3
"""`bloom check DEPLOY.toml` and `bloom lint DEPLOY.toml` (docs/deploy.md).

Every distributed example checks clean and lints with a verdict per node; a channel misspelt in
one program, and one declared with other columns, are errors naming both declarations.

Usage: check_deployments.py BLOOM
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rewrite(path, *pairs):
    text = open(path).read()
    for old, new in pairs:
        text = text.replace(old, new)
    open(path, "w").write(text)


def main():
    bloom = os.path.abspath(sys.argv[1])
    failures = []

    def run(*args):
        return subprocess.run([bloom, *args], capture_output=True, text=True, timeout=300)

    def expect(cond, what):
        if not cond:
            failures.append(what)

    examples = os.path.join(ROOT, "examples")
    for ex in sorted(os.listdir(examples)):
        deploy = os.path.join(examples, ex, "deploy.toml")
        if not os.path.isfile(deploy):
            continue
        p = run("check", deploy)
        expect(p.returncode == 0 and ": ok (" in p.stdout, f"check {ex}: exit {p.returncode}\n{p.stdout}{p.stderr}")
        nodes = re.findall(r"^\[node\.([^\]]+)\]", open(deploy).read(), re.M)
        p = run("lint", deploy)
        expect(p.returncode in (0, 4), f"lint {ex}: exit {p.returncode}\n{p.stderr}")
        for n in nodes:
            expect(re.search(rf"^node `{re.escape(n)}`: (coordination-free|needs coordination)", p.stdout, re.M),
                   f"lint {ex}: no verdict for node {n}\n{p.stdout}")
        expect(("deployment: needs coordination\n" in p.stdout) == (p.returncode == 4), f"lint {ex}: verdict and exit status disagree")

    with tempfile.TemporaryDirectory() as tmp:
        race = os.path.join(ROOT, "tests", "sim", "race")
        typo = os.path.join(tmp, "typo")
        shutil.copytree(race, typo)
        rewrite(os.path.join(typo, "writer.bloom"), ("channel write(", "channel wrte("), ("write(@", "wrte(@"))
        p = run("check", os.path.join(typo, "deploy.toml"))
        expect(p.returncode == 1, f"typo: exit {p.returncode}")
        expect("did you mean `write`?" in p.stderr and "writer.bloom:3:1" in p.stderr and "server.bloom:4:1" in p.stderr,
               f"typo: the error does not name both declarations:\n{p.stderr}")

        schema = os.path.join(tmp, "schema")
        shutil.copytree(race, schema)
        rewrite(os.path.join(schema, "writer.bloom"), ("v: string);", "v: int);"), ('value: string = ""', "value: int = 0"))
        d = os.path.join(schema, "deploy.toml")
        rewrite(d, ('"alpha"', "1"), ('"beta"', "2"))
        p = run("check", d)
        expect(p.returncode == 1, f"schema: exit {p.returncode}")
        expect("(addr, addr, string) in node `server` but (addr, addr, int)" in p.stderr, f"schema: {p.stderr}")
        p = run("lint", d)
        expect(p.returncode == 1, f"lint of a mismatched deployment: exit {p.returncode}")
        # Labels cross channels: the server's winner is D (first write wins), so a node that only
        # logs what the server announces derives D too, though its own program is monotone.
        relay = os.path.join(tmp, "relay")
        shutil.copytree(race, relay)
        with open(os.path.join(relay, "server.bloom"), "a") as f:
            f.write('channel announce(@dst: addr, v: string);\nannounce(@"log", v) <~ winner(v);\n')
        open(os.path.join(relay, "log.bloom"), "w").write(
            "channel announce(@dst: addr, v: string);\noutput heard(v: string);\nheard(v) <= announce(_, v);\n")
        with open(os.path.join(relay, "deploy.toml"), "a") as f:
            f.write('\n[node.log]\nprogram = "log.bloom"\nendpoint = "tcp://127.0.0.1:7244"\n')
        p = run("lint", os.path.join(relay, "log.bloom"))
        expect(p.returncode == 0, f"log.bloom alone: exit {p.returncode}")
        p = run("lint", os.path.join(relay, "deploy.toml"))
        expect(p.returncode == 4, f"relay: exit {p.returncode}")
        for part in ["channel `announce` is diffluent (D) where node server derives it",
                     "node `log`: needs coordination: it derives from diffluent channel announce", "output heard: D",
                     "node `w1`: coordination-free"]:
            expect(part in p.stdout, f"relay: {part!r} not in:\n{p.stdout}")

        # The same deployment as one JSON document and as one SARIF log.
        p = run("lint", "--format", "json", os.path.join(relay, "deploy.toml"))
        expect(p.returncode == 4, f"relay json: exit {p.returncode} {p.stderr}")
        doc = json.loads(p.stdout) if p.returncode == 4 else {}
        nodes = {n["name"]: n for n in doc.get("nodes", [])}
        expect(doc.get("verdict") == "needs-coordination", f"relay json: verdict {doc.get('verdict')}")
        expect(nodes.get("log", {}).get("verdict") == "needs-coordination" and "diffluent channel announce" in nodes["log"]["reason"]
               and nodes.get("w1", {}).get("verdict") == "coordination-free", f"relay json: nodes {nodes}")
        expect({"channel": "announce", "derived_diffluent_by": ["server"]} in doc.get("diffluent_channels", []),
               f"relay json: diffluent channels {doc.get('diffluent_channels')}")
        log_reports = [g["report"] for g in doc.get("programs", []) if g["nodes"] == ["log"]]
        expect(len(log_reports) == 1 and {"collection": "heard", "kind": "output", "label": "D", "paths": 0} in log_reports[0]["outputs"],
               f"relay json: the log node's report: {log_reports}")
        p = run("lint", "--format", "sarif", os.path.join(relay, "deploy.toml"))
        expect(p.returncode == 4, f"relay sarif: exit {p.returncode} {p.stderr}")
        sarif = json.loads(p.stdout) if p.returncode == 4 else {}
        props = sarif.get("properties", {})
        expect(sarif.get("version") == "2.1.0" and len(sarif.get("runs", [])) == len(doc.get("programs", [])),
               f"relay sarif: {len(sarif.get('runs', []))} runs for {len(doc.get('programs', []))} programs")
        expect(props.get("verdict") == "needs-coordination" and props.get("nodes", {}).get("log") == "needs-coordination"
               and props.get("diffluent_channels", {}).get("announce") == ["server"], f"relay sarif: properties {props}")
        expect(all(r.get("properties", {}).get("outputs") is not None for r in sarif.get("runs", [])), "relay sarif: a run without output labels")

        # The same relay with the server's findings suppressed: the findings are acknowledged, so
        # the exit status is 0, and every report says so rather than "coordination-free" or a
        # bare "needs coordination" that the exit status would contradict.
        rewrite(os.path.join(relay, "server.bloom"), ("pick(min(v))", "// bloom:allow(point-of-order) first write wins, on purpose\npick(min(v))"))
        p = run("lint", os.path.join(relay, "deploy.toml"))
        expect(p.returncode == 0, f"acknowledged relay: exit {p.returncode}\n{p.stdout}{p.stderr}")
        for part in ["verdict: needs coordination, acknowledged (0 points of order, 0 races, 2 suppressed)",
                     "node `server`: needs coordination (acknowledged findings)",
                     "node `log`: needs coordination: it derives from diffluent channel announce (acknowledged where it is derived)",
                     "node `w1`: coordination-free", "deployment: needs coordination, acknowledged\n"]:
            expect(part in p.stdout, f"acknowledged relay: {part!r} not in:\n{p.stdout}")
        p = run("lint", "--format", "json", os.path.join(relay, "deploy.toml"))
        doc = json.loads(p.stdout) if p.returncode == 0 else {}
        nodes = {n["name"]: n.get("verdict") for n in doc.get("nodes", [])}
        expect(p.returncode == 0 and doc.get("verdict") == "coordination-acknowledged"
               and nodes == {"server": "coordination-acknowledged", "log": "coordination-acknowledged", "w1": "coordination-free",
                             "w2": "coordination-free"}, f"acknowledged relay json: exit {p.returncode}, {doc.get('verdict')}, {nodes}")
        p = run("lint", "--format", "sarif", os.path.join(relay, "deploy.toml"))
        props = json.loads(p.stdout).get("properties", {}) if p.returncode == 0 else {}
        expect(props.get("verdict") == "coordination-acknowledged" and props.get("nodes", {}).get("log") == "coordination-acknowledged",
               f"acknowledged relay sarif: exit {p.returncode}, {props}")

        p = run("check", "--format", "json", os.path.join(race, "deploy.toml"))
        expect(p.returncode == 2 and "not available for a deployment" in p.stderr, f"json: exit {p.returncode} {p.stderr}")

    for f in failures:
        print("FAIL", f)
    print(f"{'FAIL' if failures else 'PASS'} check_deployments: {len(failures)} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
