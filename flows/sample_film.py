"""Stage `sample_film`: the deterministic sample film that `score_film_demo` scores, and where its cuts are."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow

from emoscore.config import load_params
from emoscore.samples.film import write_sample_film
from emoscore_flows._stage import run_stage


@flow(name="sample_film")
def sample_film(params_path: str = "params.yaml") -> None:
    """Write data/sample/film.mp4 and, beside it, film.json: each scene's first frame and intended quadrant."""
    path, cuts, quadrants = write_sample_film(load_params(params_path).sample)
    truth = {"cuts": cuts, "quadrants": quadrants}
    Path(path).with_suffix(".json").write_text(json.dumps(truth, indent=1) + "\n")


if __name__ == "__main__":
    run_stage(sample_film)
