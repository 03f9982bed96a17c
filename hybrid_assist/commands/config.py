"""``hybrid-assist config schema|show|docs``: the configuration's contract, printed or documented."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from hybrid_assist.settings import HybridSettings


def config_schema() -> dict[str, Any]:
    schema = HybridSettings.model_json_schema()
    schema["title"] = "hybrid-assist configuration"
    # Tables filled by default factories have no "default" in pydantic's schema: add them.
    defaults = HybridSettings(user="USER").model_dump(mode="json")
    schema["properties"]["providers"]["default"] = defaults["providers"]
    routing = schema["$defs"]["RoutingSettings"]["properties"]
    routing["tasks"]["default"] = defaults["routing"]["tasks"]
    routing["provider_order"]["default"] = defaults["routing"]["provider_order"]
    schema["$defs"]["SensitiveSettings"]["properties"]["path_globs"]["default"] = defaults["sensitive"]["path_globs"]
    schema["properties"]["user"]["default"] = "(the OS user name)"
    return schema


def run_config(args: argparse.Namespace, settings: HybridSettings) -> int:
    if args.config_command == "schema":
        print(json.dumps(config_schema(), indent=2, sort_keys=True))
    elif args.config_command == "show":
        print(json.dumps(settings.model_dump(mode="json"), indent=2))
    elif args.config_command == "docs":
        from hybrid_assist.config.docs import render_markdown

        output: Path = args.output
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(render_markdown(config_schema()), encoding="utf-8")
        print(f"wrote {output}")
    return 0
