"""EMOPIA music: compound-word tokens, the emotion-conditioned transformer, generation, judging and rendering."""
