"""emoscore: read the emotions of people in photos and write emotion-matched piano music for them."""

__version__ = "0.1.0"
