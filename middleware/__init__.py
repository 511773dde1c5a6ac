"""Paste filters for the objproxy proxy pipeline, one module per filter."""
