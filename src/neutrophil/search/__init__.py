"""PING prefix search: proposers, racing, a resumable verdict store, the loop, baselines."""

from neutrophil.search.baselines import comparison_defenses, held_out_metrics, unrelated_prefix
from neutrophil.search.evaluate import EvalCost, Evaluator, prefix_defense
from neutrophil.search.loop import SearchConfig, SearchResult, run_search
from neutrophil.search.objective import Counts, Objective, tally
from neutrophil.search.proposers import Feedback, LLMProposer, OfflineProposer, Proposal, Scored
from neutrophil.search.racing import RacingConfig, race
from neutrophil.search.store import SearchStore

__all__ = [
    "Counts",
    "EvalCost",
    "Evaluator",
    "Feedback",
    "LLMProposer",
    "Objective",
    "OfflineProposer",
    "Proposal",
    "RacingConfig",
    "Scored",
    "SearchConfig",
    "SearchResult",
    "SearchStore",
    "comparison_defenses",
    "held_out_metrics",
    "prefix_defense",
    "race",
    "run_search",
    "tally",
    "unrelated_prefix",
]
