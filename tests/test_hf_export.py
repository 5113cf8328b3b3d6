"""`corpus export-hf`: the checkpoint loads as transformers' LlamaForCausalLM and gives our
logits (fp32, CPU, max abs diff <= 1e-4)."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from corpus.cli import main  # noqa: E402
from corpus.tokens.shards import TokenShards  # noqa: E402
from corpus.train.checkpoint import load_model  # noqa: E402
from corpus.train.hf_export import to_hf  # noqa: E402
from corpus.train.model import Transformer, preset  # noqa: E402
from tests.test_train import few_threads, run, tokens_dir  # noqa: E402,F401


def test_random_model_maps_onto_llama_layouts():
    """Random weights (not the init's near-identity) in every tensor, norms included."""
    torch.manual_seed(0)
    ours = Transformer(preset("tiny", vocab_size=256, seq_len=32)).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.3)
    hf = to_hf(ours)
    x = torch.randint(0, 256, (2, 32))
    with torch.no_grad():
        diff = (ours(x) - hf(input_ids=x).logits).abs().max().item()
    assert diff <= 1e-4, diff


def test_export_hf_loads_in_transformers_with_our_logits(tokens_dir, tmp_path):  # noqa: F811
    from transformers import LlamaForCausalLM

    run(tokens_dir, tmp_path / "c", "--max-steps", "3", "--eval-every", "0")
    out = tmp_path / "hf"
    assert main(["export-hf", str(tmp_path / "c"), str(out)]) == 0
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "spm.model"} <= {
        p.name for p in out.iterdir()}
    hf = LlamaForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    ours, trainer = load_model(str(tmp_path / "c"))
    x = torch.from_numpy(TokenShards(str(tokens_dir)).rows(0, 4)[:, :64].astype(np.int64))
    with torch.no_grad():
        diff = (ours(x) - hf(input_ids=x).logits).abs().max().item()
    assert diff <= 1e-4, diff
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["tie_word_embeddings"] is True

def test_export_hf_user_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    for argv, words in [(["export-hf", str(tmp_path / "nothing"), str(tmp_path / "out")], "no checkpoint"),
                        (["export-hf", str(tmp_path), str(tmp_path / "full")], "not empty")]:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("corpus: error:") and words in err[0], err


def test_exported_tokenizer_gives_our_ids_and_text(tokens_dir, tmp_path):  # noqa: F811
    from transformers import AutoTokenizer

    from corpus.tokens.tokenizer import Tokenizer
    from corpus.train.hf_export import hf_tokenizer
    from tests.test_tokens import ADVERSARIAL, sample_texts

    ours = Tokenizer((tokens_dir / "spm.model").read_bytes())
    out = tmp_path / "tok"
    out.mkdir()
    hf_tokenizer(ours).save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "</s>", "unk_token": "<unk>"}))
    hf = AutoTokenizer.from_pretrained(str(out))
    texts = [t for t in ADVERSARIAL if "\u2581" not in t and "<s>" not in t] + sample_texts()[:200]
    for t in texts:
        ids = hf.encode(t, add_special_tokens=False)
        assert ids == ours.encode(t).tolist(), repr(t[:80])
        assert hf.decode(ids) == t, repr(t[:80])
    assert hf.eos_token_id == ours.eos_id
