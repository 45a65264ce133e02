"""The model's token encoding (design.md): 0 pad, 1 blank, 2..10 the digits 1..9, i.e. token = cell + 1."""

from __future__ import annotations

PAD_TOKEN = 0
BLANK_TOKEN = 1
VOCAB_SIZE = 11
DIGIT_TOKENS = slice(2, 11)  # the tokens of the digits 1..9, in order


def to_tokens(cells):
    """Cell values (0 blank, 1..9) to model tokens (1 blank, 2..10); numpy or torch."""
    return cells + 1


def from_tokens(tokens):
    """Model tokens back to cell values; pad (0) and blank (1) both become a blank cell."""
    return (tokens - 1).clip(min=0)
