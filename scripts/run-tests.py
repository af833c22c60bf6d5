#!/usr/bin/env python3
"""Builds every test target once, then runs the test binaries a few at a time.

Most of an interop test's time is spent waiting (on the az CLI's start-up, on armlet's
scaled clock), not computing, so running binaries side by side keeps the whole suite short
on a 2-core machine. Each binary's output goes to target/test-logs/<name>.log and is printed
in full when it fails. ARMLET_TEST_JOBS sets how many run at once (default 3); the slowest
binaries of the previous run start first.
"""

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "target" / "test-logs"
TIMES = LOGS / "durations.json"
# Binaries that measure real CPU (a scale-out on /burn must see the instances above 70 %):
# they run alone, after the others, so no other test takes the host's cores from them.
ALONE = {"interop_autoscale"}


def build():
    """Builds the tests; returns (name, executable) for every test binary."""
    out = subprocess.run(
        ["cargo", "test", "--locked", "--no-run", "--message-format=json-render-diagnostics"],
        cwd=ROOT, stdout=subprocess.PIPE, check=True, text=True,
    ).stdout
    binaries = []
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        if not msg["profile"]["test"]:
            continue
        target = msg["target"]
        kind = target["kind"][0]
        name = target["name"] if kind == "test" else f"{kind}:{target['name']}"
        binaries.append((name, msg["executable"]))
    return binaries


def run(name, executable):
    log = LOGS / (name.replace(":", "-") + ".log")
    start = time.monotonic()
    with open(log, "w") as f:
        rc = subprocess.run([executable], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT).returncode
    return name, rc, time.monotonic() - start, log


def main():
    LOGS.mkdir(parents=True, exist_ok=True)
    binaries = build()
    previous = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    binaries.sort(key=lambda b: -previous.get(b[0], 1e9))  # unknown ones first, then slowest
    jobs = int(os.environ.get("ARMLET_TEST_JOBS", "3"))
    print(f"running {len(binaries)} test binaries, {jobs} at a time", flush=True)

    start, durations, failed = time.monotonic(), {}, []

    def report(name, rc, took, log):
        durations[name] = round(took, 1)
        summary = [l for l in log.read_text(errors="replace").splitlines() if l.startswith("test result:")]
        print(f"{'ok' if rc == 0 else 'FAILED':6} {name} ({took:.0f} s) {'; '.join(summary)}", flush=True)
        if rc != 0:
            failed.append((name, log))

    shared = [b for b in binaries if b[0] not in ALONE]
    with ThreadPoolExecutor(jobs) as pool:
        for done in as_completed([pool.submit(run, *b) for b in shared]):
            report(*done.result())
    for b in binaries:
        if b[0] in ALONE:
            report(*run(*b))
    TIMES.write_text(json.dumps(durations, indent=1, sort_keys=True))

    # Doc tests are not binaries; cargo runs them.
    doc = subprocess.run(["cargo", "test", "--locked", "--doc", "-q"], cwd=ROOT)
    if doc.returncode != 0:
        failed.append(("doctests", None))

    for name, log in failed:
        if log:
            print(f"\n===== {name}: {log} =====\n{log.read_text(errors='replace')}", flush=True)
    total = time.monotonic() - start
    print(f"\n{len(binaries)} test binaries in {total:.0f} s; "
          f"{'all passed' if not failed else 'FAILED: ' + ', '.join(n for n, _ in failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
