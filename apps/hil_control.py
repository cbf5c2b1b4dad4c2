"""Hardware-in-the-loop control: any planner against a plant at a fixed rate, with deadlines and fallbacks.

The loop (`run_hil`) runs at ``rate_hz`` on a monotonic clock. Each tick it takes the
latest measured state, gives the planner (in a worker thread) a deadline of what is left
of the period after the measurement, minus the plant round trip it expects (the slowly
decaying maximum of the measured ones) and a safety margin, and sends the first action of
the first of these that is usable:

1. the planner's plan (for the MIP: its incumbent, optimal or not) if it came in time
   with a usable status (`sparse_dynamics.mpc.base`, ``FALLBACK_STATUSES``);
2. the previous plan shifted by one more step (while it lasts);
3. an action of a small backup MPPI planner (when enough of the tick is left);
4. a safe stop (the zero action, clipped into the action box).

A planner that misses its deadline keeps its worker: while the late solve runs, the next
ticks use the fallbacks (``solver_busy``) and its plan is discarded when it arrives. The
plant is behind `sparse_dynamics.plant.Plant`: the task simulator in process
(``--plant sim``), a server started here on 127.0.0.1 (``--plant loopback``) or one
already running (``--plant tcp --host H --port P``). The watchdog: every plant request
waits at most ``watchdog_seconds``; a request without answer, a malformed answer or a
dropped connection (which is re-established) marks the state stale, the next tick asks
the plant for its state first, and after ``max_silent_steps`` ticks without an answer the
episode ends (``plant_silent``). Ctrl-C ends the episode cleanly.

The log is JSON lines, one flushed line per record: ``start`` (settings), ``event`` (what
went wrong, or late plans: ``solver_stall``, ``solver_busy``, ``late_plan_discarded``,
``plant_timeout``, ``plant_malformed``, ``plant_disconnected``, ``reconnected``,
``plant_error``, ``overrun``), ``step`` (timing, status, gap, binaries, which action was
used and why) and ``end`` (the summary, also returned and printed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sparse_dynamics.mpc.base import FALLBACK_STATUSES
from sparse_dynamics.plant import (
    Plant,
    PlantDisconnected,
    PlantError,
    PlantProtocolError,
    PlantTimeout,
    SimulatedPlant,
    TcpPlant,
)

__all__ = ["LoopSettings", "PlannerWorker", "StepLog", "main", "run_hil"]

SOURCES = ("planner", "shifted_plan", "mppi", "safe_stop", "none")


@dataclass(frozen=True)
class LoopSettings:
    """The control loop's timing and failure handling.

    Attributes:
        rate_hz: Control rate.
        steps: Ticks of the episode.
        margin_seconds: Safety margin left free in every tick.
        watchdog_seconds: How long a plant request may wait for its answer.
        max_silent_steps: Consecutive ticks without a plant answer that end the episode.
        reconnect_attempts: Reconnections tried per tick after a dropped connection.
        backup_min_seconds: Time left in a tick below which the backup MPPI is not tried.
    """

    rate_hz: float = 10.0
    steps: int = 300
    margin_seconds: float = 0.01
    watchdog_seconds: float = 0.5
    max_silent_steps: int = 5
    reconnect_attempts: int = 2
    backup_min_seconds: float = 0.005

    def __post_init__(self) -> None:
        for name in ("rate_hz", "watchdog_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.steps < 1 or self.max_silent_steps < 1 or self.reconnect_attempts < 0:
            raise ValueError("steps and max_silent_steps must be >= 1, reconnect_attempts >= 0")
        if not 0 <= self.margin_seconds < 1.0 / self.rate_hz:
            raise ValueError(
                f"margin_seconds must be in [0, period = {1.0 / self.rate_hz:g} s), got {self.margin_seconds}"
            )

    @property
    def period_seconds(self) -> float:
        return 1.0 / self.rate_hz


class StepLog:
    """JSON-lines log, one flushed line per record (complete even if the process is interrupted)."""

    def __init__(self, path: Path | str | None, clock=time.monotonic) -> None:
        self.path = Path(path) if path is not None else None
        self._handle = self.path.open("w", encoding="utf-8") if self.path is not None else None
        self._clock, self._origin = clock, clock()
        self.records: list[dict] = []

    def write(self, record: str, **fields) -> dict:
        entry = {"record": record, "t": round(self._clock() - self._origin, 6), **fields}
        self.records.append(entry)
        if self._handle is not None:
            self._handle.write(json.dumps(_json_safe(entry)) + "\n")
            self._handle.flush()
        return entry

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _json_safe(value):
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


class _Job:
    def __init__(self, state: np.ndarray, goal: np.ndarray) -> None:
        self.state, self.goal = state, goal
        self.done = threading.Event()
        self.result: tuple[np.ndarray, dict] | None = None
        self.error: BaseException | None = None
        self.submitted = time.monotonic()
        self.seconds: float | None = None
        self.late = False
        self.limit = 0.0


class PlannerWorker:
    """Runs ``planner.plan`` in one daemon thread, so that the loop can stop waiting at its deadline.

    Args:
        planner: Any object with ``plan(state, goal) -> (actions, info)``.
    """

    def __init__(self, planner) -> None:
        self.planner = planner
        self._jobs: list[_Job] = []
        self._wake = threading.Condition()
        self.pending: _Job | None = None
        self._closed = False
        threading.Thread(target=self._loop, name="planner", daemon=True).start()

    @property
    def busy(self) -> bool:
        return self.pending is not None and not self.pending.done.is_set()

    def submit(self, state: np.ndarray, goal: np.ndarray) -> _Job:
        job = _Job(state, goal)
        self.pending = job
        with self._wake:
            self._jobs.append(job)
            self._wake.notify()
        return job

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._jobs and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                job = self._jobs.pop(0)
            started = time.monotonic()
            try:
                job.result = self.planner.plan(job.state, job.goal)
            except Exception as error:  # noqa: BLE001 - a planner bug must not end the control loop
                job.error = error
            job.seconds = time.monotonic() - started
            job.done.set()


def _tail(plan: np.ndarray, offset: int) -> np.ndarray:
    """``plan`` from row ``offset`` on, padded with its last row to the same length."""
    if offset <= 0:
        return plan
    return np.concatenate([plan[offset:], np.repeat(plan[-1:], offset, axis=0)], axis=0)


def _sync(planner, plan: np.ndarray | None, last_action: np.ndarray | None) -> None:
    """Tells a `sparse_dynamics.mpc.Planner` what was really applied (its warm start and rate limit)."""
    if hasattr(planner, "_remember") and plan is not None:
        planner._plan = np.array(plan, dtype=np.float64)
        planner._previous_action = None if last_action is None else np.array(last_action, dtype=np.float64)


def _set_budget(planner, budget_seconds: float) -> None:
    """Gives the planner this step's deadline: the MIP's time limit, or the baselines' time budget."""
    config = getattr(planner, "config", None)
    if config is None or not dataclasses.is_dataclass(config):
        return
    if hasattr(config, "time_limit_seconds"):
        grace = getattr(config, "deadline_grace_seconds", 0.0)
        planner.config = dataclasses.replace(config, time_limit_seconds=max(budget_seconds - grace, 1e-3))
    elif hasattr(config, "time_budget_seconds"):
        planner.config = dataclasses.replace(config, time_budget_seconds=max(budget_seconds, 1e-4))


def _usable(result, horizon_actions: tuple[int, int] | None) -> tuple[bool, str | None]:
    actions, info = result
    status = info.get("status")
    if status in FALLBACK_STATUSES:
        return False, f"planner status {status}: {info.get('message', '')}".strip().rstrip(":")
    actions = np.asarray(actions, dtype=np.float64)
    if actions.ndim != 2 or (horizon_actions is not None and actions.shape[1] != horizon_actions[1]):
        return False, f"planner returned actions of shape {actions.shape}"
    if not np.all(np.isfinite(actions)):
        return False, "planner returned non-finite actions"
    return True, None


def run_hil(
    plant: Plant,
    planner,
    settings: LoopSettings,
    *,
    seed: int = 0,
    goal: np.ndarray | None = None,
    backup=None,
    planner_name: str = "planner",
    log: StepLog | None = None,
    clock=time.monotonic,
    sleep=time.sleep,
) -> dict:
    """One episode of ``planner`` driving ``plant`` at ``settings.rate_hz`` (module docstring).

    Args:
        plant: The plant (reset here with ``seed`` and ``goal``; not closed).
        planner: ``plan(state, goal) -> (actions (H, A), info)``; an `sparse_dynamics.mpc.Planner`
            also gets each step's deadline and what was really applied.
        settings: Rate, steps, margin, watchdog.
        seed: The plant's reset seed.
        goal: The goal (None: the plant draws one from the seed).
        backup: A fast planner for the third fallback (e.g. a small MPPI), or None.
        planner_name: Its name in the log (``mip`` for the share of MIP actions).
        log: Where records go (also kept in memory).

    Returns:
        The summary: steps, end_reason, deadline_met_share (ticks whose work finished within
        the period), solver_on_time_share, planner_action_share (ticks whose action came from
        the planner), source_counts, event_counts, step_seconds_median / _p95,
        solve_seconds_median, final_cost.
    """
    log = log or StepLog(None, clock)
    period = settings.period_seconds
    action_dim = plant.action_dim
    bound = float(plant.action_bound)
    safe_action = np.clip(np.zeros(action_dim), -bound, bound)
    worker = PlannerWorker(planner)
    steps_log: list[dict] = []
    events: dict[str, int] = {}
    end_reason = "completed"
    cost = None

    def event(name: str, step: int, **detail) -> None:
        events[name] = events.get(name, 0) + 1
        log.write("event", event=name, step=step, **detail)

    def plant_failure(error: PlantError, step: int, during: str) -> None:
        if isinstance(error, PlantTimeout):
            event("plant_timeout", step, during=during, message=str(error))
        elif isinstance(error, PlantProtocolError):
            event("plant_malformed", step, during=during, message=str(error))
        elif isinstance(error, PlantDisconnected):
            event("plant_disconnected", step, during=during, message=str(error))
        else:
            event("plant_error", step, during=during, message=str(error))
        if isinstance(error, (PlantDisconnected, PlantProtocolError)):
            for attempt in range(1, settings.reconnect_attempts + 1):
                try:
                    plant.reconnect()
                except PlantError as again:
                    event("reconnect_failed", step, attempt=attempt, message=str(again))
                    continue
                event("reconnected", step, attempt=attempt)
                break

    log.write("start", planner=planner_name, rate_hz=settings.rate_hz, steps=settings.steps,
              settings=dataclasses.asdict(settings), seed=seed)  # fmt: skip
    try:
        try:
            observation = plant.reset(seed, goal)
        except PlantError as error:
            plant_failure(error, -1, "reset")
            end_reason = "plant_unavailable"
            return _finish(log, steps_log, events, end_reason, None, planner_name)
        goal = observation.goal if observation.goal is not None else goal
        state, cost, stale = observation.state, observation.cost, False
        try:
            io_estimate = max(plant.heartbeat() for _ in range(3))
        except PlantError as error:
            plant_failure(error, -1, "heartbeat")
            io_estimate = settings.watchdog_seconds
        active, offset, last_action, silent, overshoot = None, 0, None, 0, 0.0
        next_tick = clock()
        for step in range(settings.steps):
            now = clock()
            if now < next_tick:
                sleep(next_tick - now)
            tick = clock()
            record = {"step": step, "source": "none", "reason": None, "status": None, "gap": None, "binaries": None,
                      "solve_seconds": None, "budget_seconds": None, "limit_seconds": None, "io_seconds": None}  # fmt: skip
            if stale:
                try:
                    observation = plant.observe()
                    state, cost, stale, silent = observation.state, observation.cost, False, 0
                except PlantError as error:
                    plant_failure(error, step, "observe")
            if stale:
                silent += 1
                record.update(reason="plant unavailable: no state to plan from", silent_ticks=silent)
                if silent >= settings.max_silent_steps:
                    end_reason = "plant_silent"
            else:
                budget = period - (clock() - tick) - io_estimate - settings.margin_seconds
                record["budget_seconds"] = budget
                wait_until = clock() + max(budget, 0.0)
                result, reason = None, None
                if worker.busy:
                    reason = f"solver busy: the solve submitted {clock() - worker.pending.submitted:.3f} s ago runs on"
                    event("solver_busy", step)
                elif budget < 1e-3:
                    reason = f"no time for the solver (budget {budget * 1e3:.1f} ms)"
                else:
                    if worker.pending is not None and worker.pending.done.is_set() and worker.pending.late:
                        event("late_plan_discarded", step, solve_seconds=worker.pending.seconds)
                        overshoot = min(max(worker.pending.seconds - worker.pending.limit, overshoot), 0.5 * budget)
                        worker.pending.late = False
                    limit = max(budget - overshoot, 1e-3)
                    record["limit_seconds"] = limit
                    _set_budget(planner, limit)
                    _sync(planner, None if active is None else _tail(active, offset), last_action)
                    job = worker.submit(state, goal)
                    job.limit = limit
                    if job.done.wait(max(wait_until - clock(), 0.0)):
                        # how far the planner runs past the limit it was given (handoff, readout)
                        overshoot = min(max(job.seconds - limit, 0.9 * overshoot, 0.0), 0.5 * budget)
                        if job.error is not None:
                            reason = f"planner raised {type(job.error).__name__}: {job.error}"
                            event("planner_error", step, message=reason)
                        else:
                            result = job.result
                    else:
                        job.late = True
                        reason = f"solver stall: no plan {budget:.3f} s after the start"
                        event("solver_stall", step, budget_seconds=budget)
                if result is not None:
                    info = result[1]
                    record.update(status=info.get("status"), gap=info.get("gap"), binaries=info.get("binaries"),
                                  solve_seconds=info.get("solve_seconds"))  # fmt: skip
                    ok, reason = _usable(result, (None, action_dim))
                    if ok:
                        active, offset = np.asarray(result[0], dtype=np.float64), 0
                        record["source"] = "planner"
                if record["source"] == "none":
                    record["reason"] = reason
                    if active is not None and offset + 1 < active.shape[0]:
                        offset += 1
                        record["source"] = "shifted_plan"
                    else:
                        left = tick + period - io_estimate - settings.margin_seconds - clock()
                        if backup is not None and left >= settings.backup_min_seconds:
                            _set_budget(backup, 0.5 * left)
                            _sync(backup, None if active is None else _tail(active, offset), last_action)
                            try:
                                plan, _ = backup.plan(state, goal)
                                plan = np.asarray(plan, dtype=np.float64)
                                if np.all(np.isfinite(plan)):
                                    active, offset, record["source"] = plan, 0, "mppi"
                            except Exception as error:  # noqa: BLE001 - fall through to the safe stop
                                event("backup_error", step, message=f"{type(error).__name__}: {error}")
                        if record["source"] == "none":
                            active, offset, record["source"] = None, 0, "safe_stop"
                action = safe_action if record["source"] == "safe_stop" else np.clip(active[offset], -bound, bound)
                sent = clock()
                try:
                    observation = plant.step(action)
                    state, cost, silent = observation.state, observation.cost, 0
                    io = clock() - sent
                    io_estimate = max(io, 0.9 * io_estimate)
                    record["io_seconds"] = io
                    last_action = action
                except PlantError as error:
                    stale, silent = True, silent + 1
                    plant_failure(error, step, "step")
                    record["io_seconds"] = clock() - sent
                    last_action = action  # it may have been applied; the next observation tells
                    if silent >= settings.max_silent_steps:
                        end_reason = "plant_silent"
                record["action"] = action
            elapsed = clock() - tick
            record.update(step_seconds=elapsed, deadline_met=bool(elapsed <= period and not stale),
                          solver_on_time=record["status"] is not None, cost=cost)  # fmt: skip
            steps_log.append(log.write("step", **record))
            if end_reason != "completed":
                break
            next_tick += period
            if clock() > next_tick:
                missed = math.ceil((clock() - next_tick) / period)
                event("overrun", step, missed_ticks=missed, step_seconds=elapsed)
                next_tick += missed * period
    except KeyboardInterrupt:
        end_reason = "interrupted"
    finally:
        worker.close()
    return _finish(log, steps_log, events, end_reason, cost, planner_name)


def _finish(log: StepLog, steps: list[dict], events: dict, end_reason: str, cost, planner_name: str) -> dict:
    count = len(steps)
    sources = {name: sum(s["source"] == name for s in steps) for name in SOURCES}
    seconds = [s["step_seconds"] for s in steps]
    solves = [s["solve_seconds"] for s in steps if s["solve_seconds"] is not None]
    summary = {
        "planner": planner_name,
        "steps": count,
        "end_reason": end_reason,
        "deadline_met_share": float(np.mean([s["deadline_met"] for s in steps])) if steps else 0.0,
        "solver_on_time_share": float(np.mean([s["solver_on_time"] for s in steps])) if steps else 0.0,
        "planner_action_share": sources["planner"] / count if count else 0.0,
        "source_counts": sources,
        "event_counts": dict(sorted(events.items())),
        "step_seconds_median": float(np.median(seconds)) if seconds else None,
        "step_seconds_p95": float(np.percentile(seconds, 95)) if seconds else None,
        "solve_seconds_median": float(np.median(solves)) if solves else None,
        "final_cost": None if cost is None else float(cost),
    }
    log.write("end", **summary)
    log.close()
    return summary


# --------------------------------------------------------------------------- command line


def _start_loopback(task: str, host: str, idle_timeout: float) -> tuple[subprocess.Popen, int]:
    """Starts ``python -m sparse_dynamics.plant`` on a free port of ``host``; returns it and the port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sparse_dynamics.plant", "--task", task, "--host", host, "--port", "0",
         "--idle-timeout", str(idle_timeout)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"the plant did not start: {line!r}")
    return process, int(line.rsplit(":", 1)[1])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python apps/hil_control.py",
        description="Run a planner against a plant at a fixed rate, with solver deadlines, fallbacks "
        "(MIP incumbent, shifted plan, MPPI action, safe stop), a plant watchdog and a JSON-lines log.",
        epilog="examples:\n"
        "  python apps/hil_control.py --task pwa --model runs/pwa-sparse/compact_dynamics.npz --plant sim --steps 50\n"
        "  python apps/hil_control.py --task push --model net.npz --plant loopback --rate-hz 10 --steps 300 --log hil.jsonl\n"
        "  python -m sparse_dynamics.plant --task push --port 5555 &\n"
        "  python apps/hil_control.py --task push --model net.npz --plant tcp --port 5555 --planner mppi",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from sparse_dynamics.mpc.config import PLANNER_NAMES
    from sparse_dynamics.tasks import TASK_NAMES

    parser.add_argument("--task", choices=TASK_NAMES, default="pwa", help="the task (default: pwa)")
    parser.add_argument("--planner", choices=PLANNER_NAMES, default="mip", help="the planner (default: mip)")
    parser.add_argument(
        "--model",
        required=True,
        help="the compact network written by `dynamics sparsify`: compact_dynamics.npz, or a graph model's "
        "compact_edge.npz / compact_node.npz (or their folder), unrolled into one network",
    )
    parser.add_argument(
        "--plant",
        choices=("sim", "loopback", "tcp"),
        default="sim",
        help="sim: the simulator in process; loopback: a plant server started here; tcp: a running one",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="the plant's address (loopback binds it; default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=5555, help="the plant's port with --plant tcp (default: 5555)")
    parser.add_argument("--rate-hz", type=float, default=10.0, help="control rate (default: 10)")
    parser.add_argument("--steps", type=int, default=300, help="ticks of the episode (default: 300)")
    parser.add_argument("--horizon", type=int, default=5, help="planned steps (default: 5)")
    parser.add_argument("--margin-ms", type=float, default=10.0, help="safety margin per tick (default: 10 ms)")
    parser.add_argument(
        "--watchdog-ms", type=float, default=500.0, help="longest wait for a plant answer (default: 500 ms)"
    )
    parser.add_argument(
        "--max-silent-steps", type=int, default=5, help="ticks without plant answer that end the episode"
    )
    parser.add_argument("--mip-gap", type=float, default=1e-4, help="relative MIP gap (default: 1e-4)")
    parser.add_argument(
        "--lp-tightening",
        action="store_true",
        help="tighten the MIP's bounds by LPs each step (2 LPs per neuron and step: often too slow for the rate)",
    )
    parser.add_argument("--no-backup", action="store_true", help="no MPPI fallback (shifted plan, then safe stop)")
    parser.add_argument("--seed", type=int, default=0, help="the plant's reset seed (start state and goal)")
    parser.add_argument("--threads", type=int, default=1, help="torch and HiGHS threads (default: 1)")
    parser.add_argument("--log", default="hil_log.jsonl", help="the JSON-lines log (default: hil_log.jsonl)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line (see ``--help``); prints the summary as one JSON line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = LoopSettings(
            rate_hz=args.rate_hz,
            steps=args.steps,
            margin_seconds=args.margin_ms / 1e3,
            watchdog_seconds=args.watchdog_ms / 1e3,
            max_silent_steps=args.max_silent_steps,
        )
    except ValueError as error:
        parser.error(str(error))
    if not 1 <= args.horizon <= 50:
        parser.error(f"--horizon must be in 1..50, got {args.horizon}")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    import torch

    from sparse_core.infra.errors import SparseWorksError
    from sparse_dynamics.mpc.closed_loop import load_network
    from sparse_dynamics.mpc.config import MIPConfig, MPPIConfig, ProblemConfig
    from sparse_dynamics.mpc.planners import make_planner
    from sparse_dynamics.mpc.problem import problem_for_task
    from sparse_dynamics.tasks import make_task

    torch.set_num_threads(args.threads)
    task = make_task(args.task)
    try:
        network = load_network(args.model)
        problem = problem_for_task(task, ProblemConfig(horizon=args.horizon))
        config = (
            MIPConfig(mip_gap=args.mip_gap, threads=args.threads, lp_tightening=args.lp_tightening)
            if args.planner == "mip"
            else None
        )
        planner = make_planner(args.planner, network, problem, config)
        backup = (
            None if args.no_backup else make_planner("mppi", network, problem, MPPIConfig(samples=64, iterations=1))
        )
    except (SparseWorksError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    server = None
    try:
        if args.plant == "sim":
            plant = SimulatedPlant(task)
        else:
            port = args.port
            if args.plant == "loopback":
                server, port = _start_loopback(args.task, args.host, idle_timeout=max(10.0, 20 / args.rate_hz))
            plant = TcpPlant(args.host, port, timeout_seconds=settings.watchdog_seconds)
    except (PlantError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        if server is not None:
            server.kill()
        return 2
    # warm up (torch kernels, the HiGHS model) outside the timed loop
    warm = task.reset(args.seed)
    for candidate in (planner, backup):
        if candidate is not None:
            candidate.plan(warm, task.sample_goal(np.random.default_rng(args.seed)))
            candidate.reset()
    log = StepLog(args.log)
    try:
        summary = run_hil(plant, planner, settings, seed=args.seed, backup=backup, planner_name=args.planner, log=log)
    finally:
        plant.close()
        if server is not None:
            try:
                TcpPlant(args.host, port, timeout_seconds=2.0).shutdown()
            except PlantError:
                pass
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
