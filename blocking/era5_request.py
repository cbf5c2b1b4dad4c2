"""Requests for ERA5 geopotential from the Copernicus Climate Data Store (``blocking era5-request``).

One request per year for ``reanalysis-era5-pressure-levels`` in the keys of the new CDS
(``pressure_level``, ``data_format``, ``download_format``), written as JSON and as a
small Python script that downloads them with ``cdsapi``. ``cdsapi`` is imported only when
the requests are submitted (it is optional and needs a CDS account). The files are read
by :mod:`blocking.reanalysis`.
"""

from __future__ import annotations

from pathlib import Path

from blocking.config import Era5RequestConfig
from sparse_core.infra.errors import ConfigError

__all__ = ["ERA5_DATASET", "era5_requests", "request_script", "run_era5_request"]

ERA5_DATASET = "reanalysis-era5-pressure-levels"


def era5_requests(config: Era5RequestConfig) -> list[dict]:
    """One CDS API request per year for ERA5 geopotential on pressure levels (new CDS keys).

    Returns:
        ``[{"dataset", "request", "target"}]``: pass each to
        ``cdsapi.Client().retrieve(dataset, request, target)``.
    """
    requests = []
    for year in range(config.first_year, config.last_year + 1):
        request = {
            "product_type": ["reanalysis"],
            "variable": ["geopotential"],
            "year": [f"{year}"],
            "month": [f"{m:02d}" for m in sorted(config.months)],
            "day": [f"{d:02d}" for d in range(1, 32)],
            "time": [f"{h:02d}:00" for h in sorted(config.hours)],
            "pressure_level": [f"{lv}" for lv in sorted(config.levels_hpa)],
            "data_format": "netcdf",
            "download_format": "unarchived",
            "grid": [config.grid_deg, config.grid_deg],
            "area": list(config.area),
        }
        requests.append({"dataset": ERA5_DATASET, "request": request, "target": f"era5_z_{year}.nc"})
    return requests


def request_script(requests: list[dict]) -> str:
    """A Python script that downloads the requests with cdsapi (needs a CDS account)."""
    import json

    return (
        '"""Download ERA5 geopotential for the blocking commands (needs `pip install cdsapi` and ~/.cdsapirc)."""\n\n'
        "import cdsapi\n\n"
        f"REQUESTS = {json.dumps(requests, indent=4)}\n\n"
        "client = cdsapi.Client()\n"
        "for item in REQUESTS:\n"
        '    client.retrieve(item["dataset"], item["request"], item["target"])\n'
    )


def run_era5_request(config: Era5RequestConfig, folder: Path, progress: bool = False) -> dict:
    """``blocking era5-request``: write ``era5_requests.json`` and ``download_era5.py``; with submit, download.

    Returns:
        Metrics: ``requests`` (count), ``years``, ``files`` (written), ``downloaded``.
    """
    import json

    from sparse_core.infra.files import atomic_write

    folder = Path(folder)
    requests = era5_requests(config)
    with atomic_write(folder / "era5_requests.json", "w") as handle:
        json.dump(requests, handle, indent=2)
    with atomic_write(folder / "download_era5.py", "w") as handle:
        handle.write(request_script(requests))
    downloaded = []
    if config.submit:
        try:
            import cdsapi
        except ImportError:
            raise ConfigError(
                "submit needs the cdsapi package (pip install cdsapi) and a CDS account", field="submit"
            ) from None
        client = cdsapi.Client(progress=progress)
        for item in requests:
            client.retrieve(item["dataset"], item["request"], str(folder / item["target"]))
            downloaded.append(item["target"])
    return {
        "requests": len(requests),
        "years": [config.first_year, config.last_year],
        "files": ["era5_requests.json", "download_era5.py"],
        "downloaded": downloaded,
    }
