"""The note-bank render of many pieces at once with torch, for a GPU: every sample of every note is one element of a
scatter-add into the pieces' outputs, and the reverb is one batched FFT. Same arithmetic as `overlap.render_piece`
(the tests hold the two together on the CPU)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from emoscore.music.bank import NoteBank
from emoscore.music.overlap import _notes, piece_length, reverb_response
from emoscore.music.playback import BLOCK, Schedule

ELEMENTS = 1 << 26  # note samples per scatter-add (~1.5 GB of temporaries at most); more pieces wait for the next

_ON_DEVICE: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]] = {}


def _bank_tensors(bank: NoteBank, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The bank's audio and reverb on the device, copied once per process."""
    key = (id(bank), str(device))
    if key not in _ON_DEVICE:
        _ON_DEVICE.clear()
        notes = bank.audio if bank.audio.flags.writeable else np.array(bank.audio)  # a mapped bank is read-only
        _ON_DEVICE[key] = (torch.from_numpy(notes).to(device), torch.from_numpy(reverb_response(bank)).to(device))
    return _ON_DEVICE[key]


def _mix_group(bank: NoteBank, pieces: list[tuple[dict, int]], device: torch.device) -> list[torch.Tensor]:
    """Overlap-add a group of pieces' notes into one flat buffer, then add each piece's reverb."""
    audio, reverb = _bank_tensors(bank, device)
    lengths = [total + bank.release_samples + int(bank.holds[-1]) for _, total in pieces]
    bases = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    columns = {name: np.concatenate([notes[name] for notes, _ in pieces]) for name in ("on", "start", "hold", "length")}
    gain = np.concatenate([notes["gain"] for notes, _ in pieces]).astype(np.float32)
    curves = np.concatenate([notes["curve"] for notes, _ in pieces])
    base = np.concatenate([np.full(len(notes["on"]), b) for (notes, _), b in zip(pieces, bases, strict=True)])
    to = {name: torch.from_numpy(np.ascontiguousarray(value)).to(device) for name, value in columns.items()}
    note_length = to["length"]
    note = torch.repeat_interleave(torch.arange(len(note_length), device=device), note_length)
    first = torch.cumsum(note_length, 0) - note_length
    t = torch.arange(len(note), device=device) - first[note]
    hold = to["hold"][note]
    x = (t - hold - BLOCK / 2).float() / BLOCK  # release position, in blocks from the first block's middle
    curve = torch.from_numpy(curves).to(device)
    blocks = curve.shape[1]
    j = x.clamp(min=0).floor().long().clamp(max=blocks - 1)
    flat = curve.reshape(-1)
    here = flat[note * blocks + j]
    after = flat[note * blocks + (j + 1).clamp(max=blocks - 1)]
    inside = here + (x - j.float()).clamp(0, 1) * torch.where(j + 1 < blocks, after - here, torch.zeros_like(here))
    envelope = torch.where(x < 0, curve[note, 0] + (-x) * (1 - curve[note, 0]), inside)
    envelope = torch.where(t < hold, torch.ones_like(envelope), envelope)
    value = audio[to["start"][note] + t] * (torch.from_numpy(gain).to(device)[note] * envelope)[:, None]
    out = torch.zeros(int(sum(lengths)), 2, device=device)
    out.index_add_(0, torch.from_numpy(base).to(device)[note] + to["on"][note] + t, value)
    totals = [total for _, total in pieces]
    size = 1 << int(np.ceil(np.log2(max(totals) + reverb.shape[0])))
    sends = torch.zeros(len(pieces), size, device=device)
    for i, (b, total) in enumerate(zip(bases, totals, strict=True)):
        sends[i, :total] = out[b : b + total].sum(dim=1)
    kernel = torch.fft.rfft(reverb.T, size)  # [2, bins]
    wet = torch.fft.irfft(torch.fft.rfft(sends, size)[:, None, :] * kernel[None], size)  # [pieces, 2, size]
    return [out[b : b + total] + wet[i, :, :total].T for i, (b, total) in enumerate(zip(bases, totals, strict=True))]


def render_together(bank: NoteBank, pieces: Sequence[Schedule], device: str | torch.device) -> list[np.ndarray]:
    """float32 frames [n, 2] of each piece, as `overlap.render_piece` gives them, computed together on `device`."""
    device = torch.device(device)
    prepared = []
    for piece in pieces:
        notes = _notes(bank, piece)
        prepared.append((notes, piece_length(bank, piece, notes)))
    results: list[np.ndarray] = []
    group: list[tuple[dict, int]] = []
    size = 0
    for item in [*prepared, None]:
        elements = int(item[0]["length"].sum()) if item is not None else 0
        if group and (item is None or size + elements > ELEMENTS):
            results.extend(frames.cpu().numpy() for frames in _mix_group(bank, group, device))
            group, size = [], 0
        if item is not None:
            group.append(item)
            size += elements
    return results
