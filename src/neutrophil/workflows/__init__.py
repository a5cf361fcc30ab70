"""Multi-step experiments that combine evaluation, search and training.

Each command's workflow is callable from Python: `optimize.run`, `gates.run`, `demo.run`
and `lab.run` take (config, out) and return a result dataclass. The CLI only parses
arguments, builds the config, calls them and prints.
"""
