"""Stage `eval_vad`: AP/mAP, VAD error and thresholds of the trained model, next to simple baselines."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from emoscore.config import load_params
from emoscore.device import pick_device
from emoscore.digests import model_digest
from emoscore.emotic.dataset import EmoticArrays
from emoscore.emotic.evaluate import evaluation_report, plot_pr_curves, predict_split, thresholds_from
from emoscore.emotic.model import EmoticNet
from emoscore.emotic.thresholds import Thresholds
from emoscore.reports import write_json
from emoscore_flows._stage import publish_table, run_stage

REPORT = Path("reports/eval_vad.json")
PR_PLOT = Path("reports/plots/pr_curves.png")


@flow(name="eval_vad")
def eval_vad(params_path: str = "params.yaml") -> dict:
    """Thresholds from the threshold split, metrics on the evaluation split."""
    params = load_params(params_path)
    data_dir, settings = params.emotic.out, params.eval_vad
    model = EmoticNet.from_checkpoint(params.vad.out).to(pick_device(params.vad.device))
    thresholds = thresholds_from(predict_split(model, data_dir, settings.threshold_split, settings.batch_size))
    test = predict_split(model, data_dir, settings.split, settings.batch_size)
    train_set = EmoticArrays(data_dir, "train")
    report = evaluation_report(test, train_set.categories, train_set.vad, thresholds)
    report["split"], report["thresholds_from"] = settings.split, settings.threshold_split
    Thresholds.from_mapping(model_digest(params.vad.out), thresholds).save(settings.thresholds)
    write_json(REPORT, report)
    plot_pr_curves(test, PR_PLOT)
    publish_table(
        "eval-vad",
        [
            {"metric": "mAP", "model": report["mAP"], "baseline": report["baseline_label_frequency_mAP"]},
            {
                "metric": "VAD MAE",
                "model": report["vad_mae"]["mean"],
                "baseline": report["baseline_train_mean_vad_mae"]["mean"],
            },
        ],
        "Model against label-frequency / training-mean baselines",
    )
    return report


if __name__ == "__main__":
    run_stage(eval_vad)
