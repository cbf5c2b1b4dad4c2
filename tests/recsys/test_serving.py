"""Serving files of top-K models: exported scores and metrics equal the masked model's, the loader refuses bad files."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import tomli_w
import torch

from recsys.config import DSLConfig, ExportConfig, InteractionFileConfig, RecommendConfig, TopKConfig, TrainerConfig
from recsys.dsl import sparsify
from recsys.export import export_model, run_export, serving_metrics
from recsys.metrics import topk_metrics, user_item_matrix
from recsys.serving import FORMAT, MODEL_FILE, VERSION, item_titles, load_serving_model, recommend, save_serving
from recsys.topk import build_model, run_topk
from sparse_core.infra.errors import ConfigError, InputError
from sparse_core.infra.runtime import config_to_dict
from tests.recsys.conftest import write_inter


def masked_model(split, model="lightgcn", density=0.25, initial_mask="columns", separate=False, seed=0):
    """A model with DSL masks and random (untrained) weights: scoring does not care how they were found."""
    config = TopKConfig(model=model, embedding_dim=16, layers=2, separate_tables=separate)
    generator = torch.Generator().manual_seed(seed)
    trained = build_model(config, split.train, torch.device("cpu"), generator)
    if density < 1:
        sparsify(trained, density, generator, initial_mask=initial_mask)
    return trained.eval()


def known_matrix(split):
    train, valid = split.train, split.valid
    return user_item_matrix(
        np.concatenate([train.users, valid.users]),
        np.concatenate([train.items, valid.items]),
        train.num_users,
        train.num_items,
    )


CASES = [
    ("mf", 0.25, "columns", False, "auto", "columns"),
    ("mf", 0.25, "random", False, "auto", "csr"),
    ("mf", 0.25, "random", True, "csr", "csr"),
    ("lightgcn", 0.25, "columns", False, "auto", "columns"),
    ("lightgcn", 0.25, "random", False, "csr", "csr"),
    ("lightgcn", 0.25, "random", True, "columns", "columns"),
    ("lightgcn", 1.0, "columns", False, "auto", "columns"),
    ("lightgcn", 0.25, "columns", False, "dense", "dense"),
]


@pytest.mark.parametrize(("model", "density", "initial_mask", "separate", "layout", "expected_layout"), CASES)
def test_round_trip_scores_equal_the_masked_model(
    topk_split, tmp_path, model, density, initial_mask, separate, layout, expected_layout
):
    trained = masked_model(topk_split, model, density, initial_mask, separate)
    path = export_model(trained, topk_split, tmp_path / MODEL_FILE, layout=layout)
    served = load_serving_model(tmp_path)  # the folder finds model.npz
    assert served.header["layout"] == expected_layout
    users = np.arange(topk_split.train.num_users)
    expected = trained.score_users(torch.as_tensor(users)).numpy()
    np.testing.assert_allclose(served.score(users), expected, rtol=0, atol=1e-6)
    assert served.score(users).shape == (topk_split.train.num_users, topk_split.train.num_items)
    assert path.stat().st_size > 0


def test_column_start_keeps_only_the_scoring_columns(topk_split, tmp_path):
    trained = masked_model(topk_split, "lightgcn", 0.25, "columns")
    export_model(trained, topk_split, tmp_path / MODEL_FILE)
    served = load_serving_model(tmp_path / MODEL_FILE)
    assert served.header["scoring_columns"] == 4  # 0.25 * 16 columns: whole columns at the start
    assert served.nbytes < 0.4 * 4 * 16 * (topk_split.train.num_users + topk_split.train.num_items) + 4096


@pytest.mark.parametrize(
    ("model", "initial_mask", "layout"), [("mf", "random", "csr"), ("lightgcn", "columns", "auto")]
)
def test_metrics_identical_to_the_masked_model(topk_split, tmp_path, model, initial_mask, layout):
    trained = masked_model(topk_split, model, 0.25, initial_mask, seed=3)
    export_model(trained, topk_split, tmp_path / MODEL_FILE, layout=layout)
    served = serving_metrics(load_serving_model(tmp_path), topk_split.test, (10, 20))
    test = user_item_matrix(topk_split.test.users, topk_split.test.items, *trained_shape(topk_split))
    reference = topk_metrics(trained.score_users, test, known_matrix(topk_split), (10, 20))
    for name in ("recall@20", "ndcg@20", "recall@10", "ndcg@10", "users"):
        assert served[name] == pytest.approx(reference[name], abs=1e-6), name


def trained_shape(split):
    return split.train.num_users, split.train.num_items


def test_top_items_exclude_known_items_best_first(topk_split, tmp_path):
    trained = masked_model(topk_split, "mf", 0.5, "random")
    export_model(trained, topk_split, tmp_path / MODEL_FILE, layout="csr")
    served = load_serving_model(tmp_path)
    users = np.arange(served.num_users)
    items, scores = served.top_items(users, 5, batch_users=7)
    all_scores = served.score(users)
    for user in users:
        known = set(served.known_items(user).tolist())
        expected_known = set(topk_split.train.items[topk_split.train.users == user]) | set(
            topk_split.valid.items[topk_split.valid.users == user]
        )
        assert known == {int(i) for i in expected_known}
        candidates = [i for i in np.argsort(-all_scores[user], kind="stable") if i not in known][:5]
        assert items[user].tolist() == candidates
        assert (np.diff(scores[user]) <= 0).all()


def test_recommend_names_items_and_refuses_unknown_users(topk_split, tmp_path):
    trained = masked_model(topk_split, "lightgcn", 0.25)
    export_model(trained, topk_split, tmp_path / MODEL_FILE, header={"dataset": None})
    item_file = tmp_path / "shop.item"
    item_file.write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\n"
        + "".join(f"{i}\tFilm number {i}\t{1990 + i}\n" for i in range(0, 60, 2))
    )
    result = recommend(RecommendConfig(model=tmp_path, user="3", k=4, item_file=item_file))
    assert [item["rank"] for item in result["items"]] == [1, 2, 3, 4]
    for item in result["items"]:
        number = int(item["item_id"])
        assert item["title"] == (f"Film number {number} ({1990 + number})" if number % 2 == 0 else f"item {number}")
    assert result["known_items"] == load_serving_model(tmp_path).known_items(3).size
    with pytest.raises(InputError, match=r"user 'nobody' is not in .*model\.npz \(40 users"):
        recommend(RecommendConfig(model=tmp_path, user="nobody"))
    with pytest.raises(ConfigError, match="has only"):
        recommend(RecommendConfig(model=tmp_path, user="3", k=60))
    assert item_titles(load_serving_model(tmp_path))[7] == "item 7"


def test_export_of_a_topk_run_reproduces_its_test_metrics(tmp_path):
    data = write_inter(tmp_path / "shop")
    config = TopKConfig(
        model="mf",
        embedding_dim=8,
        data=InteractionFileConfig(path=data),
        dsl=DSLConfig(density=0.25),
        trainer=TrainerConfig(epochs=2, eval_every=1),
    )
    run = tmp_path / "run"
    metrics = run_topk(config, seed=1, folder=run)
    (run / "config.toml").write_text(tomli_w.dumps(config_to_dict(config)))  # what the command line adds
    (run / "metrics.json").write_text(json.dumps(metrics))  # what the command line adds
    exported = run_export(ExportConfig(model=run / "best.pt"), tmp_path / "served")
    assert exported["layout"] == "columns" and exported["scoring_columns"] == 2
    assert exported["max_metric_difference"] <= 1e-6
    assert exported["served"]["recall@20"] == pytest.approx(metrics["recall@20"], abs=1e-6)
    assert exported["bytes"] < exported["checkpoint_bytes"]
    with pytest.raises(InputError, match="the export folder is the topk run folder itself"):
        run_export(ExportConfig(model=run), run)
    (run / "best.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match=r"best\.pt: not a readable checkpoint"):
        run_export(ExportConfig(model=run), tmp_path / "again")
    (run / "best.pt").unlink()
    with pytest.raises(FileNotFoundError, match="no best.pt"):
        run_export(ExportConfig(model=run), tmp_path / "again")


# --------------------------------------------------------------------------- bad files


@pytest.fixture
def saved(topk_split, tmp_path):
    trained = masked_model(topk_split, "lightgcn", 0.25, "random")
    path = export_model(trained, topk_split, tmp_path / "good.npz", layout="csr")
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return path, arrays


def rewrite(path, arrays, **changes):
    arrays = {**arrays, **changes}
    return save_serving(path, {k: v for k, v in arrays.items() if v is not None})


def with_header(arrays, **changes):
    header = json.loads(str(arrays["header"]))
    header.update(changes)
    return np.array(json.dumps(header))


def test_loader_names_a_truncated_file(saved, tmp_path):
    path, _ = saved
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError, match=r"truncated\.npz: not a readable serving \.npz"):
        load_serving_model(truncated)


def test_loader_names_a_damaged_member(saved, tmp_path):
    path, _ = saved
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo("user_values.npy")
    offset = info.header_offset + 30 + len(info.filename) + 20
    data[offset : offset + 64] = bytes(64)
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"damaged\.npz: not a readable"):
        load_serving_model(damaged)


def test_loader_names_a_file_that_is_not_an_npz(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(InputError, match=r"notes\.npz: not a readable serving \.npz"):
        load_serving_model(text)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(InputError, match=r"single\.npy: a single numpy array"):
        load_serving_model(single)
    with pytest.raises(FileNotFoundError, match="no model.npz"):
        load_serving_model(tmp_path)


def test_loader_refuses_another_version_or_format(saved, tmp_path):
    path, arrays = saved
    rewrite(path, arrays, header=with_header(arrays, version=VERSION + 1))
    with pytest.raises(InputError, match=rf"good\.npz: format version {VERSION + 1}, but this SparseWorks reads"):
        load_serving_model(path)
    rewrite(path, arrays, header=with_header(arrays, format="something-else"))
    with pytest.raises(InputError, match=rf"good\.npz: format 'something-else' is not '{FORMAT}'"):
        load_serving_model(path)
    rewrite(path, arrays, header=None)
    with pytest.raises(InputError, match=r"good\.npz: no serving header"):
        load_serving_model(path)


def test_loader_refuses_nan_values(saved):
    path, arrays = saved
    values = arrays["item_values"].copy()
    values[3] = np.nan
    rewrite(path, arrays, item_values=values)
    with pytest.raises(InputError, match=r"good\.npz: array 'item_values' holds 1 NaN or infinite"):
        load_serving_model(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: {"user_values": a["user_values"][:-1]}, r"'user_values' has shape \(\d+,\), expected"),
        (lambda a: {"user_indptr": a["user_indptr"][:-1]}, r"'user_indptr' has shape"),
        (lambda a: {"item_indices": a["item_indices"] + 200}, r"column indices outside 0..15"),
        (lambda a: {"item_indices": a["item_indices"][::-1].copy()}, r"not sorted and unique"),
        (lambda a: {"item_values": a["item_values"].astype(np.float64)}, r"dtype float64, expected float32"),
        (lambda a: {"known_in_train": a["known_in_train"][:-2]}, r"'known_in_train' has shape"),
        (lambda a: {"item_ids": a["item_ids"][:-3]}, r"'item_ids' holds \d+ ids"),
        (lambda a: {"user_values": None}, r"array 'user_values' is missing"),
        (lambda a: {"header": with_header(a, num_users=41)}, r"'user_ids' holds 40 ids, expected 41"),
        (lambda a: {"header": with_header(a, layout="blocks")}, r"header layout 'blocks' is not one of"),
    ],
)
def test_loader_refuses_wrong_shapes_and_values(saved, change, message):
    path, arrays = saved
    rewrite(path, arrays, **change(arrays))
    with pytest.raises(InputError, match=r"good\.npz: .*" + message):
        load_serving_model(path)


def test_repeated_ids_are_refused_on_first_use(saved):
    path, arrays = saved
    ids = arrays["user_ids"].tobytes().decode().split("\n")
    rewrite(path, arrays, user_ids=np.frombuffer("\n".join([ids[1], *ids[1:]]).encode(), dtype=np.uint8))
    served = load_serving_model(path)  # ranking needs no id
    assert served.top_items(np.arange(3), 2)[0].shape == (3, 2)
    with pytest.raises(InputError, match=r"good\.npz: array 'user_ids' repeats an id"):
        served.user_index("3")


def test_loader_refuses_wrong_dense_shapes(topk_split, tmp_path):
    trained = masked_model(topk_split, "mf", 0.25, "columns")
    path = export_model(trained, topk_split, tmp_path / "columns.npz", layout="columns")
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    rewrite(path, arrays, item_embeddings=arrays["item_embeddings"][:, :-1])
    with pytest.raises(
        InputError, match=r"columns\.npz: array 'item_embeddings' has shape \(60, 3\), expected \(60, 4\)"
    ):
        load_serving_model(path)


# --------------------------------------------------------------------------- command lines


def sparseworks(*args, expect=0):
    done = subprocess.run(
        [sys.executable, "-m", "sparseworks", "recsys", *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == expect, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_cli_export_and_recommend_end_to_end(tmp_path):
    data = write_inter(tmp_path / "shop")
    (data / "shop.item").write_text(
        "item_id:token\tname:token_seq\n" + "".join(f"i{i}\tThing {i}\n" for i in range(40))
    )
    common = ["--threads", "1", "--json"]
    run = tmp_path / "run"
    sparseworks(
        "topk", "--data", str(data), "--model", "lightgcn", "--density", "0.25", "--embedding-dim", "8",
        "--epochs", "2", "--eval-every", "1", "--out", str(run), *common,
    )  # fmt: skip
    done = sparseworks("export", "--model", str(run), "--out", str(tmp_path / "served"), *common)
    exported = json.loads(done.stdout.strip().splitlines()[-1])
    assert exported["layout"] == "columns" and exported["scoring_columns"] == 2
    assert exported["max_metric_difference"] <= 1e-6
    assert exported["bytes"] < exported["checkpoint_bytes"]
    done = sparseworks(
        "recommend", "--model", str(tmp_path / "served"), "--user", "u3", "--k", "3", "--item-file",
        str(data / "shop.item"), "--title-column", "name", "--out", str(tmp_path / "rec"), *common,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert [item["rank"] for item in result["items"]] == [1, 2, 3]
    assert all(item["title"] == f"Thing {item['item_id'][1:]}" for item in result["items"])
    assert "  1. Thing " in done.stdout
    failed = sparseworks("recommend", "--model", str(tmp_path / "served"), "--user", "nobody", expect=2)
    assert "error: user 'nobody' is not in" in failed.stderr and "Traceback" not in failed.stderr
    failed = sparseworks("recommend", "--model", str(run), "--user", "u3", expect=2)
    assert "export it first" in failed.stderr
