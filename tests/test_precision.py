"""The one precision policy: `auto` is the faster of fp32 and bf16 as measured on this CPU, cached."""
import json

import pytest
import torch

from soccerspot.extract import precision


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "soccerspot" / precision.CACHE_NAME


def stub_probe(monkeypatch, fp32: float, bf16: float) -> list:
    calls = []

    def measure():
        calls.append(1)
        return {"fp32": fp32, "bf16": bf16}

    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(precision, "measure_speeds", measure)
    return calls


@pytest.mark.parametrize("fp32, bf16, chosen", [(7.8, 5.8, "fp32"), (7.0, 14.0, "bf16")])
def test_auto_picks_what_the_probe_measured_faster_and_caches_it(cache, monkeypatch, fp32, bf16, chosen):
    calls = stub_probe(monkeypatch, fp32, bf16)
    assert precision.resolve_precision("auto", torch.device("cpu")) == chosen
    assert precision.resolve_precision("auto", torch.device("cpu")) == chosen
    assert len(calls) == 1  # measured once, then read from the cache
    stored = json.loads(cache.read_text())[precision.probe_key()]
    assert stored == {"choice": chosen, "images_per_s": {"fp32": fp32, "bf16": bf16}}


def test_without_native_bf16_auto_is_fp32_and_nothing_is_measured(cache, monkeypatch):
    calls = stub_probe(monkeypatch, 1.0, 100.0)
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert precision.resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert calls == [] and not cache.exists()


def test_an_unwritable_cache_only_means_measuring_again(tmp_path, monkeypatch):
    (tmp_path / "soccerspot").write_text("a file where the cache folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = stub_probe(monkeypatch, 3.0, 2.0)
    assert precision.faster_cpu_precision() == "fp32" and precision.faster_cpu_precision() == "fp32"
    assert len(calls) == 2


def test_explicit_precisions_and_refusals():
    cpu = torch.device("cpu")
    assert precision.resolve_precision("bf16", cpu) == "bf16"
    assert precision.resolve_precision("fp32", cpu) == "fp32"
    with pytest.raises(ValueError, match="fp16 is for CUDA"):
        precision.resolve_precision("fp16", cpu)
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        precision.resolve_precision("fp8", cpu)


def test_the_probe_measures_both_precisions():
    speeds = precision.measure_speeds(repeats=1)
    assert set(speeds) == {"fp32", "bf16"} and all(value > 0 for value in speeds.values())


def test_every_precision_flag_says_what_auto_does():
    """Each command's --precision help is the policy's own line (the probe on CPUs with native bf16), never
    the old "bf16 on CPUs with native bf16, else fp32"."""
    from soccerspot.pipeline.cli import build_parser

    subcommands = next(a for a in build_parser()._actions if a.dest == "command").choices
    helps = {name: action.help for name, sub in subcommands.items() for action in sub._actions
             if "--precision" in action.option_strings}
    assert {"extract", "spot", "archive", "live", "train", "finetune"} <= set(helps)
    for name, text in helps.items():
        assert " ".join(precision.AUTO_HELP.split()) in " ".join(text.split()), name
        assert "else fp32" not in text, name
