"""How the model's side of one decoding round runs: eagerly over a growing key/value cache (or none), or at fixed
shapes over a FixedCache, which on a GPU is captured once as two CUDA graphs and replayed every round.

A round is: feed the last step(s) → the next step's type logits; then, given the sampled types, the logits of the
other families. At the CP paper's size one eager round launches ~150 small kernels, and on a GPU those launches,
not the arithmetic, are the time; a replayed graph is one launch each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

from emoscore.music.cp import BAR_BEAT, DURATION, FAMILIES, PITCH, TEMPO, VELOCITY
from emoscore.music.families import CHORD, EMOTION, TYPE
from emoscore.music.model import CPTransformer, FixedCache, KVCache
from emoscore.music.vocabulary import TYPE_EMOTION

HEAD_FAMILIES = (PITCH, DURATION, VELOCITY, BAR_BEAT, TEMPO, CHORD)  # the order of family_logits' columns


def family_heads(model: CPTransformer, last: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
    """Logits of every non-type family of the next steps, given their types: [B, Σ sizes] in HEAD_FAMILIES order."""
    conditioned = model.condition_on_type(last, types)
    return torch.cat([model.family_head(conditioned, FAMILIES[index]) for index in HEAD_FAMILIES], dim=-1)


class Decoder(Protocol):
    """The model's side of generation, whatever runs it."""

    def type_logits(self, pending: torch.Tensor) -> torch.Tensor:
        """Feed the new steps [B, T, 8] (the prompt, then one step per round); the next step's type logits [B, V]."""
        ...

    def family_logits(self, types: torch.Tensor) -> torch.Tensor:
        """Logits of the other families of the step whose types [B] were just drawn (see family_heads)."""
        ...

    def select(self, rows: torch.Tensor) -> None:
        """Keep only these batch rows."""
        ...


EAGER_START = 256  # steps an eager cache holds at first; it doubles when full (KVCache.grow)


class EagerDecoder:
    """Op by op: over a KVCache that grows as needed, or (without a cache) recomputing the whole history."""

    def __init__(self, model: CPTransformer, batch: int, capacity: int, use_cache: bool = True) -> None:
        device = next(model.parameters()).device
        self.model = model
        start = min(capacity, EAGER_START)  # an 8-bar piece is ~160 steps: room for 1,024 was zero-filled for nothing
        self.cache = KVCache(model.config, batch, start, device) if use_cache else None
        self.history: torch.Tensor | None = None
        self.last = torch.empty(0)

    def type_logits(self, pending: torch.Tensor) -> torch.Tensor:
        """See Decoder."""
        if self.cache is not None:
            hidden = self.model.hidden(pending, self.cache)
        else:
            self.history = pending if self.history is None else torch.cat([self.history, pending], dim=1)
            hidden = self.model.hidden(self.history)
        self.last = hidden[:, -1]
        return self.model.type_logits(self.last)

    def family_logits(self, types: torch.Tensor) -> torch.Tensor:
        """See Decoder."""
        return family_heads(self.model, self.last, types)

    def select(self, rows: torch.Tensor) -> None:
        """See Decoder."""
        if self.cache is not None:
            self.cache.select(rows)
        elif self.history is not None:
            self.history = self.history[rows]


class FixedDecoder:
    """Every single-step round at the same shapes and buffers (a FixedCache, static inputs and outputs); with
    `graphs` (a CUDA device) each half of a round is captured once as a CUDA graph and replayed, and captured
    again only when the cache doubles or finished pieces leave the batch. Without graphs (the CPU) the same
    arithmetic runs op by op, which is how the tests hold it to the eager decoder's tokens."""

    def __init__(self, model: CPTransformer, batch: int, capacity: int, graphs: bool) -> None:
        device = next(model.parameters()).device
        if graphs and device.type != "cuda":
            raise ValueError(f"CUDA graphs need the model on a CUDA device, not {device}")
        self.model, self.graphs = model, graphs
        # attention reads every slot, so start small (doubling costs a capture) in whole 64-slot tiles (GPU attention
        # kernels take a mask of aligned length)
        capacity = -(-min(capacity, 256) // 64) * 64
        self.cache = FixedCache(model.config, batch, capacity, device)
        self.words = torch.zeros(batch, 1, len(FAMILIES), dtype=torch.long, device=device)
        self.types = torch.zeros(batch, dtype=torch.long, device=device)
        self.last = torch.zeros(batch, model.config.d_model, device=device)
        self._captured: tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.cuda.CUDAGraph, torch.Tensor] | None = None
        self._table = torch.empty(0)

    def _step(self) -> torch.Tensor:
        hidden = self.model.hidden(self.words, self.cache)
        self.last.copy_(hidden[:, -1])
        return self.model.type_logits(self.last)

    def _heads(self) -> torch.Tensor:
        return family_heads(self.model, self.last, self.types)

    def type_logits(self, pending: torch.Tensor) -> torch.Tensor:
        """See Decoder."""
        if pending.shape[1] > 1:  # the prompt: once, at its own length
            self.last.copy_(self.model.hidden(pending, self.cache)[:, -1])
            return self.model.type_logits(self.last)
        if self.cache.make_room():
            self._captured = None
        self.cache.set_position()
        self.words.copy_(pending)
        if not self.graphs:
            return self._step()
        if self._captured is None:
            self._captured = self._capture()
        step_graph, type_out, _, _ = self._captured
        step_graph.replay()
        self.cache.length += 1
        return type_out

    def family_logits(self, types: torch.Tensor) -> torch.Tensor:
        """See Decoder."""
        if self._captured is None:
            return family_heads(self.model, self.last, types)
        _, _, heads_graph, heads_out = self._captured
        self.types.copy_(types)
        heads_graph.replay()
        return heads_out

    def select(self, rows: torch.Tensor) -> None:
        """See Decoder; the shapes change, so the graphs are captured again at the next round."""
        self.cache.select(rows)
        self.words = self.words.new_zeros((len(rows), *self.words.shape[1:]))
        self.types = self.types.new_zeros(len(rows))
        self.last = self.last.new_zeros((len(rows), self.last.shape[1]))
        self._captured = None

    def _capture(self) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.cuda.CUDAGraph, torch.Tensor]:
        """Capture both halves of a round over the current buffers. Warm-up runs write this step's slot, which the
        replay that follows writes again; the cache's length is put back after each pretend step."""
        # the position table grows now, never inside a graph; holding it keeps its memory while the graphs read it,
        # even if another call on the model grows a new one
        self._table = self.model.positions(0, self.cache.capacity, self.words.device)
        length = self.cache.length
        pool = torch.cuda.graph_pool_handle()
        outputs: list[torch.Tensor] = []
        graphs = []
        for function in (self._step, self._heads):
            graphs.append(torch.cuda.CUDAGraph())
            outputs.append(_captured(graphs[-1], pool, function))
            self.cache.length = length
        return graphs[0], outputs[0], graphs[1], outputs[1]


def _captured(graph: torch.cuda.CUDAGraph, pool: tuple, function: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Record `function` into `graph` (after warm-up runs on a side stream, as CUDA graphs require); its output."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):
            function()
    torch.cuda.current_stream().wait_stream(stream)
    with torch.cuda.graph(graph, pool=pool, capture_error_mode="thread_local"):  # other threads may use the GPU
        output = function()
    return output


class GuidedDecoder:
    """Classifier-free guidance (Ho & Salimans, 2022) on any decoder: each piece decodes twice in one batch, as
    asked (its Emotion word) and unconditioned (Emotion 0, "unlabeled", which pretraining and the fine-tuning's
    emotion dropout teach), and every round's logits are u + scale × (c − u): scale 1 is the model as it is,
    above 1 the quadrant is followed more closely. The inner decoder holds 2B rows: the B asked, then the B
    unconditioned."""

    def __init__(self, inner: Decoder, batch: int, scale: float) -> None:
        self.inner, self.batch, self.scale = inner, batch, scale

    def _guide(self, logits: torch.Tensor) -> torch.Tensor:
        asked, free = logits[: self.batch], logits[self.batch :]
        return free + self.scale * (asked - free)

    def type_logits(self, pending: torch.Tensor) -> torch.Tensor:
        """See Decoder: `pending` holds the B asked rows; their unconditioned twins are made here."""
        free = pending.clone()
        free[:, 0, EMOTION] = torch.where(free[:, 0, TYPE] == TYPE_EMOTION, 0, free[:, 0, EMOTION])
        return self._guide(self.inner.type_logits(torch.cat([pending, free])))

    def family_logits(self, types: torch.Tensor) -> torch.Tensor:
        """See Decoder."""
        return self._guide(self.inner.family_logits(torch.cat([types, types])))

    def select(self, rows: torch.Tensor) -> None:
        """See Decoder: keeps both twins of each row."""
        self.inner.select(torch.cat([rows, rows + self.batch]))
        self.batch = len(rows)
