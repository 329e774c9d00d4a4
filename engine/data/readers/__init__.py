"""Readers: one module per input format, each returning the canonical table via ``assemble``."""
