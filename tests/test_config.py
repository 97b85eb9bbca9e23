import dataclasses
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from emoscore.config import Params, load_params, parse_params, section_hash
from emoscore.emotic.model import EmoticNetConfig
from emoscore.errors import ConfigError
from emoscore.music.classify import ClassifierConfig
from emoscore.music.model import MusicConfig

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


def test_a_params_file_from_before_the_major_key_prior_still_loads_without_one():
    older = parse_params({"generation": {"mode_steering": {"key_prior": 0.5, "chord_bias": 6.0}}})
    assert older.generation.mode_steering == {"key_prior": 0.5, "chord_bias": 6.0, "major_key_prior": 0.0}
    with pytest.raises(ConfigError, match="mode_steering"):
        parse_params({"generation": {"mode_steering": {"key_prior": 0.5, "chord_bias": 6.0, "minor": 1.0}}})


def test_openings_need_draws_and_bars():
    assert parse_params({}).generation.openings == {"draws": 2, "bars": 2}
    for wrong in ({"draws": 0, "bars": 2}, {"draws": 2}, {"draws": 9, "bars": 2}, {"draws": 2, "bars": 0}):
        with pytest.raises(ConfigError, match="openings"):
            parse_params({"generation": {"openings": wrong}})


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


def _written_keys(model: type[BaseModel], raw: dict, where: str = "") -> list[str]:
    """Fields of `model` that params.yaml leaves out, and keys it has that the model lacks, at any depth."""
    problems = [f"{where}{name}: not in params.yaml" for name in model.model_fields if name not in raw]
    problems += [
        f"{where}{name}: in params.yaml, unknown to {model.__name__}" for name in raw if name not in model.model_fields
    ]
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel) and name in raw:
            problems += _written_keys(field.annotation, raw[name], f"{where}{name}.")
    return problems


def test_params_yaml_is_the_one_source_of_defaults():
    raw = yaml.safe_load((PROJECT / "params.yaml").read_text(encoding="utf-8"))
    assert _written_keys(Params, raw) == []  # every knob is written down in params.yaml
    written, coded = parse_params(raw).model_dump(mode="json"), Params().model_dump(mode="json")
    disagreeing = {
        f"{section}.{key}": (coded[section][key], value)
        for section, values in written.items()
        for key, value in values.items()
        if coded[section][key] != value
    }
    assert disagreeing == {}  # (code default, params.yaml)


def test_model_configs_come_from_params():
    params = parse_params({"vad": {"fusion_hidden": 64}, "music": {"d_model": 96, "n_heads": 3}})
    assert EmoticNetConfig.from_params(params.emotic, params.vad).fusion_hidden == 64
    music = MusicConfig.from_params(params.music)
    assert (music.d_model, music.n_heads, music.embedding_sizes) == (96, 3, params.music.embedding_sizes)
    for config in (EmoticNetConfig, MusicConfig, ClassifierConfig):
        defaults = [f.name for f in dataclasses.fields(config) if f.default is not dataclasses.MISSING]
        assert defaults == [], f"{config.__name__} holds defaults of its own: {defaults}"
