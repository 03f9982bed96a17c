"""Fill-in-the-middle formats: rendering per family, detection from tokens and from names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inference.fim import FIM_FORMATS, detect_fim_format, fim_format_for_model_name

DS_BEGIN = "<\uff5cfim\u2581begin\uff5c>"
DS_HOLE = "<\uff5cfim\u2581hole\uff5c>"
DS_END = "<\uff5cfim\u2581end\uff5c>"


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("qwen2.5-coder", "<|fim_prefix|>def f():\n    <|fim_suffix|>\nx = 1<|fim_middle|>"),
        ("starcoder2", "<fim_prefix>def f():\n    <fim_suffix>\nx = 1<fim_middle>"),
        ("deepseek-coder", f"{DS_BEGIN}def f():\n    {DS_HOLE}\nx = 1{DS_END}"),
        ("codellama", "<PRE> def f():\n     <SUF>\nx = 1 <MID>"),
    ],
)
def test_render_matches_each_family_training_layout(family: str, expected: str) -> None:
    assert FIM_FORMATS[family].render("def f():\n    ", "\nx = 1") == expected


def test_render_keeps_braces_in_code() -> None:
    fmt = FIM_FORMATS["qwen2.5-coder"]
    assert fmt.render("d = {'a': {0}}", "{pre}") == ("<|fim_prefix|>d = {'a': {0}}<|fim_suffix|>{pre}<|fim_middle|>")


def test_stop_tokens_per_family() -> None:
    assert FIM_FORMATS["qwen2.5-coder"].stop_tokens == (
        "<|endoftext|>",
        "<|fim_pad|>",
        "<|file_sep|>",
        "<|repo_name|>",
    )
    assert FIM_FORMATS["starcoder2"].stop_tokens == ("<|endoftext|>", "<file_sep>")
    assert FIM_FORMATS["deepseek-coder"].stop_tokens == (
        "<|EOT|>",
        "<\uff5cend\u2581of\u2581sentence\uff5c>",
    )
    assert FIM_FORMATS["codellama"].stop_tokens == ("<EOT>",)


QWEN_SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|im_end|>"]
STARCODER_SPECIALS = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<file_sep>"]
DEEPSEEK_SPECIALS = ["<\uff5cbegin\u2581of\u2581sentence\uff5c>", DS_BEGIN, DS_HOLE, DS_END, "<|EOT|>"]
CODELLAMA_VOCAB = ["<s>", "</s>", "\u2581<PRE>", "\u2581<SUF>", "\u2581<MID>", "\u2581<EOT>", "\u2581a"]


@pytest.mark.parametrize(
    ("tokens", "family"),
    [
        (QWEN_SPECIALS, "qwen2.5-coder"),
        (STARCODER_SPECIALS, "starcoder2"),
        (DEEPSEEK_SPECIALS, "deepseek-coder"),
        (CODELLAMA_VOCAB, "codellama"),
        (["<PRE>", "<SUF>", "<MID>", "<EOT>"], "codellama"),
    ],
)
def test_detect_from_tokens_when_the_name_says_nothing(tokens: list[str], family: str) -> None:
    found = detect_fim_format(tokens, "team/my-finetune-v3")
    assert found is not None
    assert found.family == family


def test_tokens_win_over_a_misleading_name() -> None:
    found = detect_fim_format(STARCODER_SPECIALS, "Qwen/Qwen2.5-Coder-1.5B")
    assert found is not None
    assert found.family == "starcoder2"


def test_name_breaks_a_tie_between_matching_families() -> None:
    both = QWEN_SPECIALS + STARCODER_SPECIALS
    by_qwen = detect_fim_format(both, "Qwen/Qwen2.5-Coder-7B")
    by_star = detect_fim_format(both, "bigcode/starcoder2-15b")
    assert by_qwen is not None and by_qwen.family == "qwen2.5-coder"
    assert by_star is not None and by_star.family == "starcoder2"


def test_partial_sentinels_do_not_match_but_name_is_the_fallback() -> None:
    partial = ["<|fim_prefix|>", "<|endoftext|>"]  # no suffix/middle sentinel
    assert detect_fim_format(partial) is None
    fallback = detect_fim_format(partial, "deepseek-ai/deepseek-coder-1.3b-base")
    assert fallback is not None and fallback.family == "deepseek-coder"
    assert detect_fim_format([], "meta-llama/Llama-3.1-8B") is None


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("Qwen/Qwen2.5-Coder-1.5B", "qwen2.5-coder"),
        ("qwen2.5-coder:7b-base", "qwen2.5-coder"),
        ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "qwen2.5-coder"),
        ("bigcode/starcoder2-3b", "starcoder2"),
        ("deepseek-ai/deepseek-coder-6.7b-base", "deepseek-coder"),
        ("deepseek-coder:1.3b", "deepseek-coder"),
        ("codellama/CodeLlama-7b-hf", "codellama"),
        ("codellama:7b-code", "codellama"),
        ("/models/CodeLlama-13b", "codellama"),
        ("gpt-4o", None),
        ("meta-llama/Llama-3.1-8B", None),
        ("", None),
    ],
)
def test_format_for_model_name(name: str, family: str | None) -> None:
    found = fim_format_for_model_name(name)
    assert (found.family if found else None) == family


@given(prefix=st.text(max_size=40), suffix=st.text(max_size=40))
def test_render_wraps_prefix_and_suffix_in_psm_order(prefix: str, suffix: str) -> None:
    for fmt in FIM_FORMATS.values():
        spaced = fmt.family == "codellama"  # "<PRE> {prefix} <SUF>{suffix} <MID>"
        head = f" {prefix} " if spaced else prefix
        tail = f"{suffix} " if spaced else suffix
        assert fmt.render(prefix, suffix) == (fmt.prefix_token + head + fmt.suffix_token + tail + fmt.middle_token)


def test_fim_format_setting_names_every_family() -> None:
    """``fim_format`` (``[local]``, ``[providers.NAME]``) accepts exactly the table's families, auto and none."""
    from typing import get_args

    from inference.settings import FimFormatSetting

    assert set(get_args(FimFormatSetting)) == {"auto", "none", *FIM_FORMATS}


def test_sentinel_spellings_a_server_tokenizer_is_asked_about() -> None:
    assert FIM_FORMATS["qwen2.5-coder"].sentinel_spellings == (("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),)
    codellama = FIM_FORMATS["codellama"].sentinel_spellings
    assert codellama == (("<PRE>", "<SUF>", "<MID>"), ("\u2581<PRE>", "\u2581<SUF>", "\u2581<MID>"))
    for fmt in FIM_FORMATS.values():  # whichever spelling a tokenizer holds, detection finds the family
        for spelling in fmt.sentinel_spellings:
            assert detect_fim_format(spelling) is fmt
