"""OpenAI-compatible server over any backend, and the guard proxy (`neutrophil serve`).

- `app.create_app(backend, defense=None)` — the FastAPI app (chat completions, completions,
  models, health); `batcher.Batcher` hands requests to the backend (the engine
  `backend.continuous()` gives: `models.continuous.ContinuousHF` for a transformers model,
  rows joining and leaving every step);
- `protocol` parses and checks request bodies, `limits` caps what one request may cost,
  `auth` checks the API key, `answer` streams replies and stops rows of departed clients;
- `runner.serve_forever` / `runner.BackgroundServer` — run an app (the CLI; tests, notebooks).

The guard proxy's defense is built by `defenses.registry.guard_defense`.
"""
