"""Every command README.md and docs/ show is checked against the code (issue 32), so the docs
cannot drift from it: Hydra CLIs' overrides compose, argparse programs' arguments parse,
make targets exist, scripts exist (tests/docs_support.py says how each kind is checked; nothing
is trained or run for real). One test per doc line, named ``<file>:<line>``; the self-tests
below show that each check can fail. The ``slow`` tests run each documented program's
``--help`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from docs_support import (
    REPO,
    SHELL_LANGUAGES,
    DocCommand,
    DocCommandError,
    check_command,
    commands_in,
    doc_commands,
    doc_fences,
    python_programs,
    split_commands,
    strip_prefix,
)

COMMANDS = doc_commands()
PROGRAMS = ("python", "python3", "make")


def _id(command: DocCommand) -> str:
    return f"{command.where}{'-inline' if command.inline else ''}"


@pytest.mark.parametrize("command", COMMANDS, ids=[_id(c) for c in COMMANDS])
def test_documented_command(command: DocCommand):
    error = None
    try:
        check_command(command)
    except DocCommandError as err:
        error = str(err)
    if error is not None:
        pytest.fail(error, pytrace=False)


def test_the_docs_show_commands():
    """An extraction that silently finds nothing would pass every test above."""
    fenced = [c for c in COMMANDS if not c.inline]
    assert any(c.path == "README.md" for c in fenced), "no fenced command found in README.md"
    assert len(fenced) >= 20, f"only {len(fenced)} fenced commands found in README.md and docs/"
    assert any("iodvideo.train" in c.text for c in fenced)


def test_every_fence_names_its_language():
    """```bash for commands, ```text for output and listings: an unnamed fence could hide a
    command from the tests above."""
    unnamed = [f"{f.path}:{f.line}" for f in doc_fences() if not f.language]
    assert not unnamed, f"fences without a language (```bash / ```text ...): {unnamed}"


def test_no_command_hides_in_a_non_shell_fence():
    hidden = []
    for fence in doc_fences():
        if fence.language in SHELL_LANGUAGES or fence.language in ("python", "py", "yaml"):
            continue
        for number, text in fence.lines:
            try:
                segments = split_commands(text.strip().removeprefix("$ "), {})
            except DocCommandError:
                continue
            for words in segments:
                argv = strip_prefix(words)[1]
                if len(argv) > 1 and argv[0].text.rsplit("/", 1)[-1] in PROGRAMS:
                    hidden.append(f"{fence.path}:{number}: {text.strip()}")
                    break
    assert not hidden, "commands in a ```text (or unnamed) fence, not checked:\n" + "\n".join(
        hidden)


# ---- self-tests: each kind of check rejects a wrong command, accepts the legitimate forms


def _check_markdown(markdown: str) -> list[str]:
    commands = commands_in(markdown, "SELFTEST.md")
    assert commands, "no command found"
    done = []
    for command in commands:
        done.extend(check_command(command))
    return done


def _bash(*lines: str) -> str:
    return "```bash\n" + "\n".join(lines) + "\n```\n"


@pytest.mark.parametrize(("line", "error"), [
    ("python -m iodvideo.train trainer.max_epochz=1", "Could not override 'trainer.max_epochz'"),
    ("python -m iodvideo.train backbone=resnet99", "Could not find 'backbone/resnet99'"),
    ("python -m iodvideo.train +trainer.max_epochs=1", "trainer.max_epochs"),
    ("python -m iodvideo.train ~no_such_key", "no_such_key"),
    ("python -m iodvideo.train data.root", "data.root"),
    ("python -m iodvideo.train backbone=tsm,tin", "Ambiguous value"),
    ("python -m iodvideo.train -m backbone=tsm,no_such_backbone", "no_such_backbone"),
    ("python -m iodvideo.train -m experiment=cpu_backbones data.nope=1", "data.nope"),
    ("python -m iodvideo.train --cfg jobs", "Hydra refuses"),
    ("python -m iodvideo.synth stats num_vidoes=3", "num_vidoes"),
    ("python -m iodvideo.eval data=synth", "exactly one of"),
    ("python -m iodvideo.predict ckpt=last.ckpt", "input=... required"),
    ("python -m iodvideo.export ckpt=last.ckpt format=tflite", "format must be one of"),
    ("python -m iodvideo.monitor ckpt=a.ckpt source=0 serve.enabled=true serve.host=0.0.0.0",
     "set a token first"),
    ("python -m iodvideo.trian backbone=tsm", "no such module"),
    ("python -m iodvideo.convert_checkpoint a.pth --out-file b.ckpt", "do not parse"),
    ("python -m iodvideo.data.convert data/synth --to gif", "do not parse"),
    ("python scripts/no_such_script.py", "no such file"),
    ("python scripts/collect.py", "do not parse"),
    ("make no-such-target", "no such target"),
    ("make train ARGS=\"trainer.max_epochz=1\"", "trainer.max_epochz"),
    ("make lint ARGS=src", "does not use ['ARGS']"),
    ("python -m pytest tests/test_no_such_file.py", "no such test path"),
    ("python -c 'print(('", "python -c"),
    ("frobnicate --all", "unknown command 'frobnicate'"),
    ("python -m iodvideo.train 'data.root=x", "unterminated single quote"),
])
def test_the_checker_rejects(line: str, error: str):
    with pytest.raises(DocCommandError) as caught:
        _check_markdown(_bash(line))
    message = str(caught.value)
    assert message.startswith("SELFTEST.md:2: "), message  # the doc's file and line first
    assert error in message, message


def test_the_checker_rejects_inline_commands_and_names_their_line():
    with pytest.raises(DocCommandError, match=r"^SELFTEST.md:3: .*max_epochz"):
        _check_markdown("# t\n\nRun `make train ARGS=\"trainer.max_epochz=1\"` once.\n")


def test_the_checker_accepts_the_documented_forms():
    done = _check_markdown(_bash(
        "# a comment line, then a continuation, an env prefix, a placeholder, a comment",
        "OMP_NUM_THREADS=1 python -m iodvideo.train backbone=resnet \\",
        "  ckpt_path=outputs/train/<run>/checkpoints/last.ckpt   # resume",
        "python -m iodvideo.train experiment=paper data.root=/d [trainer=ddp data.batch_size=8]",
        "python -m iodvideo.train -m experiment=cpu_backbones backbone=tsm,tin loss.sta=true",
        "python -m iodvideo.train --cfg job trainer.max_epochs=1",
        "python -m iodvideo.train --help",
        "nohup /usr/bin/time -v make train ARGS=\"experiment=smoke\" > train.log 2>&1 &",
        "rm -rf data/synth && make train",
        "python -m iodvideo.synth stats seed=<seed> num_videos=<n>",
        "V=TrueLeakedGas/cam1",
        "python -m iodvideo.eval ckpt=<ckpt> data=videos data.root=data/cam1 \\",
        "  \"data.videos.train=[$V]\" 'data.frames.train=[0.0,0.2]'",
        "export IODVIDEO_MONITOR_TOKEN=$(python -c \"import secrets; print(secrets.token_hex())\")",
        "python -m iodvideo.monitor ckpt=<ckpt> source=0 serve.enabled=true serve.host=0.0.0.0",
        "python -m iodvideo.convert_checkpoint TEA_STA_K8S1_model_last.pth -o tea.ckpt",
        "python -m iodvideo.data.convert --from csv boxes.csv --resolution 320x240 -o d/x.pkl",
        ".venv/bin/python scripts/collect.py multirun/<time> --out results/x",
        "pip install -e . && git status",
    ) + "```console\n$ make test-fast\nsome output\n```\n")
    assert "assignment" in done and "ignored: pip" in done and "ignored: git" in done
    # -m: the first job, then splits 2 and 3 of the experiment's sweep (backbone=tin: a group
    # option, checked to exist)
    assert "python -m iodvideo.train: 3 job(s) of train.yaml checked" in done, done


def test_extraction_joins_continuations_and_splits_chains():
    commands = commands_in(
        "text `make lint` and `not a command`\n\n"
        "```bash\n# comment\nmake install && \\\n  make test   # c\n```\n"
        "```text\npython -m iodvideo.train nope=1\n```\n", "X.md")
    assert [(c.line, c.text, c.inline) for c in commands] == [
        (5, "make install && make test   # c", False), (1, "make lint", True)]
    assert split_commands("A=1 nohup python x.py 2>&1 > log & echo 'a b' | tee f", {}) == [
        split_commands("A=1 nohup python x.py", {})[0], split_commands("echo 'a b'", {})[0],
        split_commands("tee f", {})[0]]


# ---- slow: each documented program's --help in a subprocess (the real entry point)


@pytest.mark.slow
@pytest.mark.parametrize("program", python_programs(COMMANDS))
def test_documented_program_help_runs(program: str):
    argv = program.split() if program.startswith("-m ") else [program]
    proc = subprocess.run([sys.executable, *argv, "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip()
