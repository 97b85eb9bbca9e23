"""The eight token families of a compound word, in step order: a leaf module, so params can be validated without
importing the MIDI code."""

FAMILIES: tuple[str, ...] = ("tempo", "chord", "bar-beat", "type", "pitch", "duration", "velocity", "emotion")
TEMPO, CHORD, BAR_BEAT, TYPE, PITCH, DURATION, VELOCITY, EMOTION = range(8)
SAMPLED_FAMILIES: tuple[str, ...] = FAMILIES[:EMOTION]  # the emotion word is given, never sampled
