"""Figures of a QG3 run: energy / enstrophy time series and z500 mean / standard deviation maps."""

from __future__ import annotations

from pathlib import Path

from sparse_core.infra.files import save_figure

__all__ = ["plot_run"]


def plot_run(output: Path, folder: Path, spinup_days: float = 0.0) -> dict[str, str]:
    """Write ``energy_enstrophy.png`` and ``z500_mean_std.png`` for ``output`` into ``folder`` (atomically).

    Returns:
        Figure name → path; also the stationarity numbers in ``energy_drift`` (relative
        change of the mean energy between the two halves of the run).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xarray as xr

    folder = Path(folder)
    with xr.open_dataset(output, decode_times=False) as data:
        days = data.time.to_numpy()
        energy = data.energy.to_numpy()
        enstrophy = data.enstrophy.to_numpy()
        z500 = data.z500
        mean = z500.mean(dim=("member", "time")).to_numpy()
        std = z500.std(dim=("member", "time")).to_numpy()
        lat, lon = data.lat.to_numpy(), data.lon.to_numpy()
    figure, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for member in range(energy.shape[0]):
        axes[0].plot(days / 365.0, energy[member], lw=0.6)
        axes[1].plot(days / 365.0, enstrophy[member], lw=0.6)
    axes[0].set_ylabel("energy (m² s⁻²)")
    axes[1].set_ylabel("enstrophy (s⁻²)")
    axes[1].set_xlabel(f"model years after {spinup_days:g} spin-up days")
    axes[0].set_title("QG3 global energy and potential enstrophy")
    energy_path = folder / "energy_enstrophy.png"
    figure.tight_layout()
    save_figure(figure, energy_path, dpi=110)
    plt.close(figure)
    figure, axes = plt.subplots(1, 2, figsize=(12, 4))
    for axis, field, title in ((axes[0], mean, "time-mean z500 (m)"), (axes[1], std, "z500 standard deviation (m)")):
        image = axis.contourf(lon, lat, field, levels=20, cmap="RdBu_r" if field is mean else "viridis")
        figure.colorbar(image, ax=axis, label="m")
        axis.set_xlabel("longitude (°E)")
        axis.set_ylabel("latitude (°N)")
        axis.set_title(title)
    maps_path = folder / "z500_mean_std.png"
    figure.tight_layout()
    save_figure(figure, maps_path, dpi=110)
    plt.close(figure)
    half = energy.shape[1] // 2
    drift = float(abs(energy[:, half:].mean() - energy[:, :half].mean()) / energy.mean()) if half else float("nan")
    return dict(energy_enstrophy=str(energy_path), z500_mean_std=str(maps_path), energy_drift=drift)
