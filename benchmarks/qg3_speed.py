"""QG3 speed: member-years per wall minute with 1 and 32 batched members (one thread).

Usage: python benchmarks/qg3_speed.py [--days 2]

Times the model's time stepping only (no output), for the reference configuration
(RK4, 1800 s, float64) and the cheaper ones (Kutta RK3 at 3600 s, float64 and float32).
The peer figure — pyshqg 1.0.1, RK4 at 1800 s, one T21 member, 0.87 model-years per
wall minute on one core of this machine kind (REFERENCES.md) — is quoted, not re-measured:
pyshqg's pins do not install next to numpy 2.
"""

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from blocking.qg3.run import SimulationConfig, build_model, initial_state  # noqa: E402
from blocking.qg3.stepping import step_function  # noqa: E402

PEER_MEMBER_YEARS_PER_MINUTE = 0.87
TARGET = 10 * PEER_MEMBER_YEARS_PER_MINUTE


def measure(scheme: str, dt: float, dtype: str, members: int, days: float) -> float:
    config = SimulationConfig(scheme=scheme, dt_seconds=dt, dtype=dtype, members=members)
    model, initial_q = build_model(config)
    state = initial_state(model, initial_q, range(members), seed=0, perturbation=0.01)
    step = step_function(scheme)
    for _ in range(3):
        state = step(model.tendency, state, dt)
    steps = max(4, int(days * 86400 / dt))
    started = time.perf_counter()
    for _ in range(steps):
        state = step(model.tendency, state, dt)
    wall = time.perf_counter() - started
    assert np.isfinite(state).all()
    model_years = steps * dt / (365 * 86400)
    return members * model_years / (wall / 60.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=2.0, help="model days timed per case (1 member)")
    args = parser.parse_args()
    rows = []
    for scheme, dt, dtype in (("rk4", 1800.0, "float64"), ("rk3", 3600.0, "float64"), ("rk3", 3600.0, "float32")):
        for members in (1, 32):
            days = args.days if members == 1 else max(args.days / 8, 0.25)
            rate = measure(scheme, dt, dtype, members, days)
            rows.append(dict(scheme=scheme, dt_seconds=dt, dtype=dtype, members=members,
                             member_years_per_wall_minute=rate, per_member_vs_peer=rate / PEER_MEMBER_YEARS_PER_MINUTE))
    print("threads: 1 (OMP/OPENBLAS/MKL_NUM_THREADS=1)")
    print(f"{'scheme':6} {'dt s':>6} {'dtype':8} {'members':>7} {'member-yr/min':>14} {'x peer 0.87':>11}")
    for row in rows:
        print(f"{row['scheme']:6} {row['dt_seconds']:6.0f} {row['dtype']:8} {row['members']:7d} "
              f"{row['member_years_per_wall_minute']:14.2f} {row['per_member_vs_peer']:11.1f}")
    print(f"target: {TARGET:.1f} member-years per wall minute (10x the peer)")
    out = Path(__file__).parent / "results" / "qg3_speed.json"
    out.write_text(json.dumps(dict(threads=1, peer=PEER_MEMBER_YEARS_PER_MINUTE, target=TARGET, rows=rows), indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
