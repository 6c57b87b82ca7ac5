#!/usr/bin/env python3
"""Runs the `bloom lint` corpus: every NAME.bloom in this folder with a NAME.expected.json.

Usage: run_lint_corpus.py BLOOM [NAME ...]

For each case (cwd = this folder):
  * `BLOOM lint --format json NAME.bloom` must exit with the expected status and its JSON must
    match the expected subset:
      "verdict"     equal;
      "exit"        the exit status;
      "outputs"     {collection: label} for EVERY sink: the set of sink names must be equal and
                    each label must match;
      "findings"    [{"kind", "operation"?, "line"}]: EVERY finding, compared as a multiset by
                    kind, operation (when given) and the line of its span; order-insensitive;
      "suppressed"  [line, ...]: the lines of the findings marked "suppressed": true (compared
                    as a multiset); when absent, no finding may be suppressed;
      "paths"       optional {collection: [{"from", "label"}]}: the set of (from, label) pairs
                    of that output's paths (its entry in "path_sets") must be equal.
      "sealed"      optional [{"operation", "line", "key"}]: EVERY operation the lint found
                    confluent per key because it reads a sealed collection by partition
                    (docs/lint.md, seals), as a multiset; when absent, not checked.
      "cancelled"   optional [{"negated", "collection", "result", "line", "by_line"}]: EVERY
                    negation the lint found cancelled by a second negation (docs/lint.md,
                    "Negations that cancel"), as a multiset; when absent, not checked.
    The shared tables must hold together (check_tables): every finding's "path" is null or a
    hop of "hops" whose "parent" chain ends at a start (null) without a cycle; every "taints"
    and every output's "paths" is an index into "taint_sets" / "path_sets".
  * `--format sarif` must be valid SARIF 2.1.0 in its required properties (see check_sarif);
    every thread flow step must be an index into the run's `threadFlowLocations`, whose
    entries are distinct locations;
    every `uriBaseId` must be defined in the run's `originalUriBaseIds`, every result must
    have a logical location (the qualified collection), the run's `properties.outputs` must
    give each sink the label of the JSON report, and, with "sarif_logical" in the expected
    file, the results' logical locations (fullyQualifiedName) must be that multiset.
  * `--format dot` must start with "digraph" and end with "}".
  With BLOOM_TEST_QUICK set, SARIF is checked for every second case and DOT for every fourth.
Prints a FAIL line per difference and a final "N passed, M failed" line; exits 1 on any failure.
Python 3 standard library only.
"""
import collections
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 60


def run(bloom, fmt, name):
    try:
        p = subprocess.run([bloom, "lint", "--format", fmt, name + ".bloom"], cwd=HERE,
                           capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "", "timed out after %ds" % TIMEOUT
    return p.returncode, p.stdout, p.stderr


def span_line(finding):
    span = finding.get("span")
    if isinstance(span, dict):
        return span.get("line")
    return None


def finding_key(f, with_operation=True):
    return (f.get("kind"), f.get("operation") if with_operation else None, f.get("line"))


def compare_findings(expected, actual, errors):
    """Multiset comparison. An expected finding without "operation" matches any operation."""
    act = [{"kind": f.get("kind"), "operation": f.get("operation"), "line": span_line(f)}
           for f in actual]
    remaining = list(act)
    missing = []
    # Match the findings that name an operation first, then the ones that leave it open.
    for e in sorted(expected, key=lambda e: "operation" not in e):
        for i, a in enumerate(remaining):
            if a["kind"] == e.get("kind") and a["line"] == e.get("line") and \
                    ("operation" not in e or a["operation"] == e["operation"]):
                del remaining[i]
                break
        else:
            missing.append(e)
    for e in missing:
        errors.append("missing finding %s" % json.dumps(e, sort_keys=True))
    for a in remaining:
        errors.append("unexpected finding %s" % json.dumps(a, sort_keys=True))


def path_of(doc, finding):
    """The hops of a finding's path, from the source: the parent chain from its last hop."""
    hops, h, seen = [], finding.get("path"), set()
    while h is not None:
        if not isinstance(h, int) or not 0 <= h < len(doc.get("hops", [])) or h in seen:
            return None
        seen.add(h)
        hops.append(doc["hops"][h])
        h = doc["hops"][h].get("parent")
    return hops[::-1]


def check_tables(doc, errors):
    hops, taint_sets, path_sets = doc.get("hops"), doc.get("taint_sets"), doc.get("path_sets")
    for key, table in (("hops", hops), ("taint_sets", taint_sets), ("path_sets", path_sets)):
        if not isinstance(table, list):
            errors.append("\"%s\" is not a list" % key)
            return
    for f in doc.get("findings", []):
        path = path_of(doc, f)
        if path is None:
            errors.append("finding at line %s: \"path\" %r is not a chain of hops" % (span_line(f), f.get("path")))
        elif path and path[0].get("parent") is not None:
            errors.append("finding at line %s: its path does not start at a start" % span_line(f))
        t = f.get("taints")
        if not isinstance(t, int) or not 0 <= t < len(taint_sets):
            errors.append("finding at line %s: \"taints\" %r is not an index into \"taint_sets\"" % (span_line(f), t))
    for o in doc.get("outputs", []):
        ps = o.get("paths")
        if not isinstance(ps, int) or not 0 <= ps < len(path_sets):
            errors.append("output %s: \"paths\" %r is not an index into \"path_sets\"" % (o.get("collection"), ps))


def compare_json(exp, doc, errors):
    if not isinstance(doc, dict):
        errors.append("JSON output is not an object")
        return
    broken = []
    check_tables(doc, broken)
    if broken:
        errors.extend(broken)
        return
    if "verdict" in exp and doc.get("verdict") != exp["verdict"]:
        errors.append("verdict: expected %r, got %r" % (exp["verdict"], doc.get("verdict")))

    outputs = doc.get("outputs")
    if not isinstance(outputs, list):
        errors.append("\"outputs\" is not a list")
        outputs = []
    by_name = {}
    for o in outputs:
        if isinstance(o, dict):
            by_name[o.get("collection")] = o
    if "outputs" in exp:
        want = exp["outputs"]
        for name in sorted(set(want) - set(by_name)):
            errors.append("missing output %s (expected label %s)" % (name, want[name]))
        for name in sorted(set(by_name) - set(want)):
            errors.append("unexpected output %s (label %s)" % (name, by_name[name].get("label")))
        for name in sorted(set(want) & set(by_name)):
            got = by_name[name].get("label")
            if got != want[name]:
                errors.append("output %s: expected label %s, got %s" % (name, want[name], got))

    for name, want_paths in sorted(exp.get("paths", {}).items()):
        o = by_name.get(name)
        if o is None:
            continue  # already reported as a missing output
        got = {(p.get("from"), p.get("label")) for p in doc["path_sets"][o["paths"]] if isinstance(p, dict)}
        want = {(p["from"], p["label"]) for p in want_paths}
        if got != want:
            errors.append("output %s paths: expected %s, got %s" % (
                name, sorted(want), sorted(got)))

    findings = doc.get("findings")
    if not isinstance(findings, list):
        errors.append("\"findings\" is not a list")
        findings = []
    if "findings" in exp:
        compare_findings(exp["findings"], findings, errors)

    if "sealed" in exp:
        got = doc.get("sealed")
        if not isinstance(got, list):
            errors.append("\"sealed\" is not a list")
        else:
            norm = lambda s: (s.get("operation"), s.get("line") if "line" in s else span_line(s), s.get("key"))
            if sorted(map(norm, got), key=repr) != sorted(map(norm, exp["sealed"]), key=repr):
                errors.append("sealed reads %s, expected %s" % (sorted(map(norm, got), key=repr), sorted(map(norm, exp["sealed"]), key=repr)))

    if "cancelled" in exp:
        got = doc.get("cancelled")
        if not isinstance(got, list):
            errors.append("\"cancelled\" is not a list")
        else:
            norm = lambda c: (c.get("negated"), c.get("collection"), c.get("result"),
                              c.get("line") if "line" in c else span_line(c),
                              c.get("by_line") if "by_line" in c else (c.get("by") or {}).get("line"))
            if sorted(map(norm, got), key=repr) != sorted(map(norm, exp["cancelled"]), key=repr):
                errors.append("cancelled negations %s, expected %s" % (sorted(map(norm, got), key=repr), sorted(map(norm, exp["cancelled"]), key=repr)))

    got_supp = sorted(span_line(f) or 0 for f in findings if f.get("suppressed") is True)
    want_supp = sorted(exp.get("suppressed", []))
    if got_supp != want_supp:
        errors.append("suppressed findings at lines %s, expected %s" % (got_supp, want_supp))
    for f in findings:
        if not isinstance(f.get("suppressed"), bool):
            errors.append("finding at line %s has no boolean \"suppressed\"" % span_line(f))


def check_sarif_extras(doc, exp, json_doc, errors):
    """Relative URIs with their bases, logical locations and the output labels (issue 12)."""
    run_ = doc["runs"][0]
    bases = run_.get("originalUriBaseIds") or {}
    names = []
    for i, res in enumerate(run_.get("results", [])):
        for loc in res.get("locations", []):
            art = loc.get("physicalLocation", {}).get("artifactLocation", {})
            base = art.get("uriBaseId")
            if base is not None and base not in bases:
                errors.append("sarif: results[%d]: uriBaseId %r not in originalUriBaseIds" % (i, base))
            if base is None and not art.get("uri", "").startswith("file://"):
                errors.append("sarif: results[%d]: uri %r is neither relative to a base nor absolute" % (i, art.get("uri")))
            logical = loc.get("logicalLocations") or []
            if not logical or not logical[0].get("fullyQualifiedName"):
                errors.append("sarif: results[%d]: no logical location" % i)
            else:
                names.append(logical[0]["fullyQualifiedName"])
    got = {o.get("collection"): o.get("label") for o in (run_.get("properties") or {}).get("outputs", [])}
    want = {o.get("collection"): o.get("label") for o in json_doc.get("outputs", [])} if isinstance(json_doc, dict) else {}
    if got != want:
        errors.append("sarif: properties.outputs %s, the JSON report says %s" % (sorted(got.items()), sorted(want.items())))
    if "sarif_logical" in exp and sorted(names) != sorted(exp["sarif_logical"]):
        errors.append("sarif: logical locations %s, expected %s" % (sorted(names), sorted(exp["sarif_logical"])))


def check_sarif(text, errors):
    """The SARIF 2.1.0 properties this corpus requires."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        errors.append("sarif: not JSON (%s)" % e)
        return
    if not isinstance(doc, dict):
        errors.append("sarif: top level is not an object")
        return
    if doc.get("version") != "2.1.0":
        errors.append("sarif: version is %r, not \"2.1.0\"" % doc.get("version"))
    runs = doc.get("runs")
    if not isinstance(runs, list) or not runs:
        errors.append("sarif: no \"runs\" array")
        return
    for ri, run_ in enumerate(runs):
        where = "sarif: runs[%d]" % ri
        driver = (run_.get("tool") or {}).get("driver") if isinstance(run_, dict) else None
        if not isinstance(driver, dict) or not isinstance(driver.get("name"), str) or not driver["name"]:
            errors.append(where + ": no tool.driver.name")
            driver = {}
        rule_ids = {r.get("id") for r in driver.get("rules", []) if isinstance(r, dict)}
        # Thread flows name their steps by index into the run's threadFlowLocations, each step
        # written once there (docs/lint.md).
        steps = run_.get("threadFlowLocations", []) if isinstance(run_, dict) else []
        if not isinstance(steps, list):
            errors.append(where + ": threadFlowLocations is not an array")
            steps = []
        seen = set()
        for k, tl in enumerate(steps):
            loc = tl.get("location") if isinstance(tl, dict) else None
            check_physical(loc, "%s.threadFlowLocations[%d].location" % (where, k), errors)
            key = json.dumps(tl, sort_keys=True)
            if key in seen:
                errors.append("%s.threadFlowLocations[%d]: a duplicate" % (where, k))
            seen.add(key)
        results = run_.get("results", []) if isinstance(run_, dict) else []
        if not isinstance(results, list):
            errors.append(where + ": \"results\" is not an array")
            continue
        for i, res in enumerate(results):
            rw = "%s.results[%d]" % (where, i)
            msg = res.get("message")
            if not isinstance(msg, dict) or not isinstance(msg.get("text"), str):
                errors.append(rw + ": no message.text")
            rid = res.get("ruleId")
            if not isinstance(rid, str):
                errors.append(rw + ": no ruleId")
            elif rid not in rule_ids:
                errors.append(rw + ": ruleId %r not in tool.driver.rules" % rid)
            locs = res.get("locations")
            if not isinstance(locs, list) or not locs:
                errors.append(rw + ": no locations")
                locs = []
            for li, loc in enumerate(locs):
                check_physical(loc, "%s.locations[%d]" % (rw, li), errors)
            flows = res.get("codeFlows")
            if flows is not None:
                if not isinstance(flows, list):
                    errors.append(rw + ": codeFlows is not an array")
                    continue
                for fi, flow in enumerate(flows):
                    tfs = flow.get("threadFlows") if isinstance(flow, dict) else None
                    if not isinstance(tfs, list) or not tfs:
                        errors.append("%s.codeFlows[%d]: no threadFlows" % (rw, fi))
                        continue
                    for ti, tf in enumerate(tfs):
                        tlocs = tf.get("locations") if isinstance(tf, dict) else None
                        if not isinstance(tlocs, list) or not tlocs:
                            errors.append("%s.codeFlows[%d].threadFlows[%d]: no locations" % (rw, fi, ti))
                            continue
                        for k, tl in enumerate(tlocs):
                            loc = tl.get("location") if isinstance(tl, dict) else None
                            index = tl.get("index") if isinstance(tl, dict) else None
                            if index is not None and (not isinstance(index, int) or isinstance(index, bool)
                                                      or not 0 <= index < len(steps)):
                                errors.append("%s.codeFlows[%d].threadFlows[%d].locations[%d]: index %r not in "
                                              "threadFlowLocations (%d)" % (rw, fi, ti, k, index, len(steps)))
                            elif index is None:
                                errors.append("%s.codeFlows[%d].threadFlows[%d].locations[%d]: no index into "
                                              "threadFlowLocations" % (rw, fi, ti, k))
                            if loc is not None:
                                check_physical(loc, "%s.codeFlows[%d].threadFlows[%d].locations[%d].location"
                                               % (rw, fi, ti, k), errors)


def check_physical(loc, where, errors):
    phys = loc.get("physicalLocation") if isinstance(loc, dict) else None
    if not isinstance(phys, dict):
        errors.append(where + ": no physicalLocation")
        return
    art = phys.get("artifactLocation")
    if not isinstance(art, dict) or not isinstance(art.get("uri"), str) or not art["uri"]:
        errors.append(where + ": no physicalLocation.artifactLocation.uri")
    region = phys.get("region")
    line = region.get("startLine") if isinstance(region, dict) else None
    if not isinstance(line, int) or isinstance(line, bool) or line < 1:
        errors.append(where + ": region.startLine missing or < 1")


def check_case(bloom, name, sarif=True, dot=True):
    errors = []
    with open(os.path.join(HERE, name + ".expected.json")) as fh:
        exp = json.load(fh)

    code, out, err = run(bloom, "json", name)
    if code is None:
        return ["json: " + err]
    doc = None
    if "exit" in exp and code != exp["exit"]:
        errors.append("exit status %s, expected %s%s" % (
            code, exp["exit"], ("; stderr: " + err.strip()[:300]) if err.strip() else ""))
    try:
        doc = json.loads(out)
    except ValueError as e:
        errors.append("json: output is not JSON (%s); stderr: %s" % (e, err.strip()[:300]))
    else:
        compare_json(exp, doc, errors)

    code, out, err = run(bloom, "sarif", name) if sarif else (-1, "", "")
    if code is None:
        errors.append("sarif: " + err)
    elif sarif:
        if "exit" in exp and code != exp["exit"]:
            errors.append("sarif: exit status %s, expected %s" % (code, exp["exit"]))
        before = len(errors)
        check_sarif(out, errors)
        if len(errors) == before:
            check_sarif_extras(json.loads(out), exp, doc, errors)

    if not dot:
        return errors
    code, out, err = run(bloom, "dot", name)
    if code is None:
        errors.append("dot: " + err)
    else:
        if "exit" in exp and code != exp["exit"]:
            errors.append("dot: exit status %s, expected %s" % (code, exp["exit"]))
        text = out.strip()
        if not text.startswith("digraph"):
            errors.append("dot: output does not start with \"digraph\"")
        if not text.endswith("}"):
            errors.append("dot: output does not end with \"}\"")
    return errors


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    bloom = os.path.abspath(argv[1])
    names = argv[2:] or sorted(f[:-len(".expected.json")] for f in os.listdir(HERE)
                               if f.endswith(".expected.json"))
    passed = failed = 0
    # BLOOM_TEST_QUICK (the sanitizer build, where a run is ~15x slower): JSON of every case,
    # SARIF of every second and DOT of every fourth (the release build checks all three).
    quick = bool(os.environ.get("BLOOM_TEST_QUICK"))
    for i, name in enumerate(names):
        if not os.path.exists(os.path.join(HERE, name + ".bloom")):
            print("FAIL %s: no %s.bloom" % (name, name))
            failed += 1
            continue
        errors = check_case(bloom, name, sarif=not quick or i % 2 == 0, dot=not quick or i % 4 == 0)
        if errors:
            failed += 1
            for e in errors:
                print("FAIL %s: %s" % (name, e))
        else:
            passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
