"""MIDI → compressed audio with FluidSynth and a General MIDI SoundFont, when both are installed.

One synthesizer per process loads its SoundFont once (pyfluidsynth, the library the `fluidsynth` command is
built on), plays each file with its MIDI player driven by the sample clock (as fast as it can render, never in
real time) and hands the samples to libsndfile (soundfile) to encode: FLAC by default, WAV, Ogg Vorbis, Opus or
MP3 by the file's extension.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

import miditoolkit
import numpy as np
import soundfile

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
# file extension → (libsndfile container, codec); Opus runs at 48 kHz only, so its synthesizer does too
AUDIO_TYPES = {
    ".flac": ("FLAC", "PCM_16"),
    ".wav": ("WAV", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".opus": ("OGG", "OPUS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}
OPUS_RATE = 48_000
GAIN = 0.8  # the `fluidsynth -g 0.8` level: loud enough for one piano, no clipping on dense chords
BLOCK = 512  # samples per render call: a piece ends within 12 ms of its player finishing


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


def _fluidsynth():
    """pyfluidsynth, which finds libfluidsynth when it is imported; RenderUnavailable when it cannot."""
    try:
        import fluidsynth
    except (ImportError, OSError) as error:  # pyfluidsynth raises ImportError when the C library is missing
        raise RenderUnavailable(f"the FluidSynth library cannot be loaded ({error}); {INSTALL_HINT}") from error
    return fluidsynth


def fluidsynth_library() -> str:
    """The FluidSynth library version pyfluidsynth loaded (RenderUnavailable when there is none)."""
    fluidsynth = _fluidsynth()
    return (
        f"libfluidsynth {fluidsynth.fluid_version_str()}"
        if hasattr(fluidsynth, "fluid_version_str")
        else "libfluidsynth"
    )


def renderer_available(soundfont: Path | None = None) -> bool:
    """True when the FluidSynth library and a SoundFont are both present."""
    try:
        find_soundfont(soundfont)
        _fluidsynth()
    except RenderUnavailable:
        return False
    return True


class Synthesizer:
    """FluidSynth with a SoundFont's samples loaded once, rendering MIDI files one after another.

    Each file gets a fresh synthesizer, because one reused across files carries the last file's reverb tail and
    timer phase into the next (the audio of a photo would depend on what was rendered before it); the samples
    stay in FluidSynth's sample cache, held by a first synthesizer, so a fresh one costs ~30 ms, not a reload.
    """

    def __init__(self, soundfont: Path, sample_rate: int = 44100) -> None:
        self.module, self.sample_rate, self.soundfont = _fluidsynth(), sample_rate, soundfont
        self.keeper = self._new_synth()  # holds the sample cache for the synthesizers made per file
        self.lock = threading.Lock()  # pyfluidsynth's player calls are not for concurrent use

    def _new_synth(self):
        # the sample clock drives the player: it advances as samples are rendered, not with the wall clock
        synth = self.module.Synth(gain=GAIN, samplerate=self.sample_rate, **{"player.timing-source": "sample"})
        if synth.sfload(str(self.soundfont)) == -1:
            synth.delete()
            raise RenderUnavailable(f"{self.soundfont}: FluidSynth cannot load this SoundFont")
        return synth

    def samples(self, midi_path: Path) -> np.ndarray:
        """The file played by a fresh synthesizer: int16 stereo frames [n, 2], ending when the player does."""
        try:  # FluidSynth's player skips a file it cannot parse without saying so: check it first
            miditoolkit.MidiFile(str(midi_path))
        except Exception as error:
            raise RenderUnavailable(f"{midi_path}: not a readable MIDI file ({error})") from error
        fluidsynth = self.module
        with self.lock:
            synth = self._new_synth()
            player = fluidsynth.new_fluid_player(synth.synth)
            try:
                if fluidsynth.fluid_player_add(player, str(midi_path).encode()) != fluidsynth.FLUID_OK:
                    raise RenderUnavailable(f"{midi_path}: FluidSynth cannot read this MIDI file")
                fluidsynth.fluid_player_play(player)
                blocks = []
                while fluidsynth.fluid_player_get_status(player) == fluidsynth.FLUID_PLAYER_PLAYING:
                    blocks.append(synth.get_samples(BLOCK))
            finally:
                fluidsynth.fluid_player_stop(player)
                fluidsynth.delete_fluid_player(player)
                synth.delete()
        if not blocks:
            raise RenderUnavailable(f"{midi_path}: FluidSynth played nothing")
        return np.concatenate(blocks).astype(np.int16).reshape(-1, 2)

    def render(self, midi_path: Path, audio_path: Path) -> Path:
        """Render a MIDI file to `audio_path` in the format of its extension, written atomically."""
        audio_type(audio_path)
        write_audio(self.samples(midi_path), self.sample_rate, audio_path)
        log.debug("rendered %s with %s", audio_path, self.soundfont.name)
        return audio_path


def write_audio(
    frames: np.ndarray, sample_rate: int, audio_path: Path, *, bitrate: int = 64000, complexity: int = 0
) -> Path:
    """Encode int16 frames [n, channels] in the format of `audio_path`'s extension, written atomically; Opus
    through PyAV's libopus at `bitrate` and `complexity` (libsndfile's Opus took ~0.4 s a piece, measured)."""
    container, codec = audio_type(audio_path)
    audio_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = audio_path.with_name(f".{audio_path.stem}.tmp{audio_path.suffix}")
    try:
        if codec == "OPUS":
            _write_opus(frames, sample_rate, temporary, bitrate=bitrate, complexity=complexity)
        else:
            soundfile.write(temporary, frames, sample_rate, subtype=codec, format=container)
    except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError) as error:
        temporary.unlink(missing_ok=True)
        raise RenderUnavailable(f"{audio_path}: cannot encode {container}/{codec}: {error}") from error
    temporary.replace(audio_path)
    return audio_path


def _write_opus(frames: np.ndarray, sample_rate: int, path: Path, *, bitrate: int, complexity: int) -> None:
    """Ogg Opus with libopus (48 kHz only, as Opus is), all frames handed over in one go."""
    import av

    if sample_rate != OPUS_RATE:
        raise ValueError(f"Opus is {OPUS_RATE} Hz, not {sample_rate}")
    layout = "stereo" if frames.shape[1] == 2 else "mono"
    with av.open(str(path), "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=OPUS_RATE)
        stream.bit_rate, stream.layout = bitrate, layout
        stream.codec_context.options = {"compression_level": str(complexity)}
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(frames, np.int16).reshape(1, -1), "s16", layout)
        frame.sample_rate = OPUS_RATE
        for packet in (*stream.encode(frame), *stream.encode(None)):
            container.mux(packet)


def audio_type(audio_path: Path) -> tuple[str, str]:
    """(container, codec) of an audio file name; a ValueError naming the choices for any other extension."""
    kind = AUDIO_TYPES.get(audio_path.suffix.lower())
    if kind is None:
        raise ValueError(f"{audio_path}: audio must end in {', '.join(AUDIO_TYPES)}")
    return kind


@functools.cache
def synthesizer(soundfont: Path | None = None, sample_rate: int = 44100) -> Synthesizer:
    """This process's synthesizer for a SoundFont and rate, started on first use and kept."""
    return Synthesizer(find_soundfont(soundfont), sample_rate)
