"""MIDI → audio (FLAC, WAV or Ogg Vorbis) with FluidSynth and a General MIDI SoundFont, when both are installed."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from emoscore.errors import EmoscoreError

log = logging.getLogger(__name__)

# Where Debian's packages put their SoundFonts (fluid-soundfont-gm sounds best; timgm6mb-soundfont is small).
SOUNDFONT_CANDIDATES = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
)
INSTALL_HINT = "install them with: sudo apt-get install fluidsynth fluid-soundfont-gm"


class RenderUnavailable(EmoscoreError):
    """FluidSynth or a SoundFont is missing; the MIDI is still fine."""


def find_soundfont(preferred: Path | None = None) -> Path:
    """The SoundFont to use: the configured one, or the first system one found."""
    if preferred is not None:
        if not Path(preferred).is_file():
            raise RenderUnavailable(f"{preferred}: SoundFont not found")
        return Path(preferred)
    for candidate in SOUNDFONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise RenderUnavailable(f"no General MIDI SoundFont found; {INSTALL_HINT}")


def renderer_available(soundfont: Path | None = None) -> bool:
    """True when `fluidsynth` and a SoundFont are both present."""
    try:
        find_soundfont(soundfont)
    except RenderUnavailable:
        return False
    return shutil.which("fluidsynth") is not None


AUDIO_TYPES = {".flac": "flac", ".wav": "wav", ".ogg": "oga"}  # file extension → fluidsynth's file type


def render_audio(midi_path: Path, audio_path: Path, soundfont: Path | None = None, sample_rate: int = 44100) -> Path:
    """Render a MIDI file to audio in the format of `audio_path`'s extension (.flac, .wav or .ogg Vorbis; FLAC is
    lossless at about a sixth of WAV's size); RenderUnavailable when the renderer is missing or fails."""
    kind = AUDIO_TYPES.get(audio_path.suffix.lower())
    if kind is None:
        raise ValueError(f"{audio_path}: audio must end in {', '.join(AUDIO_TYPES)}")
    executable = shutil.which("fluidsynth")
    if executable is None:
        raise RenderUnavailable(f"fluidsynth is not installed; {INSTALL_HINT}")
    font = find_soundfont(soundfont)
    audio_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = audio_path.with_name(f".{audio_path.stem}.tmp{audio_path.suffix}")
    command = [executable, "-ni", "-q", "-g", "0.8", "-r", str(sample_rate), "-T", kind, "-F", str(temporary),
               str(font), str(midi_path)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0 or not temporary.exists() or temporary.stat().st_size <= 44:
        temporary.unlink(missing_ok=True)
        raise RenderUnavailable(f"{midi_path}: fluidsynth failed: {(result.stderr or result.stdout).strip()[:300]}")
    temporary.replace(audio_path)
    log.debug("rendered %s with %s", audio_path, font.name)
    return audio_path
