"""Topic-balanced sampling: per-document topic labels and sizes, the plan (rates per
(language, topic) cell and shard bounds), and the emitted rows (corpus.stages.balance)."""
