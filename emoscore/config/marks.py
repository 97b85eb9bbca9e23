"""How each params field is marked (result-changing, runtime or location) and the base every section shares; the
types several sections use. The marks decide DVC's params lists, the catalog identity and resume fingerprints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["result", "runtime", "location"]


def runtime(default: Any = ..., **kwargs: Any) -> Any:
    """A field that changes how fast (or how loudly) a job runs, never what it makes: left out of DVC's params,
    the catalog identity and resume fingerprints."""
    return Field(default, json_schema_extra={"role": "runtime"}, **kwargs)


def location(default: Any = ..., **kwargs: Any) -> Any:
    """A field that says where an input or output lives: DVC tracks it as a dep or an out, not as a param."""
    return Field(default, json_schema_extra={"role": "location"}, **kwargs)


def role(section: type[BaseModel], name: str) -> Role:
    """The mark of one field (unmarked fields change results)."""
    extra = section.model_fields[name].json_schema_extra
    return extra.get("role", "result") if isinstance(extra, dict) else "result"


def result_keys(section: type[BaseModel]) -> list[str]:
    """The fields of a section that change what its job makes, in declaration order."""
    return [name for name in section.model_fields if role(section, name) == "result"]


def result_dump(section: BaseModel) -> dict:
    """A section's result-changing values as JSON types: what a fingerprint or an identity hashes."""
    return section.model_dump(mode="json", include=set(result_keys(type(section))))


class Section(BaseModel):
    """Base for every params section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Engine = Literal["torch", "onnxruntime"]  # what runs the VAD model when scoring (emoscore.emotic.inference)
# auto = fp32: on a GPU torch runs fp32 convolutions as TF32 on tensor cores, which measured faster than bf16
# autocast for the VAD model (an H200, batch 256: docs/performance.md); bf16 stays selectable
ScorePrecision = Literal["auto", "fp32", "bf16"]
Device = Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto | cpu | cuda | cuda:N")]
Precision = Literal["fp32", "bf16"]
Timing = Literal["auto", "file", "beat_track"]  # emoscore.music.timing
