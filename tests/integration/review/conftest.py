"""The review tests' fixtures, from tests/support/review.py: the web app on a real database
(SQLite file and PostgreSQL), seeded rows, accounts and their tokens."""

from tests.support.review import app, client, review_settings, seeded, tokens

__all__ = ["app", "client", "review_settings", "seeded", "tokens"]
