"""The bench: every network of the book and the classical baselines under one protocol, with their cost."""
