"""kopdes-match services: FastStream apps, storage, web and the CLI."""
