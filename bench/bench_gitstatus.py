"""Benchmark: one git status pass over many workspaces (target: 100 workspaces ≤ 0.5 s).

Builds, in a temp dir, an origin repo with a few hundred files, a clone of it, and N
worktrees of that clone in a mix of states, then times ``backend.gitstatus.read_all``
over all of them at several concurrency levels.

    python bench/bench_gitstatus.py [--workspaces 100] [--repeat 7] [--files 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.gitstatus import GitStatus, read_all  # noqa: E402

STATES = ("clean", "dirty", "ahead-no-upstream", "behind-dirty")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def isolate_git_env() -> None:
    os.environ["GIT_CONFIG_GLOBAL"] = os.devnull
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    for who in ("AUTHOR", "COMMITTER"):
        os.environ[f"GIT_{who}_NAME"] = "Bench"
        os.environ[f"GIT_{who}_EMAIL"] = "bench@example.com"


def build(base: Path, workspaces: int, files: int) -> list[Path]:
    origin = base / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    for i in range(files):
        f = origin / f"pkg{i % 15:02d}" / f"mod{i:04d}.py"
        f.parent.mkdir(exist_ok=True)
        f.write_text("".join(f"value_{i}_{j} = {j}\n" for j in range(50)))
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "initial")
    for k in range(2):
        (origin / "pkg00" / "mod0000.py").write_text(f"# rev {k}\n")
        git(origin, "commit", "-q", "-am", f"rev {k}")

    clone = base / "clone"
    git(base, "clone", "-q", str(origin), str(clone))

    paths: list[Path] = []
    for i in range(workspaces):
        wt = base / "ws" / f"ws-{i:03d}"
        state = STATES[i % len(STATES)]
        if state == "ahead-no-upstream":
            git(
                clone,
                "worktree",
                "add",
                "-q",
                "--no-track",
                "-b",
                f"ws-{i}",
                str(wt),
                "origin/main",
            )
            for c in range(1 + i % 3):
                (wt / f"new_{c}.txt").write_text(f"commit {c}\n")
                git(wt, "add", "-A")
                git(wt, "commit", "-q", "-m", f"local {c}")
        elif state == "behind-dirty":
            git(
                clone,
                "worktree",
                "add",
                "-q",
                "--no-track",
                "-b",
                f"ws-{i}",
                str(wt),
                "origin/main~1",
            )
            git(wt, "branch", "-q", "--set-upstream-to", "origin/main")
        else:
            git(clone, "worktree", "add", "-q", "--track", "-b", f"ws-{i}", str(wt), "origin/main")
        if state in ("dirty", "behind-dirty"):
            target = wt / "pkg03" / "mod0003.py"
            target.write_text(target.read_text().replace("= 7\n", "= 70\n") + "extra = 1\n")
            (wt / "scratch.txt").write_text("notes\n" * (5 + i))
        paths.append(wt)

    # A workspace someone works in has an up-to-date index; freshly checked-out files
    # are "racily clean" (mtime == index mtime) and would be re-hashed on every pass.
    time.sleep(1.1)
    for wt in paths:
        git(wt, "update-index", "-q", "--refresh")
    return paths


async def run(paths: list[Path], repeat: int, levels: list[int], per_ws_timeout: float) -> None:
    res = await read_all(paths, concurrency=8, timeout=per_ws_timeout)  # warm-up
    errors = [str(v) for v in res.values() if not isinstance(v, GitStatus)]
    if errors:
        raise SystemExit(f"{len(errors)} workspaces failed, first: {errors[0]}")
    kinds = Counter(
        ("dirty" if s.dirty else "clean")
        + (", ahead" if s.ahead else "")
        + (", behind" if s.behind else "")
        for s in res.values()
        if isinstance(s, GitStatus)
    )
    print("states:", ", ".join(f"{n}× [{k}]" for k, n in sorted(kinds.items())))
    n = len(paths)
    base = baseline(paths, repeat)
    print(
        f"reference: plain `git status` alone, 8 threads, no Python parsing: median "
        f"{base:.3f} s ({1000 * base / n:.2f} ms/workspace)"
    )
    print(f"{'concurrency':>11}  {'median s':>9}  {'min s':>7}  {'max s':>7}  {'ms/workspace':>12}")
    for level in levels:
        times: list[float] = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = await read_all(paths, concurrency=level, timeout=per_ws_timeout)
            times.append(time.perf_counter() - t0)
            bad = sum(1 for v in out.values() if not isinstance(v, GitStatus))
            if bad:
                print(f"  warning: {bad} errors at concurrency {level}")
        med = statistics.median(times)
        print(
            f"{level:>11}  {med:>9.3f}  {min(times):>7.3f}  {max(times):>7.3f}  {1000 * med / n:>12.2f}"
        )


def baseline(paths: list[Path], repeat: int) -> float:
    """Median wall time of a bare `git status` over all workspaces (the machine's floor)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}

    def status(p: Path) -> None:
        subprocess.run(
            ["git", "-C", str(p), "status", "--porcelain=v2", "--branch", "-z", "-uall"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    times: list[float] = []
    with ThreadPoolExecutor(8) as pool:
        for _ in range(repeat):
            t0 = time.perf_counter()
            list(pool.map(status, paths))
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--workspaces", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--files", type=int, default=300, help="files in the origin repo")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()

    isolate_git_env()
    with tempfile.TemporaryDirectory(prefix="bench-gitstatus-") as tmp:
        t0 = time.perf_counter()
        paths = build(Path(tmp), args.workspaces, args.files)
        print(
            f"built {len(paths)} workspaces ({args.files} files each) in "
            f"{time.perf_counter() - t0:.1f} s; cpus={os.cpu_count()}"
        )
        load0 = os.getloadavg()[0]
        asyncio.run(run(paths, args.repeat, args.concurrency, args.timeout))
        print(f"load average (1 min) before/after: {load0:.2f} / {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
