"""``hybrid-assist models pull|list``: local models in the Hugging Face cache."""

from __future__ import annotations

import argparse
import sys

from hybrid_assist.settings import HybridSettings
from inference.errors import InferenceError


def run_models(args: argparse.Namespace, settings: HybridSettings) -> int:
    from inference import models

    if args.models_command == "list":
        cached = models.list_cached_models(settings.local.cache_dir)
        if not cached:
            print("no models cached (run `hybrid-assist models pull`)")
        for entry in cached:
            print(f"{entry.repo_id}\t{entry.size_bytes / 1e6:.1f} MB\t{entry.path}")
        return 0
    model = args.model or settings.local.resolved_model(models.has_gpu())
    try:
        path = models.pull_model(model, settings.local.cache_dir)
    except InferenceError as exc:
        print(f"hybrid-assist: {exc.message}", file=sys.stderr)
        return 1
    print(f"{model} -> {path}")
    return 0
