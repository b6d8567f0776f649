"""Shared helpers for the notify tests: the C test host driven over a pipe,
an aiosmtpd recorder, the outbox as seen in PostgreSQL."""
import base64
import calendar
import email
import email.policy
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import free_port, spawn, stop_pid, tmpdir, wait_tcp  # noqa: E402

HOST_EXE = os.path.join(os.environ["WT_BUILD_ROOT"], "tests/notify/t_notify_host")
HERE = os.path.dirname(os.path.abspath(__file__))


def utc_ms(y, mo, d, h, mi, s=0):
    return calendar.timegm((y, mo, d, h, mi, s)) * 1000


class Host:
    """t_notify_host with a JSON config; cmd() sends one line, returns the answer."""

    def __init__(self, cfg, workdir):
        self.cfg_path = os.path.join(workdir, f"cfg-{os.getpid()}-{id(self)}.json")
        with open(self.cfg_path, "w") as f:
            json.dump(cfg, f)
        self.log_path = os.path.join(workdir, "host.log")
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([HOST_EXE, self.cfg_path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out = self.proc.stdout.readline().strip()
        if not out:
            self.proc.wait(10)
            with open(self.log_path) as f:
                sys.stdout.write("host log tail:\n" + "".join(f.readlines()[-60:]))
            raise RuntimeError(f"host died on {line!r} (rc {self.proc.poll()})")
        return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            rc = self.proc.wait(60)
        else:
            rc = self.proc.returncode
        self.log.close()
        if rc != 0:  # sanitizer reports and logs end up here: show them
            with open(self.log_path) as f:
                sys.stdout.write("host log tail:\n" + "".join(f.readlines()[-60:]))
        return rc


class Smtp:
    """aiosmtpd on a free port with the recording handler."""

    def __init__(self, workdir, port=None, extra=(), name="smtp"):
        self.file = os.path.join(workdir, f"{name}.jsonl")
        self.extra = list(extra)
        self.port = port or free_port()
        self.proc = None
        self.start()

    def start(self):
        env = dict(os.environ, SMTP_REC_FILE=self.file, PYTHONPATH=HERE)
        self.proc = spawn(["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l",
                           f"127.0.0.1:{self.port}", "-c", "smtp_rec.Handler", *self.extra], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_tcp(self.port)

    def stop(self):
        stop_pid(self.proc)

    def messages(self):
        if not os.path.exists(self.file):
            return []
        out = []
        with open(self.file) as f:
            for line in f:
                rec = json.loads(line)
                raw = base64.b64decode(rec["data"])
                msg = email.message_from_bytes(raw, policy=email.policy.default)
                out.append((rec["rcpt"], msg, raw))
        return out


def body_text(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content()
