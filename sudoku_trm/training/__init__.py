"""Training a TRM: the trainer loop, CGAR's curricula, losses, optimisers, data stream, checkpoints, DDP.

- `config`: `TrainConfig` and PDC's stages;  `curriculum`: PDC depth schedule and HSW weights;
- `losses`: stable-max cross-entropy plus halting BCE;  `optim`: Adam-atan2 in plain torch, AdamW;
- `stream`: the endless augmented batch stream and the paper's fixed set;
- `trainer`: the loop (deep supervision, EMA, evaluation, checkpoints);  `slots`: the puzzles in flight,
  refilled and halted;  `metrics`: named running sums, log lines, metrics.jsonl;
- `checkpoint`: atomic save and load;  `distributed`: torchrun process groups.

Uses `model`, `sudoku` and `inference` (for dev evaluation); nothing above.
"""
