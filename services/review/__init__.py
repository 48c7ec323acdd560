"""Coordinator review: region-scoped dashboard and JSON API to approve or reject suggestions."""
