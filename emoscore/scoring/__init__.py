"""Scoring photos: decode, find people, read their emotions, compose and render a piece, per image."""
