"""Film scoring: a video (or ordered stills) → scenes → a per-scene emotional arc → one continuous soundtrack."""
