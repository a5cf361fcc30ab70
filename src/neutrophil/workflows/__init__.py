"""Multi-step experiments that combine evaluation, search and training.

Each workflow is callable from Python (`run_lab`, `run_defense_study`); the CLI only parses
arguments and calls them.
"""
