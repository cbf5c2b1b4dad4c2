"""A task simulator as a plant: in process, or behind TCP with a small validated JSON protocol.

``python -m sparse_dynamics.plant --task push --port 5555`` serves one simulator on
127.0.0.1 (``--host`` to change it); ``--port 0`` picks a free port. It prints one line
``listening on HOST:PORT`` and serves one controller connection at a time; the
simulator's state survives a reconnection, like a real plant's.

Protocol (``PROTOCOL``): every message is a 4-byte big-endian length followed by that
many bytes of UTF-8 JSON, one object with a ``type`` and an ``id`` (an int the reply
echoes, so that a late reply to an abandoned request is recognised and dropped). Each
message is validated against its schema (`REQUEST_SCHEMAS`, `REPLY_SCHEMAS`) with
`validate`, whose errors name the message type and field. Requests and their replies:

- ``hello`` -> ``info`` (protocol, task, state_dim, action_dim, action_bound);
- ``reset`` {seed, goal?} -> ``state`` (state, cost, step, goal): starts an episode
  (without a goal, one is drawn from the seed);
- ``observe`` -> ``state``: the current state, nothing applied;
- ``step`` {action} -> ``state``: applies the (clipped) action once;
- ``heartbeat`` -> ``heartbeat`` (step, time): a liveness check that changes nothing;
- ``shutdown`` -> ``bye``: the server stops after replying.

A malformed or invalid request gets an ``error`` reply {message} and the connection
stays usable; a frame larger than ``max_message_bytes`` (the stream cannot be
resynchronised) gets an ``error`` and the connection is closed. A connected controller
silent for ``idle_timeout_seconds`` is disconnected (the plant holds still: a simulator
only moves when stepped).

`Plant` is what a control loop drives (`SimulatedPlant` in process, `TcpPlant` over the
protocol); its failures are `PlantError` subclasses: `PlantTimeout` (no reply in time),
`PlantDisconnected`, `PlantProtocolError` (a malformed reply) and `PlantRemoteError`
(the plant answered ``error``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PROTOCOL", "REPLY_SCHEMAS", "REQUEST_SCHEMAS", "FrameReader", "Observation", "Plant", "PlantDisconnected",
    "PlantError", "PlantProtocolError", "PlantRemoteError", "PlantServer", "PlantTimeout", "SimulatedPlant",
    "TcpPlant", "encode_message", "validate",
]  # fmt: skip

logger = logging.getLogger(__name__)

PROTOCOL = "sparseworks.plant/1"
HEADER = struct.Struct(">I")
MAX_MESSAGE_BYTES = 1 << 20

# field -> (kind, required); kinds: int, number, number_or_null, string, vector (flat list of
# finite numbers), array (nested lists of finite numbers)
REQUEST_SCHEMAS: dict[str, dict[str, tuple[str, bool]]] = {
    "hello": {},
    "reset": {"seed": ("int", True), "goal": ("array", False)},
    "observe": {},
    "step": {"action": ("vector", True)},
    "heartbeat": {},
    "shutdown": {},
}
REPLY_SCHEMAS: dict[str, dict[str, tuple[str, bool]]] = {
    "info": {"protocol": ("string", True), "task": ("string", True), "state_dim": ("int", True),
             "action_dim": ("int", True), "action_bound": ("number", True)},
    "state": {"state": ("vector", True), "cost": ("number_or_null", True), "step": ("int", True),
              "goal": ("array", False)},
    "heartbeat": {"step": ("int", True), "time": ("number", True)},
    "error": {"message": ("string", True)},
    "bye": {},
}  # fmt: skip


class PlantError(RuntimeError):
    """A plant did not give a usable answer."""


class PlantTimeout(PlantError):
    """No (complete) reply within the timeout."""


class PlantDisconnected(PlantError):
    """The connection is closed or broken."""


class PlantProtocolError(PlantError):
    """A message that is not valid protocol (bad frame, JSON or schema)."""


class PlantRemoteError(PlantError):
    """The plant answered with an ``error`` message."""


# --------------------------------------------------------------------------- messages


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_array(value) -> bool:
    if isinstance(value, list):
        return all(_is_array(item) for item in value)
    return _is_number(value)


_KINDS = {
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a non-negative integer"),
    "number": (_is_number, "a finite number"),
    "number_or_null": (lambda v: v is None or _is_number(v), "a finite number or null"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "vector": (lambda v: isinstance(v, list) and all(_is_number(x) for x in v), "a list of finite numbers"),
    "array": (lambda v: isinstance(v, list) and _is_array(v), "a (nested) list of finite numbers"),
}


def validate(message, schemas: dict[str, dict[str, tuple[str, bool]]]) -> dict:
    """Checks ``message`` against its type's schema; returns it.

    Raises:
        PlantProtocolError: Naming the message type and the field that is missing, unknown or of the wrong kind.
    """
    if not isinstance(message, dict):
        raise PlantProtocolError(f"a message must be a JSON object, got {type(message).__name__}")
    kind = message.get("type")
    if kind not in schemas:
        raise PlantProtocolError(f"unknown message type {kind!r}; expected one of {', '.join(schemas)}")
    if not _KINDS["int"][0](message.get("id")):
        raise PlantProtocolError(f"{kind}: field 'id' must be a non-negative integer, got {message.get('id')!r}")
    schema = schemas[kind]
    for name in message:
        if name not in schema and name not in ("type", "id"):
            raise PlantProtocolError(f"{kind}: unknown field {name!r} (allowed: {', '.join(schema) or 'none'})")
    for name, (field_kind, required) in schema.items():
        if name not in message:
            if required:
                raise PlantProtocolError(f"{kind}: missing field {name!r} ({_KINDS[field_kind][1]})")
            continue
        check, description = _KINDS[field_kind]
        if not check(message[name]):
            raise PlantProtocolError(f"{kind}: field {name!r} must be {description}, got {message[name]!r:.80}")
    return message


def encode_message(message: dict) -> bytes:
    """One frame: the 4-byte big-endian length and the UTF-8 JSON."""
    body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return HEADER.pack(len(body)) + body


class FrameReader:
    """Reads length-prefixed frames from a socket; a timeout loses no bytes (they stay buffered).

    Args:
        sock: A connected socket.
        max_message_bytes: Largest accepted frame body.
    """

    def __init__(self, sock: socket.socket, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.sock, self.max_message_bytes = sock, max_message_bytes
        self._buffer = bytearray()

    def read(self, timeout_seconds: float | None):
        """The next message, decoded from JSON (not yet validated).

        Raises:
            PlantTimeout: No complete frame within ``timeout_seconds`` (None = wait forever).
            PlantDisconnected: The peer closed or the connection broke.
            PlantProtocolError: A frame too large (the stream is then unusable) or not JSON.
        """
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        while True:
            if len(self._buffer) >= HEADER.size:
                (length,) = HEADER.unpack_from(self._buffer)
                if length > self.max_message_bytes:
                    raise PlantProtocolError(f"a frame of {length} bytes exceeds the limit of {self.max_message_bytes}")
                if len(self._buffer) >= HEADER.size + length:
                    body = bytes(self._buffer[HEADER.size : HEADER.size + length])
                    del self._buffer[: HEADER.size + length]
                    try:
                        return json.loads(body.decode("utf-8"))
                    except (UnicodeDecodeError, ValueError) as error:
                        raise PlantProtocolError(f"a frame that is not UTF-8 JSON: {error}") from None
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise PlantTimeout(f"no complete message within {timeout_seconds:.3f} s")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise PlantTimeout(f"no complete message within {timeout_seconds:.3f} s") from None
            except OSError as error:
                raise PlantDisconnected(f"connection broken: {error}") from None
            if not chunk:
                raise PlantDisconnected("the peer closed the connection")
            self._buffer.extend(chunk)


def _send(sock: socket.socket, message: dict) -> None:
    try:
        sock.sendall(encode_message(message))
    except OSError as error:
        raise PlantDisconnected(f"connection broken: {error}") from None


# --------------------------------------------------------------------------- the plant interface


@dataclass(frozen=True)
class Observation:
    """What a plant reports.

    Attributes:
        state: ``(S,)`` true state.
        cost: Task cost of the state for the episode's goal (None before a goal is set).
        step: Steps applied since the last reset.
        goal: The episode's goal (after a reset), else None.
    """

    state: np.ndarray
    cost: float | None
    step: int
    goal: np.ndarray | None = None


class Plant:
    """What a control loop drives; every failure is a `PlantError`."""

    state_dim: int
    action_dim: int
    action_bound: float

    def reset(self, seed: int, goal: np.ndarray | None = None) -> Observation:
        raise NotImplementedError

    def observe(self) -> Observation:
        raise NotImplementedError

    def step(self, action: np.ndarray) -> Observation:
        raise NotImplementedError

    def heartbeat(self) -> float:
        """Round-trip seconds of a liveness check."""
        return 0.0

    def reconnect(self) -> None:
        """Re-establishes the link (nothing to do in process)."""

    def close(self) -> None:
        """Releases the link (the plant itself keeps running)."""


class SimulatedPlant(Plant):
    """The task's simulator in this process (never fails).

    Args:
        task: A `sparse_dynamics.tasks.Task`.
    """

    def __init__(self, task) -> None:
        self.task = task
        self.state_dim, self.action_dim, self.action_bound = task.state_dim, task.action_dim, float(task.action_bound)
        self.goal: np.ndarray | None = None
        self.steps = 0
        self._started = False

    def reset(self, seed: int, goal: np.ndarray | None = None) -> Observation:
        self.task.reset(int(seed))
        self.goal = (
            np.asarray(goal, dtype=np.float64)
            if goal is not None
            else self.task.sample_goal(np.random.default_rng(int(seed)))
        )
        self.steps, self._started = 0, True
        return self.observe()

    def observe(self) -> Observation:
        if not self._started:
            raise PlantRemoteError("reset the plant first")
        state = self.task.state
        cost = float(self.task.cost(state, self.goal))
        return Observation(state, cost, self.steps, self.goal)

    def step(self, action: np.ndarray) -> Observation:
        if not self._started:
            raise PlantRemoteError("reset the plant first")
        try:
            self.task.step(self.task.clip_action(action))
        except ValueError as error:
            raise PlantRemoteError(str(error)) from None
        self.steps += 1
        return self.observe()


class TcpPlant(Plant):
    """A plant behind the TCP protocol (module docstring).

    Args:
        host: The server's address (127.0.0.1 by default).
        port: Its port.
        timeout_seconds: How long a request waits for its reply (the watchdog).
        connect_timeout_seconds: How long connecting may take.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 5555, *, timeout_seconds: float = 1.0,
                 connect_timeout_seconds: float = 2.0) -> None:  # fmt: skip
        self.host, self.port = host, int(port)
        self.timeout_seconds, self.connect_timeout_seconds = timeout_seconds, connect_timeout_seconds
        self._sock: socket.socket | None = None
        self._reader: FrameReader | None = None
        self._next_id = 0
        self.dropped_replies = 0
        self.reconnect()
        info = self._request({"type": "hello"}, expect="info")
        self.task_name = info["task"]
        self.state_dim, self.action_dim, self.action_bound = info["state_dim"], info["action_dim"], info["action_bound"]

    def reconnect(self) -> None:
        """(Re)connects; raises `PlantDisconnected` when the server cannot be reached."""
        self.close()
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout_seconds)
        except OSError as error:
            raise PlantDisconnected(f"cannot connect to {self.host}:{self.port}: {error}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._reader = sock, FrameReader(sock)

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock, self._reader = None, None

    def _request(self, message: dict, expect: str, timeout_seconds: float | None = None) -> dict:
        if self._sock is None:
            raise PlantDisconnected("not connected")
        self._next_id += 1
        message = {**message, "id": self._next_id}
        _send(self._sock, message)
        timeout = self.timeout_seconds if timeout_seconds is None else timeout_seconds
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = self._reader.read(max(deadline - time.monotonic(), 0.0))
            except PlantProtocolError:
                self.close()  # a bad frame leaves the stream unusable; reconnect to go on
                raise
            reply = validate(reply, REPLY_SCHEMAS)
            if reply["id"] != self._next_id:
                self.dropped_replies += 1
                logger.info("dropped a late reply (id %s, waiting for %s)", reply["id"], self._next_id)
                continue
            if reply["type"] == "error":
                raise PlantRemoteError(reply["message"])
            if reply["type"] != expect:
                raise PlantProtocolError(f"expected a {expect!r} reply to {message['type']}, got {reply['type']!r}")
            return reply

    @staticmethod
    def _observation(reply: dict) -> Observation:
        goal = reply.get("goal")
        return Observation(np.asarray(reply["state"], dtype=np.float64), reply["cost"], reply["step"],
                           None if goal is None else np.asarray(goal, dtype=np.float64))  # fmt: skip

    def reset(self, seed: int, goal: np.ndarray | None = None) -> Observation:
        message = {"type": "reset", "seed": int(seed)}
        if goal is not None:
            message["goal"] = np.asarray(goal, dtype=np.float64).tolist()
        return self._observation(self._request(message, "state"))

    def observe(self) -> Observation:
        return self._observation(self._request({"type": "observe"}, "state"))

    def step(self, action: np.ndarray) -> Observation:
        message = {"type": "step", "action": np.asarray(action, dtype=np.float64).reshape(-1).tolist()}
        return self._observation(self._request(message, "state"))

    def heartbeat(self) -> float:
        started = time.monotonic()
        self._request({"type": "heartbeat"}, "heartbeat")
        return time.monotonic() - started

    def shutdown(self) -> None:
        """Asks the server to stop (it replies ``bye`` first)."""
        self._request({"type": "shutdown"}, "bye")
        self.close()


# --------------------------------------------------------------------------- the server


class PlantServer:
    """Serves one task simulator over the protocol (module docstring).

    Args:
        task: The simulator.
        host: Address to bind (127.0.0.1: this machine only).
        port: Port (0 = a free one; see `address`).
        idle_timeout_seconds: A connected controller silent this long is disconnected.
        max_message_bytes: Largest accepted request.
    """

    def __init__(self, task, host: str = "127.0.0.1", port: int = 0, *, idle_timeout_seconds: float = 10.0,
                 max_message_bytes: int = 64 * 1024) -> None:  # fmt: skip
        self.plant = SimulatedPlant(task)
        self.idle_timeout_seconds, self.max_message_bytes = idle_timeout_seconds, max_message_bytes
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self.requests = 0

    @property
    def address(self) -> tuple[str, int]:
        return self._listener.getsockname()[:2]

    def stop(self) -> None:
        self._stop.set()

    def serve_forever(self) -> None:
        """Accepts one controller at a time until a ``shutdown`` request or `stop`."""
        try:
            while not self._stop.is_set():
                try:
                    connection, peer = self._listener.accept()
                except TimeoutError:
                    continue
                logger.info("controller connected from %s:%s", *peer[:2])
                with connection:
                    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self._serve(connection)
        finally:
            self._listener.close()

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="plant-server", daemon=True)
        thread.start()
        return thread

    def _serve(self, connection: socket.socket) -> None:
        reader = FrameReader(connection, self.max_message_bytes)
        while not self._stop.is_set():
            try:
                message = reader.read(self.idle_timeout_seconds)
            except PlantTimeout:
                logger.warning(
                    "controller silent for %.1f s: holding still and disconnecting", self.idle_timeout_seconds
                )
                return
            except PlantDisconnected:
                logger.info("controller disconnected")
                return
            except PlantProtocolError as error:
                self._reply(connection, {"type": "error", "id": 0, "message": str(error)})
                if "exceeds the limit" in str(error):
                    return
                continue
            self.requests += 1
            reply = self.handle(message)
            if reply is None:
                continue
            if not self._reply(connection, reply) or reply["type"] == "bye":
                return

    def _reply(self, connection: socket.socket, reply: dict) -> bool:
        try:
            _send(connection, reply)
        except PlantDisconnected:
            return False
        return True

    def handle(self, message) -> dict | None:
        """The reply to one decoded request (None: no reply). Subclasses may inject faults here."""
        request_id = message.get("id", 0) if isinstance(message, dict) else 0
        request_id = (
            request_id if isinstance(request_id, int) and not isinstance(request_id, bool) and request_id >= 0 else 0
        )
        try:
            message = validate(message, REQUEST_SCHEMAS)
            kind = message["type"]
            if kind == "hello":
                task = self.plant.task
                return {"type": "info", "id": request_id, "protocol": PROTOCOL, "task": task.name,
                        "state_dim": task.state_dim, "action_dim": task.action_dim,
                        "action_bound": float(task.action_bound)}  # fmt: skip
            if kind == "heartbeat":
                return {"type": "heartbeat", "id": request_id, "step": self.plant.steps, "time": time.monotonic()}
            if kind == "shutdown":
                self._stop.set()
                return {"type": "bye", "id": request_id}
            if kind == "reset":
                goal = message.get("goal")
                observation = self.plant.reset(message["seed"], None if goal is None else np.asarray(goal, dtype=float))
            elif kind == "observe":
                observation = self.plant.observe()
            else:
                action = np.asarray(message["action"], dtype=np.float64)
                if action.shape != (self.plant.action_dim,):
                    raise PlantProtocolError(f"step: field 'action' must have {self.plant.action_dim} entries, "
                                             f"got {action.size}")  # fmt: skip
                observation = self.plant.step(action)
        except PlantError as error:
            return {"type": "error", "id": request_id, "message": str(error)}
        return {"type": "state", "id": request_id, "state": observation.state.tolist(), "cost": observation.cost,
                "step": observation.step, "goal": observation.goal.tolist()}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """``python -m sparse_dynamics.plant``: serve a task simulator (module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m sparse_dynamics.plant",
        description="Serve a task simulator as a plant over TCP (length-prefixed JSON; see the module docstring).",
        epilog="examples:\n  python -m sparse_dynamics.plant --task push --port 5555\n"
        "  python -m sparse_dynamics.plant --task pwa --port 0          # a free port, printed\n"
        "  python -m sparse_dynamics.plant --task push --host 0.0.0.0 --port 5555   # reachable from other machines",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from sparse_dynamics.tasks import TASK_NAMES, make_task

    parser.add_argument("--task", choices=TASK_NAMES, default="push", help="the simulated task (default: push)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=5555, help="port (0 = a free one; default: 5555)")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=10.0,
        help="seconds a connected controller may stay silent before it is disconnected (default: 10)",
    )
    parser.add_argument("--verbose", action="store_true", help="log connections and requests")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be in 0..65535, got {args.port}")
    if args.idle_timeout <= 0:
        parser.error(f"--idle-timeout must be > 0, got {args.idle_timeout}")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    try:
        server = PlantServer(make_task(args.task), args.host, args.port, idle_timeout_seconds=args.idle_timeout)
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    host, port = server.address
    print(f"listening on {host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    print("plant stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
