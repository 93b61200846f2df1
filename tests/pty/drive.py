"""Drives a program through a pseudo-terminal, like a person at a keyboard.

Usage: python3 drive.py SCRIPT.json -- PROGRAM ARGS...
SCRIPT is a list of steps: {"send": "text"} writes keys ("\\t" is Tab, "\\r" Enter, "\\x04"
Ctrl-D); {"expect": "text"} waits (up to 20 s) until the output so far contains it. At the end
the program must exit; the transcript goes to stdout; exit code 1 on a failed expectation.
"""
import json
import os
import pty
import select
import sys
import time


def main():
    sep = sys.argv.index("--")
    steps = json.load(open(sys.argv[1]))
    argv = sys.argv[sep + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm"
        os.execv(argv[0], argv)
    out = b""

    def read(timeout):
        """Reads what is there; False at end of output (the program closed the terminal)."""
        nonlocal out
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return True
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return False
        out += chunk
        return bool(chunk)

    seen = 0
    for step in steps:
        if "send" in step:
            time.sleep(0.1)
            os.write(fd, step["send"].encode())
        else:
            want = step["expect"].encode()
            deadline = time.time() + 20
            while want not in out[seen:] and time.time() < deadline:
                if not read(0.2):
                    break
            if want not in out[seen:]:
                sys.stdout.write(out.decode(errors="replace"))
                print(f"\n--- expected {step['expect']!r} after offset {seen}", file=sys.stderr)
                os.kill(pid, 9)
                sys.exit(1)
            seen = out.index(want, seen) + len(want)
    status = None
    deadline = time.time() + 20
    while time.time() < deadline:
        read(0.2)
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
    drain_until = time.time() + 1
    while status is not None and time.time() < drain_until and read(0.05):
        pass
    sys.stdout.write(out.decode(errors="replace"))
    if status is None:
        os.kill(pid, 9)
        print("\n--- the program did not exit", file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 2)


main()
