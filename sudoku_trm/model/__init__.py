"""The Tiny Recursive Model: its config, the network, how its outputs are read, its files on disk.

- `config`: `ModelConfig` (typed, refuses unknown keys) and the `DictConfig` base every config uses;
- `tokens`: the token encoding (0 pad, 1 blank, 2..10 digits);
- `trm`: the `TRM` network, one supervision step per call (the units mixer, or TRM's MLP or attention);
- `readout`: digit probabilities (softmax or stable-max, as trained) and the halting rule, shared by training
  and inference;
- `weights`: the exported layout (config.json, model.safetensors or shards, model card): `export_weights`,
  `load_weights`, and where the default model lives;
- `devices`: `--device` resolution and bf16 autocast.
- `widen`: a trained model made wider without changing what it computes (a width A/B forks from it);
- `deepen`: a trained model given more blocks without changing what it computes (a blocks A/B forks from it).

Depends only on `sudoku`; never on `hub` (sudoku_trm/pretrained.py loads and pushes models by Hub repo id).
"""
