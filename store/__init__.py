"""Persistence: peewee models, queries and guarded state transitions."""
