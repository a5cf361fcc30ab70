"""Bridges to other evaluation frameworks (`interop.inspect`: Inspect AI)."""
