"""Utilities shared across minigrad: hook handles (and, later, data loading)."""
