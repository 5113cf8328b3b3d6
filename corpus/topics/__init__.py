"""Topic labels and topic-balanced sampling."""
