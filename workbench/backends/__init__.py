"""Image backends: the contract in ``base``; ``draft`` (offline) and ``openai`` implement it."""
