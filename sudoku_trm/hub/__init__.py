"""The Hugging Face Hub: the one place that imports huggingface_hub.

- `client`: offline-aware fetches, one-line errors, model fetch and push for `TRM`;
- `importing`: published TRM/CGAR reference checkpoints converted to our layout, strictly;
- `downloads`: `download weights` and `download data`.

Uses `model` and `sudoku`; only `pretrained` (models by repo id) and `cli` sit above it.
"""
