"""The pretraining entrypoint on CPU with the tiny preset: exact resume (after a stop and after
SIGTERM), falling loss on real text, the model's causality and the loader's striding."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sentencepiece")

from corpus.tokens.pack import Packer  # noqa: E402
from corpus.tokens.shards import FORMAT, MANIFEST, ShardWriter, shard_name  # noqa: E402
from corpus.tokens.tokenizer import Tokenizer, train_model  # noqa: E402
from corpus.train import loop  # noqa: E402
from corpus.train.data import Batches  # noqa: E402
from corpus.train.model import Transformer, flops_per_token, preset  # noqa: E402
from tests.conftest import REPO  # noqa: E402
from tests.test_tokens import PARAMS, sample_texts  # noqa: E402

SEQ_LEN = 64


@pytest.fixture(scope="module", autouse=True)
def few_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on a busy 2-core machine spin: 30x slower
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tokens_dir(tmp_path_factory):
    """Real text (the sample books and forums) as token shards, packed like export-tokens."""
    texts = sample_texts()
    tok = Tokenizer(train_model(texts, {**PARAMS, "vocab_size": 6000, "character_coverage": 0.995}))
    out = tmp_path_factory.mktemp("tokens")
    (out / "spm.model").write_bytes(tok.model)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(texts))
    held_out, order = order[:len(order) // 20], order[len(order) // 20:]
    packer, shards = Packer(SEQ_LEN + 1, tok.dtype), []
    for index, part in enumerate(np.array_split(order, 2)):
        with open(out / shard_name(index), "wb") as f:
            writer = ShardWriter(f, tok.dtype)
            for ids in tok.encode_batch([texts[i] for i in part]):
                writer.write(packer.add(np.append(ids, tok.eos_id).astype(tok.dtype)))
        shards.append(writer.describe(shard_name(index)))
    (out / "validation").mkdir()
    with open(out / "validation" / shard_name(0), "wb") as f:
        writer, packer = ShardWriter(f, tok.dtype), Packer(SEQ_LEN + 1, tok.dtype)
        for ids in tok.encode_batch([texts[i] for i in held_out]):
            writer.write(packer.add(np.append(ids, tok.eos_id).astype(tok.dtype)))
    validation = {"shards": [writer.describe("validation/" + shard_name(0))]}
    manifest = {"format": FORMAT, "seq_len": SEQ_LEN, "dtype": tok.dtype.name,
                "vocab_size": tok.vocab_size, "eos_id": tok.eos_id, "shards": shards,
                "validation": validation, "tokenizer": {"sha256": tok.sha256, "path": "spm.model"},
                "by_source": {"books": {"documents": 3, "tokens": 300}, "forums": {"documents": 1, "tokens": 100}}}
    (out / MANIFEST).write_text(json.dumps(manifest))
    return out


def run(tokens_dir, ckpt, *extra):
    argv = ["--tokens", str(tokens_dir), "--preset", "tiny", "--device", "cpu", "--dtype", "fp32",
            "--batch-size", "4", "--grad-accum", "2", "--seq-len", str(SEQ_LEN), "--warmup-steps", "3",
            "--log-every", "1", "--ckpt-dir", str(ckpt), "--ckpt-every", "7", "--eval-every", "5",
            "--eval-batches", "2", *extra]
    return loop.train(loop.parse_args(argv))


def final_state(ckpt):
    from corpus.train.checkpoint import latest

    path = latest(str(ckpt))
    return (path, torch.load(os.path.join(path, "model.pt")),
            torch.load(os.path.join(path, "optimizer.pt")))


def losses(ckpt):
    rows = [json.loads(line) for line in (ckpt / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def val_losses(ckpt):
    rows = [json.loads(line) for line in (ckpt / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["val_loss"] for r in rows if "val_loss" in r}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict):
            assert_same(a[k], b[k])
        elif isinstance(a[k], torch.Tensor):
            assert torch.equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


@pytest.mark.slow  # two training runs end to end (the fast tier stays under a minute)
def test_stopped_and_resumed_run_is_bit_identical(tokens_dir, tmp_path):
    run(tokens_dir, tmp_path / "cut", "--max-steps", "10", "--schedule-steps", "20")
    assert sorted(os.listdir(tmp_path / "cut")) == ["metrics.jsonl", "step-00000007", "step-00000010"]
    run(tokens_dir, tmp_path / "cut", "--max-steps", "20")
    run(tokens_dir, tmp_path / "whole", "--max-steps", "20")
    path_a, model_a, optim_a = final_state(tmp_path / "cut")
    path_b, model_b, optim_b = final_state(tmp_path / "whole")
    assert path_a.endswith("step-00000020") and path_b.endswith("step-00000020")
    assert_same(model_a, model_b)
    assert_same(optim_a["state"], optim_b["state"])
    assert losses(tmp_path / "cut") == losses(tmp_path / "whole")
    # validation: the same fixed batches every 5 steps, on schedule across the resume
    assert val_losses(tmp_path / "cut") == val_losses(tmp_path / "whole")
    assert sorted(val_losses(tmp_path / "cut")) == [0, 5, 10, 15, 20]  # 0: the untrained baseline
    trainer = json.loads((tmp_path / "cut" / "step-00000020" / "trainer.json").read_text())
    assert trainer["cursor"] == 20 * 2 * 4 and trainer["step"] == 20
    vals = {s: v for s, v in val_losses(tmp_path / "whole").items() if s}
    assert trainer["best_val"] == {"step": min(vals, key=vals.get), "loss": min(vals.values())}



@pytest.mark.slow  # a second process
def test_sigterm_checkpoints_then_resume_is_exact(tokens_dir, tmp_path):
    ckpt = tmp_path / "killed"
    cmd = [sys.executable, "-m", "corpus.train", "--tokens", str(tokens_dir), "--preset", "tiny",
           "--device", "cpu", "--dtype", "fp32", "--batch-size", "4", "--grad-accum", "2",
           "--seq-len", str(SEQ_LEN), "--warmup-steps", "3", "--log-every", "1",
           "--ckpt-dir", str(ckpt), "--ckpt-every", "100000", "--max-steps", "100000",
           "--schedule-steps", "40"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (ckpt / "metrics.jsonl").exists() and (ckpt / "metrics.jsonl").read_text().count('"loss"') >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    from corpus.train.checkpoint import latest

    killed_at = int(latest(str(ckpt)).rsplit("-", 1)[1])
    assert 3 <= killed_at < 100000 and b"SIGTERM" in err
    target = str(killed_at + 3)
    run(tokens_dir, ckpt, "--max-steps", target, "--schedule-steps", "40")
    run(tokens_dir, tmp_path / "whole", "--max-steps", target, "--schedule-steps", "40")
    assert_same(final_state(ckpt)[1], final_state(tmp_path / "whole")[1])


@pytest.mark.slow  # a training run end to end
def test_loss_falls_on_real_text(tokens_dir, tmp_path):
    run(tokens_dir, tmp_path / "c", "--max-steps", "40", "--lr", "3e-3", "--batch-size", "8")
    curve = losses(tmp_path / "c")
    first, last = np.mean([curve[s] for s in range(1, 6)]), np.mean([curve[s] for s in range(36, 41)])
    assert first > 8.0 and last < first - 1.0, (first, last)
    vals = val_losses(tmp_path / "c")  # every 5 steps (the fixture's few long books make it noisy)
    assert sorted(vals) == [5 * k for k in range(0, 9)] and all(np.isfinite(list(vals.values())))


def test_model_is_causal_and_presets_have_welm_shapes():
    torch.manual_seed(0)
    m = Transformer(preset("tiny", vocab_size=100, seq_len=16)).eval()
    x = torch.randint(0, 100, (2, 16))
    y = x.clone()
    y[:, 10:] = (y[:, 10:] + 1) % 100
    with torch.no_grad():
        assert torch.allclose(m(x)[:, :10], m(y)[:, :10], atol=1e-6)
        assert not torch.allclose(m(x)[:, 10:], m(y)[:, 10:])
    for name, layers, hidden, heads, billions in [("1.3b", 24, 2048, 16, 1.36), ("2.7b", 32, 2560, 32, 2.70),
                                                  ("10b", 32, 5120, 40, 10.47)]:
        cfg = preset(name)
        assert (cfg.n_layer, cfg.d_model, cfg.n_head, cfg.seq_len) == (layers, hidden, heads, 2048)
        with torch.device("meta"):
            assert round(Transformer(cfg).num_params() / 1e9, 2) == billions
    assert flops_per_token(preset("1.3b"), 2048) == pytest.approx(9.37e9, rel=0.01)


def test_ranks_read_disjoint_blocks_and_the_cursor_restores_position(tokens_dir):
    r0, r1 = Batches(str(tokens_dir), 3, SEQ_LEN, 0, 2), Batches(str(tokens_dir), 3, SEQ_LEN, 1, 2)
    rows = r0.shards.rows(0, 12)
    cpu = torch.device("cpu")
    for step in range(2):
        (x0, y0), (x1, _) = r0.next(cpu), r1.next(cpu)
        assert torch.equal(x0, torch.from_numpy(rows[6 * step:6 * step + 3, :-1].astype(np.int64)))
        assert torch.equal(x1, torch.from_numpy(rows[6 * step + 3:6 * step + 6, :-1].astype(np.int64)))
        assert torch.equal(x0[:, 1:], y0[:, :-1])
    again = Batches(str(tokens_dir), 3, SEQ_LEN, 0, 2, cursor=r0.cursor)
    assert torch.equal(again.next(cpu)[0], r0.next(cpu)[0])


@pytest.mark.slow  # torchrun with two processes
@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_two_processes_resume_the_single_process_run(tokens_dir, tmp_path, mode):
    """A 2-step single-process checkpoint resumed by torchrun with 2 CPU processes (gloo) of
    4 sequences each follows the single-process run with 8."""
    common = ["--tokens", str(tokens_dir), "--preset", "tiny", "--device", "cpu", "--dtype", "fp32",
              "--grad-accum", "2", "--seq-len", str(SEQ_LEN), "--warmup-steps", "2", "--log-every", "1",
              "--schedule-steps", "4"]
    loop.train(loop.parse_args([*common, "--batch-size", "8", "--max-steps", "4",
                                "--ckpt-dir", str(tmp_path / "one")]))
    loop.train(loop.parse_args([*common, "--batch-size", "8", "--max-steps", "2",
                                "--ckpt-dir", str(tmp_path / mode)]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "corpus.train", *common, "--batch-size", "4", "--max-steps", "4",
           "--ckpt-dir", str(tmp_path / mode)] + (["--fsdp"] if mode == "fsdp" else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert b"resumed from" in done.stderr
    one, two = losses(tmp_path / "one"), losses(tmp_path / mode)
    assert one.keys() == two.keys() and all(abs(one[s] - two[s]) < 1e-4 for s in one)
    from corpus.train.checkpoint import load_model

    resumed = load_model(str(tmp_path / mode))[0].state_dict()  # model.pt, or --fsdp's shards
    for k, v in final_state(tmp_path / "one")[1].items():
        assert torch.allclose(v, resumed[k], atol=1e-5), k


# --- issue 16: defaults that fit the run, complete help, one-line user errors -------------

def test_warmup_and_schedule_scale_with_max_steps():
    short = loop.parse_args(["--tokens", "t", "--max-steps", "20"])
    assert (short.warmup_steps, short.schedule_steps) == (2, 20)
    assert loop.learning_rate(1, short) == short.lr and loop.learning_rate(19, short) < 0.12 * short.lr
    assert loop.parse_args(["--tokens", "t", "--max-steps", "100000"]).warmup_steps == 2000
    assert loop.parse_args(["--tokens", "t", "--max-steps", "5"]).warmup_steps == 1
    given = loop.parse_args(["--tokens", "t", "--max-steps", "20", "--warmup-steps", "7",
                             "--schedule-steps", "50"])
    assert (given.warmup_steps, given.schedule_steps) == (7, 50)


def test_help_is_complete_and_shows_every_default():
    parser = loop.build_parser()
    text = parser.format_help()
    assert "or under torchrun:" not in text and "one process per GPU)." in text
    formatter = parser._get_formatter()
    for action in parser._actions:
        if action.dest == "help":
            continue
        helped = formatter._get_help_string(action)
        assert action.help and "default" in helped, action.dest
    assert "min(2000, max(1, --max-steps // 10))" in " ".join(text.split()).replace("--max- steps", "--max-steps")


def _cli(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "corpus.train", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def _one_line_error(done):
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("corpus-train: error: ")
    return lines[0]


@pytest.mark.slow  # runs the CLI in subprocesses
def test_resume_with_another_preset_is_one_line(tokens_dir, tmp_path):
    run(tokens_dir, tmp_path / "c", "--max-steps", "1")
    line = _one_line_error(_cli("--tokens", str(tokens_dir), "--preset", "125m", "--device", "cpu",
                                "--ckpt-dir", str(tmp_path / "c"), "--max-steps", "2"))
    assert "step-00000001" in line and "tiny" in line and "--preset tiny" in line and "--ckpt-dir" in line


@pytest.mark.slow  # runs the CLI in subprocesses
def test_user_errors_are_one_line(tokens_dir, tmp_path):
    line = _one_line_error(_cli("--tokens", str(tmp_path / "nowhere"), "--preset", "tiny", "--device", "cpu"))
    assert "nowhere" in line and "export-tokens" in line
    line = _one_line_error(_cli("--tokens", str(tokens_dir), "--preset", "tiny", "--device", "cpu",
                                "--seq-len", "4096"))
    assert "--seq-len 4096" in line and "tokens.seq_len" in line
    _one_line_error_usage = _cli("--preset", "tiny")  # argparse: usage + one error line, status 2
    assert _one_line_error_usage.returncode == 2 and "Traceback" not in _one_line_error_usage.stderr
    assert "--tokens is required" in _one_line_error_usage.stderr


def test_mfu_is_na_on_cpu(tokens_dir, tmp_path, capsys):
    row = run(tokens_dir, tmp_path / "c", "--max-steps", "1", "--eval-every", "0")
    assert row["mfu"] is None
    err = capsys.readouterr().err
    assert "MFU n/a" in err and "mix (tokens by source): books 75.0%, forums 25.0%" in err


def test_dry_run_prints_the_10b_memory_per_gpu(capsys):
    assert loop.main(["--dry-run", "--preset", "10b"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("10b: 10.47 B parameters")
    rows = {int(line.split()[0]): [float(x) for x in line.split()[1:]] for line in out[2:]}
    assert set(rows) == {8, 64}
    n = 10.47e9
    assert rows[8][3] == pytest.approx(n * 16 / 8 / 2**30, rel=0.01)     # ~19.5 GiB
    assert rows[64][3] == pytest.approx(n * 16 / 64 / 2**30, rel=0.01)   # ~2.4 GiB


# --- issue 17: sharded checkpoints (torch.distributed.checkpoint) under --fsdp ----------------

def _train_proc(tokens_dir, ckpt, nproc, batch, steps, *extra):
    common = ["--tokens", str(tokens_dir), "--preset", "tiny", "--device", "cpu", "--dtype", "fp32",
              "--grad-accum", "2", "--seq-len", str(SEQ_LEN), "--warmup-steps", "2", "--log-every", "1",
              "--schedule-steps", "4", "--eval-every", "2", "--eval-batches", "2", "--fsdp",
              "--batch-size", str(batch), "--max-steps", str(steps), "--ckpt-dir", str(ckpt), *extra]
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc)] if nproc > 1 else []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *launcher, "-m", "corpus.train", *common], cwd=REPO, env=env,
                          capture_output=True, timeout=240)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return done.stderr.decode()


@pytest.mark.slow  # five launches of one or two processes
def test_sharded_checkpoints_resume_with_the_same_and_another_world_size(tokens_dir, tmp_path):
    """--fsdp checkpoints are one file per rank (no gather); a run resumed from them with 2
    processes (same world), 1 (2 -> 1) or from a 1-process one with 2 (1 -> 2) follows the
    uninterrupted single-process run (2 x 4 sequences per micro-batch = 1 x 8)."""
    import shutil

    from corpus.train.checkpoint import load_model

    common = ["--tokens", str(tokens_dir), "--preset", "tiny", "--device", "cpu", "--dtype", "fp32",
              "--grad-accum", "2", "--seq-len", str(SEQ_LEN), "--warmup-steps", "2", "--log-every", "1",
              "--schedule-steps", "4", "--eval-every", "2", "--eval-batches", "2"]
    loop.train(loop.parse_args([*common, "--batch-size", "8", "--max-steps", "4",
                                "--ckpt-dir", str(tmp_path / "one")]))
    _train_proc(tokens_dir, tmp_path / "two", 2, 4, 2, "--async-checkpoints")  # written in the background
    step2 = tmp_path / "two" / "step-00000002"
    assert sorted(os.listdir(step2 / "dcp")) == [".metadata", "__0_0.distcp", "__1_0.distcp"]
    assert not (step2 / "model.pt").exists()
    for name in ("same", "two_to_one"):
        shutil.copytree(tmp_path / "two", tmp_path / name)
    assert "resumed from" in _train_proc(tokens_dir, tmp_path / "same", 2, 4, 4)
    assert "resumed from" in _train_proc(tokens_dir, tmp_path / "two_to_one", 1, 8, 4)
    _train_proc(tokens_dir, tmp_path / "one_to_two", 1, 8, 2)
    assert "resumed from" in _train_proc(tokens_dir, tmp_path / "one_to_two", 2, 4, 4)
    one, vals = losses(tmp_path / "one"), val_losses(tmp_path / "one")
    reference = load_model(str(tmp_path / "one"))[0].state_dict()
    for name in ("same", "two_to_one", "one_to_two"):
        other = losses(tmp_path / name)
        assert one.keys() == other.keys() and all(abs(one[s] - other[s]) < 1e-4 for s in one), name
        assert all(abs(vals[s] - v) < 1e-4 for s, v in val_losses(tmp_path / name).items()), name
        resumed = load_model(str(tmp_path / name))[0].state_dict()  # read back from the shards
        for k, v in reference.items():
            assert torch.allclose(v, resumed[k], atol=1e-5), (name, k)
