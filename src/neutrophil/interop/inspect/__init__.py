"""Inspect AI interop: a `neutrophil/<SPEC>` model API, the `neutrophil/agentic_safety`
task, and Inspect logs of `neutrophil eval` runs. See docs/inspect.md.

Inspect loads `_registry` through the `inspect_ai` entry point; nothing here imports torch
until a model is built.
"""
