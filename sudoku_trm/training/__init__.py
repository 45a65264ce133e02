"""Training a TRM: the trainer loop, CGAR's curricula, recipes, losses, optimisers, data stream, checkpoints, DDP.

- `config`: `TrainConfig` and PDC's stages;  `recipes`: named published settings (trm, fast) as config overrides;
- `curriculum`: PDC depth schedule and HSW weights;  `schedule`: progress, the learning-rate factor, time budgets;
- `losses`: stable-max or softmax cross-entropy plus halting BCE;  `optim`: Adam-atan2 in plain torch, AdamW,
  Muon with AdamW;
- `stream`: the endless augmented batch stream and the paper's fixed set;
- `trainer`: the loop (deep supervision, EMA, evaluation, checkpoints);  `slots`: the puzzles in flight,
  refilled and halted;  `metrics`: named running sums, log lines, metrics.jsonl;
- `checkpoint`: atomic save and load;  `distributed`: torchrun process groups.

Uses `model`, `sudoku` and `inference` (for dev evaluation); nothing above.
"""
