"""Benchmark of SNMP polling end to end: wattrack-sim fleets of APC rPDU2 PDUs (3 phases, 24
outlets; every device on its own UDP port, as on a real network) polled every 5 s by
  - wattrack: the real daemon, devices registered in PostgreSQL the way an operator does
    (scripts/wattrack-fleet.py), storing to PostgreSQL (poll + rollup + writer, one process);
  - collectd 5.12's snmp plugin, polling the same OIDs at the same interval;
  - prometheus-snmp-exporter 0.21 with a hand-written snmp.yml walking the same columns,
    every target scraped every 5 s by a small threaded scraper (its CPU is not counted).
They run one after another against the same simulator so they never share the two cores.

wattrack's figures come from the daemon itself: CPU from /proc/PID/stat (all threads), RSS from
/proc/PID/status, polls, missed slots and samples written from its /metrics endpoint. The
PostgreSQL server's CPU is printed beside it (pg_cpu_us_per_sample) but not added: the peers
store nothing. The peers' CPU per sample is their process CPU over the samples they read.

    tests/bench/run snmp [--quick] [--fleets=500,1000] [--no-peers] [--flush=60]

--flush=S sets storage.flush_interval (default 60 s, the shipped default: one COPY per 60 s
window with every series' minute row whole; 5 s writes one-bucket rows, 12 times as many).

--no-peers measures wattrack alone (for A/B runs of a change; the RESULT line then has n/a
for the peers).

Before measuring, each wattrack run waits until the first polls have created every series
(no new series for two intervals, steady write rate); that time is printed (settled_after_s),
with the time from registering the fleet to every device answered once (bound_after_s) and the
series cache's creation rate from the daemon's log (create_series_per_s: series made / seconds
its worker spent in PostgreSQL).

Scale: every PDU is one UDP socket in the simulator, in wattrack and in each peer, so the
benchmark raises its soft RLIMIT_NOFILE to the hard limit (inherited by all of them) and says
so when the hard limit is below what the largest fleet needs. A peer that cannot poll a fleet
(crashed, logged errors, scrapes failing) prints n/a with the reason in its column.
"""
import importlib.util
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.environ["WT_SOURCE_ROOT"]
BUILD = os.environ["WT_BUILD_ROOT"]
sys.path.insert(0, os.path.join(ROOT, "tests/lib"))
sys.path.insert(0, os.path.join(ROOT, "tests/api"))
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
from wtfix import Postgres, free_port, spawn, stop_pid  # noqa: E402
from apilib import Client  # noqa: E402

import psycopg2  # noqa: E402

SIM = os.path.join(BUILD, "tests/sim/wattrack-sim")
WATTRACK = os.path.join(BUILD, "wattrack")
spec = importlib.util.spec_from_file_location("wtfleet", os.path.join(ROOT, "scripts/wattrack-fleet.py"))
wtfleet = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wtfleet)

quick = "--quick" in sys.argv
peers = "--no-peers" not in sys.argv
FLUSH_S = 60
fleets = [100, 300] if quick else [500, 1000, 2000, 5000]
for a in sys.argv[1:]:
    if a.startswith("--fleets="):  # e.g. --fleets=500,2000
        fleets = [int(x) for x in a[len("--fleets="):].split(",")]
    if a.startswith("--flush="):
        FLUSH_S = int(a[len("--flush="):])
secs = 20 if quick else 60
SETTLE_MAX = 120 if quick else 900
INTERVAL_S = 5
HZ = os.sysconf("SC_CLK_TCK")
R = "1.3.6.1.4.1.318.1.1.26"
# The dynamic readings of pollers/profiles/apc-rpdu2.json, as table columns.
COLUMNS = ([f"{R}.9.4.3.1.{c}" for c in (6, 7, 11)] + [f"{R}.9.2.3.1.5"]     # outlets
           + [f"{R}.6.3.1.{c}" for c in (5, 6, 7, 8, 9, 10)]                 # phases
           + [f"{R}.8.3.1.{c}" for c in (5, 6)]                               # banks
           + [f"{R}.4.3.1.{c}" for c in (5, 9, 16, 17)])                      # total
os.environ["MIBS"] = ""

# One descriptor per device in the simulator, wattrack and the peers, plus their own.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
try:
    if _hard != resource.RLIM_INFINITY and _hard > _soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
    elif _hard == resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1 << 20, _hard))
except (ValueError, OSError) as e:
    print(f"warning: cannot raise RLIMIT_NOFILE: {e}")
NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
if NOFILE != resource.RLIM_INFINITY and NOFILE < max(fleets) + 1024:
    print(f"warning: RLIMIT_NOFILE is {NOFILE}, {max(fleets)} PDUs need about {max(fleets) + 1024}")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def ppid_cpu_s(ppid):
    """CPU of a process's children (PostgreSQL backends and helpers) plus its own."""
    total = cpu_s(ppid)
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == ppid:
                total += (int(fields[11]) + int(fields[12])) / HZ
        except (OSError, IndexError, ValueError):
            pass
    return total


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sim:
    def __init__(self, n, tmp):
        fleet = os.path.join(tmp, "fleet-in.json")
        # One community for all: each device has its own port, like real PDUs on their own
        # addresses, so the peers need one auth module, not one per device.
        devs = [{"id": i, "name": f"pdu-{i:05d}", "kind": "pdu", "model": "apc-rpdu2",
                 "protocol": "snmp", "wiring": "wye", "outlets": 24, "units": 1,
                 "snmp": {"community": "public", "write_community": "private", "context": f"dev-{i}"}}
                for i in range(n)]
        with open(fleet, "w") as f:
            json.dump({"devices": devs}, f)
        self.out = os.path.join(tmp, "fleet.json")
        for base in (21000, 26000, 15000):
            self.proc = spawn([SIM, "--fleet", fleet, "--write-fleet", self.out, "--log-level", "warning",
                               "--snmp-port-base", str(base)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            line = self.proc.stdout.readline()
            if line.startswith("READY"):
                self.base = base
                self.control = int(re.search(r"control=(\d+)", line).group(1))
                break
            stop_pid(self.proc)
        else:
            raise SystemExit("wattrack-sim did not start")
        with open(self.out) as f:
            self.fleet = json.load(f)

    def stop(self):
        stop_pid(self.proc)

    def varbinds(self):
        """Varbinds the simulator has answered so far (all devices)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.control}/api/stats", timeout=10) as r:
            return json.load(r)["snmp"]["varbinds"]


def metrics(c):
    st, _, body = c.call("GET", "/metrics")
    out = {}
    if st == 200 and isinstance(body, str):
        for line in body.splitlines():
            m = re.match(r"^(wattrack_[a-z_]+) ([0-9.e+-]+)$", line)
            if m:
                out[m.group(1)] = float(m.group(2))
    return out


def run_wattrack(n, sim, tmp):
    pg = Postgres()  # its own directory: the cluster runs as user postgres
    conf = os.path.join(tmp, "wattrack.conf")
    with open(conf, "w") as f:
        f.write(f'database.url = "{pg.dsn}"\nstate_dir = {tmp}/state\n'
                f"poll.interval = {INTERVAL_S}s\npoll.timeout = 2s\npoll.retries = 1\n"
                f"storage.flush_interval = {FLUSH_S}s\ndevices.rescan = 2s\nworkers.threads = 2\n"
                "log.level = info\napi.listen = 127.0.0.1\napi.http = on\n"
                f"api.http_port = {free_port()}\napi.https_port = 0\n")
    log = open(os.path.join(tmp, "wattrack.log"), "w+")
    w = spawn([WATTRACK, "--config", conf], stdout=subprocess.DEVNULL, stderr=log)
    try:
        def grep(rx, timeout):
            deadline = time.time() + timeout
            while time.time() < deadline:
                with open(log.name) as f:
                    m = re.search(rx, f.read())
                if m:
                    return m
                if w.poll() is not None:
                    break
                time.sleep(0.3)
            with open(log.name) as f:
                print(f.read()[-3000:])
            raise SystemExit(f"wattrack: no {rx!r}")
        grep(r"wattrack ready", 120)
        pw = grep(r"one-time password (\S+)", 30).group(1)
        port = int(grep(r"API listening on http://127\.0\.0\.1:(\d+)", 10).group(1))
        conn = psycopg2.connect(pg.dsn)
        t_load = time.time()
        ids = wtfleet.load(conn, sim.fleet, rules=True)
        conn.close()
        assert len(ids) == n, (len(ids), n)
        c = Client(port)
        st, _, _ = c.login("admin", pw)
        assert st == 200, st
        st, _, _ = c.call("POST", "/api/v1/session/password",
                          {"current_password": pw, "new_password": "Bench admin password 2026"})
        # bound and polling: every device answered once, then two more intervals to settle
        deadline = time.time() + 300
        while time.time() < deadline and metrics(c).get("wattrack_polls_ok_total", 0) < n:
            time.sleep(1)
        bound_s = time.time() - t_load
        # Settled: no new series for two intervals (the first polls create every series
        # once) and the poll rate steady; the time this takes is printed.
        t_bind = time.time()
        last, prev_rate, settled = None, None, 0
        conn = psycopg2.connect(pg.dsn)
        conn.autocommit = True
        while time.time() - t_bind < SETTLE_MAX and settled < 2:
            m_a = metrics(c)
            time.sleep(INTERVAL_S)
            m_b = metrics(c)
            cur = conn.cursor()
            cur.execute("SELECT count(*) FROM series")
            nser = cur.fetchone()[0]
            rate = m_b.get("wattrack_polls_ok_total", 0) - m_a.get("wattrack_polls_ok_total", 0)
            steady = (nser == last and rate > 0 and prev_rate
                      and abs(rate - prev_rate) <= 0.1 * prev_rate)
            settled = settled + 1 if steady else 0
            last, prev_rate = nser, rate
        conn.close()
        settle_s = time.time() - t_bind
        # Samples are counted when a flush window commits (every FLUSH_S): the window
        # starts and ends right after a commit, so it holds whole flush windows and the
        # writer's CPU for exactly those.
        def after_commit():
            base = metrics(c).get("wattrack_storage_samples_written_total", 0)
            end = time.time() + FLUSH_S + 3 * INTERVAL_S
            while time.time() < end:
                m = metrics(c)
                if m.get("wattrack_storage_samples_written_total", 0) != base:
                    return m
                time.sleep(0.1)
            return metrics(c)
        m0 = after_commit()
        c0, p0, t0 = cpu_s(w.pid), ppid_cpu_s(pg.pid), time.time()
        time.sleep(max(secs, FLUSH_S) - min(INTERVAL_S, FLUSH_S) / 2)
        m1 = after_commit()
        c1, p1, t1 = cpu_s(w.pid), ppid_cpu_s(pg.pid), time.time()
        rss = rss_mb(w.pid)
        made = pg_s = 0.0
        with open(log.name) as f:
            for m in re.finditer(r"series cache: (\d+) new series resolved \(([0-9.]+) s in "
                                 r"PostgreSQL", f.read()):
                made += int(m.group(1))
                pg_s += float(m.group(2))
        d = {k: m1.get(k, 0) - m0.get(k, 0) for k in m1}
        samples = d.get("wattrack_storage_samples_written_total", 0)
        el = t1 - t0
        return {"pdus": n, "polls_per_s": d.get("wattrack_polls_ok_total", 0) / el,
                "failed": int(d.get("wattrack_polls_failed_total", 0)),
                "missed": int(d.get("wattrack_polls_missed_total", 0)),
                "late_ms_max": round(1000 * m1.get("wattrack_poll_late_max_seconds", 0)),
                "samples_per_s": samples / el,
                "samples_per_poll": samples / max(d.get("wattrack_polls_ok_total", 1), 1),
                "cpu_us_per_sample": (c1 - c0) * 1e6 / max(samples, 1),
                "cpu_pct": 100 * (c1 - c0) / el, "rss_mb": rss,
                "pg_cpu_us_per_sample": (p1 - p0) * 1e6 / max(samples, 1),
                "dropped": int(d.get("wattrack_storage_samples_dropped_total", 0)
                               + d.get("wattrack_storage_samples_rejected_total", 0)),
                "series": last, "settle_s": settle_s, "bound_s": bound_s,
                "create_per_s": made / pg_s if pg_s > 0 else 0.0}
    finally:
        stop_pid(w)
        log.close()
        pg.stop()


def run_collectd(n, sim, tmp, values_per_poll):
    exe = shutil.which("collectd") or "/usr/sbin/collectd"
    if not os.path.exists(exe):
        return None
    conf = os.path.join(tmp, "collectd.conf")
    with open(conf, "w") as f:
        f.write(f'Hostname "bench"\nFQDNLookup false\nInterval {INTERVAL_S}\n'
                f'ReadThreads 16\nBaseDir "{tmp}"\nPIDFile "{tmp}/collectd.pid"\n'
                f'LoadPlugin logfile\n<Plugin logfile>\n  LogLevel warning\n  File "{tmp}/collectd.log"\n</Plugin>\n'
                'LoadPlugin snmp\n<Plugin snmp>\n')
        names = []
        for k, col in enumerate(COLUMNS):  # a "gauge" Data block carries one column
            names.append(f"c{k}")
            f.write(f'  <Data "c{k}">\n    Type "gauge"\n    Table true\n    Values "{col}"\n  </Data>\n')
        for i in range(n):
            f.write(f'  <Host "pdu{i}">\n    Address "127.0.0.1:{sim.base + i}"\n    Version 2\n'
                    f'    Community "public"\n    Collect {" ".join(chr(34) + t + chr(34) for t in names)}\n'
                    f'    Interval {INTERVAL_S}\n  </Host>\n')
        f.write("</Plugin>\n")
    cd = spawn([exe, "-C", conf, "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2 * INTERVAL_S)
    if cd.poll() is not None:
        return {"why": f"exited with {cd.returncode} at start"}
    c0, t0, v0 = cpu_s(cd.pid), time.time(), sim.varbinds()
    time.sleep(secs)
    v1 = sim.varbinds()
    if cd.poll() is not None:
        return {"why": f"exited with {cd.returncode} while polling"}
    c1, t1 = cpu_s(cd.pid), time.time()
    rss = rss_mb(cd.pid)
    stop_pid(cd)
    with open(os.path.join(tmp, "collectd.log")) as f:
        errors = [x for x in f if "failed" in x or "error" in x.lower()]
    if errors:
        print(f"collectd reported {len(errors)} errors, its figure is not valid:", errors[:3])
        return {"why": f"{len(errors)} errors logged"}
    # collectd keeps no count of values read: every poll is assumed to read them all (the log
    # shows no failure), which flatters collectd if some polls were skipped.
    samples = n * (t1 - t0) / INTERVAL_S * values_per_poll
    # ... so it is checked against what the simulator answered: a walk reads every value plus
    # one past each column, so answered varbinds below the values a full round needs mean
    # collectd did not poll every host every interval (it does not say so in its log).
    answered = v1 - v0
    if answered < 0.95 * samples:
        return {"why": f"answered varbinds {answered / samples:.0%} of the values its hosts "
                       f"hold: not every host polled every {INTERVAL_S} s", "rss_mb": rss}
    return {"cpu_us_per_sample": (c1 - c0) * 1e6 / samples, "rss_mb": rss}


def exporter_yml(path):
    with open(path, "w") as f:
        f.write("rpdu2:\n  version: 2\n  auth:\n    community: public\n"
                "  timeout: 2s\n  retries: 1\n  max_repetitions: 25\n  walk:\n")
        for col in COLUMNS:
            f.write(f"  - {col}\n")
        f.write("  metrics:\n")
        for col in COLUMNS:
            f.write(f"  - name: apc_{col[len(R) + 1:].replace('.', '_')}\n    oid: {col}\n"
                    "    type: gauge\n    help: rPDU2 column\n    indexes:\n"
                    "    - labelname: idx\n      type: gauge\n")


def run_exporter(n, sim, tmp):
    exe = shutil.which("prometheus-snmp-exporter")
    if not exe:
        return None
    yml = os.path.join(tmp, "snmp.yml")
    exporter_yml(yml)
    port = free_port()
    ex = spawn([exe, f"--config.file={yml}", f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "exporter.log"), "w"))
    stop = threading.Event()
    counts = {"samples": 0, "scrapes": 0, "errors": 0, "late": 0}
    lock = threading.Lock()
    nthreads = 32

    def worker(k):
        targets = list(range(k, n, nthreads))
        slot = time.time()
        while not stop.is_set():
            got = err = 0
            for i in targets:
                url = f"http://127.0.0.1:{port}/snmp?module=rpdu2&target=127.0.0.1:{sim.base + i}"
                try:
                    with urllib.request.urlopen(url, timeout=10) as r:
                        body = r.read().decode()
                    got += sum(1 for line in body.splitlines() if line.startswith("apc_"))
                except OSError:
                    err += 1
            with lock:
                counts["samples"] += got
                counts["scrapes"] += len(targets)
                counts["errors"] += err
            slot += INTERVAL_S
            left = slot - time.time()
            if left > 0:
                stop.wait(left)
            else:
                with lock:
                    counts["late"] += 1
                slot = time.time()

    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
            break
        except OSError:
            time.sleep(0.2)
    ts = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(nthreads)]
    for t in ts:
        t.start()
    time.sleep(2 * INTERVAL_S)
    with lock:
        s0 = dict(counts)
    c0, t0 = cpu_s(ex.pid), time.time()
    time.sleep(secs)
    c1, t1 = cpu_s(ex.pid), time.time()
    with lock:
        s1 = dict(counts)
    rss = rss_mb(ex.pid)
    stop.set()
    for t in ts:
        t.join(15)
    stop_pid(ex)
    samples = s1["samples"] - s0["samples"]
    failed = s1["errors"] - s0["errors"]
    if failed:
        print(f"exporter: {failed} of {s1['scrapes'] - s0['scrapes']} scrapes failed")
    if failed > 0.01 * max(s1["scrapes"] - s0["scrapes"], 1):
        return {"why": f"{failed} of {s1['scrapes'] - s0['scrapes']} scrapes failed"}
    return {"cpu_us_per_sample": (c1 - c0) * 1e6 / max(samples, 1), "rss_mb": rss,
            "samples_per_s": samples / (t1 - t0), "late_rounds": s1["late"] - s0["late"]}


def f2(x):
    return "n/a" if x is None else f"{x:.2f}"


rows = []
for n in fleets:
    with tempfile.TemporaryDirectory(prefix="wt-bench-snmp-") as tmp:
        sim = Sim(n, tmp)
        try:
            r = run_wattrack(n, sim, tmp)
            c = run_collectd(n, sim, tmp, r["samples_per_poll"]) if peers else None
            e = run_exporter(n, sim, tmp) if peers else None
        finally:
            sim.stop()
    r["collectd"] = c.get("cpu_us_per_sample") if c else None
    r["exporter"] = e.get("cpu_us_per_sample") if e else None
    if c and "why" in c:
        print(f"collectd at {n} PDUs: n/a ({c['why']})")
    if e and "why" in e:
        print(f"exporter at {n} PDUs: n/a ({e['why']})")
    elif e and r["samples_per_poll"] > 0:
        # its CPU per sample counts only what was read; say when the scrapes (exporter and
        # this scraper) did not read every target every interval
        share = e["samples_per_s"] / (n * r["samples_per_poll"] / INTERVAL_S)
        if share < 0.95:
            print(f"exporter at {n} PDUs: read {share:.0%} of the values of every target every "
                  f"{INTERVAL_S} s (late_rounds={e['late_rounds']}); its cpu_us/sample is per "
                  "value read")
    rows.append(r)
    print(f"pdus={n:5d} polls/s={r['polls_per_s']:7.1f} samples/s={r['samples_per_s']:8.0f} "
          f"samples/poll={r['samples_per_poll']:.0f} missed={r['missed']} failed={r['failed']} "
          f"dropped={r['dropped']} "
          f"late_ms_max={r['late_ms_max']} cpu={r['cpu_pct']:.1f}% rss_mb={r['rss_mb']:.0f} "
          f"cpu_us/sample={r['cpu_us_per_sample']:.2f} (postgres {r['pg_cpu_us_per_sample']:.2f}) "
          f"series={r['series']} bound_after_s={r['bound_s']:.0f} "
          f"settled_after_s={r['settle_s']:.0f} create_series_per_s={r['create_per_s']:.0f} | "
          f"collectd cpu_us/sample={f2(r['collectd'])} rss_mb={f2(c and c.get('rss_mb'))} | "
          f"exporter cpu_us/sample={f2(r['exporter'])} rss_mb={f2(e and e.get('rss_mb'))} "
          f"samples/s={f2(e and e.get('samples_per_s'))} late_rounds={e and e.get('late_rounds')}",
          flush=True)
linearity = None
if len(rows) > 1:
    # Cost that grows linearly with the fleet is a constant cost per sample: ratio ~1.
    a, b = rows[0], rows[-1]
    linearity = b['cpu_us_per_sample'] / a['cpu_us_per_sample']
    print(f"linearity: cpu_us/sample {a['cpu_us_per_sample']:.2f} at {a['pdus']} PDUs, "
          f"{b['cpu_us_per_sample']:.2f} at {b['pdus']} PDUs (ratio {linearity:.2f})")
big = rows[-1]
print(f"RESULT snmp pdus={big['pdus']} samples_per_s={big['samples_per_s']:.0f} "
      f"linearity={'n/a' if linearity is None else f'{linearity:.2f}'} "
      f"settled_after_s={big['settle_s']:.0f} create_series_per_s={big['create_per_s']:.0f} "
      f"missed={sum(r['missed'] for r in rows)} cpu_us_per_sample={big['cpu_us_per_sample']:.2f} "
      f"collectd_cpu_us_per_sample={f2(big['collectd'])} exporter_cpu_us_per_sample={f2(big['exporter'])}")
