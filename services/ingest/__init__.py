"""Ingest: input events parsed, refused with a reason, or stored and announced to the matcher."""
