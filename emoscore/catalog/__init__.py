"""The catalog of scored images: its table and storage, queries, lifecycle and gallery."""
