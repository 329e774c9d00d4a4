"""GPU readiness, checked on CPU: which device, precision and compilation the code picks.

The choices are driven by torch's capability checks, which are mocked here; the one test that
needs a real GPU is skipped without one.
"""

import os

import numpy as np
import pytest
import torch

from engine.infer import InferenceSettings, load_predictor
from engine.infer import batches as batches_module
from engine.infer import compile as compile_module
from engine.infer.batches import bf16_supported

gpu_test = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_device_defaults_to_cuda_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert InferenceSettings().torch_device == torch.device("cuda")
    assert InferenceSettings(device="cpu").torch_device == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert InferenceSettings().torch_device == torch.device("cpu")


@pytest.mark.parametrize("supported", [True, False])
def test_cuda_bf16_support_follows_torch(monkeypatch, supported):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: supported)
    assert bf16_supported(torch.device("cuda")) is supported


@pytest.mark.parametrize(
    ("amx", "avx512_bf16", "expected"),
    [(True, False, True), (False, True, True), (False, False, False)],
)
def test_cpu_bf16_support_needs_amx_or_avx512_bf16(monkeypatch, amx, avx512_bf16, expected):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    assert bf16_supported(torch.device("cpu")) is expected


def test_cpu_without_feature_checks_reports_no_bf16(monkeypatch):
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    assert not bf16_supported(torch.device("cpu"))
    assert not bf16_supported(torch.device("meta"))


@pytest.mark.filterwarnings("ignore:CUDA is not available")
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_auto_precision_is_bf16_only_where_native(monkeypatch, device):
    for supported, expected in [(True, "bf16"), (False, "fp32")]:
        monkeypatch.setattr(batches_module, "bf16_supported", lambda _d, s=supported: s)
        settings = InferenceSettings(device=device, precision="auto")
        assert settings.resolved_precision == expected
        context = settings.autocast()
        assert context.device == device
        assert context.fast_dtype == torch.bfloat16
    assert InferenceSettings(device=device, precision="fp32").resolved_precision == "fp32"


def test_explicit_bf16_without_native_support_falls_back_with_a_warning(monkeypatch):
    monkeypatch.setattr(batches_module, "bf16_supported", lambda _d: False)
    settings = InferenceSettings(device="cpu", precision="bf16")
    with pytest.warns(UserWarning, match="no native bfloat16"):
        assert settings.resolved_precision == "fp32"
        assert not settings.autocast()._enabled


def test_compile_flag_compiles_with_dynamic_shapes_and_a_persistent_cache(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(
        torch, "compile", lambda model, **kw: calls.append(kw) or ("compiled", model)
    )
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setattr(compile_module, "DEFAULT_CACHE_DIR", tmp_path / "inductor")
    model = torch.nn.Linear(2, 2)
    assert compile_module.compiled(model, InferenceSettings()) is model
    assert calls == []
    assert compile_module.compiled(model, InferenceSettings(compile=True)) == ("compiled", model)
    assert calls == [{"dynamic": True}]
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "inductor")


def test_predictor_runs_its_compiled_forward(monkeypatch, model_dir, sample_table):
    """With compile on, last_logits and embed go through the compiled module (here a spy)."""
    seen = []

    def fake_compile(model, **_):
        def forward(batch):
            seen.append(batch.time.shape)
            return model(batch)

        return forward

    monkeypatch.setattr(torch, "compile", fake_compile)
    predictor = load_predictor(model_dir, settings=InferenceSettings(compile=True))
    predictor.embed(sample_table.head(5))
    assert seen and all(shape[0] <= 5 for shape in seen)


@gpu_test
def test_cuda_bf16_compiled_matches_cpu_fp32(model_dir, sample_table):
    table = sample_table.head(32)
    cpu = load_predictor(model_dir, settings=InferenceSettings(device="cpu")).predict(table)
    gpu = load_predictor(
        model_dir, settings=InferenceSettings.fast(device="cuda", compile=True)
    ).predict(table)
    columns = [c for c in cpu.columns if c.startswith("p_")]
    np.testing.assert_allclose(
        cpu.select(columns).to_numpy(), gpu.select(columns).to_numpy(), atol=0.03
    )
