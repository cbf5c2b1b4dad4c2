"""Parity with pyshqg 1.0.1's own 16-member T21 test store (relative L2 ≤ 1e-6 per member)."""

import numpy as np
import pytest

from blocking.qg3 import from_reference_grid, from_reference_spectral, rk4_step, to_reference_spectral
from tests.blocking.conftest import relative_l2_per_member

pytestmark = pytest.mark.network
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def terms(reference_model):
    model, store = reference_model
    return model.terms(from_reference_spectral(store.spec_q.to_numpy()))


@pytest.mark.parametrize(
    "ours, theirs, kind",
    [
        ("spec_psi", "spec_psi", "spectral"),
        ("advection", "jacobian", "grid"),
        ("ekman", "dissip_ekman", "grid"),
        ("spec_selective", "spec_dissip_sel", "spectral"),
        ("spec_thermal", "spec_dissip_therm", "spectral"),
        ("spec_tendency", "spec_tendencies", "spectral"),
    ],
)
def test_each_term_matches_reference(terms, reference_model, ours, theirs, kind):
    _, store = reference_model
    convert = from_reference_spectral if kind == "spectral" else from_reference_grid
    errors = relative_l2_per_member(terms[ours], convert(store[theirs].to_numpy()))
    assert errors.shape == (16,)
    assert errors.max() <= TOLERANCE, f"{ours}: worst member {errors.max():.2e}"


@pytest.mark.parametrize("method", ["tendency", "direct_tendency"])
def test_fast_and_direct_tendencies_match_reference(terms, reference_model, method):
    """The packed kernel (``tendency``) and the natural-layout one, each against the store and ``terms``."""
    model, store = reference_model
    ours = getattr(model, method)(from_reference_spectral(store.spec_q.to_numpy()))
    errors = relative_l2_per_member(ours, from_reference_spectral(store.spec_tendencies.to_numpy()))
    assert errors.max() <= TOLERANCE, f"{method}: worst member {errors.max():.2e}"
    np.testing.assert_allclose(ours, terms["spec_tendency"], rtol=0, atol=1e-12 * np.abs(ours).max())


def test_packed_rk4_step_matches_reference(reference_model):
    """One RK4 step taken on the packed state, as the simulation driver does."""
    model, store = reference_model
    q = from_reference_spectral(store.spec_q.to_numpy())
    packed = rk4_step(model.fast, model.fast.pack(q), 1800.0)
    stepped = model.fast.unpack(packed, len(q))
    reference = from_reference_spectral(store.spec_rk4.to_numpy())
    assert relative_l2_per_member(stepped - q, reference - q).max() <= TOLERANCE


def test_one_rk4_step_matches_reference(reference_model):
    model, store = reference_model
    q = from_reference_spectral(store.spec_q.to_numpy())
    stepped = rk4_step(model.tendency, q, 1800.0)
    reference = from_reference_spectral(store.spec_rk4.to_numpy())
    assert relative_l2_per_member(stepped, reference).max() <= TOLERANCE
    # the increment itself, a much stricter test than the state
    assert relative_l2_per_member(stepped - q, reference - q).max() <= TOLERANCE


def test_reference_layout_round_trip(reference_model):
    _, store = reference_model
    array = store.spec_q.to_numpy()
    np.testing.assert_array_equal(to_reference_spectral(from_reference_spectral(array)), array)


def test_interpolated_forcing_matches_reference_store(reference_model, qg3_folder):
    from blocking.qg3 import load_t63_inputs

    model, store = reference_model
    ours = load_t63_inputs(model.transform.grid, qg3_folder, periodic_longitude=True)["forcing"]
    theirs = from_reference_grid(store.forcing.to_numpy())
    assert np.linalg.norm(ours - theirs) / np.linalg.norm(theirs) < 1e-6
