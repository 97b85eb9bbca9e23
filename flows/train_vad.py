"""Stage `train_vad`: train the two-branch EMOTIC model; write models/vad.pt and the training curves."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from emoscore.config import load_params
from emoscore.emotic.train import train_vad_model
from emoscore.reports import write_csv, write_json
from emoscore_flows._stage import run_stage

REPORT = Path("reports/train_vad.json")
CURVE = Path("reports/plots/train_vad.csv")


@flow(name="train_vad")
def train_vad(params_path: str = "params.yaml") -> None:
    """Train on the prepared split arrays and save the best-on-val checkpoint with its config."""
    params = load_params(params_path)
    model, history = train_vad_model(params.emotic.out, params.emotic, params.vad)
    model.save(params.vad.out, extra={"history": history, "params": params.vad.model_dump(mode="json")})
    write_json(REPORT, history)
    write_csv(CURVE, history["epochs"])


if __name__ == "__main__":
    run_stage(train_vad)
