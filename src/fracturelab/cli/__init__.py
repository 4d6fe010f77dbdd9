"""Thin Typer commands; each imports its heavy modules inside the command."""

__all__: list[str] = []
