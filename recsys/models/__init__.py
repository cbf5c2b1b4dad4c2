"""Recommendation models: MF and LightGCN (top-K, BPR), AutoInt / AutoInt+ (CTR)."""

from recsys.models.autoint import AutoInt, AutoIntConfig, InteractingLayer
from recsys.models.embeddings import EmbeddingRanker, UserItemEmbedding
from recsys.models.lightgcn import LightGCN, normalized_adjacency
from recsys.models.mf import MF, bpr_loss

__all__ = [
    "MF",
    "AutoInt",
    "AutoIntConfig",
    "EmbeddingRanker",
    "InteractingLayer",
    "LightGCN",
    "UserItemEmbedding",
    "bpr_loss",
    "normalized_adjacency",
]
