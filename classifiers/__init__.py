"""Proxy quality classifiers (annotation, training, evaluation)."""
