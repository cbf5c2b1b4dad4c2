import numpy as np
import pytest


@pytest.fixture(scope="session")
def qg3_folder():
    from blocking.qg3.inputs import reference_folder

    return reference_folder()


@pytest.fixture(scope="session")
def reference_model(qg3_folder):
    """The model on the reference store's own forcing, and the store loaded."""
    import xarray as xr

    from blocking.qg3 import QG3Config, QG3Model, SpectralTransform, from_reference_grid, load_t63_inputs

    store = xr.open_zarr(qg3_folder / "test_t21_t31.zarr", zarr_format=2, consolidated=True).load()
    inputs = load_t63_inputs(SpectralTransform().grid, qg3_folder)
    model = QG3Model(
        QG3Config(), inputs["orography"], inputs["land_sea_mask"], from_reference_grid(store.forcing.to_numpy())
    )
    return model, store


def relative_l2_per_member(ours, reference):
    ours = np.asarray(ours).reshape(len(ours), -1)
    reference = np.asarray(reference).reshape(len(reference), -1)
    return np.linalg.norm(ours - reference, axis=1) / np.linalg.norm(reference, axis=1)
