"""A music emotion classifier over CP steps: judges whether a piece carries the quadrant that was asked for.

It never sees the emotion word (the first step is dropped and the emotion family zeroed), only the music.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from emoscore.config import MusicClassifierParams
from emoscore.music.cp import EMOTION, FAMILIES, TYPE
from emoscore.music.model import MusicCheckpoint, sinusoidal_positions
from emoscore.music.vocabulary import TYPE_EMOTION, VOCABULARY, Vocabulary

CHECKPOINT_FORMAT = "emoscore.music_classifier/1"


@dataclass(frozen=True)
class ClassifierConfig:
    """Size of the classifier; saved in its checkpoint."""

    vocab_sizes: tuple[int, ...]
    d_model: int
    n_layers: int
    n_heads: int
    dropout: float
    window: int

    @classmethod
    def from_params(cls, params: MusicClassifierParams, vocabulary: Vocabulary = VOCABULARY) -> ClassifierConfig:
        """The architecture params.yaml asks for, over the vocabulary's family sizes."""
        return cls(
            tuple(vocabulary.sizes), params.d_model, params.n_layers, params.n_heads, params.dropout, params.window
        )


def music_only(words: np.ndarray) -> np.ndarray:
    """The steps without the emotion word and with the emotion family cleared."""
    words = np.asarray(words)
    body = words[1:] if len(words) and words[0, TYPE] == TYPE_EMOTION else words
    body = body.copy()
    body[:, EMOTION] = 0
    return body


class MusicClassifier(MusicCheckpoint):
    """Summed family embeddings → transformer encoder → masked mean pool → 4 quadrant logits."""

    config_type = ClassifierConfig
    checkpoint_format = CHECKPOINT_FORMAT

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = nn.ModuleList(
            nn.Embedding(size, config.d_model) for i, size in enumerate(config.vocab_sizes) if i != EMOTION
        )
        layer = nn.TransformerEncoderLayer(
            config.d_model, config.n_heads, 4 * config.d_model, config.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(config.d_model, 4)

    def forward(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Quadrant logits [B, 4] for padded steps [B, T, 8] of the given lengths."""
        families = [i for i in range(len(FAMILIES)) if i != EMOTION]
        x = sum(embedding(words[..., i]) for embedding, i in zip(self.embeddings, families, strict=True))
        x = x + sinusoidal_positions(0, words.shape[1], x.shape[-1], x.device)
        valid = torch.arange(words.shape[1], device=words.device)[None, :] < lengths[:, None]
        x = self.encoder(x, src_key_padding_mask=~valid)
        pooled = (x * valid[..., None]).sum(1) / valid.sum(1, keepdim=True).clamp(min=1)
        return self.head(pooled)

    @torch.no_grad()
    def quadrant_probabilities(self, words: np.ndarray) -> np.ndarray:
        """Probabilities of Q1…Q4 for a whole piece: the mean over its windows."""
        self.eval()
        body = music_only(words)
        window = self.config.window
        starts = range(0, max(len(body) - window, 0) + 1, window // 2)
        chunks = [body[s : s + window] for s in starts] or [body]
        lengths = torch.tensor([len(c) for c in chunks])
        batch = torch.zeros(len(chunks), int(lengths.max()), len(FAMILIES), dtype=torch.long)
        for i, chunk in enumerate(chunks):
            batch[i, : len(chunk)] = torch.from_numpy(chunk)
        return torch.softmax(self(batch, lengths), dim=-1).mean(0).numpy()


def clip_accuracy_report(model: MusicClassifier, pieces: list[np.ndarray], quadrants: np.ndarray) -> float | None:
    """Share of real clips classified as their label (None without clips): how far to trust the judge."""
    if not len(pieces):
        return None
    predicted = [int(np.argmax(model.quadrant_probabilities(piece))) + 1 for piece in pieces]
    return float(np.mean(np.array(predicted) == np.asarray(quadrants)))
