"""OpenAI-compatible server over any backend, and the guard proxy (`neutrophil serve`).

- `app.create_app(backend, defense=None)` — the FastAPI app (chat completions, completions,
  models), with concurrent requests batched into one `backend.generate` call;
- `runner.BackgroundServer` — run an app on 127.0.0.1 in a thread (tests, notebooks);
- `proxy.guard_defense(...)` — the defense the guard proxy puts in front of every request.

Nothing is imported here, so `neutrophil.serve.raw` stays light for the HTTP backend.
"""
