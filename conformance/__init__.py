"""Conformance suite for the Calls API (list, get, create and delete calls)."""

__version__ = "0.1.0"
