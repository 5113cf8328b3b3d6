"""`corpus generate`: a KV cache that changes nothing but the speed, and the run's tokenizer
giving whitespace back as written."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sentencepiece")

from corpus.cli import main  # noqa: E402
from corpus.train.checkpoint import load_model  # noqa: E402
from corpus.train.generate import find_tokenizer, generate  # noqa: E402
from corpus.train.model import KVCache  # noqa: E402
from tests.test_train import few_threads, run, tokens_dir  # noqa: E402,F401

PROMPT = "def f(x):\n\tif x:\t\t# two tabs\n        return  x   # spaces\n\n中文  两个空格\t"


@pytest.fixture(scope="module")
def ckpt(tokens_dir, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("gen") / "c"
    run(tokens_dir, out, "--max-steps", "3", "--eval-every", "0")
    return out


def test_cached_decoding_gives_the_uncached_tokens(ckpt):
    model, trainer = load_model(str(ckpt))
    tok = find_tokenizer(trainer)
    prompt = tok.encode(PROMPT).tolist()
    with torch.no_grad():  # the cache's logits are the full forward pass's, position by position
        ids = torch.tensor([prompt])
        full = model(ids)
        cache = KVCache(model.cfg, 1, len(prompt))
        half = len(prompt) // 2
        cached = torch.cat([model(ids[:, :half], cache=cache)] +
                           [model(ids[:, t:t + 1], cache=cache) for t in range(half, len(prompt))], dim=1)
        assert torch.allclose(full, cached, atol=1e-5)
    for kw in [dict(temperature=0.0), dict(temperature=1.0, top_k=50, top_p=0.9, seed=3),
               dict(temperature=0.7, seed=11)]:
        a = generate(model, prompt[:12], 40, vocab_size=tok.vocab_size, use_cache=True, **kw)
        b = generate(model, prompt[:12], 40, vocab_size=tok.vocab_size, use_cache=False, **kw)
        assert a == b and len(a) == 40 and max(a) < tok.vocab_size, kw


def test_generate_command_keeps_whitespace(ckpt, capsys):
    assert main(["generate", str(ckpt), "--prompt", PROMPT, "--max-new-tokens", "12", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(PROMPT) and len(out) > len(PROMPT)
    assert main(["generate", str(ckpt / "step-00000003"), "--prompt", PROMPT, "--temperature", "0",
                 "--max-new-tokens", "5", "--no-cache"]) == 0
    assert capsys.readouterr().out.startswith(PROMPT)


def test_generate_user_errors_are_one_line(ckpt, tmp_path, capsys):
    for argv, words in [(["generate", str(ckpt), "--prompt", "x", "--max-new-tokens", "100000"], "context of 64"),
                        (["generate", str(tmp_path), "--prompt", "x"], "no checkpoint"),
                        (["generate", str(ckpt), "--prompt", "x", "--tokenizer", str(tmp_path / "no.model")],
                         "no such file")]:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("corpus: error:") and words in err[0], err
