#!/usr/bin/env python3
"""One FTP control session driven step by step, for tests/e2e/session.t.

    session-client.py --host H --mode port|pasv|eprt|epsv --steps STEPS
                      [--chunk N] [--source ADDR] [--sync DIR]
                      [--sha256 HEX] [--timeout S]

STEPS is a comma-separated list, run in order on ONE control connection:
    list            LIST through a data connection of --mode
    try-list        the same, but a refused PORT/EPRT/PASV (4xx/5xx) is
                    reported ("refused") and the session goes on
    get             RETR /pub/data.bin, checked against --sha256
    noop*N          N NOOP commands, each answered 200
    pause:NAME      write DIR/NAME.ready, wait (bounded) for DIR/NAME.go
    hold:NAME       the next data step pauses like pause:NAME once its
                    PORT/EPRT/PASV/EPSV is answered (the pinhole is open)
    quit            QUIT

--chunk N sends every command N bytes per TCP segment (TCP_NODELAY and a
short pause between pieces), so each line is split over several segments.
Prints "ok STEP" or "FAIL STEP: why"; exits 0 only if every step passed.
--trace also prints every command sent ("C> ...") and reply ("S< ...").
Every wait is bounded by --timeout.
"""
import argparse
import hashlib
import os
import re
import socket
import sys
import time


class Fail(Exception):
    pass


class Session:
    def __init__(self, a):
        self.a = a
        fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
        self.fam = fam
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        self.s.settimeout(a.timeout)
        if a.source:
            self.s.bind((a.source, 0))
        if a.chunk:
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.connect((a.host, 21))
        self.f = self.s.makefile("rb")
        self.local = self.s.getsockname()[0]
        self.hold = None

    def reply(self):
        line = self.f.readline(4096)
        if not line:
            raise Fail("control connection closed")
        text = line.decode("latin-1").rstrip("\r\n")
        if self.a.trace:
            print("S< " + text, flush=True)
        if len(text) < 3 or not text[:3].isdigit():
            raise Fail("not a reply: %r" % text)
        code = text[:3]
        if text[3:4] == "-":
            for _ in range(1000):
                more = self.f.readline(4096)
                if not more:
                    raise Fail("closed inside a multi-line reply")
                t = more.decode("latin-1").rstrip("\r\n")
                if t.startswith(code + " "):
                    text = text + "\n" + t
                    break
            else:
                raise Fail("multi-line reply too long")
        return int(code), text

    def send(self, cmd):
        if self.a.trace:
            print("C> " + (cmd if not cmd.startswith("PASS") else "PASS ****"),
                  flush=True)
        data = (cmd + "\r\n").encode("latin-1")
        if self.a.chunk:
            n = self.a.chunk
            for i in range(0, len(data), n):
                self.s.sendall(data[i:i + n])
                time.sleep(0.002)
        else:
            self.s.sendall(data)

    def cmd(self, cmd, want):
        self.send(cmd)
        code, text = self.reply()
        if code != want:
            raise Fail("%s -> %s" % (cmd.split()[0], text))
        return text

    def login(self):
        code, text = self.reply()
        if code != 220:
            raise Fail("greeting: " + text)
        self.send("USER anonymous")
        code, text = self.reply()
        if code == 331:
            self.cmd("PASS lab@", 230)
        elif code != 230:
            raise Fail("USER: " + text)
        self.cmd("TYPE I", 200)

    def data(self, command):
        """Open the data connection in --mode, send command, return bytes."""
        mode = self.a.mode
        lsock = conn = None
        try:
            if mode in ("port", "eprt"):
                lsock = socket.socket(self.fam, socket.SOCK_STREAM)
                lsock.bind((self.local, 0))
                lsock.listen(1)
                lsock.settimeout(self.a.timeout)
                port = lsock.getsockname()[1]
                if mode == "port":
                    h = self.local.replace(".", ",")
                    self.cmd("PORT %s,%d,%d" % (h, port >> 8, port & 255), 200)
                else:
                    proto = 2 if self.fam == socket.AF_INET6 else 1
                    self.cmd("EPRT |%d|%s|%d|" % (proto, self.local, port), 200)
            else:
                if mode == "pasv":
                    text = self.cmd("PASV", 227)
                    m = re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", text)
                    if not m:
                        raise Fail("227 without an address: " + text)
                    n = [int(x) for x in m.groups()]
                    addr = "%d.%d.%d.%d" % tuple(n[:4])
                    port = n[4] * 256 + n[5]
                else:
                    text = self.cmd("EPSV", 229)
                    m = re.search(r"\((.)\1\1(\d+)\1\)", text)
                    if not m:
                        raise Fail("229 without a port: " + text)
                    addr, port = self.a.host, int(m.group(2))
            if self.hold:
                wait_go(self.a, self.hold)
                self.hold = None
            if mode not in ("port", "eprt"):
                conn = socket.create_connection((addr, port), self.a.timeout)
            self.send(command)
            code, text = self.reply()
            if code not in (125, 150):
                raise Fail("%s -> %s" % (command, text))
            if lsock:
                conn, _ = lsock.accept()
                conn.settimeout(self.a.timeout)
            chunks = []
            while True:
                b = conn.recv(65536)
                if not b:
                    break
                chunks.append(b)
            conn.close()
            conn = None
            code, text = self.reply()
            if code != 226:
                raise Fail("after %s: %s" % (command, text))
            return b"".join(chunks)
        finally:
            for x in (conn, lsock):
                if x:
                    x.close()


def wait_go(a, name):
    if not a.sync:
        raise Fail("pause without --sync")
    open(os.path.join(a.sync, name + ".ready"), "w").close()
    go = os.path.join(a.sync, name + ".go")
    deadline = time.monotonic() + 60
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            raise Fail("no %s.go within 60 s" % name)
        time.sleep(0.05)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--mode", default="pasv", choices=["port", "pasv", "eprt", "epsv"])
    p.add_argument("--steps", required=True)
    p.add_argument("--chunk", type=int, default=0)
    p.add_argument("--source")
    p.add_argument("--sync")
    p.add_argument("--sha256", default="")
    p.add_argument("--timeout", type=float, default=15)
    p.add_argument("--trace", action="store_true")
    a = p.parse_args()
    ok = True
    try:
        s = Session(a)
        s.login()
        print("ok login", flush=True)
    except (Fail, OSError) as e:
        print("FAIL login: %s" % e, flush=True)
        return 1
    for step in a.steps.split(","):
        try:
            if step == "list":
                out = s.data("LIST /pub/listdir")
                if out.count(b"entry-") != 12:
                    raise Fail("LIST shows %d entries" % out.count(b"entry-"))
            elif step == "try-list":
                try:
                    out = s.data("LIST /pub/listdir")
                    if out.count(b"entry-") != 12:
                        raise Fail("LIST shows %d entries" % out.count(b"entry-"))
                except Fail as e:
                    if not re.search(r"-> [45]\d\d ", str(e)):
                        raise
                    print("refused %s" % e, flush=True)
            elif step == "get":
                out = s.data("RETR /pub/data.bin")
                got = hashlib.sha256(out).hexdigest()
                if got != a.sha256:
                    raise Fail("sha256 %s, expected %s (%d bytes)" % (got, a.sha256, len(out)))
            elif step.startswith("noop*"):
                for i in range(int(step[5:])):
                    s.cmd("NOOP", 200)
            elif step.startswith("hold:"):
                s.hold = step[5:]
            elif step.startswith("pause:"):
                wait_go(a, step[6:])
            elif step == "quit":
                s.cmd("QUIT", 221)
            else:
                raise Fail("unknown step")
            print("ok " + step, flush=True)
        except (Fail, OSError) as e:
            print("FAIL %s: %s" % (step, e), flush=True)
            ok = False
            break
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
