"""Stage `sample_data`: the deterministic sample datasets in the real EMOTIC and EMOPIA formats."""

from __future__ import annotations

from prefect import flow

from emoscore.config import load_params
from emoscore.samples.datasets import write_emotic_sample, write_sample_photos
from emoscore.samples.music import write_emopia_sample, write_unlabeled_sample
from emoscore.samples.score_clips import write_emopia_scores
from emoscore_flows._stage import run_stage


@flow(name="sample_data")
def sample_data(params_path: str = "params.yaml") -> None:
    """Write data/sample/emotic, data/sample/emopia, data/sample/unlabeled and data/sample/photos."""
    params = load_params(params_path)
    write_emotic_sample(params.sample)
    if params.sample.emopia_source == "music21":
        write_emopia_scores(params.sample)
    else:
        write_emopia_sample(params.sample)
    write_unlabeled_sample(params.sample)
    write_sample_photos(params.sample)


if __name__ == "__main__":
    run_stage(sample_data)
