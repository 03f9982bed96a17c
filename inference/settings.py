"""Configuration of the engines: the ``[local]`` table and one ``[providers.NAME]`` table each.

Pure pydantic models (no I/O at import). API keys are never stored here: a
provider names the environment variable (``api_key_env``) or file
(``api_key_file``) that holds its key, read only when the backend starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LocalBackendKind = Literal["auto", "vllm", "transformers", "openai-compatible", "instant"]
ProviderKind = Literal["openai", "anthropic", "gemini", "openai-compatible"]
#: ``fim_format`` values: a family of :data:`inference.fim.FIM_FORMATS`, ``auto`` or ``none``.
FimFormatSetting = Literal["auto", "none", "qwen2.5-coder", "starcoder2", "deepseek-coder", "codellama"]

_FIM_FORMAT_HELP = (
    "Which model family's fill-in-the-middle tokens completion prompts are built with. "
    "auto: the in-process engines read them from the model's tokenizer; for openai-compatible servers (the "
    "prompt is sent as a plain prompt) the server is asked (vLLM's POST /tokenize: which family's FIM markers "
    "are single special tokens), else the family is guessed from the model name; a family name (qwen2.5-coder, "
    "starcoder2, deepseek-coder, codellama) is used as told (a warning is logged when a local model's tokenizer "
    "lacks its tokens); none: send the code before the cursor only (a model without FIM tokens)."
)
_STRUCTURED_OUTPUT_HELP = (
    "For openai-compatible servers: the server honours response_format (json_object and json_schema), as vLLM "
    "does by guided decoding, so agents' structured-output requests may be served there; false: the router skips "
    "this server for them. For small models run vllm serve with --structured-outputs-config "
    '\'{"backend": "xgrammar", "disable_any_whitespace": true}\' (compact JSON: else a weak model may write '
    "whitespace until max_tokens)."
)
_TOOL_CALLS_HELP = (
    "For openai-compatible servers: the server takes tools and tool_choice and streams tool calls back "
    "(delta.tool_calls), so agents' tool-calling requests may be served there. vLLM must run with "
    "--enable-auto-tool-choice --tool-call-parser <parser for your model> (hermes for Qwen2.5) for "
    "tool_choice auto; required and named tool_choice are forced by guided decoding, yet recent vLLM (0.32 "
    "tested) refuses them too without a tool-call parser; false: the router skips this server for requests with "
    "tools."
)
_SEND_SUFFIX_HELP = (
    "For openai-compatible servers: send the code after the cursor as the suffix field of /v1/completions and "
    "let the server build the fill-in-the-middle prompt. Only for servers that support it (OpenAI's legacy "
    "completions; vLLM only for models with FIM completion rendering, else it answers 400); fim_format is "
    "then not used unless it names a family."
)

#: Default local models: a real code model with fill-in-the-middle tokens.
DEFAULT_GPU_MODEL = "Qwen/Qwen2.5-Coder-1.5B"
DEFAULT_CPU_MODEL = "Qwen/Qwen2.5-Coder-0.5B"


class ModelPrice(BaseModel):
    """US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    cached_input: float = Field(default=0.0, ge=0)
    output: float = Field(ge=0)

    def cost(self, prompt_tokens: int, cached_tokens: int, completion_tokens: int) -> float:
        """Cost in dollars of one call with these token counts."""
        uncached = max(0, prompt_tokens - cached_tokens)
        return (uncached * self.input + cached_tokens * self.cached_input + completion_tokens * self.output) / 1_000_000


class LocalSettings(BaseModel):
    """The on-premises engine (``[local]``)."""

    model_config = ConfigDict(extra="forbid")

    backend: LocalBackendKind = Field(
        default="auto",
        description="Engine: vllm (in-process), transformers, openai-compatible (remote vLLM), "
        "instant (answers at once, for benchmarks), or auto (vllm with a GPU, else transformers).",
    )
    model: str = Field(
        default="",
        description="Hub id or local directory of the model; empty picks "
        f"{DEFAULT_GPU_MODEL} on a GPU and {DEFAULT_CPU_MODEL} on a CPU.",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: str = Field(default="auto", description="Weights dtype: auto, float16, bfloat16, float32.")
    tensor_parallel_size: int = Field(default=1, ge=1, description="GPUs per vLLM engine (2 for two A100s).")
    gpu_memory_utilization: float = Field(default=0.85, gt=0, le=1)
    max_model_len: int = Field(default=8192, ge=256, description="Context window the engine serves.")
    enable_prefix_caching: bool = True
    load_format: str = Field(default="auto", description='vLLM load format; "dummy" = random weights for benchmarks.')
    kv_cache_memory_bytes: int | None = Field(
        default=None, ge=1, description="vLLM KV cache size in bytes (required on CPU)."
    )
    max_concurrency: int = Field(default=64, ge=1, description="Requests the engine runs at once.")
    base_url: str = Field(
        default="", description="For openai-compatible: the server's /v1 URL (several: comma-separated)."
    )
    api_key_env: str = Field(default="", description="For openai-compatible: env var holding the key.")
    fim_format: FimFormatSetting = Field(default="auto", description=_FIM_FORMAT_HELP)
    send_suffix: bool = Field(default=False, description=_SEND_SUFFIX_HELP)
    structured_output: bool = Field(default=True, description=_STRUCTURED_OUTPUT_HELP)
    tool_calls: bool = Field(default=True, description=_TOOL_CALLS_HELP)
    download: bool = Field(default=True, description="Fetch the model from the hub when not cached.")
    cache_dir: str = Field(default="", description="Hugging Face cache directory (default: HF_HOME).")
    instant_reply: str = Field(default="pass", description="What the instant backend answers.")
    instant_token_delay_ms: float = Field(
        default=0.0, ge=0, description="Delay between the instant backend's tokens (to exercise cancellation)."
    )

    def resolved_model(self, has_gpu: bool) -> str:
        if self.model:
            return self.model
        return DEFAULT_GPU_MODEL if has_gpu else DEFAULT_CPU_MODEL


class ProviderSettings(BaseModel):
    """A cloud provider or the overflow endpoint (``[providers.NAME]``)."""

    model_config = ConfigDict(extra="forbid")

    kind: ProviderKind
    enabled: bool = True
    base_url: str = Field(default="", description="Override the SDK's endpoint (proxy, test server).")
    api_key_env: str = Field(default="", description="Environment variable holding the API key.")
    api_key_file: str = Field(default="", description="File holding the API key (alternative to api_key_env).")
    models: list[str] = Field(default_factory=list, description="Models this provider may be asked for.")
    default_model: str = ""
    prices: dict[str, ModelPrice] = Field(default_factory=dict, description="Per model, $ per million tokens.")
    windows: dict[str, int] = Field(
        default_factory=dict,
        description="Per model, its context window in tokens (prompt + answer); models not named here use "
        "context_window, else the published window of a well-known model name, else none is enforced.",
    )
    context_window: int = Field(
        default=0, ge=0, description="Context window of this provider's models not in windows (0: unknown)."
    )
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    local: bool = Field(
        default=False, description="True when this endpoint runs on the premises (e.g. the overflow GPU)."
    )
    fim_format: FimFormatSetting = Field(default="auto", description=_FIM_FORMAT_HELP)
    send_suffix: bool = Field(default=False, description=_SEND_SUFFIX_HELP)
    structured_output: bool = Field(default=True, description=_STRUCTURED_OUTPUT_HELP)
    tool_calls: bool = Field(default=True, description=_TOOL_CALLS_HELP)
    prompt_cache: Literal["off", "5m", "1h"] = Field(
        default="5m",
        description="Provider prompt caching of the stable prefix (system text, code or repository digest) that "
        "requests on the same code share: 5m or 1h is the lifetime asked of Anthropic's cache_control breakpoint "
        "(a 1-hour write costs more, see routing/pricing.py); for OpenAI any value but off sends a "
        "prompt_cache_key per repository and user; off sends neither.",
    )

    def model_or_default(self, model: str = "") -> str:
        return model or self.default_model or (self.models[0] if self.models else "")

    def price(self, model: str) -> ModelPrice | None:
        return self.prices.get(model)

    def window(self, model: str) -> int:
        """The context window of ``model`` here in tokens; 0 when unknown."""
        return self.windows.get(model) or self.context_window or PUBLISHED_WINDOWS.get(model, 0)

    def serves(self, model: str, kind: str = "") -> bool:
        """Whether this provider lists ``model``, or accepts any model name (no list) and is of ``kind``."""
        if model and (model in self.models or model == self.default_model):
            return True
        return not self.models and bool(kind) and kind == self.kind

    def api_key(self) -> str | None:
        """Read the key from the environment or its file; None if absent."""
        if self.api_key_env:
            value = os.environ.get(self.api_key_env)
            if value:
                return value.strip()
        if self.api_key_file:
            path = Path(self.api_key_file).expanduser()
            if path.is_file():
                return path.read_text(encoding="utf-8").strip() or None
        return None


#: Context windows (tokens) the providers publish for the built-in models, as of 2025; used for any
#: provider that serves a model of this name and does not set its own window.
PUBLISHED_WINDOWS: dict[str, int] = {
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "claude-sonnet-4-6": 200_000,
    "claude-haiku-4-5": 200_000,
    "gemini-2.5-pro": 1_048_576,
    "gemini-2.5-flash": 1_048_576,
}


def _windows(models: list[str]) -> dict[str, int]:
    return {m: PUBLISHED_WINDOWS[m] for m in models}


def _p(i: float, c: float, o: float) -> ModelPrice:
    return ModelPrice(input=i, cached_input=c, output=o)


def default_providers() -> dict[str, ProviderSettings]:
    """Providers of the reference design, with list prices ($/M tokens; routing.pricing.PUBLISHED_PRICES, 2025-11)."""
    return {
        "openai": ProviderSettings(
            kind="openai",
            api_key_env="OPENAI_API_KEY",
            models=["gpt-4o", "gpt-4o-mini"],
            windows=_windows(["gpt-4o", "gpt-4o-mini"]),
            default_model="gpt-4o",
            prices={"gpt-4o": _p(2.50, 1.25, 10.00), "gpt-4o-mini": _p(0.15, 0.075, 0.60)},
        ),
        "anthropic": ProviderSettings(
            kind="anthropic",
            api_key_env="ANTHROPIC_API_KEY",
            models=["claude-sonnet-4-6", "claude-haiku-4-5"],
            windows=_windows(["claude-sonnet-4-6", "claude-haiku-4-5"]),
            default_model="claude-sonnet-4-6",
            prices={
                "claude-sonnet-4-6": _p(3.00, 0.30, 15.00),
                "claude-haiku-4-5": _p(1.00, 0.10, 5.00),
            },
        ),
        "gemini": ProviderSettings(
            kind="gemini",
            api_key_env="GEMINI_API_KEY",
            models=["gemini-2.5-pro", "gemini-2.5-flash"],
            windows=_windows(["gemini-2.5-pro", "gemini-2.5-flash"]),
            default_model="gemini-2.5-flash",
            prices={
                "gemini-2.5-pro": _p(1.25, 0.125, 10.00),
                "gemini-2.5-flash": _p(0.30, 0.03, 2.50),
            },
        ),
        "overflow": ProviderSettings(
            kind="openai-compatible",
            enabled=False,
            local=False,
            api_key_env="HYBRID_OVERFLOW_API_KEY",
            models=[],
            prices={},
        ),
    }
