"""Proposers write candidate prefixes from the scored history."""

from neutrophil.search.proposers.base import Feedback, Proposal, Proposer, Scored
from neutrophil.search.proposers.llm import LLMProposer, meta_prompt
from neutrophil.search.proposers.offline import OfflineProposer
from neutrophil.search.proposers.parse import Parsed, parse_candidates

__all__ = [
    "Feedback",
    "LLMProposer",
    "OfflineProposer",
    "Parsed",
    "Proposal",
    "Proposer",
    "Scored",
    "meta_prompt",
    "parse_candidates",
]
