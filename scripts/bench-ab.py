#!/usr/bin/env python3
"""Compares two `herald` binaries on the max-throughput scenario, runs alternating.

    swift build -c release --product herald && cp .build/release/herald /tmp/herald-new
    git stash; swift build -c release --product herald && cp .build/release/herald /tmp/herald-old; git stash pop
    python3 scripts/bench-ab.py /tmp/herald-old /tmp/herald-new        # BENCH_AB_RUNS=3, BENCH_DURATION=10

On a shared machine the speed drifts by a quarter within minutes, more than most single changes
give, so `make bench`'s absolute figures cannot tell two builds apart. This runs A, B, A, B, …
(each run: a fresh `herald serve`, warm-up, then BENCH_DURATION seconds of closed-loop load, as
scenario (a) of scripts/bench.py) and reports, besides accepted/s and CPU per message, each kind
of thread's CPU per message divided by the event loops'. The event loops do the same HTTP work
whatever Herald does with a message, so that ratio follows a change and not the machine
(docs/performance.md, issue 17). The sink and the load tool are `herald-bench` from
BENCH_BIN (default .build/release). Settings as for scripts/bench.py (BENCH_SESSIONS, …).
"""
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (scripts/bench.py)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    runs = bench.env_int("BENCH_AB_RUNS", 3)
    os.environ.setdefault("BENCH_DURATION", "10")
    settings = bench.Settings()
    release = os.environ.get("BENCH_BIN", os.path.join(bench.ROOT, ".build", "release"))
    if not os.access(os.path.join(release, "herald-bench"), os.X_OK):
        sys.exit(f"bench-ab: {release}/herald-bench is missing; build it with swift build -c release --product herald-bench")
    binaries = {}
    for label, path in (("A", sys.argv[1]), ("B", sys.argv[2])):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench-ab: {path} is not an executable")
        directory = tempfile.mkdtemp(prefix=f"herald-ab-{label}-")
        os.symlink(os.path.abspath(path), os.path.join(directory, "herald"))
        os.symlink(os.path.join(release, "herald-bench"), os.path.join(directory, "herald-bench"))
        binaries[label] = directory

    runner = bench.Bench(binaries["A"], settings)
    results = {"A": [], "B": []}
    try:
        runner.start_sink()
        for index in range(runs):
            for label in ("A", "B"):
                runner.bin = binaries[label]
                result = runner.herald_closed_loop(f"ab-{label}", settings.sessions, settings.duration)
                cpu = result["cpuMicrosPerMessage"]
                threads = cpu.get("serverThreads", {})
                results[label].append({"accepted": result["load"]["acceptedPerSecond"], "cpu": cpu["server"], "threads": threads})
                shares = ", ".join(f"{group} {micros:.0f}" for group, micros in sorted(threads.items(), key=lambda item: -item[1]) if micros)
                bench.log(f"run {index + 1}/{runs} {label}: {result['load']['acceptedPerSecond']:,.0f}/s, {cpu['server']:.0f} µs per message ({shares})")
    finally:
        runner.stop_all()
        for directory in [runner.workdir, *binaries.values()]:
            shutil.rmtree(directory, ignore_errors=True)

    print(f"{'':4} {'accepted/s':>11} {'CPU µs/msg':>11}   CPU per message of each kind of thread ÷ the event loops' (mean of {runs})")
    for label, path in (("A", sys.argv[1]), ("B", sys.argv[2])):
        rows = results[label]
        groups = sorted({group for row in rows for group in row["threads"] if group not in ("event loops", "other")})
        ratios = []
        for group in groups:
            values = [row["threads"].get(group, 0) / row["threads"]["event loops"] for row in rows if row["threads"].get("event loops")]
            if values:
                ratios.append(f"{group} {statistics.mean(values):.2f}")
        print(f"{label:4} {statistics.mean(r['accepted'] for r in rows):>11,.0f} {statistics.mean(r['cpu'] for r in rows):>11.1f}   "
              f"{', '.join(ratios)}   ({path})")


if __name__ == "__main__":
    main()
