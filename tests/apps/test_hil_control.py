"""The hardware-in-the-loop script under injected faults: a solver stall, a silent plant, a malformed
message, a dropped connection and Ctrl-C. The loop never crashes, falls back, logs each event and ends cleanly."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from apps.hil_control import LoopSettings, StepLog, run_hil
from sparse_dynamics.mpc.config import MIPConfig, MPPIConfig, ProblemConfig
from sparse_dynamics.mpc.planners import make_planner
from sparse_dynamics.mpc.problem import problem_for_task
from sparse_dynamics.plant import PlantServer, SimulatedPlant, TcpPlant
from sparse_dynamics.tasks import make_task
from tests.sparse_dynamics.mpc.conftest import pwa_network

SETTINGS = LoopSettings(rate_hz=10.0, steps=10, margin_seconds=0.01, watchdog_seconds=0.15, max_silent_steps=3)


class FaultyServer(PlantServer):
    """A plant server whose n-th ``step`` request (1-based) gets a fault instead of its answer; dead from ``dead_from`` on."""

    def __init__(self, faults: dict[int, str], **kwargs) -> None:
        super().__init__(make_task("pwa"), **kwargs)
        self.faults, self.steps_seen, self._fault = faults, 0, None

    def handle(self, message):
        is_step = isinstance(message, dict) and message.get("type") == "step"
        if is_step:
            self.steps_seen += 1
            self._fault = self.faults.get(self.steps_seen)
        dead = "dead_from" in self.faults and self.steps_seen >= self.faults["dead_from"]
        if dead or self._fault == "silent":
            self._fault = None
            if is_step:
                super().handle(message)  # applied, but never answered
            return None
        return super().handle(message)

    def _reply(self, connection, reply):
        fault, self._fault = self._fault, None
        if fault == "malformed":
            connection.sendall(b"\x00\x00\x00\x05{bad}")
            return True
        if fault == "drop":
            connection.shutdown(socket.SHUT_RDWR)
            return False
        return super()._reply(connection, reply)


@pytest.fixture(scope="module")
def pieces():
    task = make_task("pwa")
    network = pwa_network(task)
    problem = problem_for_task(task, ProblemConfig(horizon=3))
    return network, problem


def _planners(pieces):
    network, problem = pieces
    mip = make_planner("mip", network, problem, MIPConfig(mip_gap=0.0))
    backup = make_planner("mppi", network, problem, MPPIConfig(samples=16, iterations=1))
    return mip, backup


def _serve(faults):
    server = FaultyServer(faults, idle_timeout_seconds=5.0)
    thread = server.serve_in_thread()
    return server, thread


def _run(pieces, tmp_path, plant, planner=None, settings=SETTINGS):
    mip, backup = _planners(pieces)
    log_path = tmp_path / "hil.jsonl"
    summary = run_hil(plant, planner or mip, settings, seed=1, goal=np.array([0.5, -0.5]), backup=backup,
                      planner_name="mip", log=StepLog(log_path))  # fmt: skip
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert records[0]["record"] == "start" and records[-1]["record"] == "end"
    assert records[-1]["steps"] == summary["steps"] == sum(r["record"] == "step" for r in records)
    return summary, records


def _events(records):
    return [r["event"] for r in records if r["record"] == "event"]


def test_in_process_plant_at_10_hz_uses_the_mip(pieces, tmp_path):
    summary, records = _run(pieces, tmp_path, SimulatedPlant(make_task("pwa")))
    assert summary["end_reason"] == "completed" and summary["steps"] == 10
    assert summary["planner_action_share"] >= 0.8
    step = next(r for r in records if r["record"] == "step")
    for key in ("step_seconds", "budget_seconds", "status", "gap", "binaries", "source", "deadline_met", "action"):
        assert key in step


class StallingPlanner:
    """The MIP, but its third call hangs for 0.35 s (a stalled solver)."""

    def __init__(self, planner):
        self.inner, self.calls = planner, 0
        self.config = planner.config

    def plan(self, state, goal):
        self.calls += 1
        self.inner.config = self.config
        if self.calls == 3:
            time.sleep(0.35)
        return self.inner.plan(state, goal)


def test_a_solver_stall_falls_back_to_the_shifted_plan_then_mppi(pieces, tmp_path):
    mip, _ = _planners(pieces)
    summary, records = _run(pieces, tmp_path, SimulatedPlant(make_task("pwa")), planner=StallingPlanner(mip))
    events = _events(records)
    assert "solver_stall" in events and "solver_busy" in events and "late_plan_discarded" in events
    assert summary["end_reason"] == "completed" and summary["steps"] == 10
    sources = [r["source"] for r in records if r["record"] == "step"]
    assert sources[2] == "shifted_plan" and "planner" in sources[4:]
    stalled = [r for r in records if r["record"] == "step" and r["source"] != "planner"]
    assert all(r["reason"] for r in stalled)


def test_malformed_reply_and_dropped_connection_reconnect_and_go_on(pieces, tmp_path):
    server, thread = _serve({3: "malformed", 6: "drop"})
    try:
        plant = TcpPlant(*server.address, timeout_seconds=SETTINGS.watchdog_seconds)
        summary, records = _run(pieces, tmp_path, plant)
        plant.close()
    finally:
        server.stop()
        thread.join(timeout=2)
    events = _events(records)
    assert "plant_malformed" in events and "plant_disconnected" in events and events.count("reconnected") == 2
    assert summary["end_reason"] == "completed" and summary["steps"] == 10
    steps = [r for r in records if r["record"] == "step"]
    assert not steps[2]["deadline_met"]
    # the loop plans again after reconnecting (which step first makes its deadline depends on the load)
    assert any(step["source"] == "planner" for step in steps[3:])


def test_a_plant_that_stops_answering_ends_the_episode_cleanly(pieces, tmp_path):
    server, thread = _serve({"dead_from": 4})
    try:
        plant = TcpPlant(*server.address, timeout_seconds=SETTINGS.watchdog_seconds)
        summary, records = _run(pieces, tmp_path, plant)
        plant.close()
    finally:
        server.stop()
        thread.join(timeout=2)
    events = _events(records)
    assert events.count("plant_timeout") >= SETTINGS.max_silent_steps
    assert summary["end_reason"] == "plant_silent" and summary["steps"] < 10


def test_a_single_silent_step_is_survived(pieces, tmp_path):
    server, thread = _serve({2: "silent"})
    try:
        plant = TcpPlant(*server.address, timeout_seconds=SETTINGS.watchdog_seconds)
        summary, records = _run(pieces, tmp_path, plant)
        plant.close()
    finally:
        server.stop()
        thread.join(timeout=2)
    assert "plant_timeout" in _events(records)
    assert summary["end_reason"] == "completed" and summary["steps"] == 10


class InterruptingPlant(SimulatedPlant):
    def step(self, action):
        if self.steps == 4:
            raise KeyboardInterrupt
        return super().step(action)


def test_ctrl_c_ends_the_episode_and_the_log_is_complete(pieces, tmp_path):
    summary, records = _run(pieces, tmp_path, InterruptingPlant(make_task("pwa")))
    assert summary["end_reason"] == "interrupted" and summary["steps"] == 4


def test_settings_are_checked():
    with pytest.raises(ValueError, match="margin_seconds"):
        LoopSettings(rate_hz=10.0, margin_seconds=0.2)
    with pytest.raises(ValueError, match="rate_hz"):
        LoopSettings(rate_hz=0.0)


def test_the_script_runs_on_the_loopback_plant_and_shows_help(pieces, tmp_path):
    network, _ = pieces
    path = network.save(tmp_path / "net.npz")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    script = [sys.executable, "apps/hil_control.py"]
    assert "examples:" in subprocess.run([*script, "--help"], capture_output=True, text=True, env=env).stdout
    result = subprocess.run([*script, "--model", str(path), "--plant", "loopback", "--steps", "5", "--horizon", "3",
                             "--log", str(tmp_path / "log.jsonl")], capture_output=True, text=True, env=env,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 5 and summary["end_reason"] == "completed"
    bad = subprocess.run([*script, "--model", str(path), "--margin-ms", "500"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "margin_seconds" in bad.stderr
