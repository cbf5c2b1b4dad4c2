"""``sparseworks blocking events | dataset | train | learning-curve | explain | sparse-model | transfer | era5-request``.

The blocking-science commands (Zhang, Finkel, Abbot, Gerber & Weare 2024): each is its
config (:mod:`blocking.config`) and one library function; the bodies here only call it
and format the printed summary (``docs/architecture.md``, "Configs and commands").
:func:`register` adds them to the ``blocking`` app. Nothing numerical is imported until a
command runs, so ``--help`` stays fast.

The whole chain, on a model run::

    sparseworks blocking simulate --years 20 --members 4 --out runs/qg3
    sparseworks blocking events --inputs runs/qg3/output.nc --out runs/events
    sparseworks blocking dataset --inputs runs/qg3/output.nc --out runs/dataset
    sparseworks blocking train --dataset runs/dataset/dataset.nc --out runs/train
    sparseworks blocking explain --dataset runs/dataset/dataset.nc --model runs/train/model.pt --out runs/explain
    sparseworks blocking sparse-model --dataset runs/dataset/dataset.nc --regions runs/explain/regions.json
"""

from __future__ import annotations

import typer

from blocking.config import (
    DatasetConfig,
    Era5RequestConfig,
    EventsConfig,
    ExplainConfig,
    LearningCurveConfig,
    SparseModelConfig,
    TrainConfig,
    TransferConfig,
)
from sparse_core.infra.clikit import Run, config_command

__all__ = ["register"]

APP_NAME = "blocking"


def _f1(block: dict) -> str:
    f1 = block["f1"]
    return f"{f1['value']:.3f} [{f1['ci_low']:.3f}, {f1['ci_high']:.3f}]"


def register(app: typer.Typer) -> None:
    """Add the blocking-science commands to ``app`` (the ``sparseworks blocking`` app)."""

    @config_command(app, EventsConfig, app_name=APP_NAME, threads_default=1)  # numpy only
    def events(config: EventsConfig, run: Run) -> tuple[dict, str]:
        """Blocking events of model output or a reanalysis: Z', the box index, onsets, durations, frequencies.

        Z' = Z - time mean (model) or - a day-of-year climatology (dated files), low-passed;
        the index is the box mean of Z'500 (60-64N, 4W-4E); an event starts when it exceeds
        M (--threshold-m, or --threshold-percentile). Writes events.csv / events.nc (the
        catalogue), frequency.csv / frequency.nc (blocking frequency by longitude, box
        index and Tibaldi-Molteni) and index.nc into the run folder.

        Examples (the whole chain, on a model run):

          sparseworks blocking simulate --years 20 --members 4 --out runs/qg3

          sparseworks blocking events --inputs runs/qg3/output.nc --skip-days 365 --out runs/events

          sparseworks blocking dataset --inputs runs/qg3/output.nc --skip-days 365 --out runs/dataset

          sparseworks blocking train --dataset runs/dataset/dataset.nc --out runs/train

          sparseworks blocking explain --dataset runs/dataset/dataset.nc --model runs/train/model.pt --out runs/explain

          sparseworks blocking sparse-model --dataset runs/dataset/dataset.nc --regions runs/explain/regions.json

        On ERA5 (see era5-request): sparseworks blocking events --inputs era5_z_1979.nc,era5_z_1980.nc
        --source reanalysis --threshold-m 150
        """
        from blocking.events import run_events

        metrics = run_events(config, run.folder, progress=run.progress)
        summary = (
            f"{metrics['events']} events in {metrics['days']} member-days at M = {metrics['threshold_m']:.1f} m "
            f"({metrics['threshold_percentile']:.1f}th percentile); {metrics['persistent_events']} last "
            f">= {config.persistence_days} days; mean duration {metrics['mean_duration_days']:.1f} days"
        )
        return metrics, summary

    @config_command(app, DatasetConfig, app_name=APP_NAME, threads_default=1)  # numpy only
    def dataset(config: DatasetConfig, run: Run) -> tuple[dict, str]:
        """One standardised Z' sample per blocking onset, labelled persistent (>= D days), split without leaks.

        Samples are the three-level Z' north of --lat-min on the onset day, standardised
        with training statistics; splits are contiguous time blocks (--split-block-days)
        or whole members, and an event never straddles two splits. Writes dataset.nc (or
        dataset.npz) into the run folder.

        Examples:

          sparseworks blocking dataset --inputs runs/qg3/output.nc --skip-days 365 --out runs/dataset

          sparseworks blocking dataset --inputs runs/qg3/output.nc --persistence-days 7 --split-by member

          sparseworks blocking train --dataset runs/dataset/dataset.nc --out runs/train   # next step
        """
        from blocking.dataset import run_dataset

        metrics = run_dataset(config, run.folder, progress=run.progress)
        splits = ", ".join(
            f"{name} {part['samples']} ({100 * part['persistent_fraction']:.0f}% persistent)"
            for name, part in metrics["splits"].items()
        )
        return metrics, f"{metrics['samples']} samples of shape {tuple(metrics['input_shape'])}: {splits}"

    @config_command(app, TrainConfig, app_name=APP_NAME, device="cpu")
    def train(config: TrainConfig, run: Run) -> tuple[dict, str]:
        """Train the CNN to predict whether a blocking onset persists; test with bootstrap CIs and baselines.

        Reports precision, recall, F1, ROC AUC and Brier skill score on the test split with
        bootstrap confidence intervals (test_* and test_*_ci), the mean and std over
        --seeds networks, and the climatology and index-logistic baselines. Writes
        model.pt and predictions.csv into the run folder.

        Examples:

          sparseworks blocking train --dataset runs/dataset/dataset.nc --out runs/train

          sparseworks blocking train --dataset runs/dataset/dataset.nc --seeds 10 --epochs 30 --device cuda

          sparseworks blocking train --dataset runs/dataset/dataset.nc --channels 8,16,16 --dense 16 --lr 3e-4

          sparseworks blocking explain --dataset runs/dataset/dataset.nc --model runs/train/model.pt   # next step
        """
        from blocking.training import run_train

        metrics = run_train(config, run.folder, device=run.device, progress=run.progress)
        summary = (
            f"test F1 {_f1(metrics['cnn'])} (climatology {metrics['climatology_f1']:.3f}, "
            f"index logistic {metrics['logistic_f1']:.3f}); ROC AUC {metrics['test_roc_auc']:.3f}, "
            f"BSS {metrics['test_bss']:.3f}; {metrics['samples']['test']} test samples"
        )
        return metrics, summary

    @config_command(app, LearningCurveConfig, app_name=APP_NAME, device="cpu")
    def learning_curve(config: LearningCurveConfig, run: Run) -> tuple[dict, str]:
        """Test precision, recall and F1 of the CNN against training days (the first N days of the training split).

        Each point trains --seeds networks on the first N training days (standardised with
        their own statistics) and tests them on the whole test split, beside the
        climatology and index-logistic baselines fitted on the same days. Writes
        learning_curve.csv, learning_curve.png (with the authors' points at D = 5) and
        days-<N>/ per point.

        Examples:

          sparseworks blocking learning-curve --dataset runs/dataset/dataset.nc --train-days 1000,10000,100000 --seeds 3 --out runs/curve

          sparseworks blocking learning-curve --dataset runs/dataset/dataset.nc --train-days 500,2000 --channels 8,16,16 --dense 16 --epochs 10
        """
        from blocking.learning_curve import run_learning_curve

        metrics = run_learning_curve(config, run.folder, device=run.device, progress=run.progress)
        parts = [
            f"{p['train_days']} days: F1 {p['cnn_f1']['mean']:.3f} ± {p['cnn_f1']['std']:.3f} "
            f"(logistic {p['logistic_f1']['value']:.3f})"
            for p in metrics["points"]
        ]
        return metrics, "; ".join(parts) + f"; {metrics['test_samples']} test samples"

    @config_command(app, ExplainConfig, app_name=APP_NAME, device="cpu")
    def explain(config: ExplainConfig, run: Run) -> tuple[dict, str]:
        """SHAP maps of a trained network on its test true positives and negatives; the SHAP-selected regions.

        Writes shap_composites.nc, shap_maps.png and regions.json (the boxes sparse-model
        reads) into the run folder; the metrics report how well the attributions add up
        to the network's logit.

        Examples:

          sparseworks blocking explain --dataset runs/dataset/dataset.nc --model runs/train/model.pt --out runs/explain

          sparseworks blocking explain --dataset runs/dataset/dataset.nc --model runs/train/model.pt --method gradient --samples 50

          sparseworks blocking sparse-model --dataset runs/dataset/dataset.nc --regions runs/explain/regions.json   # next step
        """
        from blocking.explain import run_explain

        metrics = run_explain(config, run.folder, device=run.device, progress=run.progress)
        explained = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in metrics["explained"].items())
        summary = (
            f"{config.method} SHAP of {explained} against {metrics['background']} background samples; "
            f"additivity max |error| {metrics['additivity']['max_abs']:.2g}; {len(metrics['regions'])} regions"
        )
        return metrics, summary

    @config_command(app, SparseModelConfig, app_name=APP_NAME, threads_default=1)  # scikit-learn, no torch
    def sparse_model(config: SparseModelConfig, run: Run) -> tuple[dict, str]:
        """L1 logistic regression on regional means of Z': the best subsets of 1 .. --max-features features.

        Features are the box means of Z' at each level over the regions of explain (or
        --boxes); for each subset size the subset with the best validation F1 is tested.

        Examples:

          sparseworks blocking sparse-model --dataset runs/dataset/dataset.nc --regions runs/explain/regions.json

          sparseworks blocking sparse-model --dataset runs/dataset/dataset.nc --boxes 60,64,-4,4,40,50,280,300
        """
        from blocking.sparse_model import run_sparse_model

        metrics = run_sparse_model(config, run.folder, progress=run.progress)
        best = max(metrics["subsets"], key=lambda s: s["validation_f1"])
        summary = (
            f"{len(metrics['features'])} features; best by validation: {', '.join(best['features'])} "
            f"(test F1 {best['test']['f1']:.3f}); all features test F1 {metrics['all_features']['test']['f1']:.3f}"
        )
        return metrics, summary

    @config_command(app, TransferConfig, app_name=APP_NAME, device="cpu")
    def transfer(config: TransferConfig, run: Run) -> tuple[dict, str]:
        """Pre-train on the model, fine-tune on a scarce target; compare with direct training (k-fold x seeds).

        The target is a dataset on the model grid (ERA5 read by dataset --source
        reanalysis, or a short model run as a surrogate). Reports F1, recall and precision
        of direct training, the pre-trained network as it is and the fine-tuned one, with
        one-sided Wilcoxon tests (transfer > direct). Without --pretrained the network is
        pre-trained here and saved as pretrained.pt.

        Examples (a short second model run as the surrogate target):

          sparseworks blocking simulate --years 2 --members 1 --seed 7 --out runs/qg3-target

          sparseworks blocking dataset --inputs runs/qg3-target/output.nc --out runs/target

          sparseworks blocking transfer --source runs/dataset/dataset.nc --target runs/target/dataset.nc --pretrained runs/train/model.pt --out runs/transfer

          sparseworks blocking transfer --source runs/dataset/dataset.nc --target runs/era5-dataset/dataset.nc --finetune all --folds 5
        """
        from blocking.transfer import run_transfer

        metrics = run_transfer(config, run.folder, device=run.device, progress=run.progress)
        summary = (
            f"F1 direct {metrics['direct_f1']['mean']:.3f}, pre-trained {metrics['pretrained_f1']['mean']:.3f}, "
            f"fine-tuned {metrics['transfer_f1']['mean']:.3f} over {config.folds} folds x {config.seeds} seeds "
            f"on {metrics['target_samples']} target samples; Wilcoxon p (transfer > direct) {metrics['wilcoxon_p_f1']:.3g}"
        )
        return metrics, summary

    @config_command(app, Era5RequestConfig, app_name=APP_NAME, threads=1)
    def era5_request(config: Era5RequestConfig, run: Run) -> tuple[dict, str]:
        """Write CDS API requests for ERA5 geopotential at 200/500/800 hPa, one per year (--submit sends them).

        Writes era5_requests.json and download_era5.py (run it where cdsapi and a CDS
        account are set up) into the run folder; the downloaded files are inputs of
        events and dataset with --source reanalysis.

        Examples:

          sparseworks blocking era5-request --first-year 1979 --last-year 2022 --out runs/era5

          cd runs/era5 && python download_era5.py   # the files land beside the script

          sparseworks blocking dataset --inputs runs/era5/era5_z_1979.nc,runs/era5/era5_z_1980.nc --source reanalysis --threshold-m 150 --out runs/era5-dataset
        """
        from blocking.era5_request import run_era5_request

        metrics = run_era5_request(config, run.folder, progress=run.progress)
        sent = f"; downloaded {len(metrics['downloaded'])} files" if config.submit else ""
        return metrics, f"{metrics['requests']} requests for {config.first_year}-{config.last_year}{sent}"
