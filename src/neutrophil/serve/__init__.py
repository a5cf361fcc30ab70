"""OpenAI-compatible server over any backend, and the guard proxy (`neutrophil serve`).

- `app.create_app(backend, defense=None)` — the FastAPI app (chat completions, completions,
  models, health); `batcher.Batcher` hands each request to the engine
  `backend.continuous()` gives (llama.cpp, `models.continuous.ContinuousHF` for a
  transformers model, `models.batching.Batched` for one that decodes whole batches), or to
  a remote backend one call at a time;
- `protocol` parses and checks request bodies, `limits` caps what one request may cost,
  `auth` checks the API key, `answer` streams replies and stops rows of departed clients;
- `runner.serve_forever` / `runner.BackgroundServer` — run an app (the CLI; tests, notebooks).

The guard proxy's defense is built by `defenses.registry.guard_defense`.
"""
