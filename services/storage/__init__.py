"""Persistence: tables, engine, sessions and the queries the services share."""
