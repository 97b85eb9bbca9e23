"""EMOTIC: emotions of people in context — dataset readers, the two-branch model, losses and metrics."""
