#!/usr/bin/env python3
"""`bloom repl` on a pseudo-terminal: the line-editing path (libedit) starts with its prompt,
accepts lines, keeps them in the history file, and :quit exits 0.
Usage: repl_tty.py BLOOM"""
import os
import pty
import select
import sys
import tempfile

DEADLINE = 30  # seconds without the expected text before giving up (a hang, not a timing check)


def main():
    bloom = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, HOME=tmp, XDG_STATE_HOME=os.path.join(tmp, "state"), TERM="xterm", NO_COLOR="1")
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(bloom, [bloom, "repl"], env)
        seen = b""

        def expect(text):
            nonlocal seen
            while text.encode() not in seen:
                ready, _, _ = select.select([fd], [], [], DEADLINE)
                if not ready:
                    sys.exit(f"FAIL: no {text!r} on the terminal; it showed:\n{seen.decode(errors='replace')}")
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    sys.exit(f"FAIL: the terminal closed before {text!r}; it showed:\n{seen.decode(errors='replace')}")
                seen += chunk
            seen = seen[seen.index(text.encode()) + len(text):]

        expect("bloom> ")
        os.write(fd, b"table t(a: int);\r")
        expect("bloom> ")
        os.write(fd, b"t(42);\r")
        expect("bloom> ")
        os.write(fd, b":tick\r")
        expect("ran tick 0")
        os.write(fd, b":q t\r")
        expect("t(42)")
        expect("bloom> ")
        os.write(fd, b":quit\r")
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            sys.exit(f"FAIL: :quit ended bloom repl with status {status}, not exit 0")
        history = os.path.join(tmp, "state", "bloom", "repl_history")
        if not os.path.exists(history) or "t(42);" not in open(history, errors="replace").read():
            sys.exit(f"FAIL: the history {history} does not hold the lines typed")
    print("ok: prompt, lines, history and :quit on a terminal")


main()
