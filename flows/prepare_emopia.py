"""Stage `prepare_emopia`: EMOPIA MIDI clips → CP steps per split, the vocabulary, and a report of what was skipped."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from emoscore.config import load_params
from emoscore.music.emopia import prepare_emopia as tokenise_emopia
from emoscore.music.vocabulary import VOCABULARY
from emoscore.reports import write_json
from emoscore_flows._stage import publish_table, run_stage

REPORT = Path("reports/prepare_emopia.json")


@flow(name="prepare_emopia")
def prepare_emopia(params_path: str = "params.yaml") -> dict:
    """Tokenise every clip into data/processed/emopia/{split}.npz; write models/cp_vocab.json."""
    params = load_params(params_path)
    report = tokenise_emopia(params.emopia.root, params.emopia.out, params.emopia.timing)
    VOCABULARY.save(params.emopia.vocabulary)
    report["vocabulary_sizes"] = dict(zip(VOCABULARY.families, VOCABULARY.sizes, strict=True))
    write_json(REPORT, report)
    publish_table(
        "prepare-emopia",
        [{"split": split, "clips": count} for split, count in report["clips_kept"].items()]
        + [{"split": f"skipped: {reason}", "clips": count} for reason, count in report["skipped_by_reason"].items()],
        "Clips kept per split and skipped by reason",
    )
    return report


if __name__ == "__main__":
    run_stage(prepare_emopia)
