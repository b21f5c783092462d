"""Shipped with pyFiles by tests/node/data/deps/deps.yaml."""
NAME = "helper-from-pyFiles"


def score(words):
    return len(words)
