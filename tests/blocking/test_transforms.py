import numpy as np

from blocking.qg3 import SpectralTransform, gaussian_grid, legendre_tables


def test_grid_is_gaussian_north_to_south():
    grid = gaussian_grid(32)
    assert grid.lat[0] > 85 and grid.lat[-1] < -85 and np.all(np.diff(grid.lat) < 0)
    assert grid.lon[0] == 0 and grid.nlon == 64
    np.testing.assert_allclose(grid.weights.sum(), 2.0)


def test_legendre_functions_orthonormal():
    grid = gaussian_grid(32)
    p, _ = legendre_tables(grid.mu, 21)
    for m in (0, 5, 21):
        gram = 0.5 * np.einsum("i,il,ik->lk", grid.weights, p[:, m:, m], p[:, m:, m])
        np.testing.assert_allclose(gram, np.eye(22 - m), atol=1e-13)


def test_round_trip_and_known_gradients():
    transform = SpectralTransform()
    rng = np.random.default_rng(0)
    spec = (rng.standard_normal((2, 3, 22, 22)) + 1j * rng.standard_normal((2, 3, 22, 22))) * np.tril(np.ones((22, 22)))
    spec[..., 0] = spec[..., 0].real
    np.testing.assert_allclose(transform.to_spectral(transform.to_grid(spec)), spec, atol=1e-12)
    grid = transform.grid
    lat, lon = np.meshgrid(np.radians(grid.lat), np.radians(grid.lon), indexing="ij")
    field = np.sin(lat) + np.cos(lat) ** 2 * np.cos(2 * lon)  # T2 field
    coeffs = transform.to_spectral(field)
    a = transform.radius
    np.testing.assert_allclose(transform.to_grid(coeffs), field, atol=1e-13)
    np.testing.assert_allclose(
        transform.dlat_to_grid(coeffs), (np.cos(lat) - 2 * np.cos(lat) * np.sin(lat) * np.cos(2 * lon)) / a, atol=1e-19
    )
    np.testing.assert_allclose(transform.dlon_to_grid(coeffs), -2 * np.cos(lat) * np.sin(2 * lon) / a, atol=1e-19)


def test_float32_option_close_to_float64():
    rng = np.random.default_rng(1)
    field = rng.standard_normal((3, 32, 64))
    double, single = SpectralTransform(), SpectralTransform(dtype=np.float32)
    a, b = double.to_spectral(field), single.to_spectral(field.astype(np.float32))
    assert b.dtype == np.complex64
    assert np.linalg.norm(a - b) / np.linalg.norm(a) < 1e-5
