#!/usr/bin/env python3
"""A scripted LSP client: runs `bloom lsp` as a subprocess over real pipes and checks a session.

Usage: lsp_session.py BLOOM. Each check prints what it looked at; the first failure exits 1.
"""
import atexit
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse

BLOOM = sys.argv[1]
WAIT = 30  # seconds to wait for a message before calling the server stuck (not a timing check)


def fail(what):
    print("FAIL: " + what)
    sys.exit(1)


def check(cond, what):
    if not cond:
        fail(what)
    print("ok: " + what)


class Client:
    def __init__(self, env=None):
        self.proc = subprocess.Popen([BLOOM, "lsp", "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.inbox = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.inbox.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.inbox.put(json.loads(out.read(length)))

    def raw(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    @staticmethod
    def frame(msg):
        msg["jsonrpc"] = "2.0"
        body = json.dumps(msg).encode()
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    def send(self, msg):
        self.raw(self.frame(msg))

    def notify(self, method, params):
        self.send({"method": method, "params": params})

    def request(self, method, params):
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.response(self.next_id)

    def message(self):
        try:
            m = self.inbox.get(timeout=WAIT)
        except queue.Empty:
            fail("no message from the server")
        if m is None:
            fail("the server closed its output; stderr: " + self.proc.stderr.read().decode())
        return m

    def response(self, id):
        while True:
            m = self.message()
            if "method" not in m and m.get("id") == id:
                return m

    def diagnostics(self, uri):
        while True:
            m = self.message()
            if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri:
                return m["params"]["diagnostics"]

    def diagnostics_of(self, *uris):
        """The next diagnostics of each of `uris`, in whatever order they come."""
        got = {}
        while len(got) < len(uris):
            m = self.message()
            if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] in uris:
                got.setdefault(m["params"]["uri"], m["params"]["diagnostics"])
        return got

    def finish(self):
        self.proc.stdin.close()
        return self.proc.wait(timeout=WAIT)


def uri(path):
    return "file://" + urllib.parse.quote(os.path.abspath(path))


def pos(line, character):
    return {"line": line, "character": character}


def main():
    tmp = tempfile.mkdtemp(prefix="bloom lsp ")  # a space: the URIs are percent-encoded
    atexit.register(shutil.rmtree, tmp, True)
    lib = os.path.join(tmp, "lib.bloom")
    with open(lib, "w") as f:
        f.write("// A module imported by main.bloom.\nparam limit: int = 5;\ntable seen(name: string);\nseen(\"ann\");\n")
    main_path = os.path.join(tmp, "main.bloom")
    main_uri = uri(main_path)
    # On disk main.bloom is something else: diagnostics must come from the buffer sent.
    with open(main_path, "w") as f:
        f.write("this is not bloom\n")
    broken = ('import "lib.bloom" as lib;\n'
              '// café, naïve, 𝄞: not ASCII\n'
              'table link(from: string, to: string);\n'
              'output path(from: string, to: string);\n'
              'link("a", "b");\n'
              'path(x, y) <= link(x, y);\n'
              'path("é𝄞", z) <= lnk("x", z);\n'
              'path(n, n) <= lib.seen(n), lib.limit > 2;\n')
    fixed = broken.replace("lnk(", "link(")

    c = Client()
    r = c.request("textDocument/hover", {"textDocument": {"uri": main_uri}, "position": pos(0, 0)})
    check(r.get("error", {}).get("code") == -32002, "a request before initialize gets -32002")
    r = c.request("initialize", {"processId": os.getpid(), "rootUri": uri(tmp), "capabilities": {}})
    caps = r["result"]["capabilities"]
    check(caps["hoverProvider"] and caps["definitionProvider"] and caps["documentFormattingProvider"],
          "initialize answers with the capabilities")
    c.notify("initialized", {})

    # Malformed messages: each gets its error, and the server keeps going.
    c.raw(b"Content-Length: abc\r\n\r\n")
    m = c.message()
    check(m.get("error", {}).get("code") == -32700 and m.get("id") is None, "a bad header gets ParseError (-32700)")
    c.raw(b"Content-Length: 9\r\n\r\n{not json")
    m = c.message()
    check(m.get("error", {}).get("code") == -32700, "a body that is not JSON gets ParseError (-32700)")
    r = c.request("textDocument/noSuchThing", {})
    check(r.get("error", {}).get("code") == -32601, "an unknown method gets MethodNotFound (-32601)")
    c.notify("workspace/noSuchNotification", {})  # ignored: no answer
    r = c.request("textDocument/hover", {"textDocument": {"uri": main_uri}})
    check(r.get("error", {}).get("code") == -32602, "a hover without a position gets InvalidParams (-32602)")
    r = c.request("textDocument/hover", {"textDocument": {"uri": main_uri}, "position": pos(0, 0)})
    check(r.get("error", {}).get("code") == -32602, "a request on a document never opened gets InvalidParams")

    # Diagnostics from the buffer, with UTF-16 columns on a line with non-ASCII text.
    c.notify("textDocument/didOpen", {"textDocument": {"uri": main_uri, "languageId": "bloom", "version": 1, "text": broken}})
    d = c.diagnostics(main_uri)
    print(json.dumps(d, ensure_ascii=False))
    check(len(d) == 1 and d[0]["severity"] == 1 and "lnk" in d[0]["message"], "the unknown collection is an error")
    # `path("é𝄞", z) <= lnk(`: é is one UTF-16 unit, 𝄞 two; lnk starts at unit 18.
    check(d[0]["range"] == {"start": pos(6, 18), "end": pos(6, 21)}, "its range is in UTF-16 units: 6:18-6:21")
    r = c.request("textDocument/codeAction", {"textDocument": {"uri": main_uri}, "range": d[0]["range"],
                                              "context": {"diagnostics": d}})
    acts = r["result"]
    check(len(acts) == 1 and acts[0]["edit"]["changes"][main_uri] == [{"range": d[0]["range"], "newText": "link"}],
          "the did-you-mean is a quick fix replacing `lnk` with `link`")
    check(acts[0].get("diagnostics") == d, "the quick fix names the diagnostic it answers")
    sym = c.request("textDocument/documentSymbol", {"textDocument": {"uri": main_uri}})["result"]
    check({"lib", "link", "path"} <= {s["name"] for s in sym}, "symbols of a file that does not check: import, collections")

    c.notify("textDocument/didChange", {"textDocument": {"uri": main_uri, "version": 2}, "contentChanges": [{"text": fixed}]})
    d = c.diagnostics(main_uri)
    check(d == [], "the fixed buffer has no diagnostics")

    def hover(line, ch):
        r = c.request("textDocument/hover", {"textDocument": {"uri": main_uri}, "position": pos(line, ch)})
        return r["result"]

    h = hover(5, 15)  # `link` in `path(x, y) <= link(x, y);`
    check(h and "table** `link`(from: string, to: string)" in h["contents"]["value"]
          and "table link(from: string, to: string);" in h["contents"]["value"], "hover on a collection: its declaration and type")
    check(h["range"] == {"start": pos(5, 14), "end": pos(5, 18)}, "the hover's range is the name")
    h = hover(5, 5)  # x
    check(h and "variable `x`: string" in h["contents"]["value"], "hover on a variable: its type")
    h = hover(7, 30)  # lib.limit
    check(h and "param `lib.limit`: int" in h["contents"]["value"] and "value: 5" in h["contents"]["value"],
          "hover on a param of an import: its type and value")
    h = hover(3, 8)  # the output `path`
    check(h and "CALM label (an output of the program): **M**" in h["contents"]["value"], "hover on an output: its CALM label")

    def definition(line, ch):
        return c.request("textDocument/definition", {"textDocument": {"uri": main_uri}, "position": pos(line, ch)})["result"]

    r = definition(5, 15)
    check(r == {"uri": main_uri, "range": {"start": pos(2, 6), "end": pos(2, 10)}}, "definition of a collection: its declaration")
    r = definition(0, 10)
    check(r and r["uri"] == uri(lib), "definition on an import: the imported file")
    r = definition(7, 18)  # lib.seen
    check(r == {"uri": uri(lib), "range": {"start": pos(2, 6), "end": pos(2, 10)}},
          "definition of an imported collection: its declaration in the module")
    r = definition(7, 31)  # lib.limit
    check(r == {"uri": uri(lib), "range": {"start": pos(1, 6), "end": pos(1, 11)}}, "definition of a param: its declaration")

    r = c.request("textDocument/hover", {"textDocument": {"uri": main_uri}, "position": pos(40, 0)})
    check("result" in r and r["result"] is None, "a hover past the end of the text finds nothing")

    # An import open in the editor is read from its buffer; an error in it is shown at the import.
    lib_uri = uri(lib)
    c.notify("textDocument/didOpen", {"textDocument": {"uri": lib_uri, "languageId": "bloom", "version": 1,
                                                       "text": "param limit: int = 5;\ntable seen(name: string);\nseen(1);\n"}})
    got = c.diagnostics_of(lib_uri, main_uri)  # main.bloom is checked again without a change of its own
    check(len(got[lib_uri]) == 1, "the imported module's buffer has its own diagnostic")
    d = got[main_uri]
    check(len(d) == 1 and d[0]["range"] == {"start": pos(0, 7), "end": pos(0, 18)} and "lib.bloom:3:" in d[0]["message"]
          and d[0]["relatedInformation"][-1]["location"] == {"uri": lib_uri, "range": {"start": pos(2, 5), "end": pos(2, 6)}},
          "an error in the imported buffer is shown at the import, with its place")
    c.notify("textDocument/didClose", {"textDocument": {"uri": lib_uri}})
    check(c.diagnostics_of(lib_uri, main_uri) == {lib_uri: [], main_uri: []}, "once closed, the import is read from disk again")

    # Typing: changes that arrive together are checked once, at the last one. (One write of less
    # than PIPE_BUF bytes reaches the server's single read whole.)
    burst = b"".join(Client.frame({"method": "textDocument/didChange", "params": {
        "textDocument": {"uri": main_uri, "version": v}, "contentChanges": [{"text": t}]}})
        for v, t in ((5, broken), (6, broken + "junk"), (7, fixed)))
    assert len(burst) < 4096
    c.raw(burst)
    while True:
        m = c.message()
        if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == main_uri:
            break
    check(m["params"]["version"] == 7 and m["params"]["diagnostics"] == [], "a burst of changes is checked once, at its last")

    sym = c.request("textDocument/documentSymbol", {"textDocument": {"uri": main_uri}})["result"]
    names = [s["name"] for s in sym]
    check(names[:3] == ["lib", "link", "path"] and "path(x, y) <=" in names, "document symbols: import, collections, rules")

    # A point of order: a lint warning with its range, and the suppression as a quick fix.
    lint_path = os.path.join(tmp, "ban.bloom")
    lint_uri = uri(lint_path)
    lint_text = ('channel ban(@dst: addr, name: string);\n'
                 'table member(name: string);\n'
                 'table banned(name: string);\n'
                 'output allowed(name: string);\n'
                 'member("alice");\n'
                 'banned(n) <= ban(_, n);\n'
                 '  allowed(n) <= member(n), not banned(n);\n')
    c.notify("textDocument/didOpen", {"textDocument": {"uri": lint_uri, "languageId": "bloom", "version": 1, "text": lint_text}})
    d = c.diagnostics(lint_uri)
    print(json.dumps(d))
    check(len(d) == 1 and d[0]["code"] == "point-of-order" and d[0]["severity"] == 2 and d[0]["source"] == "bloom lint",
          "a point of order is a lint warning")
    check(d[0]["range"] == {"start": pos(6, 27), "end": pos(6, 40)}, "its range is the `not banned(n)` atom")
    check("remedies:" in d[0]["message"], "its message gives the remedies")
    check({"location": {"uri": lint_uri, "range": {"start": pos(0, 8), "end": pos(0, 11)}}, "message": "`ban` is an asynchronous source"}
          in d[0].get("relatedInformation", []), "its path from the asynchronous source is in the related locations")
    acts = c.request("textDocument/codeAction", {"textDocument": {"uri": lint_uri}, "range": d[0]["range"],
                                                 "context": {"diagnostics": d}})["result"]
    edit = acts[0]["edit"]["changes"][lint_uri][0] if acts else {}
    check(len(acts) == 1 and edit["range"] == {"start": pos(6, 0), "end": pos(6, 0)}
          and edit["newText"].startswith("  // bloom:allow(point-of-order) "), "the suppression comment is a quick fix")
    suppressed = lint_text.replace("  allowed(n)", edit["newText"] + "  allowed(n)")
    c.notify("textDocument/didChange", {"textDocument": {"uri": lint_uri, "version": 2}, "contentChanges": [{"text": suppressed}]})
    d = c.diagnostics(lint_uri)
    check(len(d) == 1 and d[0]["severity"] == 4 and d[0]["message"].startswith("(suppressed)"),
          "with the fix applied the finding is reported as suppressed (a hint)")
    r = c.request("textDocument/hover", {"textDocument": {"uri": lint_uri}, "position": pos(3, 9)})["result"]
    check(r and "**D**" in r["contents"]["value"], "hover on a diffluent output: label D")

    # Formatting: the same text `bloom fmt` gives, as one edit of the whole buffer.
    ugly = "table   t(a: int);\nt(1);   t(2);\n"
    fmt_uri = uri(os.path.join(tmp, "ugly.bloom"))
    c.notify("textDocument/didOpen", {"textDocument": {"uri": fmt_uri, "languageId": "bloom", "version": 1, "text": ugly}})
    c.diagnostics(fmt_uri)
    expect = subprocess.run([BLOOM, "fmt", "-"], input=ugly.encode(), capture_output=True, check=True).stdout.decode()
    r = c.request("textDocument/formatting", {"textDocument": {"uri": fmt_uri}, "options": {"tabSize": 2, "insertSpaces": True}})
    check(r["result"] == [{"range": {"start": pos(0, 0), "end": pos(2, 0)}, "newText": expect}], "formatting: bloom fmt's text")
    c.notify("textDocument/didClose", {"textDocument": {"uri": fmt_uri}})
    check(c.diagnostics(fmt_uri) == [], "closing a document clears its diagnostics")

    r = c.request("shutdown", None)
    check("result" in r and r["result"] is None, "shutdown answers null")
    r = c.request("textDocument/hover", {"textDocument": {"uri": main_uri}, "position": pos(0, 0)})
    check(r.get("error", {}).get("code") == -32600, "a request after shutdown is refused")
    c.notify("exit", None)
    check(c.proc.wait(timeout=WAIT) == 0, "exit after shutdown: status 0")
    check(c.proc.stderr.read() == b"", "nothing on stderr")

    # An error in a module of the standard library is shown at its import too (the stdlib is a
    # folder of its own, not a path relative to the document).
    std = os.path.join(tmp, "std lib")
    os.mkdir(std)
    with open(os.path.join(std, "broken.bloom"), "w") as f:
        f.write("table t(a: int);\nt(x) <= nope(x);\n")
    c = Client(dict(os.environ, BLOOM_STDLIB=std))
    c.request("initialize", {"processId": None, "capabilities": {}})
    c.notify("initialized", {})
    std_uri = uri(os.path.join(tmp, "uses_std.bloom"))
    c.notify("textDocument/didOpen", {"textDocument": {"uri": std_uri, "languageId": "bloom", "version": 1,
                                                       "text": '// the stdlib\nimport "std/broken" as b;\n'}})
    d = c.diagnostics(std_uri)
    print(json.dumps(d))
    check(len(d) == 1 and d[0]["range"] == {"start": pos(1, 7), "end": pos(1, 19)} and "broken.bloom:2:" in d[0]["message"]
          and d[0]["relatedInformation"][-1]["location"]["uri"] == uri(os.path.join(std, "broken.bloom")),
          "an error in a stdlib module is shown at its import, with its place")
    c.request("shutdown", None)
    c.notify("exit", None)
    check(c.proc.wait(timeout=WAIT) == 0, "the stdlib session ends cleanly")

    c = Client()
    c.request("initialize", {"processId": None, "capabilities": {}})
    c.notify("exit", None)
    check(c.proc.wait(timeout=WAIT) == 1, "exit without shutdown: status 1")

    c = Client()
    c.request("initialize", {"processId": None, "capabilities": {}})
    check(c.finish() == 1 and c.proc.stderr.read() == b"", "end of input ends the server (status 1: no shutdown), quietly")


main()
