"""Stage `compare_vad_objectives`: the VAD model trained with the other objective (everything else the same),
both judged on the evaluation split, so the choice of `vad.loss` rests on figures."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from emoscore.config import load_params
from emoscore.device import pick_device
from emoscore.emotic.dataset import EmoticArrays
from emoscore.emotic.evaluate import evaluation_report, predict_split, thresholds_from
from emoscore.emotic.model import EmoticNet
from emoscore.emotic.train import train_vad_model
from emoscore.reports import write_json
from emoscore_flows._stage import publish_table, run_stage

REPORT = Path("reports/vad_objectives.json")
OBJECTIVES = ("reference", "normalized")


@flow(name="compare_vad_objectives")
def compare_vad_objectives(params_path: str = "params.yaml") -> dict:
    """mAP, VAD error and F1 at thresholds for both objectives on the same data and settings."""
    params = load_params(params_path)
    data_dir, settings = params.emotic.out, params.eval_vad
    train_set = EmoticArrays(data_dir, "train")
    models = {params.vad.loss: EmoticNet.from_checkpoint(params.vad.out).to(pick_device(params.vad.device))}
    for objective in OBJECTIVES:
        if objective not in models:
            models[objective], _ = train_vad_model(
                data_dir, params.emotic, params.vad.model_copy(update={"loss": objective})
            )
    report: dict = {"split": settings.split, "default": params.vad.loss, "objectives": {}}
    for objective, model in models.items():
        thresholds = thresholds_from(predict_split(model, data_dir, settings.threshold_split, settings.batch_size))
        test = predict_split(model, data_dir, settings.split, settings.batch_size)
        full = evaluation_report(test, train_set.categories, train_set.vad, thresholds)
        report["objectives"][objective] = {
            "mAP": full["mAP"],
            "vad_mae": full["vad_mae"],
            "mean_f1_at_thresholds": full["mean_f1_at_thresholds"],
        }
    write_json(REPORT, report)
    publish_table(
        "vad-objectives",
        [
            {"objective": name, "mAP": row["mAP"], "VAD MAE": row["vad_mae"]["mean"]}
            for name, row in report["objectives"].items()
        ],
        "Both VAD objectives on the same data and settings",
    )
    return report


if __name__ == "__main__":
    run_stage(compare_vad_objectives)
