"""The fast packed kernel: exact layout round trips, equality with the direct implementation."""

import numpy as np
import pytest

from blocking.qg3 import QG3Config, QG3Model, SpectralTransform
from blocking.qg3.fast import to_kernel_grid
from blocking.qg3.packed import PackedLayout
from blocking.qg3.stepping import rk3_step, rk4_step


def synthetic_model(dtype="float64", chunk=4):
    grid = SpectralTransform().grid
    lat, lon = np.meshgrid(np.radians(grid.lat), np.radians(grid.lon), indexing="ij")
    orography = 2000.0 * np.exp(-((lat - 0.8) ** 2 + (lon - 1.5) ** 2) / 0.1)
    land = (np.cos(2 * lon) * np.cos(lat) > 0.2).astype(float)
    forcing = 1e-10 * np.stack([np.sin(k * lat) * np.cos(lon + k) for k in (1, 2, 3)])
    return QG3Model(QG3Config(dtype=dtype, chunk_members=chunk), orography, land, forcing)


def random_state(model, members, seed=0):
    rng = np.random.default_rng(seed)
    shape = (members, 3, 22, 22)
    noise = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * np.tril(np.ones((22, 22)))
    noise[..., 0] = noise[..., 0].real
    scale = 1e-5 / (1.0 + np.arange(22))[:, None]
    return model.spec_planetary + scale * noise


def test_pack_unpack_is_exact_with_padded_chunks():
    layout = PackedLayout(21)
    spec = random_state(synthetic_model(), 5)
    for chunk in (1, 2, 4, 8):
        packed = layout.pack(spec, chunk)
        assert packed.shape[0] * packed.shape[4] >= 5
        np.testing.assert_array_equal(layout.unpack(packed, 5), spec)
    assert layout.chunking(32, 4) == (8, 4) and layout.chunking(9, 8) == (2, 5)


def test_layout_slots_cover_the_triangle_once():
    layout = PackedLayout(21)
    pairs = {(int(l), int(m)) for l, m in zip(layout.degree[layout.valid], layout.order[layout.valid])}
    assert pairs == {(l, m) for l in range(22) for m in range(l + 1)}
    assert layout.valid.sum() == 253


@pytest.mark.parametrize("chunk", [1, 3, 8])
def test_fast_tendency_equals_direct(chunk):
    model = synthetic_model(chunk=chunk)
    state = random_state(model, 5)
    fast = model.tendency(state)
    direct = model.direct_tendency(state)
    assert np.linalg.norm(fast - direct) <= 1e-12 * np.linalg.norm(direct)
    # the l = 0 (singular) coefficient and the m = 0 imaginary parts are handled too
    np.testing.assert_allclose(fast[..., 0, 0], direct[..., 0, 0], rtol=1e-10, atol=1e-30)
    assert np.all(fast[..., 0].imag == 0)


def test_float32_kernel_close_to_float64():
    double, single = synthetic_model(), synthetic_model("float32")
    state = random_state(double, 3)
    a = double.tendency(state)
    b = single.tendency(state.astype(np.complex64))
    assert b.dtype == np.complex64
    assert np.linalg.norm(a - b) / np.linalg.norm(a) < 1e-5


def test_forcing_setter_reaches_the_kernel():
    model = synthetic_model()
    state = random_state(model, 2)
    before = model.tendency(state)
    extra = np.zeros_like(model.forcing)
    extra[1] = 1e-11
    model.forcing = model.forcing + extra
    after = model.tendency(state)
    expected = model.transform.to_spectral(extra)
    np.testing.assert_allclose(after - before, np.broadcast_to(expected, before.shape), atol=1e-24)


def test_kernel_grid_order():
    field = np.arange(3 * 32 * 64.0).reshape(3, 32, 64)
    assert to_kernel_grid(field).shape == (64, 3, 32)
    assert to_kernel_grid(field)[5, 2, 7] == field[2, 7, 5]


@pytest.mark.parametrize("step, order", [(rk3_step, 3), (rk4_step, 4)])
def test_in_place_steps_are_runge_kutta(step, order):
    """On y' = λy one step multiplies by the truncated exponential series of λ dt."""
    rate, dt = -0.3 + 1.1j, 0.5
    result = step(lambda y: rate * y, np.array([1.0 + 0j, 2.0 + 0j]), dt)
    z = rate * dt
    series = sum(z**k / np.prod(range(1, k + 1)) for k in range(order + 1))
    np.testing.assert_allclose(result, series * np.array([1.0, 2.0]), rtol=1e-14)
