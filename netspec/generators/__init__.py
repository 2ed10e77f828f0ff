"""Spec generators: programs that write ordinary .net specs (randomly wired networks, torch imports)."""
