"""Builder of tiny, randomly initialised code models in the real Hugging Face format.

Tests and benchmarks cannot download from a model hub, so they build a
model directory that every loader accepts as a real one: ``config.json``
of a real architecture (``Qwen2ForCausalLM``, ``Starcoder2ForCausalLM``,
``LlamaForCausalLM``), ``model.safetensors``, ``generation_config.json``
and a byte-level BPE tokenizer (``tokenizer.json`` +
``tokenizer_config.json``) trained here on Python's own standard library,
carrying the family's fill-in-the-middle and end-of-text special tokens.

The weights are random, so the text is gibberish, but it is deterministic
for a given ``seed`` and goes through exactly the code paths a real model
of that family takes. Heavy imports (torch, transformers) happen inside
:func:`build_tiny_model`.
"""

from __future__ import annotations

import json
import logging
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.fim import FIM_FORMATS

__all__ = ["TINY_FAMILIES", "TinyFamily", "build_tiny_model", "training_corpus"]

logger = logging.getLogger(__name__)

_CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True, slots=True)
class TinyFamily:
    """How one family's tiny model is laid out."""

    family: str
    architecture: str  # the transformers class named in config.json
    model_type: str
    eos_token: str
    bos_token: str | None  # prepended by the tokenizer when not None
    extra_special_tokens: tuple[str, ...]
    chat_template: str | None = None


TINY_FAMILIES: dict[str, TinyFamily] = {
    "qwen2.5-coder": TinyFamily(
        family="qwen2.5-coder",
        architecture="Qwen2ForCausalLM",
        model_type="qwen2",
        eos_token="<|endoftext|>",
        bos_token=None,
        extra_special_tokens=(
            "<|fim_prefix|>",
            "<|fim_middle|>",
            "<|fim_suffix|>",
            "<|fim_pad|>",
            "<|repo_name|>",
            "<|file_sep|>",
            "<|im_start|>",
            "<|im_end|>",
        ),
        chat_template=_CHATML_TEMPLATE,
    ),
    "starcoder2": TinyFamily(
        family="starcoder2",
        architecture="Starcoder2ForCausalLM",
        model_type="starcoder2",
        eos_token="<|endoftext|>",
        bos_token=None,
        extra_special_tokens=(
            "<fim_prefix>",
            "<fim_middle>",
            "<fim_suffix>",
            "<fim_pad>",
            "<repo_name>",
            "<file_sep>",
        ),
    ),
    "deepseek-coder": TinyFamily(
        family="deepseek-coder",
        architecture="LlamaForCausalLM",
        model_type="llama",
        eos_token="<\uff5cend\u2581of\u2581sentence\uff5c>",
        bos_token="<\uff5cbegin\u2581of\u2581sentence\uff5c>",
        extra_special_tokens=(
            *FIM_FORMATS["deepseek-coder"].sentinel_tokens,
            "<|EOT|>",
        ),
    ),
    "codellama": TinyFamily(
        family="codellama",
        architecture="LlamaForCausalLM",
        model_type="llama",
        eos_token="</s>",
        bos_token="<s>",
        extra_special_tokens=("<unk>", "<PRE>", "<SUF>", "<MID>", "<EOT>"),
    ),
}

#: Shape of every tiny model: head_dim 64 (vLLM's CPU attention wants >= 32).
_HIDDEN = 128
_HEADS = 2
_KV_HEADS = 1
_LAYERS = 2
_INTERMEDIATE = 256
_MAX_POSITIONS = 4096
_TRAINED_VOCAB = 768
_CORPUS_FILES = (
    "textwrap.py",
    "string.py",
    "functools.py",
    "dataclasses.py",
    "json/encoder.py",
    "json/decoder.py",
    "argparse.py",
)


def training_corpus() -> Iterator[str]:
    """Python source from the standard library (always on disk, no network)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in _CORPUS_FILES:
        path = stdlib / name
        if path.is_file():
            yield path.read_text(encoding="utf-8", errors="replace")


def _train_tokenizer(spec: TinyFamily) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    specials = [spec.eos_token]
    if spec.bos_token is not None:
        specials.append(spec.bos_token)
    specials.extend(t for t in spec.extra_special_tokens if t not in specials)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_TRAINED_VOCAB + len(specials),
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_corpus(), trainer)
    if spec.bos_token is not None:
        bos_id = tokenizer.token_to_id(spec.bos_token)
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{spec.bos_token} $A",
            pair=f"{spec.bos_token} $A {spec.bos_token} $B",
            special_tokens=[(spec.bos_token, bos_id)],
        )
    else:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return tokenizer


def _model_config(spec: TinyFamily, vocab_size: int, bos_id: int | None, eos_id: int) -> Any:
    import transformers

    common: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": _HIDDEN,
        "intermediate_size": _INTERMEDIATE,
        "num_hidden_layers": _LAYERS,
        "num_attention_heads": _HEADS,
        "num_key_value_heads": _KV_HEADS,
        "max_position_embeddings": _MAX_POSITIONS,
        "eos_token_id": eos_id,
        "bos_token_id": bos_id if bos_id is not None else eos_id,
        "pad_token_id": eos_id,
        "tie_word_embeddings": False,
        "initializer_range": 0.2,
    }
    if spec.model_type == "qwen2":
        return transformers.Qwen2Config(**common)
    if spec.model_type == "starcoder2":
        return transformers.Starcoder2Config(**common, use_bias=True)
    return transformers.LlamaConfig(**common, head_dim=_HIDDEN // _HEADS)


def build_tiny_model(directory: Path, family: str, *, seed: int = 0) -> Path:
    """Write a tiny random model of ``family`` into ``directory`` and return it.

    ``family`` is a key of :data:`TINY_FAMILIES` (the FIM families of
    :mod:`inference.fim`). The directory is created if needed.
    """
    if family not in TINY_FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {sorted(TINY_FAMILIES)}")
    import torch
    import transformers

    spec = TINY_FAMILIES[family]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    raw = _train_tokenizer(spec)
    eos_id = raw.token_to_id(spec.eos_token)
    bos_id = raw.token_to_id(spec.bos_token) if spec.bos_token is not None else None
    vocab_size = -(-raw.get_vocab_size() // 64) * 64  # padded, like real checkpoints
    tokenizer = transformers.PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=raw,
        eos_token=spec.eos_token,
        bos_token=spec.bos_token,
        pad_token=spec.eos_token,
        extra_special_tokens=list(spec.extra_special_tokens),
        model_max_length=_MAX_POSITIONS,
        clean_up_tokenization_spaces=False,
    )
    if spec.chat_template is not None:
        tokenizer.chat_template = spec.chat_template
    tokenizer.save_pretrained(str(directory))

    config = _model_config(spec, vocab_size, bos_id, eos_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.AutoModelForCausalLM.from_config(  # type: ignore[no-untyped-call]
            config, dtype=torch.float32
        )
        _silence_special_tokens(model, raw.get_vocab_size(), len(raw.get_added_tokens_decoder()))
    model.generation_config = transformers.GenerationConfig(  # type: ignore[no-untyped-call]
        bos_token_id=config.bos_token_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        do_sample=False,
    )
    model.save_pretrained(str(directory))
    _check_layout(directory, spec)
    logger.debug("built tiny %s model in %s", family, directory)
    return directory


def _silence_special_tokens(model: Any, trained_vocab: int, n_special: int) -> None:
    """Zero the output rows of special and padding tokens.

    Random weights would otherwise end a greedy answer at an arbitrary early
    end-of-text token; with these rows at zero the special tokens' logits
    sit at 0 while some ordinary token always scores higher, so every answer
    runs to ``max_tokens`` (or a stop string) and tests stay deterministic.
    Special tokens have the lowest ids (they are trained first).
    """
    import torch

    head = model.get_output_embeddings().weight
    with torch.no_grad():
        head[:n_special].zero_()
        head[trained_vocab:].zero_()


def _check_layout(directory: Path, spec: TinyFamily) -> None:
    """Fail loudly if the written directory is not what loaders expect."""
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    if config.get("architectures") != [spec.architecture]:
        raise RuntimeError(f"wrote {config.get('architectures')}, expected {spec.architecture}")
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        if not (directory / name).is_file():
            raise RuntimeError(f"tiny model directory lacks {name}")
