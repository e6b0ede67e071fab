"""Formatters: each takes a report model and returns a string; the CLI decides where it goes."""
