"""Who found an answer: the labels every way of solving shares, and nothing else (no torch, no numpy).

Guided search, commit decoding and `solving.SolvedBatch.found_by` name each answer's finder with these
words, so that `solve`'s summary, `eval`'s counts and the Python API's `found_by` count the same things.
"""

MODEL_ALONE = "model alone"  # the model's own single pass (one copy, one run) gave a valid answer
COMMIT_DECODING = "commit decoding"  # later runs on the cells the model was sure of, no guess
GUIDED_SEARCH = "guided search"  # commit decoding with guesses and backtracks
EXACT_SOLVER = "exact solver"  # guided search spent its budget; the exact solver finished
NO_SOLUTION = "no solution"  # the puzzle has none: nobody can find one
SEARCH_FOUND = (MODEL_ALONE, COMMIT_DECODING, GUIDED_SEARCH, EXACT_SOLVER, NO_SOLUTION)  # guided search's

# Adaptive solving, past the model alone: which of the puzzle's chains found the first valid answer.
OWN_CHAIN = "own chain"  # the puzzle's own run, at a step the model alone did not stop at
MORE_STEPS = "more steps"  # the puzzle's own run, past where the model alone stopped
SYMMETRIC_COPY = "symmetric copy"
RANDOM_RESTART = "random restart"

VOTES = "votes"  # the vote over symmetric copies chose a valid answer
UNSOLVED = "unsolved"  # the answer breaks the rules
