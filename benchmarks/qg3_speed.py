"""QG3 speed: member-years per wall minute with 1 and 32 batched members (one thread).

Usage: python benchmarks/qg3_speed.py [--seconds 3] [--repeats 3]

Times the model's time stepping only (no output): the fast packed kernel
(``blocking.qg3.fast``) in the reference configuration (RK4, 1800 s, float64) and in the
cheaper ones (Kutta RK3 at 3600 s; float32), and — in the same run, as the baseline — the
earlier natural-layout implementation (``QG3Model.direct_tendency``) at RK4, 1800 s.

The peer figure — pyshqg 1.0.1, RK4 at 1800 s, one T21 member, 0.87 model-years per wall
minute on one core of this machine kind (REFERENCES.md) — is quoted, not re-measured:
pyshqg's pins do not install next to numpy 2. The target is 10× that per member.

Threads: OMP/OPENBLAS/MKL_NUM_THREADS=1 before NumPy loads. Other processes may share the
cores, so every case is repeated (best and median reported), its CPU time is reported next
to its wall time, the load average is printed, and speed-ups are ratios within this run.
Writes ``benchmarks/results/qg3_speed.json``.
"""

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from blocking.qg3.run import SimulationConfig, build_model, initial_state  # noqa: E402
from blocking.qg3.stepping import step_function  # noqa: E402

PEER_MEMBER_YEARS_PER_MINUTE = 0.87
TARGET = 10 * PEER_MEMBER_YEARS_PER_MINUTE
SECONDS_PER_YEAR = 365 * 86400.0
CASES = (  # implementation, scheme, dt, dtype
    ("direct", "rk4", 1800.0, "float64"),
    ("fast", "rk4", 1800.0, "float64"),
    ("fast", "rk3", 3600.0, "float64"),
    ("fast", "rk4", 3600.0, "float64"),
    ("fast", "rk4", 1800.0, "float32"),
    ("fast", "rk3", 3600.0, "float32"),
)


def _time_steps(step, tendency, state, dt, steps):
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        state = step(tendency, state, dt)
    return time.perf_counter() - wall, time.process_time() - cpu, state


def measure(
    model, initial_q, implementation: str, scheme: str, dt: float, members: int, seconds: float, repeats: int
) -> dict:
    """Best and median member-years per wall (and CPU) minute of ``repeats`` timed runs of ~``seconds``."""
    natural = initial_state(model, initial_q, range(members), seed=0, perturbation=0.01)
    if implementation == "fast":
        tendency, state = model.fast, model.fast.pack(natural)
    else:
        tendency, state = model.direct_tendency, natural
    step = step_function(scheme)
    wall, _, state = _time_steps(step, tendency, state, dt, 2)  # warm up and calibrate
    steps = max(2, int(seconds / max(wall / 2, 1e-6)))
    rates, cpu_rates = [], []
    for _ in range(repeats):
        wall, cpu, state = _time_steps(step, tendency, state, dt, steps)
        member_years = members * steps * dt / SECONDS_PER_YEAR
        rates.append(member_years / (wall / 60.0))
        cpu_rates.append(member_years / (cpu / 60.0))
    assert np.isfinite(state).all()
    best = max(rates)
    return dict(
        implementation=implementation,
        scheme=scheme,
        dt_seconds=dt,
        dtype=model.config.dtype,
        members=members,
        steps_per_repeat=steps,
        repeats=repeats,
        member_years_per_wall_minute=best,
        median_member_years_per_wall_minute=statistics.median(rates),
        member_years_per_cpu_minute=max(cpu_rates),
        vs_peer=best / PEER_MEMBER_YEARS_PER_MINUTE,
        microseconds_per_member_tendency=60e6 / (best * SECONDS_PER_YEAR / dt * (4 if scheme == "rk4" else 3)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="wall seconds per timed repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per case (best and median kept)")
    parser.add_argument("--members", type=int, nargs="+", default=[1, 32], help="batch sizes")
    args = parser.parse_args()
    load_before = os.getloadavg()
    models = {}
    rows = []
    for implementation, scheme, dt, dtype in CASES:
        if dtype not in models:
            models[dtype] = build_model(SimulationConfig(float32=dtype == "float32"))
        model, initial_q = models[dtype]
        for members in args.members:
            rows.append(measure(model, initial_q, implementation, scheme, dt, members, args.seconds, args.repeats))
    baseline = {row["members"]: row for row in rows if row["implementation"] == "direct"}
    for row in rows:
        base = baseline[row["members"]]
        row["speedup_vs_direct_wall"] = row["member_years_per_wall_minute"] / base["member_years_per_wall_minute"]
        row["speedup_vs_direct_cpu"] = row["member_years_per_cpu_minute"] / base["member_years_per_cpu_minute"]
    load_after = os.getloadavg()
    print(
        f"threads: 1 (OMP/OPENBLAS/MKL_NUM_THREADS=1); cores: {os.cpu_count()}; "
        f"load average before/after: {load_before[0]:.1f} / {load_after[0]:.1f}"
    )
    print(
        "member-years (summed over the batch) per wall minute, best of repeats (median in brackets), and per "
        "CPU minute; us/eval = wall microseconds per member per tendency evaluation; "
        "x direct = speed-up over the earlier implementation in this run (same members)"
    )
    header = (
        f"{'impl':6} {'scheme':6} {'dt s':>5} {'dtype':7} {'members':>7} {'per wall min':>15} "
        f"{'per CPU min':>11} {'us/eval':>7} {'x peer 0.87':>11} {'x direct':>8}"
    )
    print(header)
    for row in rows:
        per_wall = f"{row['member_years_per_wall_minute']:.2f} ({row['median_member_years_per_wall_minute']:.2f})"
        print(
            f"{row['implementation']:6} {row['scheme']:6} {row['dt_seconds']:5.0f} {row['dtype']:7} {row['members']:7d} "
            f"{per_wall:>15} {row['member_years_per_cpu_minute']:11.2f} {row['microseconds_per_member_tendency']:7.0f} "
            f"{row['vs_peer']:11.1f} {row['speedup_vs_direct_wall']:8.1f}"
        )
    print(
        f"peer (pyshqg, RK4 1800 s, 1 member, one core): {PEER_MEMBER_YEARS_PER_MINUTE} member-years per wall minute; "
        f"target: {TARGET:.1f} member-years per wall minute with batching"
    )
    out = Path(__file__).parent / "results" / "qg3_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            dict(
                threads=1,
                cores=os.cpu_count(),
                machine=platform.processor() or platform.machine(),
                numpy=np.__version__,
                load_average_before=load_before[0],
                load_average_after=load_after[0],
                peer=PEER_MEMBER_YEARS_PER_MINUTE,
                target=TARGET,
                rows=rows,
            ),
            indent=2,
        )
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
