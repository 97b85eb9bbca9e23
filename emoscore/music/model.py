"""The compound-word transformer: a decoder-only model over CP steps, conditioned on the emotion word.

Each step's eight family tokens are embedded, concatenated and projected to the model width; causal
self-attention runs over steps (with an optional key/value cache for incremental decoding). The `type` head
predicts the next step's type first; the other families are predicted from the hidden state *and* that type,
as in the CP paper. Positions are sinusoidal, so generation may run past the training window length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from emoscore.checkpoints import load_weights_only, save_checkpoint
from emoscore.errors import CheckpointError
from emoscore.music.cp import FAMILIES, TYPE, VOCABULARY, Vocabulary

CHECKPOINT_FORMAT = "emoscore.music/1"
KVCache = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class MusicConfig:
    """Size of the CP transformer; saved in every checkpoint."""

    vocab_sizes: tuple[int, ...] = field(default_factory=lambda: tuple(VOCABULARY.sizes))
    embedding_sizes: tuple[int, ...] = (64, 128, 32, 16, 128, 64, 64, 16)
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 4
    dropout: float = 0.1
    type_embedding: int = 32


def sinusoidal_positions(start: int, length: int, width: int, device: torch.device) -> torch.Tensor:
    """[length, width] sinusoidal position encodings for positions start … start+length-1."""
    positions = torch.arange(start, start + length, device=device, dtype=torch.float32)[:, None]
    frequencies = torch.exp(torch.arange(0, width, 2, device=device, dtype=torch.float32) * (-math.log(1e4) / width))
    encoding = torch.zeros(length, width, device=device)
    encoding[:, 0::2] = torch.sin(positions * frequencies)
    encoding[:, 1::2] = torch.cos(positions * frequencies)
    return encoding


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention that can extend a key/value cache."""

    def __init__(self, config: MusicConfig) -> None:
        super().__init__()
        self.heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)
        self.dropout = config.dropout

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Attend over cached and new steps; returns the output and the extended cache."""
        batch, steps, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        q, k, v = (t.view(batch, steps, self.heads, width // self.heads).transpose(1, 2) for t in (q, k, v))
        past = 0
        if cache is not None:
            past = cache[0].shape[2]
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        dropout = self.dropout if self.training else 0.0
        if past == 0 or steps == 1:
            # a single new step may see every cached key: no mask needed (the fast path of incremental decoding)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=past == 0 and steps > 1, dropout_p=dropout)
        else:
            # new step i (absolute past+i) may see keys 0 … past+i
            allowed = torch.ones(steps, past + steps, dtype=torch.bool, device=x.device).tril(diagonal=past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout)
        y = y.transpose(1, 2).contiguous().view(batch, steps, width)
        return self.out(y), (k, v)


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, config: MusicConfig) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(config.d_model), nn.LayerNorm(config.d_model)
        self.attention = CausalSelfAttention(config)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, 4 * config.d_model),
            nn.GELU(),
            nn.Linear(4 * config.d_model, config.d_model),
            nn.Dropout(config.dropout),
        )

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Residual attention then residual MLP."""
        attended, cache = self.attention(self.norm1(x), cache)
        x = x + attended
        return x + self.mlp(self.norm2(x)), cache


class CPTransformer(nn.Module):
    """Decoder-only transformer over compound words, with type-first factorised heads."""

    def __init__(self, config: MusicConfig) -> None:
        super().__init__()
        if len(config.vocab_sizes) != len(FAMILIES) or len(config.embedding_sizes) != len(FAMILIES):
            raise ValueError(f"need one vocabulary and embedding size per family {FAMILIES}")
        self.config = config
        self.embeddings = nn.ModuleList(
            nn.Embedding(size, width) for size, width in zip(config.vocab_sizes, config.embedding_sizes, strict=True)
        )
        self.input_projection = nn.Linear(sum(config.embedding_sizes), config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.type_head = nn.Linear(config.d_model, config.vocab_sizes[TYPE])
        self.type_embedding = nn.Embedding(config.vocab_sizes[TYPE], config.type_embedding)
        self.condition = nn.Linear(config.d_model + config.type_embedding, config.d_model)
        self.heads = nn.ModuleDict(
            {name: nn.Linear(config.d_model, config.vocab_sizes[i]) for i, name in enumerate(FAMILIES) if i != TYPE}
        )

    def hidden(self, words: torch.Tensor, cache: KVCache | None = None) -> tuple[torch.Tensor, KVCache]:
        """Hidden states [B, T, D] for steps [B, T, 8], continuing after the cached steps."""
        past = cache[0][0].shape[2] if cache else 0
        embedded = torch.cat([embedding(words[..., i]) for i, embedding in enumerate(self.embeddings)], dim=-1)
        x = self.input_projection(embedded)
        x = self.dropout(x + sinusoidal_positions(past, words.shape[1], x.shape[-1], x.device))
        new_cache: KVCache = []
        for index, block in enumerate(self.blocks):
            x, layer_cache = block(x, cache[index] if cache else None)
            new_cache.append(layer_cache)
        return self.norm(x), new_cache

    def type_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits of the next step's type."""
        return self.type_head(hidden)

    def condition_on_type(self, hidden: torch.Tensor, next_type: torch.Tensor) -> torch.Tensor:
        """The hidden state combined with the next step's type, which the other families' heads read."""
        return self.condition(torch.cat([hidden, self.type_embedding(next_type)], dim=-1))

    def family_head(self, conditioned: torch.Tensor, name: str) -> torch.Tensor:
        """Logits of one family from a type-conditioned state (generation asks only for the families it needs)."""
        return self.heads[name](conditioned)

    def family_logits(self, hidden: torch.Tensor, next_type: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits of every other family of the next step, given its type."""
        conditioned = self.condition_on_type(hidden, next_type)
        return {name: head(conditioned) for name, head in self.heads.items()}

    def loss(self, words: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Teacher-forced next-step cross-entropy, averaged over families and real (unpadded) steps."""
        inputs, targets = words[:, :-1], words[:, 1:]
        hidden, _ = self.hidden(inputs)
        mask = torch.arange(targets.shape[1], device=words.device)[None, :] < (lengths[:, None] - 1)
        logits = {"type": self.type_logits(hidden), **self.family_logits(hidden, targets[..., TYPE])}
        losses = {}
        for index, name in enumerate(FAMILIES):
            per_step = F.cross_entropy(logits[name].transpose(1, 2), targets[..., index], reduction="none")
            losses[name] = (per_step * mask).sum() / mask.sum().clamp(min=1)
        total = torch.stack(list(losses.values())).mean()
        return total, {name: float(value.detach()) for name, value in losses.items()}

    def save(self, path: Path | str, vocabulary: Vocabulary, extra: dict | None = None) -> None:
        """State dict + config + vocabulary (+ JSON-able extras), readable with weights_only=True."""
        save_checkpoint(path, CHECKPOINT_FORMAT, self.config, self.state_dict(), vocabulary=vocabulary.to_json(),
                        extra=extra or {})  # fmt: skip

    @classmethod
    def from_checkpoint(
        cls, path: Path | str, vocabulary: Vocabulary | None = None
    ) -> tuple[CPTransformer, Vocabulary]:
        """Rebuild a saved model; refuses a vocabulary that differs from the one it was trained with."""
        return load_music_checkpoint(cls, path, CHECKPOINT_FORMAT, vocabulary)


def load_music_checkpoint(
    cls: type, path: Path | str, expected_format: str, vocabulary: Vocabulary | None
) -> tuple[nn.Module, Vocabulary]:
    """Shared loader for music checkpoints (transformer and classifier): format, config, vocabulary, weights."""
    payload = load_weights_only(path)
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise CheckpointError(path, f"not an emoscore checkpoint of format {expected_format!r}")
    saved_vocabulary = Vocabulary.from_json(payload["vocabulary"])
    if vocabulary is not None and vocabulary.to_json() != saved_vocabulary.to_json():
        differing = [name for name in FAMILIES if vocabulary.families.get(name) != saved_vocabulary.families.get(name)]
        raise CheckpointError(path, f"vocabulary does not match the checkpoint's (families differ: {differing})")
    config_type = cls.config_type if hasattr(cls, "config_type") else MusicConfig
    try:
        fields = {key: tuple(value) if isinstance(value, list) else value for key, value in payload["config"].items()}
        model = cls(config_type(**fields))
        model.load_state_dict(payload["state_dict"])
    except (TypeError, RuntimeError) as error:
        raise CheckpointError(path, f"weights do not fit the architecture in its config: {error}") from None
    return model.eval(), saved_vocabulary
