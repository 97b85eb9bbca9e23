"""The `emoscore` command line: commands, catalog commands and doctor."""
