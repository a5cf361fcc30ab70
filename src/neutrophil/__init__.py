"""neutrophil: an immune system for LLM agents."""

__version__ = "0.1.0"
