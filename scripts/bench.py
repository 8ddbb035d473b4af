#!/usr/bin/env python3
"""Herald's benchmark (issue 6), run by scripts/bench.sh after it has built release binaries.

Scenarios, each against a fresh Herald (empty store in a temp dir, echo flow, webhook to the sink):
  throughput  closed loop, BENCH_SESSIONS sessions, BENCH_CONNECTIONS in flight; BENCH_RUNS runs,
              each runs Herald on every store of BENCH_STORAGE (a comma list: sqlite,postgres),
              then the same-work floor (`herald-bench floor`; BENCH_FLOOR=0 skips it), then the
              bare baseline under the same load, and (SQLite; BENCH_WITHOUT_STORE=0 skips it) the
              same Herald with `storage: memory`; the table shows medians and same-run ratios
  latency     open loop at BENCH_RATE msgs/s: send→arrival latency at the sink
  call        open loop at BENCH_RATE msgs/s, same run: the echo flow, then a flow that calls an API (the
              sink's /api, answered at once) before it answers: what one `call` node adds to send→arrival
  tracing     closed loop on SQLite, tracing off and on (sampleRatio 1, spans exported to the sink), BENCH_RUNS
              runs alternating: what tracing costs
  hot         closed loop on one session (every message waits for the previous one)
  broadcast   creates BENCH_BROADCAST_SESSIONS sessions, measures Herald's RSS with them idle,
              then one POST /admin/v1/notify and the time until the sink has every notify

Figures are wall-clock on whatever machine runs this; all processes share its cores.
"""

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN_KEY = "bench-admin-key"
URL_TOKEN = "bench"


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value else default


def env_float(name, default):
    value = os.environ.get(name, "")
    return float(value) if value else default


class Settings:
    def __init__(self):
        self.runs = env_int("BENCH_RUNS", 3)
        self.duration = env_float("BENCH_DURATION", 15)
        self.warmup = env_float("BENCH_WARMUP", 3)
        self.sessions = env_int("BENCH_SESSIONS", 1000)
        self.connections = env_int("BENCH_CONNECTIONS", 256)
        self.rate = env_float("BENCH_RATE", 1000)
        self.rate_duration = env_float("BENCH_RATE_DURATION", 20)
        self.hot_duration = env_float("BENCH_HOT_DURATION", 5)
        self.broadcast_sessions = env_int("BENCH_BROADCAST_SESSIONS", 100_000)
        self.scenarios = [s.strip() for s in os.environ.get("BENCH_SCENARIOS", "throughput,latency,hot,broadcast,scheduled").split(",") if s.strip()]
        self.scheduled_count = env_int("BENCH_SCHEDULED", 100_000)
        self.soak_rate = env_float("BENCH_SOAK_RATE", 1500)
        self.soak_minutes = env_int("BENCH_SOAK_MINUTES", 10)
        self.soak_history = os.environ.get("BENCH_SOAK_HISTORY", "2m")
        self.storage = os.environ.get("BENCH_STORAGE", "sqlite")
        # Several stores, alternated run by run in scenario (a) (issue 28): `sqlite`, `memory`,
        # `postgres` (a throwaway server started by scripts/postgres.sh, a fresh database for
        # each Herald) or a postgres:// URL used as given. The other scenarios use the first.
        self.stores = [store.strip() for store in self.storage.split(",") if store.strip()] or ["sqlite"]
        # Scenario (a) on SQLite also runs the same Herald with `storage: memory` in each run:
        # every part but the durable store, measured side by side (issue 17).
        self.without_store = os.environ.get("BENCH_WITHOUT_STORE", "1") != "0" and "sqlite" in self.stores
        # Scenario (a) also runs the same-work floor in each run (issue 27).
        self.floor = os.environ.get("BENCH_FLOOR", "1") != "0"
        self.instances = env_int("BENCH_INSTANCES", 1)
        self.max_commit_batch = os.environ.get("BENCH_MAX_COMMIT_BATCH", "")
        self.webhook_concurrency = os.environ.get("BENCH_WEBHOOK_CONCURRENCY", "")
        self.drain_timeout = env_float("BENCH_DRAIN_TIMEOUT", 180)
        self.client = os.environ.get("BENCH_CLIENT", "nio")
        self.quiet_wait = env_float("BENCH_QUIET_WAIT", 120)
        port_base = env_int("BENCH_PORT_BASE", 19000)
        self.herald_port = port_base + 80
        self.sink_port = port_base + 100
        self.baseline_port = port_base + 200
        self.floor_port = port_base + 300
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.out = os.environ.get("BENCH_OUT", os.path.join(ROOT, "bench-results", f"bench-{stamp}.json"))


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def http(method, url, body=None, headers=None, timeout=600):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, json.loads(response.read() or b"null")


def wait_for_port(port, process, name, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode} before listening (see its log)")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on port {port} within {timeout}s")


def ensure_port_free(port):
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is already in use; set BENCH_PORT_BASE")


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def stat_cpu(path):
    """The name and the CPU time (user + system, seconds) in a /proc/…/stat file."""
    with open(path) as stat:
        text = stat.read()
    fields = text.rsplit(")", 1)[1].split()
    return text[text.index("(") + 1:text.rindex(")")], (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """CPU time (user + system) a process has used so far."""
    return stat_cpu(f"/proc/{pid}/stat")[1]


def process_tree_cpu_seconds(parent):
    """CPU time (user + system) used so far by `parent` and every process whose parent it is,
    counting the children that already ended (the parent's cutime and cstime, once it has
    reaped them): a PostgreSQL server's postmaster and its backends."""
    def times(path):
        with open(path) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[1]), sum(int(v) for v in fields[11:15])  # ppid; utime, stime, cutime, cstime
    ticks = times(f"/proc/{parent}/stat")[1]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid, used = times(f"/proc/{entry}/stat")
        except (OSError, IndexError, ValueError):
            continue  # the process ended
        if ppid == parent:
            ticks += used
    return ticks / os.sysconf("SC_CLK_TCK")


def store_label(store):
    """What a BENCH_STORAGE entry is called in the table: sqlite, memory, postgres, or for a
    postgres:// URL postgres@host:port/database."""
    if "://" not in store:
        return store
    url = urllib.parse.urlparse(store)
    return f"postgres@{url.hostname}:{url.port or 5432}{url.path}"


def thread_cpu_seconds(pid):
    """CPU time used so far by each kind of thread of a process, by the threads' names: NIO's
    event loops, Swift's cooperative pool (request handling, registry, flow, outbox, delivery
    bookkeeping), the dispatch threads GRDB's writer queue runs on, and libcurl's thread."""
    groups = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name, seconds = stat_cpu(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            continue  # the thread ended
        group = ("event loops" if name.startswith("NIO-") else "curl" if name == "herald-curl"
                 else "store queue" if "overcommit" in name else "tasks" if "default-qos" in name else "other")
        groups[group] = groups.get(group, 0) + seconds
    return groups


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def cpu_busy(seconds=1.0):
    """The share of all CPUs busy over `seconds` (from /proc/stat)."""
    def sample():
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return idle, sum(fields)
    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Bench:
    def __init__(self, bin_dir, settings):
        self.bin = bin_dir
        self.s = settings
        self.processes = []
        self.workdir = tempfile.mkdtemp(prefix="herald-bench-")
        self.logdir = os.path.join(os.path.dirname(self.s.out), "logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.herald_extra = []
        self.notes = []
        # The throwaway PostgreSQL server for BENCH_STORAGE's `postgres`, once started.
        self.postgres = None

    # Processes

    def start(self, name, args):
        log_path = os.path.join(self.logdir, f"{name}.log")
        log_file = open(log_path, "ab")
        process = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT, cwd=self.workdir)
        process.bench_name = name
        self.processes.append(process)
        return process

    def stop(self, process):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process in self.processes:
            self.processes.remove(process)

    def stop_all(self):
        for process in list(self.processes):
            self.stop(process)
        self.stop_postgres()

    # The throwaway PostgreSQL server

    def start_postgres(self):
        """Starts a PostgreSQL server with scripts/postgres.sh on first use (initdb in a temp
        directory, a free port on 127.0.0.1) and returns what it printed: URL, DIR, BIN."""
        if self.postgres is None:
            log("starting a throwaway PostgreSQL server (scripts/postgres.sh start)")
            result = subprocess.run([os.path.join(ROOT, "scripts", "postgres.sh"), "start"], capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"scripts/postgres.sh start failed: {result.stderr.strip()}")
            exports = {}
            for line in result.stdout.splitlines():
                if line.startswith("export ") and "=" in line:
                    name, value = line[len("export "):].split("=", 1)
                    exports[name.strip()] = value.strip().strip("'")
            directory = exports["HERALD_TEST_POSTGRES_DIR"]
            with open(os.path.join(directory, "data", "postmaster.pid")) as pidfile:
                pid = int(pidfile.readline())
            with open(os.path.join(directory, "port")) as portfile:
                port = int(portfile.read().strip())
            self.postgres = {"dir": directory, "bin": exports["HERALD_TEST_POSTGRES_BIN"], "port": port, "pid": pid, "databases": 0,
                             "version": subprocess.run([os.path.join(exports["HERALD_TEST_POSTGRES_BIN"], "postgres"), "--version"],
                                                       capture_output=True, text=True).stdout.strip()}
        return self.postgres

    def stop_postgres(self):
        if self.postgres is not None:
            subprocess.run([os.path.join(ROOT, "scripts", "postgres.sh"), "stop", self.postgres["dir"]], capture_output=True)
            self.postgres = None

    def postgres_database(self):
        """A fresh database on the throwaway server, so each Herald starts on an empty store as
        it does on SQLite; returns its URL."""
        server = self.start_postgres()
        server["databases"] += 1
        name = f"bench_{server['databases']}"
        result = subprocess.run([os.path.join(server["bin"], "createdb"), "-h", "127.0.0.1", "-p", str(server["port"]), "-U", "postgres", name],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"createdb {name} failed: {result.stderr.strip()}")
        return f"postgres://postgres@127.0.0.1:{server['port']}/{name}?sslmode=disable"

    def drop_postgres_database(self, url):
        """Drops a database made by postgres_database (the runs' rows would fill the disk)."""
        if self.postgres is None or not url.startswith(f"postgres://postgres@127.0.0.1:{self.postgres['port']}/bench_"):
            return
        name = urllib.parse.urlparse(url).path.lstrip("/")
        subprocess.run([os.path.join(self.postgres["bin"], "dropdb"), "-h", "127.0.0.1", "-p", str(self.postgres["port"]), "-U", "postgres",
                        "--if-exists", name], capture_output=True)

    def postgres_cpu(self, storage):
        """CPU seconds used so far by the throwaway server (its postmaster and backends) when
        `storage` is one of its databases; None otherwise (a server given by URL is not ours to
        measure)."""
        if self.postgres is None or not storage.startswith(f"postgres://postgres@127.0.0.1:{self.postgres['port']}/"):
            return None
        return process_tree_cpu_seconds(self.postgres["pid"])

    # Herald, the baseline, the sink

    def check_herald_flags(self):
        if not self.s.max_commit_batch:
            return
        help_text = subprocess.run([f"{self.bin}/herald", "serve", "--help"], capture_output=True, text=True).stdout
        if "--max-commit-batch" in help_text:
            self.herald_extra = ["--max-commit-batch", self.s.max_commit_batch]
        else:
            note = "BENCH_MAX_COMMIT_BATCH is set but this herald has no --max-commit-batch flag; ignored"
            log(note)
            self.notes.append(note)

    def resolve_storage(self, storage=None):
        """A BENCH_STORAGE entry (the first when None) as Herald's `storage:` setting, except
        SQLite's file, which start_herald puts in Herald's directory: `postgres` becomes a fresh
        database on the throwaway server."""
        storage = storage or self.s.stores[0]
        return self.postgres_database() if storage == "postgres" else storage

    def storage_setting(self, directory, storage=None):
        storage = self.resolve_storage(storage)
        if storage == "sqlite":
            return f"sqlite:{directory}/herald.sqlite"
        return storage

    def start_herald(self, label, index=0, extra_config="", storage=None, flow=None):
        """`flow`: the flow file's text (the echo flow when `None`)."""
        port = self.s.herald_port + index
        ensure_port_free(port)
        directory = tempfile.mkdtemp(prefix=f"{label}-", dir=self.workdir)
        if flow is None:
            shutil.copy(os.path.join(ROOT, "examples", "flows", "echo.yaml"), os.path.join(directory, "echo.yaml"))
        else:
            with open(os.path.join(directory, "echo.yaml"), "w") as file:
                file.write(flow)
        concurrency = f"\n      concurrency: {self.s.webhook_concurrency}" if self.s.webhook_concurrency else ""
        config = f"""listen: 127.0.0.1:{port}
admin:
  keys: ["{ADMIN_KEY}"]
storage: {self.storage_setting(directory, storage)}
endpoints:
  - urlToken: {URL_TOKEN}
    flow: echo.yaml
    webhook:
      url: http://127.0.0.1:{self.s.sink_port}/hook{concurrency}
    sessionTTL: 1d
{extra_config}"""
        self.last_database = os.path.join(directory, "herald.sqlite")
        config_path = os.path.join(directory, "herald.yaml")
        with open(config_path, "w") as file:
            file.write(config)
        process = self.start(f"herald{index or ''}", [f"{self.bin}/herald", "serve", "--config", config_path, *self.herald_extra])
        wait_for_port(port, process, "herald")
        return process

    def start_floor(self):
        """`herald-bench floor`: Herald's physical work without Herald, on a fresh SQLite file,
        POSTing to the same sink."""
        ensure_port_free(self.s.floor_port)
        directory = tempfile.mkdtemp(prefix="floor-", dir=self.workdir)
        args = [f"{self.bin}/herald-bench", "floor", "--port", str(self.s.floor_port), "--database", os.path.join(directory, "floor.sqlite"),
                "--webhook", f"http://127.0.0.1:{self.s.sink_port}/hook"]
        if self.s.webhook_concurrency:
            args += ["--concurrency", self.s.webhook_concurrency]
        process = self.start("floor", args)
        wait_for_port(self.s.floor_port, process, "floor")
        return process

    def start_baseline(self):
        ensure_port_free(self.s.baseline_port)
        process = self.start("baseline", [f"{self.bin}/herald-bench", "baseline", "--port", str(self.s.baseline_port)])
        wait_for_port(self.s.baseline_port, process, "baseline")
        return process

    def start_sink(self):
        ensure_port_free(self.s.sink_port)
        process = self.start("sink", [f"{self.bin}/herald-bench", "sink", "--port", str(self.s.sink_port)])
        wait_for_port(self.s.sink_port, process, "sink")
        self.sink = process
        return process

    def sink_stats(self):
        return http("GET", f"http://127.0.0.1:{self.s.sink_port}/stats")[1]

    def sink_reset(self):
        http("POST", f"http://127.0.0.1:{self.s.sink_port}/reset", body={})

    def cpu_snapshot(self, server):
        """CPU time used so far by `server` (in all and per kind of thread) and by the sink."""
        return {"server": (server.pid, cpu_seconds(server.pid)), "sink": (self.sink.pid, cpu_seconds(self.sink.pid)),
                "threads": (server.pid, thread_cpu_seconds(server.pid))}

    def cpu_per_message(self, snapshot, messages):
        """CPU µs per message since `snapshot`, of the server (in all and per kind of thread)
        and of the sink."""
        per = lambda seconds: round(seconds * 1e6 / max(1, messages), 1)
        result = {name: per(cpu_seconds(pid) - before) for name, (pid, before) in snapshot.items() if name != "threads"}
        pid, before = snapshot["threads"]
        result["serverThreads"] = {group: per(total - before.get(group, 0)) for group, total in thread_cpu_seconds(pid).items()}
        return result

    # Load

    def wait_quiet(self):
        """Waits (up to BENCH_QUIET_WAIT s) until other processes leave the CPUs nearly idle, so
        a measurement does not share the machine with, say, a compiler. Returns the busy share
        seen last; a busy machine is noted in the results."""
        deadline = time.monotonic() + self.s.quiet_wait
        busy = cpu_busy()
        while busy > 0.15 and time.monotonic() < deadline:
            log(f"the machine is {busy:.0%} busy with other work; waiting for it to settle")
            busy = cpu_busy(5)
        if busy > 0.15:
            note = f"measured while the machine was {busy:.0%} busy with other processes"
            log(note)
            if note not in self.notes:
                self.notes.append(note)
        return round(busy, 3)

    def load(self, port, *, duration, sessions, connections, rate=None, count=None, warmup=False, path=None, extra=()):
        busy = None if warmup else self.wait_quiet()
        args = [f"{self.bin}/herald-bench", "load", "--client", self.s.client, "--url", f"http://127.0.0.1:{port}{path or '/' + URL_TOKEN}",
                "--duration", str(duration), "--sessions", str(sessions), "--connections", str(connections), *extra]
        args += ["--rate", str(rate)] if rate else ["--max"]
        if count is not None:
            args += ["--count", str(count)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run(args, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if result.returncode != 0:
            raise RuntimeError(f"load failed ({result.returncode}): {result.stderr.strip()}")
        report = json.loads(result.stdout.strip().splitlines()[-1])
        report["machineBusyBefore"] = busy
        load_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        report["loadToolCpuMicrosPerMessage"] = round(load_cpu * 1e6 / max(1, report["sent"]), 1)
        if report["errors"] or report["accepted"] < report["sent"]:
            log(f"load: {report['sent'] - report['accepted']} of {report['sent']} not accepted; first: {report['firstError']}")
        return report

    def wait_delivered(self, expected, since_micros):
        """Polls the sink until it has `expected` deliveries (or stops making progress)."""
        deadline = time.monotonic() + self.s.drain_timeout
        last_count, last_progress = -1, time.monotonic()
        while True:
            stats = self.sink_stats()
            if stats["count"] >= expected:
                break
            if stats["count"] != last_count:
                last_count, last_progress = stats["count"], time.monotonic()
            if time.monotonic() > deadline or time.monotonic() - last_progress > 30:
                log(f"sink has {stats['count']} of {expected} deliveries; giving up waiting")
                break
            time.sleep(0.1)
        delivered = {"expected": expected, "count": stats["count"], "outOfOrder": stats["outOfOrder"],
                     "sendToArrivalMs": stats["latencyMs"]}
        if stats["lastArrivalMicros"]:
            seconds = (stats["lastArrivalMicros"] - since_micros) / 1e6
            delivered["seconds"] = round(seconds, 3)
            delivered["perSecond"] = round(stats["count"] / seconds, 1) if seconds > 0 else None
        return delivered

    # Scenarios

    def load_instances(self, ports, *, duration, sessions, connections, warmup=False):
        """Closed-loop load on several Herald instances at once, over the same sessions (so one
        session's messages reach different instances); the reports summed."""
        if len(ports) == 1:
            return self.load(ports[0], duration=duration, sessions=sessions, connections=connections, warmup=warmup)
        from concurrent.futures import ThreadPoolExecutor
        share = max(1, connections // len(ports))
        with ThreadPoolExecutor(len(ports)) as pool:
            reports = list(pool.map(lambda port: self.load(port, duration=duration, sessions=sessions, connections=share, warmup=True), ports))
        total = dict(reports[0])
        for field in ("sent", "accepted", "errors", "acceptedPerSecond"):
            total[field] = sum(r[field] for r in reports)
        total["startedAtMicros"] = min(r["startedAtMicros"] for r in reports)
        total["latencyMs"] = {k: max(r["latencyMs"][k] for r in reports) for k in reports[0]["latencyMs"]}
        total["instances"] = reports
        return total

    def herald_closed_loop(self, label, sessions, duration, storage=None):
        """A fresh Herald: warm-up load, drain, then the measured load and its deliveries. With
        BENCH_INSTANCES > 1 on PostgreSQL, that many instances share the store and the load.
        `storage` (a BENCH_STORAGE entry) overrides the first of BENCH_STORAGE for this Herald."""
        storage = self.resolve_storage(storage)
        try:
            if self.s.instances > 1 and storage not in ("sqlite", "memory"):
                return self.instances_closed_loop(label, sessions, duration, storage)
            herald = self.start_herald(label, storage=storage)
            try:
                return self.closed_loop(herald, self.s.herald_port, sessions, duration, storage=storage)
            finally:
                self.stop(herald)
        finally:
            self.drop_postgres_database(storage)

    def instances_closed_loop(self, label, sessions, duration, storage):
        """BENCH_INSTANCES Heralds on one PostgreSQL store, the load split over them."""
        heralds = [self.start_herald(f"{label}{i}", index=i, storage=storage) for i in range(self.s.instances)]
        ports = [self.s.herald_port + i for i in range(self.s.instances)]
        try:
            if self.s.warmup > 0:
                warm = self.load_instances(ports, duration=self.s.warmup, sessions=sessions, connections=self.s.connections, warmup=True)
                self.wait_delivered(warm["accepted"], warm["startedAtMicros"])
            self.sink_reset()
            before = {h.pid: cpu_seconds(h.pid) for h in heralds}
            sink = self.cpu_snapshot(heralds[0])["sink"]
            postgres = self.postgres_cpu(storage)
            report = self.load_instances(ports, duration=duration, sessions=sessions, connections=self.s.connections)
            delivered = self.wait_delivered(report["accepted"], report["startedAtMicros"])
            server = sum(cpu_seconds(pid) - cpu for pid, cpu in before.items())
            per = lambda seconds: round(seconds * 1e6 / max(1, report["accepted"]), 1)
            cpu = {"server": per(server), "sink": per(cpu_seconds(sink[0]) - sink[1])}
            if postgres is not None:
                cpu["postgres"] = per(self.postgres_cpu(storage) - postgres)
            return {"load": report, "delivered": delivered, "instances": self.s.instances, "cpuMicrosPerMessage": cpu}
        finally:
            for herald in heralds:
                self.stop(herald)

    def closed_loop(self, server, port, sessions, duration, *, delivers=True, storage=None):
        """Warm-up load (and its deliveries), then the measured load, its deliveries, and the CPU
        per message of the server (in all and per kind of thread), of the sink and, when
        `storage` is a database of the throwaway PostgreSQL server, of that server."""
        if self.s.warmup > 0:
            warm = self.load(port, duration=self.s.warmup, sessions=sessions, connections=self.s.connections, warmup=True)
            if delivers:
                self.wait_delivered(warm["accepted"], warm["startedAtMicros"])
        if delivers:
            self.sink_reset()
        cpu = self.cpu_snapshot(server)
        postgres = self.postgres_cpu(storage) if storage else None
        report = self.load(port, duration=duration, sessions=sessions, connections=self.s.connections)
        result = {"load": report}
        if delivers:
            result["delivered"] = self.wait_delivered(report["accepted"], report["startedAtMicros"])
        result["cpuMicrosPerMessage"] = self.cpu_per_message(cpu, report["accepted"])
        if postgres is not None:
            result["cpuMicrosPerMessage"]["postgres"] = round((self.postgres_cpu(storage) - postgres) * 1e6 / max(1, report["accepted"]), 1)
        result["peakRssKiB"] = rss_kib(server.pid, "VmHWM")
        return result

    def floor_closed_loop(self, sessions, duration):
        floor = self.start_floor()
        try:
            return self.closed_loop(floor, self.s.floor_port, sessions, duration)
        finally:
            self.stop(floor)

    def baseline_closed_loop(self, sessions, duration):
        baseline = self.start_baseline()
        try:
            return self.closed_loop(baseline, self.s.baseline_port, sessions, duration, delivers=False)
        finally:
            self.stop(baseline)

    def throughput(self):
        """Each run: Herald on every store of BENCH_STORAGE, the floor, the bare baseline (and
        Herald without a store), one after the other under the same load, so every ratio comes
        from one run."""
        labels = [store_label(store) for store in self.s.stores]
        runs = []
        for index in range(self.s.runs):
            step = f"throughput run {index + 1}/{self.s.runs}"
            run = {"heralds": {}}
            for store, label in zip(self.s.stores, labels):
                log(f"{step}: herald on {label}, {self.s.sessions} sessions, {self.s.connections} in flight, {self.s.duration}s")
                herald = self.herald_closed_loop("throughput", self.s.sessions, self.s.duration, storage=store)
                herald["storage"] = label
                run["heralds"][label] = herald
                postgres = herald["cpuMicrosPerMessage"].get("postgres")
                log(f"  herald on {label} accepted {herald['load']['acceptedPerSecond']}/s, delivered {herald['delivered'].get('perSecond')}/s, "
                    f"CPU {herald['cpuMicrosPerMessage']['server']} µs per message" + (f" (+ PostgreSQL {postgres} µs)" if postgres is not None else ""))
            # The first store's Herald, where it always was in the results.
            run["herald"] = run["heralds"][labels[0]]
            if self.s.floor:
                log(f"{step}: the same-work floor")
                run["floor"] = self.floor_closed_loop(self.s.sessions, self.s.duration)
                log(f"  floor accepted {run['floor']['load']['acceptedPerSecond']}/s, delivered {run['floor']['delivered'].get('perSecond')}/s, "
                    f"CPU {run['floor']['cpuMicrosPerMessage']['server']} µs per message")
            log(f"{step}: baseline")
            run["baseline"] = self.baseline_closed_loop(self.s.sessions, self.s.duration)
            log(f"  baseline accepted {run['baseline']['load']['acceptedPerSecond']}/s")
            if self.s.without_store:
                log(f"{step}: herald without a store (storage: memory)")
                run["heraldWithoutStore"] = self.herald_closed_loop("throughput-memory", self.s.sessions, self.s.duration, storage="memory")
                log(f"  herald without a store accepted {run['heraldWithoutStore']['load']['acceptedPerSecond']}/s")
            runs.append(run)
        result = {"stores": labels, "runs": runs, "summary": self.throughput_summary(labels, runs)}
        if self.postgres is not None:
            result["postgres"] = {"version": self.postgres["version"], "startedBy": "scripts/postgres.sh"}
        return result

    # Targets of issue 27, against the floor in the same run.
    FLOOR_THROUGHPUT_TARGET = 0.8
    FLOOR_CPU_TARGET = 1.25

    def throughput_summary(self, labels, runs):
        """Medians over the runs of each server's figures, and the same-run ratios (the median
        of each run's ratio): Herald ÷ floor (accepted/s, CPU per message), Herald ÷ bare, and
        each store's accepted/s ÷ the first store's."""
        def figures(results):
            cpu = [r["cpuMicrosPerMessage"] for r in results]
            summary = {"acceptedPerSecond": median([r["load"]["acceptedPerSecond"] for r in results]),
                       "deliveredPerSecond": median([r.get("delivered", {}).get("perSecond") for r in results]),
                       "cpuMicrosPerMessage": median([c["server"] for c in cpu]),
                       "cpuMicrosPerMessageByThread": self.thread_medians(results)}
            if any("postgres" in c for c in cpu):
                summary["postgresCpuMicrosPerMessage"] = median([c.get("postgres") for c in cpu])
            return summary

        def ratio(pairs):
            values = [a / b for a, b in pairs if a and b]
            return {"median": round(median(values), 3), "runs": [round(v, 3) for v in values]} if values else None

        summary = {"heralds": {}}
        for label in labels:
            heralds = [run["heralds"][label] for run in runs]
            entry = figures(heralds)
            entry["overBare"] = ratio((h["load"]["acceptedPerSecond"], run["baseline"]["load"]["acceptedPerSecond"]) for h, run in zip(heralds, runs))
            if all("floor" in run for run in runs):
                entry["overFloor"] = ratio((h["load"]["acceptedPerSecond"], run["floor"]["load"]["acceptedPerSecond"]) for h, run in zip(heralds, runs))
                entry["cpuOverFloor"] = ratio((h["cpuMicrosPerMessage"]["server"], run["floor"]["cpuMicrosPerMessage"]["server"])
                                              for h, run in zip(heralds, runs))
                entry["targets"] = {
                    "overFloorAtLeast": self.FLOOR_THROUGHPUT_TARGET, "cpuOverFloorAtMost": self.FLOOR_CPU_TARGET,
                    "overFloorMet": bool(entry["overFloor"] and entry["overFloor"]["median"] >= self.FLOOR_THROUGHPUT_TARGET),
                    "cpuOverFloorMet": bool(entry["cpuOverFloor"] and entry["cpuOverFloor"]["median"] <= self.FLOOR_CPU_TARGET)}
            if label != labels[0]:
                entry["overFirstStore"] = ratio((h["load"]["acceptedPerSecond"], run["heralds"][labels[0]]["load"]["acceptedPerSecond"])
                                                for h, run in zip(heralds, runs))
            summary["heralds"][label] = entry
        if all("floor" in run for run in runs):
            summary["floor"] = figures([run["floor"] for run in runs])
        summary["baseline"] = figures([run["baseline"] for run in runs])
        if all("heraldWithoutStore" in run for run in runs):
            summary["heraldWithoutStore"] = figures([run["heraldWithoutStore"] for run in runs])
        return summary

    def latency(self):
        log(f"latency: herald at {self.s.rate:g} msgs/s for {self.s.rate_duration}s")
        result = {"herald": self.herald_open_loop("latency")}
        log("latency: baseline")
        baseline = self.start_baseline()
        try:
            report = self.load(self.s.baseline_port, duration=self.s.rate_duration, sessions=self.s.sessions,
                               connections=self.s.connections, rate=self.s.rate)
            result["baseline"] = {"load": report}
        finally:
            self.stop(baseline)
        return result

    def call(self):
        """The same open-loop load on the echo flow and on a flow with one `call` (to the sink's
        /api, which answers at once), one after the other: the difference in send→arrival is
        what a call adds, its own round trip included."""
        flow = f"""name: call
nodes:
  - set: {{ context.sent: "{{{{ input.data }}}}" }}
  - call:
      url: http://127.0.0.1:{self.s.sink_port}/api
      json: {{ text: "{{{{ input.text }}}}" }}
    into: context.answer
  - say: {{ text: "You said: {{{{ input.text }}}}", data: "{{{{ context.sent }}}}" }}
"""
        calls = "    calls: { allow: [\"127.0.0.1\"] }\n"
        result = {}
        for label, args in (("echo", {}), ("call", {"flow": flow, "extra_config": calls})):
            log(f"call: herald with the {label} flow at {self.s.rate:g} msgs/s for {self.s.rate_duration}s")
            result[label] = self.herald_open_loop(f"call-{label}", **args)
        return result

    def herald_open_loop(self, label, **herald_args):
        """A fresh Herald (`herald_args` for start_herald) under the open loop at BENCH_RATE:
        warm-up and its deliveries, then the measured load and its send→arrival figures."""
        herald = self.start_herald(label, **herald_args)
        try:
            if self.s.warmup > 0:
                warm = self.load(self.s.herald_port, duration=self.s.warmup, sessions=self.s.sessions, connections=self.s.connections,
                                 rate=self.s.rate, warmup=True)
                self.wait_delivered(warm["accepted"], warm["startedAtMicros"])
            self.sink_reset()
            report = self.load(self.s.herald_port, duration=self.s.rate_duration, sessions=self.s.sessions,
                               connections=self.s.connections, rate=self.s.rate)
            return {"load": report, "delivered": self.wait_delivered(report["accepted"], report["startedAtMicros"])}
        finally:
            self.stop(herald)

    def tracing(self):
        """Closed loop on SQLite with tracing off and on (sampleRatio 1, every span exported over
        OTLP/HTTP to the sink's /v1/traces, which answers at once), alternating run by run:
        what tracing costs in accepted/s and CPU per message."""
        on = (f"tracing:\n  otlp: {{ endpoint: \"http://127.0.0.1:{self.s.sink_port}\" }}\n  sampleRatio: 1\n"
              "  exportInterval: 1s\n")
        runs = []
        for run in range(self.s.runs):
            result = {}
            for label, extra in (("off", ""), ("on", on)):
                log(f"tracing: run {run + 1}/{self.s.runs}, tracing {label}, {self.s.sessions} sessions, {self.s.duration}s")
                herald = self.start_herald(f"tracing-{label}", extra_config=extra, storage="sqlite")
                try:
                    result[label] = self.closed_loop(herald, self.s.herald_port, self.s.sessions, self.s.duration)
                finally:
                    self.stop(herald)
            runs.append(result)
        return {"runs": runs}

    def hot(self):
        log(f"hot session: herald, 1 session, {self.s.connections} in flight, {self.s.hot_duration}s")
        herald = self.herald_closed_loop("hot", 1, self.s.hot_duration)
        log(f"  herald accepted {herald['load']['acceptedPerSecond']}/s")
        log("hot session: baseline")
        return {"herald": herald, "baseline": self.baseline_closed_loop(1, self.s.hot_duration)}

    def broadcast(self):
        count = self.s.broadcast_sessions
        log(f"broadcast: creating {count} sessions")
        herald = self.start_herald("broadcast")
        try:
            rss_empty = rss_kib(herald.pid)
            self.sink_reset()
            created = self.load(self.s.herald_port, duration=3600, sessions=count, connections=self.s.connections, count=count)
            creation = self.wait_delivered(created["accepted"], created["startedAtMicros"])
            time.sleep(2)
            rss_idle = rss_kib(herald.pid)
            log(f"  {created['accepted']} sessions at {created['acceptedPerSecond']}/s; RSS {rss_idle / 1024:.0f} MiB idle")
            self.sink_reset()
            self.wait_quiet()
            started = int(time.time() * 1e6)
            began = time.monotonic()
            status, answer = http("POST", f"http://127.0.0.1:{self.s.herald_port}/admin/v1/notify",
                                  body={"urlToken": URL_TOKEN, "text": "broadcast", "data": {"sentAt": started}},
                                  headers={"X-API-Key": ADMIN_KEY})
            answered = time.monotonic() - began
            notified = int(answer.get("notified", 0))
            delivered = self.wait_delivered(notified, started)
            log(f"  notified {notified} in {answered:.2f}s (response); all delivered after {delivered.get('seconds')}s")
            return {
                "sessions": count, "creation": {"load": created, "delivered": creation},
                "notified": notified, "responseSeconds": round(answered, 3), "delivered": delivered,
                "memory": {"rssEmptyKiB": rss_empty, "rssIdleSessionsKiB": rss_idle, "rssAfterBroadcastKiB": rss_kib(herald.pid),
                           "peakRssKiB": rss_kib(herald.pid, "VmHWM")},
            }
        finally:
            self.stop(herald)

    def scheduled(self):
        """100,000 notifies (one per session) scheduled for the same second: how long until all
        reached the webhook, counted from that second, and memory per pending schedule."""
        count = self.s.scheduled_count
        log(f"scheduled: creating {count} sessions")
        herald = self.start_herald("scheduled")
        try:
            created = self.load(self.s.herald_port, duration=3600, sessions=count, connections=self.s.connections, count=count)
            self.wait_delivered(created["accepted"], created["startedAtMicros"])
            time.sleep(2)
            rss_idle = rss_kib(herald.pid)
            # Due far enough ahead for all of them to be scheduled first.
            lead = max(20.0, count / max(1.0, created["acceptedPerSecond"]) * 2 + 10)
            due = math.ceil(time.time() + lead)
            due_text = datetime.datetime.fromtimestamp(due, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            log(f"  scheduling {count} notifies for {due_text} ({lead:.0f}s ahead)")
            self.sink_reset()
            scheduling = self.load(self.s.herald_port, duration=3600, sessions=count, connections=self.s.connections, count=count,
                                   path=f"/notify/{URL_TOKEN}", extra=["--send-at", due_text, "--header", f"X-API-Key: {ADMIN_KEY}"])
            time.sleep(1)
            rss_pending = rss_kib(herald.pid)
            if time.time() > due:
                note = f"scheduled: scheduling took past the due time ({due_text}); the figures include it"
                log(note)
                self.notes.append(note)
            log(f"  {scheduling['accepted']} scheduled at {scheduling['acceptedPerSecond']}/s; "
                f"RSS {rss_idle / 1024:.0f} → {rss_pending / 1024:.0f} MiB")
            time.sleep(max(0.0, due - time.time()))
            delivered = self.wait_delivered(scheduling["accepted"], due * 1_000_000)
            log(f"  all {delivered['count']} delivered {delivered.get('seconds')}s after the due second")
            return {
                "count": count, "dueAt": due_text, "scheduling": scheduling, "delivered": delivered,
                "memory": {"rssIdleSessionsKiB": rss_idle, "rssPendingKiB": rss_pending,
                           "bytesPerPendingSchedule": round((rss_pending - rss_idle) * 1024 / max(1, scheduling["accepted"])),
                           "peakRssKiB": rss_kib(herald.pid, "VmHWM")},
            }
        finally:
            self.stop(herald)

    def soak(self):
        """A steady BENCH_SOAK_RATE msgs/s for BENCH_SOAK_MINUTES minutes (history kept
        BENCH_SOAK_HISTORY, so the database holds a bounded window): accepted and delivered per
        minute, RSS, and the database and WAL file sizes at the end of each minute. They must
        level off, not grow with time."""
        rate, minutes = self.s.soak_rate, self.s.soak_minutes
        log(f"soak: {rate:g} msgs/s for {minutes} min, history {self.s.soak_history}")
        herald = self.start_herald("soak", extra_config=f"history: {self.s.soak_history}\n")
        database = self.last_database
        try:
            self.sink_reset()
            rows = []
            delivered_before = 0
            for minute in range(1, minutes + 1):
                report = self.load(self.s.herald_port, duration=60, sessions=self.s.sessions, connections=self.s.connections, rate=rate,
                                   warmup=minute > 1)
                delivered = self.sink_stats()["count"]
                row = {"minute": minute, "accepted": report["accepted"], "sent": report["sent"], "delivered": delivered - delivered_before,
                       "requestP99Ms": report["latencyMs"]["p99"], "rssKiB": rss_kib(herald.pid),
                       "databaseBytes": file_size(database), "walBytes": file_size(database + "-wal")}
                delivered_before = delivered
                rows.append(row)
                log(f"  minute {minute}: accepted {row['accepted']}, delivered {row['delivered']}, req p99 {row['requestP99Ms']} ms, "
                    f"RSS {row['rssKiB'] / 1024:.0f} MiB, db {row['databaseBytes'] / 2**20:.1f} MiB, wal {row['walBytes'] / 2**20:.1f} MiB")
            return {"rate": rate, "minutes": minutes, "history": self.s.soak_history, "perMinute": rows,
                    "cpuSeconds": cpu_seconds(herald.pid)}
        finally:
            self.stop(herald)

    # Report

    @staticmethod
    def thread_medians(results):
        """Median CPU µs per message of each kind of thread over runs, largest first."""
        threads = [r["cpuMicrosPerMessage"].get("serverThreads", {}) for r in results]
        groups = sorted({g for t in threads for g in t}, key=lambda g: -median([t.get(g, 0) for t in threads]))
        return {g: median([t.get(g, 0) for t in threads]) for g in groups if any(t.get(g) for t in threads)}

    @staticmethod
    def by_thread(results, unit=" µs"):
        """The medians of thread_medians as text: `tasks 72 µs, store queue 56 µs, …`."""
        return ", ".join(f"{g} {v:.0f}{unit}" for g, v in Bench.thread_medians(results).items())

    def table(self, results):
        rows = []

        def fmt(value, digits=0):
            if value is None:
                return "-"
            return f"{value:,.{digits}f}"

        if "throughput" in results:
            runs = results["throughput"]["runs"]
            labels = results["throughput"]["stores"]
            base = median([r["baseline"]["load"]["acceptedPerSecond"] for r in runs])
            for label in labels:
                heralds = [r["heralds"][label] for r in runs]
                accepted = median([h["load"]["acceptedPerSecond"] for h in heralds])
                store = f", {label}" if len(labels) > 1 else ""
                rows.append([f"(a) max throughput, {self.s.sessions} sessions{store} (median of {len(runs)})",
                             fmt(accepted), fmt(median([h["delivered"].get("perSecond") for h in heralds])),
                             fmt(median([h["delivered"]["sendToArrivalMs"]["p50"] for h in heralds]), 1),
                             fmt(median([h["delivered"]["sendToArrivalMs"]["p99"] for h in heralds]), 1),
                             fmt(median([h["load"]["latencyMs"]["p99"] for h in heralds]), 1),
                             fmt(base), fmt(median([r["baseline"]["load"]["latencyMs"]["p99"] for r in runs]), 1),
                             f"{accepted / base:.2f}x" if accepted and base else "-"])
        if "latency" in results:
            herald, baseline = results["latency"]["herald"], results["latency"]["baseline"]
            rows.append([f"(b) fixed {self.s.rate:g} msgs/s", fmt(herald["load"]["acceptedPerSecond"]),
                         fmt(herald["delivered"].get("perSecond")), fmt(herald["delivered"]["sendToArrivalMs"]["p50"], 2),
                         fmt(herald["delivered"]["sendToArrivalMs"]["p99"], 2), fmt(herald["load"]["latencyMs"]["p99"], 2),
                         fmt(baseline["load"]["acceptedPerSecond"]), fmt(baseline["load"]["latencyMs"]["p99"], 2), "-"])
        if "call" in results:
            for label, what in (("echo", "echo flow"), ("call", "a flow with one call")):
                herald = results["call"][label]
                rows.append([f"(b') fixed {self.s.rate:g} msgs/s, {what}", fmt(herald["load"]["acceptedPerSecond"]),
                             fmt(herald["delivered"].get("perSecond")), fmt(herald["delivered"]["sendToArrivalMs"]["p50"], 2),
                             fmt(herald["delivered"]["sendToArrivalMs"]["p99"], 2), fmt(herald["load"]["latencyMs"]["p99"], 2), "-", "-", "-"])
        if "tracing" in results:
            runs = results["tracing"]["runs"]
            for label in ("off", "on"):
                heralds = [r[label] for r in runs]
                accepted = median([h["load"]["acceptedPerSecond"] for h in heralds])
                cpu = median([h["cpuMicrosPerMessage"]["server"] for h in heralds])
                rows.append([f"(h) tracing {label}, {self.s.sessions} sessions (median of {len(runs)}; CPU {cpu:.0f} µs/msg)",
                             fmt(accepted), fmt(median([h["delivered"].get("perSecond") for h in heralds])),
                             fmt(median([h["delivered"]["sendToArrivalMs"]["p50"] for h in heralds]), 1),
                             fmt(median([h["delivered"]["sendToArrivalMs"]["p99"] for h in heralds]), 1),
                             fmt(median([h["load"]["latencyMs"]["p99"] for h in heralds]), 1), "-", "-",
                             f"{median([r[label]['load']['acceptedPerSecond'] / r['off']['load']['acceptedPerSecond'] for r in runs]):.2f}x off"])
        if "hot" in results:
            herald, baseline = results["hot"]["herald"], results["hot"]["baseline"]
            accepted, base = herald["load"]["acceptedPerSecond"], baseline["load"]["acceptedPerSecond"]
            rows.append(["(c) one hot session", fmt(accepted), fmt(herald["delivered"].get("perSecond")),
                         fmt(herald["delivered"]["sendToArrivalMs"]["p50"], 1), fmt(herald["delivered"]["sendToArrivalMs"]["p99"], 1),
                         fmt(herald["load"]["latencyMs"]["p99"], 1), fmt(base), fmt(baseline["load"]["latencyMs"]["p99"], 1),
                         f"{accepted / base:.2f}x" if base else "-"])
        if "broadcast" in results:
            b = results["broadcast"]
            rows.append([f"(d) broadcast notify to {b['notified']:,} sessions", f"POST {b['responseSeconds']:.2f}s",
                         fmt(b["delivered"].get("perSecond")), fmt(b["delivered"]["sendToArrivalMs"]["p50"], 0),
                         fmt(b["delivered"]["sendToArrivalMs"]["p99"], 0), f"all in {b['delivered'].get('seconds', 0):.2f}s",
                         "-", "-", "-"])
            memory = b["memory"]
            rows.append([f"(e) RSS with {b['sessions']:,} idle sessions", f"{memory['rssIdleSessionsKiB'] / 1024:,.0f} MiB",
                         f"empty {memory['rssEmptyKiB'] / 1024:,.0f} MiB", "-", "-", f"peak {memory['peakRssKiB'] / 1024:,.0f} MiB",
                         "-", "-", "-"])
        if "scheduled" in results:
            r = results["scheduled"]
            memory = r["memory"]
            rows.append([f"(f) {r['scheduling']['accepted']:,} notifies due in one second", f"sched {r['scheduling']['acceptedPerSecond']:,.0f}/s",
                         fmt(r["delivered"].get("perSecond")), "-", "-", f"all {r['delivered'].get('seconds', 0):.2f}s after due",
                         "-", "-", f"{memory['bytesPerPendingSchedule']:,} B/pending"])
        if "soak" in results:
            r = results["soak"]
            rows_ = r["perMinute"]
            first, last = rows_[0], rows_[-1]
            rows.append([f"(g) soak {r['rate']:g} msgs/s, {r['minutes']} min", fmt(sum(x["accepted"] for x in rows_) / (60 * len(rows_))),
                         fmt(sum(x["delivered"] for x in rows_) / (60 * len(rows_))), "-", "-",
                         f"max {max(x['requestP99Ms'] for x in rows_):.1f}", "-", "-",
                         f"RSS {first['rssKiB'] / 1024:.0f}→{last['rssKiB'] / 1024:.0f} MiB"])
        header = ["scenario", "herald acc/s", "deliv/s", "s→a p50 ms", "s→a p99 ms", "req p99 ms", "baseline acc/s",
                  "base req p99", "ratio"]
        widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
        lines = [" | ".join(str(cell).ljust(widths[i]) if i == 0 else str(cell).rjust(widths[i]) for i, cell in enumerate(row))
                 for row in [header] + rows]
        lines.insert(1, "-+-".join("-" * w for w in widths))
        return "\n".join(lines), {"header": header, "rows": rows}

    def same_work_table(self, throughput):
        """Scenario (a)'s servers side by side (issue 27): Herald on each store, the same-work
        floor, the bare baseline and Herald without a store, medians of the same runs, with the
        same-run ratios to the floor and to the bare server."""
        summary = throughput["summary"]

        def fmt(value, digits=0, suffix=""):
            return "-" if value is None else f"{value:,.{digits}f}{suffix}"

        def ratio(entry, key):
            value = entry.get(key)
            return "-" if not value else f"{value['median']:.2f}x"

        def row(name, entry, heraldOnly=True):
            return [name, fmt(entry["acceptedPerSecond"]), fmt(entry["deliveredPerSecond"]), fmt(entry["cpuMicrosPerMessage"]),
                    fmt(entry.get("postgresCpuMicrosPerMessage")), ratio(entry, "overFloor") if heraldOnly else "-",
                    ratio(entry, "cpuOverFloor") if heraldOnly else "-", ratio(entry, "overBare") if heraldOnly else "-",
                    ", ".join(f"{g} {v:.0f}" for g, v in entry["cpuMicrosPerMessageByThread"].items())]

        rows = [row(f"herald ({label})", summary["heralds"][label]) for label in throughput["stores"]]
        if "floor" in summary:
            rows.append(row("floor (sqlite)", summary["floor"], heraldOnly=False))
        rows.append(row("bare", summary["baseline"], heraldOnly=False))
        if "heraldWithoutStore" in summary:
            rows.append(row("herald (memory, no store)", summary["heraldWithoutStore"], heraldOnly=False))
        header = ["(a) server", "acc/s", "deliv/s", "CPU µs/msg", "PostgreSQL µs/msg", "÷ floor acc/s", "CPU ÷ floor", "÷ bare acc/s",
                  "CPU µs/msg by thread"]
        widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
        lines = [" | ".join(str(cell).ljust(widths[i]) if i == 0 else str(cell) if i == len(header) - 1 else str(cell).rjust(widths[i])
                            for i, cell in enumerate(r)) for r in [header] + rows]
        lines.insert(1, "-+-".join("-" * w for w in widths))
        for label in throughput["stores"]:
            entry = summary["heralds"][label]
            if "targets" in entry:
                targets = entry["targets"]
                lines.append(f"(a) targets on {label} (issue 27): accepted/s ≥ {targets['overFloorAtLeast']} × the floor's: "
                             f"{ratio(entry, 'overFloor')} ({'met' if targets['overFloorMet'] else 'not met'}; runs "
                             f"{', '.join(f'{v:.2f}' for v in entry['overFloor']['runs'])}); CPU per message ≤ {targets['cpuOverFloorAtMost']} × the "
                             f"floor's: {ratio(entry, 'cpuOverFloor')} ({'met' if targets['cpuOverFloorMet'] else 'not met'})")
            if "overFirstStore" in entry:
                first = throughput["stores"][0]
                runs = ", ".join(f"{v:.2f}" for v in entry["overFirstStore"]["runs"])
                lines.append(f"(a) {label} ÷ {first}, accepted/s, same runs: {ratio(entry, 'overFirstStore')} (runs {runs})")
        return "\n".join(lines), {"header": header, "rows": rows}

    def machine(self):
        cpu = ""
        try:
            with open("/proc/cpuinfo") as info:
                cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
        except OSError:
            pass
        swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.strip().splitlines()
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
        return {"cpus": os.cpu_count(), "cpu": cpu, "kernel": platform.release(), "memoryGiB": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
                "swift": swift[0] if swift else "", "commit": commit}

    def run(self):
        self.check_herald_flags()
        if self.s.instances > 1 and all(store in ("sqlite", "memory") for store in self.s.stores):
            raise RuntimeError("BENCH_INSTANCES > 1 needs PostgreSQL in BENCH_STORAGE (postgres, or postgres://...): one store shared by the instances")
        others = [scenario for scenario in self.s.scenarios if scenario != "throughput"]
        if len(self.s.stores) > 1 and others:
            note = f"{', '.join(others)} ran on {store_label(self.s.stores[0])} only (the first of BENCH_STORAGE)"
            log(note)
            self.notes.append(note)
        self.start_sink()
        results = {}
        for scenario in self.s.scenarios:
            method = getattr(self, scenario, None)
            if method is None:
                raise RuntimeError(f"BENCH_SCENARIOS: unknown scenario '{scenario}' (throughput, latency, call, tracing, hot, broadcast, scheduled, soak)")
            results[scenario] = method()
        text, table = self.table(results)
        same_work_text, same_work_table = self.same_work_table(results["throughput"]) if "throughput" in results else (None, None)
        settings = {k: v for k, v in vars(self.s).items() if k != "out"}
        document = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "machine": self.machine(),
                    "settings": settings, "herald": {"storage": self.s.storage, "extraArgs": self.herald_extra}, "notes": self.notes,
                    "table": table, "throughputTable": same_work_table, "results": results}
        os.makedirs(os.path.dirname(self.s.out), exist_ok=True)
        with open(self.s.out, "w") as file:
            json.dump(document, file, indent=2)
        machine = document["machine"]
        print()
        print(f"Herald benchmark, {document['date']}, {machine['cpus']} cores ({machine['cpu']}), commit {machine['commit']}, "
              f"storage {self.s.storage}{' ' + ' '.join(self.herald_extra) if self.herald_extra else ''}, echo flow, loopback")
        print("acc/s: accepted (2xx) per second; deliv/s: deliveries at the sink per second from the load's start to the last arrival;")
        print("s→a: send→arrival at the sink; req: request latency at the load tool; ratio: Herald accepted/s ÷ baseline's, same run")
        if "throughput" in results:
            print("(a) floor: `herald-bench floor`, Herald's physical work without Herald (decode, SQLite group commit, 202, libcurl POST,")
            print("    attempt recorded); ratios are medians of each run's ratio; CPU: the server process, PostgreSQL's postmaster and backends apart")
        print()
        print(text)
        if "throughput" in results:
            runs = results["throughput"]["runs"]
            print()
            print(same_work_text)
            print()
            accepted = lambda key: ", ".join(f"{r[key]['load']['acceptedPerSecond']:,.0f}" for r in runs)
            heralds = "; ".join(f"herald on {label} " + ", ".join(f"{r['heralds'][label]['load']['acceptedPerSecond']:,.0f}" for r in runs)
                                for label in results["throughput"]["stores"])
            floor = f"; floor {accepted('floor')}" if all("floor" in r for r in runs) else ""
            print(f"(a) runs, accepted/s: {heralds}{floor}; baseline {accepted('baseline')}")
            cpu = median([r["herald"]["cpuMicrosPerMessage"]["server"] for r in runs])
            sink = median([r["herald"]["cpuMicrosPerMessage"]["sink"] for r in runs])
            load = median([r["herald"]["load"]["loadToolCpuMicrosPerMessage"] for r in runs])
            base = median([r["baseline"]["cpuMicrosPerMessage"]["server"] for r in runs])
            base_load = median([r["baseline"]["load"]["loadToolCpuMicrosPerMessage"] for r in runs])
            first = f" on {results['throughput']['stores'][0]}" if len(results["throughput"]["stores"]) > 1 else ""
            print(f"(a) CPU per message: herald{first} {cpu:.0f} µs, {cpu / base:.1f}x the baseline's (+ sink {sink:.0f} µs, load tool {load:.0f} µs); "
                  f"baseline {base:.0f} µs (+ load tool {base_load:.0f} µs)")
            if all("heraldWithoutStore" in r for r in runs):
                memory = [r["heraldWithoutStore"] for r in runs]
                ratios = [m["load"]["acceptedPerSecond"] / r["baseline"]["load"]["acceptedPerSecond"] for m, r in zip(memory, runs)]
                cpus = [m["cpuMicrosPerMessage"]["server"] for m in memory]
                delivered = median([m["delivered"].get("perSecond") or 0 for m in memory])
                print(f"(a) the same herald without a store (storage: memory), same runs: "
                      f"{median([m['load']['acceptedPerSecond'] for m in memory]):,.0f}/s accepted, {delivered:,.0f}/s delivered, "
                      f"{median(ratios):.2f}x the baseline; CPU {median(cpus):.0f} µs per message, "
                      f"{median(cpus) / base:.1f}x the baseline's; by thread: {self.by_thread(memory)}")
        if "soak" in results:
            print("(g) soak, each minute: accepted, delivered, request p99 ms, RSS MiB, database MiB, WAL MiB")
            for x in results["soak"]["perMinute"]:
                print(f"    {x['minute']:>2}: {x['accepted']:>6} {x['delivered']:>6} {x['requestP99Ms']:>7.1f} {x['rssKiB'] / 1024:>6.0f} "
                      f"{x['databaseBytes'] / 2**20:>7.1f} {x['walBytes'] / 2**20:>6.1f}")
        if "hot" in results:
            print(f"(c) deliveries out of seq order at the sink: {results['hot']['herald']['delivered']['outOfOrder']}")
        for note in self.notes:
            print(f"note: {note}")
        print()
        print(f"written to {os.path.relpath(self.s.out, ROOT)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="directory of the release binaries herald and herald-bench")
    args = parser.parse_args()
    for name in ("herald", "herald-bench"):
        if not os.access(os.path.join(args.bin, name), os.X_OK):
            sys.exit(f"bench: {args.bin}/{name} is missing; build it with swift build -c release --product {name}")
    bench = Bench(args.bin, Settings())
    try:
        bench.run()
    except (RuntimeError, urllib.error.URLError) as error:
        log(f"failed: {error} (logs in {bench.logdir})")
        sys.exit(1)
    finally:
        bench.stop_all()
        shutil.rmtree(bench.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
