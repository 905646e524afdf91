"""langmodels._torch: the device and thread helpers every torch-backed family shares."""

import subprocess
import sys

import pytest

from langmodels import Corpus, make
from langmodels._torch import check_device, check_threads, resolve_device, torch_threads
from langmodels.errors import InvalidParameterError

torch = pytest.importorskip("torch")


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    """torch reports two CUDA devices (mocked: resolve_device only names them, it never allocates)."""
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.fixture
def torch_at_three_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield
    torch.set_num_threads(before)


def test_import_does_not_load_torch():
    code = "import sys, langmodels, langmodels._torch; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- resolve_device ---------------------------------------------------------------------------
def test_cpu_is_the_cpu(two_gpus):
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("device", ["auto", None])
def test_auto_without_cuda_is_the_cpu(no_cuda, device):
    assert resolve_device(device) == torch.device("cpu")


@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_cuda_is_a_library_error(no_cuda, device):
    with pytest.raises(InvalidParameterError,
                       match=f"device='{device}' was requested but torch reports no CUDA device"):
        resolve_device(device)


@pytest.mark.parametrize("device", ["auto", "cuda", None])
def test_auto_and_cuda_pick_the_first_gpu(two_gpus, device):
    assert resolve_device(device) == torch.device("cuda", 0)


def test_cuda_n_picks_gpu_n(two_gpus):
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


def test_cuda_n_out_of_range_is_a_library_error(two_gpus):
    with pytest.raises(InvalidParameterError, match=r"device='cuda:2' asks for CUDA device 2, but torch "
                                                    r"reports 2 CUDA device\(s\), numbered 0 to 1"):
        resolve_device("cuda:2")


@pytest.mark.parametrize("device", ["gpu", "CPU", "cuda:", "cuda:x", "cuda:-1", "cuda:1:0", "cuda 0",
                                    "cuda:١", "", 0, True])
def test_malformed_devices_are_library_errors(two_gpus, device):
    message = "device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got"
    with pytest.raises(InvalidParameterError, match=message):
        resolve_device(device)
    with pytest.raises(InvalidParameterError, match=message):
        check_device(device)


@pytest.mark.parametrize("device", ["auto", "cuda", None])
def test_local_rank_selects_this_processs_gpu(two_gpus, monkeypatch, device):
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert resolve_device(device) == torch.device("cuda", 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)   # an explicit index wins
    assert resolve_device("cpu") == torch.device("cpu")


def test_local_rank_is_ignored_without_cuda(no_cuda, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert resolve_device("auto") == torch.device("cpu")


def test_local_rank_beyond_the_gpus_is_a_library_error(two_gpus, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "2")
    with pytest.raises(InvalidParameterError, match=r"LOCAL_RANK=2 \(torchrun\) asks for CUDA device 2"):
        resolve_device("auto")


def test_a_malformed_local_rank_is_a_library_error(two_gpus, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "one")
    with pytest.raises(InvalidParameterError, match="LOCAL_RANK must be a GPU index"):
        resolve_device("cuda")


# --- torch_threads ----------------------------------------------------------------------------
def test_threads_hold_inside_the_block_and_are_restored(torch_at_three_threads):
    with torch_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 3


def test_none_means_one_thread(torch_at_three_threads):
    with torch_threads(None):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 3


def test_threads_are_restored_after_an_exception(torch_at_three_threads):
    with pytest.raises(KeyError), torch_threads(2):
        raise KeyError("inside")
    assert torch.get_num_threads() == 3


def test_nested_blocks_restore_in_order(torch_at_three_threads):
    with torch_threads(1):
        with torch_threads(2):
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 3


@pytest.mark.parametrize("threads", [0, -1, 1.5, "2", True])
def test_bad_thread_counts_are_named(threads):
    with pytest.raises(InvalidParameterError, match="threads must be an integer"):
        check_threads(threads)


# --- the families use it ----------------------------------------------------------------------
def _families():
    tiny_neural = {"embed_dim": 8, "n_layers": 1, "epochs": 1, "batch_size": 2, "patience": None,
                   "progress": False}
    yield "hmm", {"n_states": 2, "n_iter": 1, "progress": False}
    yield "gru", {"hidden_size": 8, **tiny_neural}
    yield "transformer", {"n_heads": 2, "block_size": 8, **tiny_neural}
    hf = {"config": {"n_embd": 8, "n_layer": 1, "n_head": 2, "n_positions": 64}, "bpe_vocab_size": 270,
          "progress": False}
    yield pytest.param("hf-causal", hf, marks=pytest.mark.skipif(
        _missing("transformers"), reason="hf-causal needs the optional package transformers"))


def _missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


FAMILIES = list(_families())
TEXTS = ["a b c a", "b c", "c a b b a"]


@pytest.mark.parametrize("name, params", FAMILIES)
def test_every_family_runs_with_its_threads_and_restores_torchs(name, params, torch_at_three_threads,
                                                                 monkeypatch):
    seen = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (seen.append(n), real(n)))
    corpus = Corpus.from_texts(TEXTS)
    model = make(name, device="cpu", threads=2, **params).fit(corpus)
    model.token_logprobs(corpus)
    assert set(seen) == {2, 3} and seen[0] == 2
    assert torch.get_num_threads() == 3


@pytest.mark.parametrize("name, params", FAMILIES)
def test_every_family_reports_missing_cuda_as_a_library_error(name, params, no_cuda):
    with pytest.raises(InvalidParameterError, match="torch reports no CUDA device"):
        make(name, device="cuda", **params).fit(Corpus.from_texts(TEXTS))


@pytest.mark.parametrize("name, params", FAMILIES)
@pytest.mark.parametrize("bad", [{"device": "gpu"}, {"threads": 0}])
def test_every_family_checks_device_and_threads_when_made(name, params, bad):
    with pytest.raises(InvalidParameterError, match=next(iter(bad))):
        make(name, **{**params, **bad})   # before any data is read
    model = make(name, **params).set_params(**bad)   # set_params skips the check: fit repeats it
    with pytest.raises(InvalidParameterError, match=next(iter(bad))):
        model.fit(Corpus.from_texts(TEXTS))
