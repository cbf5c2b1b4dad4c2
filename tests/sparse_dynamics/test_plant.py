"""The plant server and client: the protocol, its validation, heartbeat, reconnection and shutdown."""

import socket
import subprocess
import sys

import numpy as np
import pytest

from sparse_dynamics.plant import (
    HEADER,
    REQUEST_SCHEMAS,
    FrameReader,
    PlantProtocolError,
    PlantRemoteError,
    PlantServer,
    SimulatedPlant,
    TcpPlant,
    encode_message,
    validate,
)
from sparse_dynamics.tasks import make_task


@pytest.fixture()
def server():
    plant_server = PlantServer(make_task("pwa"), idle_timeout_seconds=2.0)
    thread = plant_server.serve_in_thread()
    yield plant_server
    plant_server.stop()
    thread.join(timeout=2)


def _raw(server):
    sock = socket.create_connection(server.address, timeout=2)
    return sock, FrameReader(sock)


def test_tcp_plant_matches_the_in_process_simulator(server):
    client = TcpPlant(*server.address, timeout_seconds=2.0)
    assert (client.task_name, client.state_dim, client.action_dim) == ("pwa", 2, 2)
    local = SimulatedPlant(make_task("pwa"))
    goal = np.array([0.5, -0.5])
    remote_obs, local_obs = client.reset(3, goal), local.reset(3, goal)
    np.testing.assert_array_equal(remote_obs.state, local_obs.state)
    for action in ([0.1, -0.2], [5.0, 5.0]):  # the second is clipped by the simulator
        remote_obs, local_obs = client.step(np.array(action)), local.step(np.array(action))
        np.testing.assert_allclose(remote_obs.state, local_obs.state, rtol=0, atol=0)
        assert remote_obs.cost == pytest.approx(local_obs.cost) and remote_obs.step == local_obs.step
    assert client.observe().step == 2 and client.heartbeat() >= 0
    client.close()
    # the simulator keeps its state across connections
    again = TcpPlant(*server.address, timeout_seconds=2.0)
    assert again.observe().step == 2
    again.close()


def test_validation_names_the_type_and_field():
    with pytest.raises(PlantProtocolError, match="unknown message type 'jump'"):
        validate({"type": "jump", "id": 1}, REQUEST_SCHEMAS)
    with pytest.raises(PlantProtocolError, match="step: missing field 'action'"):
        validate({"type": "step", "id": 1}, REQUEST_SCHEMAS)
    with pytest.raises(PlantProtocolError, match="step: field 'action' must be a list of finite numbers"):
        validate({"type": "step", "id": 1, "action": [1, "x"]}, REQUEST_SCHEMAS)
    with pytest.raises(PlantProtocolError, match="reset: unknown field 'colour'"):
        validate({"type": "reset", "id": 1, "seed": 0, "colour": 1}, REQUEST_SCHEMAS)
    with pytest.raises(PlantProtocolError, match="field 'id'"):
        validate({"type": "observe", "id": -1}, REQUEST_SCHEMAS)
    assert validate({"type": "reset", "id": 2, "seed": 1, "goal": [[0.0, 1.0]]}, REQUEST_SCHEMAS)["seed"] == 1


def test_malformed_requests_get_error_replies_and_the_connection_survives(server):
    sock, reader = _raw(server)
    body = b"{not json"
    sock.sendall(HEADER.pack(len(body)) + body)
    reply = reader.read(2.0)
    assert reply["type"] == "error" and "JSON" in reply["message"]
    sock.sendall(encode_message({"type": "step", "id": 5, "action": [1.0, 0.0]}))
    reply = reader.read(2.0)
    assert reply == {"type": "error", "id": 5, "message": "reset the plant first"}
    sock.sendall(encode_message({"type": "reset", "id": 6, "seed": 0}))
    sock.sendall(encode_message({"type": "step", "id": 7, "action": [1.0]}))
    assert reader.read(2.0)["type"] == "state"
    reply = reader.read(2.0)
    assert reply["id"] == 7 and "2 entries" in reply["message"]
    sock.sendall(encode_message({"type": "heartbeat", "id": 8}))
    assert reader.read(2.0)["type"] == "heartbeat"
    sock.close()


def test_an_oversized_frame_is_refused_and_the_connection_closed(server):
    sock, reader = _raw(server)
    sock.sendall(HEADER.pack(10**9))
    reply = reader.read(2.0)
    assert reply["type"] == "error" and "exceeds the limit" in reply["message"]
    assert sock.recv(10) == b""
    sock.close()


def test_a_remote_error_is_raised_by_the_client(server):
    client = TcpPlant(*server.address, timeout_seconds=2.0)
    with pytest.raises(PlantRemoteError, match="reset the plant first"):
        client.observe()
    client.close()


def test_the_command_serves_until_shutdown():
    process = subprocess.Popen([sys.executable, "-m", "sparse_dynamics.plant", "--task", "push", "--port", "0"],
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        client = TcpPlant("127.0.0.1", port, timeout_seconds=5.0)
        assert client.task_name == "push"
        observation = client.reset(0)
        assert observation.goal is not None and observation.state.shape == (client.state_dim,)
        client.shutdown()
        assert process.wait(timeout=10) == 0
        assert "plant stopped" in process.stdout.read()
    finally:
        process.kill()
        process.wait()


def test_the_command_rejects_a_bad_port():
    result = subprocess.run([sys.executable, "-m", "sparse_dynamics.plant", "--port", "70000"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and "--port" in result.stderr
