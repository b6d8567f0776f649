"""wattrack's command line: --version, --help, --check-config reporting every
problem with file:line and the key, --dump-config masking secrets and
re-parsing, and the exit codes."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wtdaemon import run  # noqa: E402
from wtfix import Failures, tmpdir  # noqa: E402

f = Failures()
d = tmpdir("wt-cli-")


def write(name, text, mode="w"):
    p = os.path.join(d, name)
    with open(p, mode) as fh:
        fh.write(text)
    return p


# --version and --help
r = run(["--version"])
f.check(r.returncode == 0, f"--version exits 0, got {r.returncode}")
f.check(re.fullmatch(r"wattrack \d+\.\d+\.\d+\n", r.stdout) is not None,
        f"--version prints 'wattrack X.Y.Z': {r.stdout!r}")
r = run(["--help"])
f.check(r.returncode == 0 and "--check-config" in r.stdout and "--dump-config" in r.stdout,
        "--help lists the options")
r = run(["--no-such-option"])
f.check(r.returncode == 1, f"an unknown option exits 1, got {r.returncode}")
r = run(["--log-level", "loud", "--check-config", "--config", "/dev/null"])
f.check(r.returncode == 1 and "--log-level loud" in r.stderr,
        f"a bad --log-level exits 1 with a reason: {r.returncode} {r.stderr!r}")
r = run(["stray-argument"])
f.check(r.returncode == 1 and "stray-argument" in r.stderr, "a stray argument exits 1")

# --check-config on a file with a problem on almost every line: every one is
# reported with file:line and the key, and the exit code is 1.
bad = write("bad.conf", (
    "# line 1 is a comment\n"
    "storage.flush_intervall = 30s\n"           # 2 unknown, with a suggestion
    "workers.threads = lots\n"                  # 3 not an integer
    "poll.interval = 5\n"                       # 4 duration without unit
    "storage.spool_max = 10kB\n"                # 5 out of range
    "log.level = chatty\n"                      # 6 bad enum
    "log.level = debug\n"                       # 7 fine: line 6 failed, so not a duplicate
    "log.syslog\n"                              # 8 missing '='
    "state_dir = \"/var/lib/x\n"                # 9 unterminated quote
    "retention.raw = 30d\n"                     # 10
    "retention.hourly = 20d\n"                  # 11 cross-field: raw > hourly
    "workers.queue_max = 100\n"
    "workers.queue_max = 200\n"                 # 13 duplicate
    "database.url = \"x\" trailing\n"          # 14 text after the quote
))
with open(bad, "ab") as fh:
    fh.write(b"state_dir = /caf\xe9\n")            # 15 not UTF-8
r = run(["--check-config", "--config", bad])
f.check(r.returncode == 1, f"--check-config on a bad file exits 1, got {r.returncode}")
expected = [
    (2, "storage.flush_intervall", 'did you mean "storage.flush_interval"'),
    (3, "workers.threads", "not an integer"),
    (4, "poll.interval", "not a duration"),
    (5, "storage.spool_max", "out of range"),
    (6, "log.level", "not one of"),
    (8, "log.syslog", "missing '='"),
    (9, "state_dir", "unterminated"),
    (11, "retention.hourly", "longer than retention.hourly"),
    (13, "workers.queue_max", "set twice (first on line 12)"),
    (14, "database.url", "after the closing quote"),
    (15, "state_dir", "invalid UTF-8"),
]
for line, key, msg in expected:
    want = f"{bad}:{line}: {key}: "
    hit = [l for l in r.stderr.splitlines() if l.startswith(want) and msg in l]
    f.check(len(hit) == 1, f"--check-config reports line {line} ({key}: {msg})")
problems = [l for l in r.stderr.splitlines() if l.startswith(bad + ":")]
f.check(len(problems) == len(expected),
        f"exactly {len(expected)} problems reported, got {len(problems)}:\n" + r.stderr)
f.check("configuration refused" in r.stderr.splitlines()[-1], "a final one-line verdict")

# A good file passes.
good = write("good.conf", "state_dir = /var/lib/wattrack-test\nlog.level = debug\n"
             "storage.flush_interval = 10s  # comment\n")
r = run(["--check-config", "--config", good])
f.check(r.returncode == 0 and "configuration OK" in r.stdout,
        f"--check-config on a good file exits 0: {r.returncode} {r.stderr!r}")

# A missing file.
r = run(["--check-config", "--config", os.path.join(d, "missing.conf")])
f.check(r.returncode == 1 and "cannot open" in r.stderr,
        f"a missing file exits 1 and says so: {r.returncode} {r.stderr!r}")

# --dump-config: every setting, the password masked, and the dump parses back.
secret = write("secret.conf", 'database.url = "postgresql://wt:Sup3rS3cret@db.example/wt"\n'
               "state_dir = /srv/wt\nretention.raw = 7d\n")
r = run(["--dump-config", "--config", secret])
f.check(r.returncode == 0, f"--dump-config exits 0, got {r.returncode}")
f.check("Sup3rS3cret" not in r.stdout, "--dump-config masks the database password")
f.check("db.example" in r.stdout, "--dump-config keeps the rest of the URL")
f.check("retention.raw = 7d" in r.stdout, "--dump-config shows a set value")
f.check('storage.spool_dir = "/srv/wt/spool"' in r.stdout,
        "--dump-config shows the derived spool dir")
f.check("storage.flush_interval = " in r.stdout and "workers.threads = 4" in r.stdout,
        "--dump-config shows defaults")
dumped = write("dumped.conf", r.stdout)
r2 = run(["--check-config", "--config", dumped])
f.check(r2.returncode == 0, f"the dump parses back: {r2.stderr!r}")
r3 = run(["--dump-config", "--config", dumped])
f.check(r3.stdout == r.stdout, "dump of the dump is identical")

# --dump-config refuses a broken file rather than printing half of it.
r = run(["--dump-config", "--config", bad])
f.check(r.returncode == 1 and r.stdout == "", "--dump-config on a bad file exits 1")

f.done()
