"""The compound-word transformer: a decoder-only model over CP steps, conditioned on the emotion word.

Each step's eight family tokens are embedded, concatenated and projected to the model width; causal
self-attention runs over steps (with an optional key/value cache for incremental decoding). The `type` head
predicts the next step's type first; the other families are predicted from the hidden state *and* that type,
as in the CP paper. Positions are sinusoidal, so generation may run past the training window length.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import torch
import torch.nn.functional as F
from torch import nn

from emoscore.checkpoints import Checkpointed
from emoscore.config import MusicParams
from emoscore.errors import CheckpointError
from emoscore.music.cp import FAMILIES, TYPE
from emoscore.music.vocabulary import VOCABULARY, Vocabulary

CHECKPOINT_FORMAT = "emoscore.music/1"
PositionTable = Callable[[int, int, torch.device], torch.Tensor]  # (start, length, device) → [length, width]


@dataclass(frozen=True)
class MusicConfig:
    """Size of the CP transformer; saved in every checkpoint."""

    vocab_sizes: tuple[int, ...]
    embedding_sizes: tuple[int, ...]
    d_model: int
    n_layers: int
    n_heads: int
    dropout: float
    type_embedding: int

    @classmethod
    def from_params(cls, params: MusicParams, vocabulary: Vocabulary = VOCABULARY) -> MusicConfig:
        """The architecture params.yaml asks for, over the vocabulary's family sizes."""
        return cls(
            tuple(vocabulary.sizes),
            tuple(params.embedding_sizes),
            params.d_model,
            params.n_layers,
            params.n_heads,
            params.dropout,
            params.type_embedding,
        )


def sinusoidal_positions(start: int, length: int, width: int, device: torch.device) -> torch.Tensor:
    """[length, width] sinusoidal position encodings for positions start … start+length-1."""
    positions = torch.arange(start, start + length, device=device, dtype=torch.float32)[:, None]
    frequencies = torch.exp(torch.arange(0, width, 2, device=device, dtype=torch.float32) * (-math.log(1e4) / width))
    encoding = torch.zeros(length, width, device=device)
    encoding[:, 0::2] = torch.sin(positions * frequencies)
    encoding[:, 1::2] = torch.cos(positions * frequencies)
    return encoding


class KVCache:
    """Keys and values of every layer for the steps decoded so far, in preallocated buffers.

    Incremental decoding writes each new step in place and attends over a view of the filled prefix, instead of
    concatenating (and so copying) the whole history at every step; the buffers double when full. Empty slots are
    zeros, never garbage: a masked read (FixedCache) weighs them by 0, and 0 × NaN would still be NaN.
    """

    def __init__(self, config: MusicConfig, batch: int = 1, capacity: int = 1024, device: str = "cpu") -> None:
        shape = (batch, config.n_heads, capacity, config.d_model // config.n_heads)
        self.keys = [torch.zeros(shape, device=device) for _ in range(config.n_layers)]
        self.values = [torch.zeros(shape, device=device) for _ in range(config.n_layers)]
        self.length = 0

    def extend(
        self, layer: int, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Store one layer's keys/values of the new steps; views of all steps so far (cached and new), and no mask
        (attention over exactly those steps)."""
        end = self.length + keys.shape[2]
        if end > self.keys[layer].shape[2]:
            self.grow(layer, max(end, 2 * self.keys[layer].shape[2]))
        # narrow + copy_: two tensor ops per write, where slice assignment costs four (each op counts at one step)
        self.keys[layer].narrow(2, self.length, keys.shape[2]).copy_(keys)
        self.values[layer].narrow(2, self.length, values.shape[2]).copy_(values)
        return self.keys[layer].narrow(2, 0, end), self.values[layer].narrow(2, 0, end), None

    def grow(self, layer: int, capacity: int) -> None:
        """Give one layer's buffers room for `capacity` steps, keeping the steps cached so far."""
        for buffers in (self.keys, self.values):
            old = buffers[layer]
            buffers[layer] = torch.zeros((*old.shape[:2], capacity, old.shape[3]), device=old.device)
            buffers[layer].narrow(2, 0, self.length).copy_(old.narrow(2, 0, self.length))

    @property
    def capacity(self) -> int:
        """Steps the buffers hold before they grow."""
        return self.keys[0].shape[2]

    def position_codes(self, positions: PositionTable, steps: int, device: torch.device) -> torch.Tensor:
        """Position encodings of the `steps` new steps, which follow the cached ones."""
        return positions(self.length, steps, device)

    def select(self, rows: torch.Tensor) -> None:
        """Keep only these batch rows (pieces that finished leave the batch)."""
        for buffers in (self.keys, self.values):
            for layer, old in enumerate(buffers):
                buffers[layer] = torch.zeros((len(rows), *old.shape[1:]), device=old.device, dtype=old.dtype)
                buffers[layer].narrow(2, 0, self.length).copy_(old.narrow(2, 0, self.length).index_select(0, rows))


class FixedCache(KVCache):
    """A cache whose single-step writes and reads have fixed shapes: the step's position is a tensor on the device,
    the new keys/values are written there, and attention reads the whole buffer through a mask of the filled slots.
    So one step is the same sequence of kernels at every position, which a CUDA graph can capture and replay."""

    def __init__(self, config: MusicConfig, batch: int = 1, capacity: int = 1024, device: str = "cpu") -> None:
        super().__init__(config, batch, capacity, device)
        self.position = torch.zeros((), dtype=torch.long, device=device)  # set before each step (see set_position)
        self.slots = torch.arange(capacity, device=device)
        self.mask: torch.Tensor | None = None

    def set_position(self) -> None:
        """Point the next single step at slot `length` (a device-side write, outside any captured graph)."""
        self.position.fill_(self.length)

    def extend(
        self, layer: int, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Several steps (the prompt): as KVCache. One step: written at `position`; all slots, masked to the filled."""
        if keys.shape[2] > 1:
            return super().extend(layer, keys, values)
        if layer == 0:
            self.mask = (self.slots <= self.position).view(1, 1, 1, -1)
        index = self.position.view(1)
        self.keys[layer].index_copy_(2, index, keys)
        self.values[layer].index_copy_(2, index, values)
        return self.keys[layer], self.values[layer], self.mask

    def make_room(self) -> bool:
        """Before a single step: double every layer's buffers if no slot is left, and number the slots of the
        buffers as they are (a long prompt may have grown them); True when anything moved (a graph captured over
        the old buffers must be captured again)."""
        moved = self.length >= self.capacity
        if moved:
            capacity = 2 * self.capacity
            for layer in range(len(self.keys)):
                self.grow(layer, capacity)
        if self.slots.numel() != self.capacity:
            self.slots = torch.arange(self.capacity, device=self.slots.device)
            moved = True
        return moved

    def position_codes(self, positions: PositionTable, steps: int, device: torch.device) -> torch.Tensor:
        """One step: the code at `position`, gathered on the device; several: as KVCache."""
        if steps > 1:
            return super().position_codes(positions, steps, device)
        return positions(0, self.capacity, device).index_select(0, self.position.view(1))


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention that can extend a key/value cache."""

    def __init__(self, config: MusicConfig) -> None:
        super().__init__()
        self.heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int) -> torch.Tensor:
        """Attend over cached and new steps (adding the new steps' keys/values to the cache)."""
        batch, steps, width = x.shape
        q, k, v = self.qkv(x).view(batch, steps, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        past, mask = 0, None
        if cache is not None:
            past = cache.length
            k, v, mask = cache.extend(layer, k, v)
        dropout = self.dropout if self.training else 0.0
        if mask is not None:  # a fixed-shape step: the cache says which of its slots are filled
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        elif past == 0 or steps == 1:
            # a single new step may see every cached key: no mask needed (the fast path of incremental decoding)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=past == 0 and steps > 1, dropout_p=dropout)
        else:
            # new step i (absolute past+i) may see keys 0 … past+i
            allowed = torch.ones(steps, past + steps, dtype=torch.bool, device=x.device).tril(diagonal=past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout)
        return self.out(y.transpose(1, 2).reshape(batch, steps, width))


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

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int) -> torch.Tensor:
        """Residual attention then residual MLP."""
        x = x + self.attention(self.norm1(x), cache, layer)
        return x + self.mlp(self.norm2(x))


class MusicCheckpoint(Checkpointed, nn.Module):
    """A music model that carries its vocabulary: loading refuses a vocabulary other than the one it learned."""

    def save(self, path: Path | str, vocabulary: Vocabulary, extra: dict | None = None) -> None:  # type: ignore[override]
        """State dict + config + vocabulary (+ JSON-able extras), readable with weights_only=True."""
        super().save(path, vocabulary=vocabulary.to_json(), extra=extra or {})

    @classmethod
    def from_checkpoint(cls, path: Path | str, vocabulary: Vocabulary | None = None) -> tuple[Self, Vocabulary]:
        """Rebuild a saved model; refuses a vocabulary that differs from the one it was trained with."""
        model, sections = cls.load(path)
        saved = Vocabulary.from_json(sections["vocabulary"])
        if vocabulary is not None and vocabulary.to_json() != saved.to_json():
            differing = [name for name in FAMILIES if vocabulary.families.get(name) != saved.families.get(name)]
            raise CheckpointError(path, f"vocabulary does not match the checkpoint's (families differ: {differing})")
        return model, saved


class CPTransformer(MusicCheckpoint):
    """Decoder-only transformer over compound words, with type-first factorised heads."""

    checkpoint_format = CHECKPOINT_FORMAT
    config_type = MusicConfig

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
        self._position_table: torch.Tensor | None = None  # not a parameter: rebuilt on demand, never saved

    def hidden(self, words: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Hidden states [B, T, D] for steps [B, T, 8], continuing after the cached steps (the cache grows)."""
        embedded = torch.cat([embedding(words[..., i]) for i, embedding in enumerate(self.embeddings)], dim=-1)
        x = self.input_projection(embedded)
        steps = words.shape[1]
        if cache is None:
            codes = self.positions(0, steps, x.device)
        else:
            codes = cache.position_codes(self.positions, steps, x.device)
        x = self.dropout(x + codes)
        for index, block in enumerate(self.blocks):
            x = block(x, cache, index)
        if cache is not None:
            cache.length += words.shape[1]
        return self.norm(x)

    def positions(self, start: int, length: int, device: torch.device) -> torch.Tensor:
        """Position encodings start … start+length-1 from a table computed once (and regrown when outgrown)."""
        table = self._position_table
        if table is None or table.shape[0] < start + length or table.device != device:
            size = max(start + length, 2 * table.shape[0] if table is not None else 1024)
            table = self._position_table = sinusoidal_positions(0, size, self.config.d_model, device)
        return table[start : start + length]

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
        hidden = self.hidden(inputs)
        mask = torch.arange(targets.shape[1], device=words.device)[None, :] < (lengths[:, None] - 1)
        logits = {"type": self.type_logits(hidden), **self.family_logits(hidden, targets[..., TYPE])}
        losses = {}
        for index, name in enumerate(FAMILIES):
            per_step = F.cross_entropy(logits[name].transpose(1, 2), targets[..., index], reduction="none")
            losses[name] = (per_step * mask).sum() / mask.sum().clamp(min=1)
        total = torch.stack(list(losses.values())).mean()
        return total, {name: float(value.detach()) for name, value in losses.items()}
