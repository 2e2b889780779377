"""Correlation quality benchmark: synthetic storms with ground truth, micd against two baselines."""
