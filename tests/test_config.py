from pathlib import Path

import pytest

from emoscore.config import Params, load_params, parse_params, section_hash
from emoscore.errors import ConfigError

PROJECT = Path(__file__).resolve().parent.parent


def test_project_params_yaml_is_valid():
    params = load_params(PROJECT / "params.yaml")
    assert params.vad.context_backbone == "resnet18"
    assert params.emotic.root == Path("data/sample/emotic")


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"vad\.epochz"):
        parse_params({"vad": {"epochz": 3}})


def test_wrong_value_is_named():
    with pytest.raises(ConfigError, match=r"vad\.context_backbone"):
        parse_params({"vad": {"context_backbone": "vgg16"}})
    with pytest.raises(ConfigError, match=r"vad\.batch_size"):
        parse_params({"vad": {"batch_size": 0}})


def test_both_loss_weights_zero_is_refused():
    with pytest.raises(ConfigError, match="cannot both be 0"):
        parse_params({"vad": {"discrete_weight": 0, "continuous_weight": 0}})


def test_root_override_wins_over_sample(tmp_path):
    params = parse_params({"emotic": {"root": str(tmp_path)}})
    assert params.emotic.root / params.emotic.annotations == tmp_path / "Annotations"


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text("vad: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_params(bad)


def test_section_hash_follows_values():
    assert section_hash(Params().vad) == section_hash(Params().vad)
    assert section_hash(Params().vad) != section_hash(parse_params({"vad": {"epochs": 2}}).vad)
