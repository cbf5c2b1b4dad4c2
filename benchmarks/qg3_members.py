"""QG3 members over Dask workers: member-years per wall minute of ``--workers 0`` and ``--workers N``, same settings.

Usage: python benchmarks/qg3_members.py [--years 2] [--members 32] [--workers 2] [--repeats 1]

Each case is one fresh process running :func:`blocking.qg3.run.simulate` (what
``sparseworks blocking simulate --threads 1 --no-figures`` runs: cluster start-up, the
run, the finished output.nc) with OMP/OPENBLAS/MKL_NUM_THREADS=1, so that one process is
one thread (Dask starts its worker processes with one BLAS thread as well). The cases
alternate (0, N, N, 0, ...) so that other load on the machine hits both alike. Printed for
each case: member-years per wall minute, wall and CPU seconds (the process and its Dask
workers), each part's wall / CPU / set-up seconds, and the seconds from the last step to
the finished output.nc (a rename and the whole checkpoint: no merge). Then the ratio of
the two, the load average before and after, and whether psi (and every other field) is
identical bit for bit between the first run of each kind. Target: ``--workers 2`` at
>= 1.7x ``--workers 0`` on 2 idle cores. Writes ``benchmarks/results/qg3_members.json``.
"""

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
FIELDS = ("psi", "q", "z500", "energy", "enstrophy", "time")


class _PartTimes(logging.Handler):
    """Collects the per-part and finishing times that :func:`blocking.qg3.run.simulate` logs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.parts, self.finish_seconds = [], None

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("part "):
            part, _, members, steps, wall, cpu, setup = record.args
            self.parts.append(dict(part=part, members=members, steps=steps, wall=wall, cpu=cpu, setup=setup))
        elif record.msg.startswith("output finished"):
            self.finish_seconds = record.args[0]


def child(folder: Path, years: float, members: int, workers: int) -> None:
    """One case, in this (fresh) process; prints its results as JSON on the last line."""
    from blocking.qg3.run import SimulationConfig, simulate

    times = _PartTimes()
    logger = logging.getLogger("blocking.qg3.run")
    logger.setLevel(logging.INFO)
    logger.addHandler(times)
    metrics = simulate(SimulationConfig(years=years, members=members), folder, workers=workers)
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            dict(
                metrics=metrics,
                parts=sorted(times.parts, key=lambda part: part["part"]),
                finish_seconds=times.finish_seconds,
                driver_cpu_seconds=own.ru_utime + own.ru_stime,
                workers_cpu_seconds=children.ru_utime + children.ru_stime,
            )
        )
    )


def run_case(folder: Path, years: float, members: int, workers: int) -> dict:
    environment = {**os.environ, **{name: "1" for name in THREAD_VARIABLES}}
    command = [sys.executable, __file__, "--child", str(folder), "--years", str(years), "--members", str(members)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([*command, "--workers", str(workers)], env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"workers={workers} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return dict(
        workers=workers,
        member_years_per_wall_minute=result["metrics"]["member_years_per_wall_minute"],
        simulate_wall_seconds=result["metrics"]["wall_seconds"],
        process_wall_seconds=wall,
        process_cpu_seconds=cpu,
        parts=result["parts"],
        finish_seconds=result["finish_seconds"],
    )


def identical(a: Path, b: Path) -> dict[str, bool]:
    """Whether each field of two output files is the same bit for bit (read member by member)."""
    import netCDF4
    import numpy as np

    same = {}
    with netCDF4.Dataset(a) as one, netCDF4.Dataset(b) as two:
        for name in FIELDS:
            if name == "time":
                same[name] = bool(np.array_equal(one[name][:], two[name][:]))
                continue
            same[name] = one[name].shape == two[name].shape and all(
                np.array_equal(np.asarray(one[name][m]), np.asarray(two[name][m])) for m in range(one[name].shape[0])
            )
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", type=float, default=2.0, help="model years per member")
    parser.add_argument("--members", type=int, default=32, help="ensemble members")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers of the parallel case")
    parser.add_argument("--repeats", type=int, default=1, help="pairs of cases (alternating order)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(args.child, args.years, args.members, args.workers)
    scratch = Path(tempfile.mkdtemp(prefix="qg3-members-"))
    load_before = os.getloadavg()
    rows, firsts = [], {}
    try:
        for repeat in range(args.repeats):
            for workers in (0, args.workers) if repeat % 2 == 0 else (args.workers, 0):
                folder = scratch / f"w{workers}-{repeat}"
                row = run_case(folder, args.years, args.members, workers)
                rows.append(row)
                print(
                    f"workers {workers}: {row['member_years_per_wall_minute']:.2f} member-years per wall minute; "
                    f"{row['process_wall_seconds']:.1f} s wall, {row['process_cpu_seconds']:.1f} s CPU; "
                    f"output finished in {row['finish_seconds']:.3f} s; parts: "
                    + ", ".join(
                        f"{p['members']} members {p['wall']:.1f} s wall / {p['cpu']:.1f} s CPU "
                        f"({p['setup']:.1f} s set-up)"
                        for p in row["parts"]
                    ),
                    flush=True,
                )
                if workers in firsts:
                    shutil.rmtree(folder)
                else:
                    firsts[workers] = folder / "output.nc"
        same = identical(firsts[0], firsts[args.workers])
    finally:
        load_after = os.getloadavg()
        shutil.rmtree(scratch, ignore_errors=True)
    rates = {w: [r["member_years_per_wall_minute"] for r in rows if r["workers"] == w] for w in (0, args.workers)}
    ratio = statistics.median(rates[args.workers]) / statistics.median(rates[0])
    print(
        f"threads: 1 per process ({'/'.join(THREAD_VARIABLES)}=1); cores: {os.cpu_count()}; "
        f"load average before/after: {load_before[0]:.1f} / {load_after[0]:.1f}"
    )
    print(
        f"--workers {args.workers} / --workers 0 (median member-years per wall minute): {ratio:.2f}x "
        f"(target >= 1.7x on 2 idle cores); outputs identical bit for bit: "
        + ", ".join(f"{name} {'yes' if ok else 'NO'}" for name, ok in same.items())
    )
    from sparse_core.infra.files import atomic_write

    out = Path(__file__).parent / "results" / "qg3_members.json"
    with atomic_write(out, "w") as handle:
        handle.write(
            json.dumps(
                dict(
                    years=args.years,
                    members=args.members,
                    workers=args.workers,
                    threads=1,
                    cores=os.cpu_count(),
                    machine=platform.processor() or platform.machine(),
                    load_average_before=load_before,
                    load_average_after=load_after,
                    ratio=ratio,
                    identical=same,
                    runs=rows,
                ),
                indent=2,
            )
        )
    print(f"written {out}")


if __name__ == "__main__":
    main()
