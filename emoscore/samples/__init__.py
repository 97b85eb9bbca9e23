"""The deterministic sample data, written in the real EMOTIC, EMOPIA and film formats."""
