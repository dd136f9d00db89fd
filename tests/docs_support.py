"""The commands README.md and docs/ show, and the checks that keep them runnable
(tests/test_docs_commands.py).

What counts as a command: every line of a fenced ```bash / ```sh / ```shell / ```zsh block
(``$ ``-prompted lines of a ```console block), with ``\\`` continuations joined and ``#``
comments dropped; ``&&`` / ``||`` / ``;`` / ``|`` chains are split, leading ``NAME=value``
assignments and wrappers (``nohup``, ``time``, ``env`` ...) stripped, redirections and a
trailing ``&`` dropped. ``V=value`` and ``export V=value`` lines set ``$V`` for the rest of
their block. Inline code spans in the prose count too when one of their commands is a
``python`` or ``make`` command. Doc conventions the checker understands:

* ``<name>`` is a placeholder: replaced by ``PLACEHOLDER`` (``3`` where the name says a number:
  valid for a split, a count of videos, a seed ...),
* ``[args ...]`` (a word opening with an unbalanced ``[``) marks optional arguments: they are
  checked as if given,
* a bare ``...`` (or ``…``) word elides arguments and is dropped; an override whose key is a
  placeholder (``<key>=<value>``) is a synopsis and dropped too.

Inline spans are often fragments: their names, keys and options are checked, not that they are
complete (required keys and arguments, the CLI's own option checks).

How each kind is checked (nothing runs for real, no file is read but the sources and configs):

* ``python -m iodvideo.<cli>`` of a Hydra CLI: Hydra's own argument parser, then the CLI's
  config composed in-process with the overrides (unknown keys, group options and bad ``+``/``~``
  fail as they would in Hydra), every interpolation resolved, every ``_target_`` imported, the
  CLI's cheap option checks run (:data:`CLI_CHECKS`) and, for fenced commands that run the CLI,
  its required top-level keys (``???``) given. ``-m``: every value of every sweep (the
  experiment's ``hydra.sweeper.params`` included) once, the other sweeps at their first value.
* argparse CLIs and ``scripts/*.py``: the arguments parsed by the program's own parser,
  in-process, stopped right after parsing (a module's ``parse_args(argv)`` is called directly).
* ``make target [VAR=value]``: the target exists in the Makefile; a recipe line using a
  variable given on the command line (``ARGS="..."``) is expanded and checked as a command.
* ``python -m pytest`` / ``make test ARGS=...``: the test paths exist; ``python -c``: compiles.
* anything else: its first word must be in :data:`IGNORED_COMMANDS` (or it fails: a new kind of
  command has to be taught to this module or listed there on purpose).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import importlib.util
import io
import os
import re
import runpy
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHELL_LANGUAGES = {"bash", "sh", "shell", "zsh", "console", "shell-session"}
PLACEHOLDER = "PLACEHOLDER"
# placeholder names that stand for a number get "3" (split=<n>, --steps <count>, ...)
NUMERIC_PLACEHOLDER = re.compile(
    r"(?i)^(n|k|i|int|integer|number|num(_\w+)?|\w+_count|count|seed|split|epochs?|steps?|port|"
    r"fps|batch(_size)?|workers|frames|seconds|minutes|gpus|devices)$")
# commands that the docs may show but that have nothing of this project's to check: their
# first word (a path's base name). Any other first word fails, so that a new kind of command is
# taught to this module (or listed here) on purpose, never skipped silently.
IGNORED_COMMANDS = frozenset({
    "pip", "pip3", "git", "curl", "wget", "rm", "mkdir", "ls", "cp", "mv", "cat", "echo",
    "head", "tail", "tar", "unzip", "du", "df", "chmod", "ln", "touch", "open", "xdg-open",
    "ffmpeg", "ffprobe", "nvidia-smi", "tensorboard", "wandb", "apt-get", "apt", "sudo",
    "docker", "source", ".", "watch", "kill", "htop", "top", "lscpu", "nproc", "ruff",
    "jupyter", "uv", "conda", "diff", "sha256sum", "md5sum", "find", "grep", "sort", "wc",
    "tee", "less", "true", "false", "sleep", "unset", "deactivate", "scp", "rsync", "ssh",
})
# ``python -m X`` for modules outside this project
IGNORED_MODULES = frozenset({"pip", "venv", "build", "http.server", "jupyter", "notebook",
                             "nbconvert", "ruff", "tensorboard", "json.tool", "jupytext",
                             "cProfile", "timeit", "wandb"})
# wrappers in front of the real command, with their options that take a value
WRAPPERS = {"nohup": set(), "exec": set(), "time": set(), "/usr/bin/time": {"-o", "-f"},
            "env": {"-u", "-C"}, "timeout": {"-s", "-k"}, "nice": {"-n"}, "command": set(),
            "stdbuf": set()}
HYDRA_UNSUPPORTED = ("config_path", "config_dir", "experimental_rerun", "shell_completion")


class DocCommandError(Exception):
    """A documented command that would fail (or that this checker cannot follow)."""


# --------------------------------------------------------------------------------------------
# extraction


@dataclass(frozen=True)
class DocCommand:
    """One logical command line of a doc, with what its block set before it."""

    path: str  # relative to the repository, e.g. "README.md"
    line: int  # 1-based line where the command starts
    text: str  # as written (continuations joined)
    inline: bool = False  # an inline code span (often a fragment: required keys not checked)
    variables: tuple[tuple[str, str], ...] = ()  # V=value set earlier in the block
    exported: tuple[str, ...] = ()  # names exported earlier in the block
    cwd: str = "."  # after `cd` lines earlier in the block (relative to the repository)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Fence:
    path: str
    line: int  # the opening fence's line
    language: str  # first word of the info string, lower case ("" when none)
    lines: tuple[tuple[int, str], ...]  # (line number, text without the fence's indent)


FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*?)\s*$")


def doc_files(repo: Path = REPO) -> list[Path]:
    return [repo / "README.md", *sorted((repo / "docs").rglob("*.md"))]


def fences(text: str, path: str) -> tuple[list[Fence], list[tuple[int, str]]]:
    """The fenced blocks of a markdown text, and the lines outside them (number, text)."""
    blocks: list[Fence] = []
    prose: list[tuple[int, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        indent, marker = len(match["indent"]), match["fence"]
        start, body = i + 1, []
        i += 1
        while i < len(lines):
            close = FENCE.match(lines[i])
            if close and close["fence"][0] == marker[0] and len(close["fence"]) >= len(marker) \
                    and not close["info"]:
                break
            line = lines[i]
            strip = min(indent, len(line) - len(line.lstrip(" ")))
            body.append((i + 1, line[strip:]))
            i += 1
        i += 1  # the closing fence (or the end of the file)
        language = match["info"].split()[0].lower() if match["info"] else ""
        blocks.append(Fence(path, start, language, tuple(body)))
    return blocks, prose


def _logical_lines(block: Fence) -> Iterator[tuple[int, str]]:
    """(first line, text) of each command of a shell block: continuations joined; in a
    console block only ``$ `` lines (and their continuations) are commands."""
    console = block.language in ("console", "shell-session")
    parts: list[str] = []
    start = 0
    for number, text in block.lines:
        if console and not parts:
            stripped = text.lstrip()
            if not stripped.startswith("$"):
                continue  # output
            text = stripped[1:]
        elif console and parts and text.lstrip().startswith("> "):
            text = text.lstrip()[2:]
        if not parts:
            start = number
        body = text.rstrip()
        if body.endswith("\\") and not body.lstrip().startswith("#"):
            parts.append(body[:-1])
            continue
        parts.append(text)
        yield start, " ".join(p.strip() for p in parts)
        parts = []
    if parts:
        yield start, " ".join(p.strip() for p in parts)


def _block_commands(block: Fence) -> list[DocCommand]:
    """The commands of one shell block, each with the variables set before it."""
    commands: list[DocCommand] = []
    variables: dict[str, str] = {}
    exported: list[str] = []
    cwd = "."
    for number, text in _logical_lines(block):
        command = DocCommand(block.path, number, text, False, tuple(variables.items()),
                             tuple(exported), cwd)
        try:
            segments = split_commands(text, variables)
        except DocCommandError:  # its own test reports it
            commands.append(command)
            continue
        if not segments:
            continue  # blank or comment
        commands.append(command)
        for words in segments:  # what this line sets for the lines after it
            texts = [w.text for w in words]
            if texts and texts[0] == "export":
                for item in texts[1:]:
                    name, _, value = item.partition("=")
                    if value or "=" in item:
                        variables[name] = value
                    exported.append(name)
            elif texts and texts[0] == "cd" and len(texts) == 2:
                cwd = os.path.normpath(os.path.join(cwd, texts[1]))
            elif texts and all(ASSIGNMENT.match(t) for t in texts):
                for item in texts:
                    name, _, value = item.partition("=")
                    variables[name] = value
    return commands


INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


def _inline_commands(path: str, prose: list[tuple[int, str]]) -> list[DocCommand]:
    """Inline code spans that hold a python or make command."""
    found = []
    for number, text in prose:
        for match in INLINE.finditer(text):
            span = match[1].strip()
            try:
                segments = split_commands(span, {})
            except DocCommandError:
                continue  # not shell at all (a regex, a path with quotes ...)
            kinds = {_program(strip_prefix(words)[1]) for words in segments}
            if kinds & {"python", "make"}:
                found.append(DocCommand(path, number, span, True))
    return found


def _program(argv: list[Word]) -> str:
    if not argv:
        return ""
    name = os.path.basename(argv[0].text)
    return "python" if PYTHON.match(name) else name


def commands_in(text: str, path: str) -> list[DocCommand]:
    """The commands of one markdown text: its shell blocks', then its inline spans'."""
    blocks, prose = fences(text, path)
    commands = []
    for block in blocks:
        if block.language in SHELL_LANGUAGES:
            commands.extend(_block_commands(block))
    return commands + _inline_commands(path, prose)


def doc_commands(repo: Path = REPO) -> list[DocCommand]:
    """Every command of README.md and docs/**/*.md, in document order."""
    commands = []
    for file in doc_files(repo):
        if file.is_file():
            path = file.relative_to(repo).as_posix()
            commands.extend(commands_in(file.read_text(encoding="utf-8"), path))
    return sorted(commands, key=lambda c: (c.path != "README.md", c.path, c.line, c.inline))


def doc_fences(repo: Path = REPO) -> list[Fence]:
    blocks = []
    for file in doc_files(repo):
        if file.is_file():
            path = file.relative_to(repo).as_posix()
            blocks.extend(fences(file.read_text(encoding="utf-8"), path)[0])
    return blocks


# --------------------------------------------------------------------------------------------
# a small shell lexer: words (with quoting and $-expansion), operators, redirections


@dataclass(frozen=True)
class Word:
    text: str
    quoted: bool = False  # any part of it was quoted or escaped


ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
PLACEHOLDER_RE = re.compile(r"(?<!\?P)<([A-Za-z_][^<>\n]*?)(?<!\s)>")
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
PYTHON = re.compile(r"^python(3(\.\d+)?)?$")
MAKE_VARIABLE = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_]*\)")


def _make_variables() -> dict[str, str]:
    makefile = REPO / "Makefile"
    return read_makefile(makefile).variables if makefile.is_file() else {}


def _placeholder(match: re.Match) -> str:
    return "3" if NUMERIC_PLACEHOLDER.match(match[1].strip()) else PLACEHOLDER


def _command_substitution_end(text: str, start: int) -> int:
    """Index just past the ``)`` closing the ``$(`` whose body starts at ``start``."""
    depth, i, quote = 1, start, ""
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"':
                i += 1
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise DocCommandError("unterminated $( in the command")


def split_commands(text: str, variables: dict[str, str]) -> list[list[Word]]:
    """The simple commands of one logical shell line (chains split, redirections and the
    trailing ``&`` dropped, ``$V`` expanded from ``variables``, placeholders replaced)."""
    text = PLACEHOLDER_RE.sub(_placeholder, text)
    segments: list[list[Word]] = [[]]
    chars: list[str] | None = None  # the word being read
    quoted = False
    drop_next = False  # the next word is a redirection's target
    i, n = 0, len(text)

    def end_word() -> None:
        nonlocal chars, quoted, drop_next
        if chars is not None:
            if drop_next:
                drop_next = False
            else:
                segments[-1].append(Word("".join(chars), quoted))
        chars, quoted = None, False

    def expand(j: int) -> tuple[str, int]:
        """The expansion of the ``$`` at ``j`` and the index after it."""
        make_variable = MAKE_VARIABLE.match(text, j)
        if make_variable:  # $(ARGS): a Makefile recipe quoted in the docs
            return expand_make(make_variable[0], _make_variables()), make_variable.end()
        if text.startswith("$(", j):
            return "CMDSUB", _command_substitution_end(text, j + 2)
        match = VARIABLE.match(text, j)
        if not match:
            return "$", j + 1
        name = match[1] or match[2]
        return variables.get(name, name.upper()), match.end()

    while i < n:
        c = text[i]
        if c in " \t":
            end_word()
            i += 1
        elif c == "#" and chars is None:
            break  # a comment
        elif c == "'":
            j = text.find("'", i + 1)
            if j < 0:
                raise DocCommandError("unterminated single quote")
            chars = (chars or []) + list(text[i + 1:j])
            quoted, i = True, j + 1
        elif c == '"':
            chars, quoted, i = chars or [], True, i + 1
            while True:
                if i >= n:
                    raise DocCommandError("unterminated double quote")
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < n and text[i + 1] in '"\\$`':
                    chars.append(text[i + 1])
                    i += 2
                elif c == "$":
                    value, i = expand(i)
                    chars.extend(value)
                else:
                    chars.append(c)
                    i += 1
        elif c == "\\":
            chars = (chars or []) + ([text[i + 1]] if i + 1 < n else [])
            quoted, i = True, i + 2
        elif c == "$":
            value, i = expand(i)
            chars = (chars or []) + list(value)
        elif c in "<>" or (c == "&" and text.startswith("&>", i)):
            # a redirection: an fd number right before it belongs to it, its target is dropped
            if chars is not None and not quoted and "".join(chars).isdigit():
                chars = None
            end_word()
            i += 2 if c == "&" else 1
            while i < n and text[i] in "<>":
                i += 1
            if i < n and text[i] == "&":  # >&2, 2>&1: a duplication, no file
                i += 1
                while i < n and (text[i].isdigit() or text[i] == "-"):
                    i += 1
            else:
                drop_next = True
        elif c in "&|;":
            end_word()
            if drop_next:
                raise DocCommandError("a redirection without its target")
            op = text[i:i + 2] if text[i:i + 2] in ("&&", "||") else c
            i += len(op)
            if text.startswith("&", i) and op == "|":
                i += 1  # |&
            segments.append([])
        elif c in "()":
            raise DocCommandError("subshells and groups are not supported in doc commands")
        else:
            chars = (chars or []) + [c]
            i += 1
    end_word()
    if drop_next:
        raise DocCommandError("a redirection without its target")
    return [s for s in segments if s]


def strip_prefix(words: list[Word]) -> tuple[dict[str, str], list[Word]]:
    """Leading ``NAME=value`` assignments and wrappers (nohup, time, env ...) split off."""
    env: dict[str, str] = {}
    i = 0
    while i < len(words):
        text = words[i].text
        if ASSIGNMENT.match(text):
            name, _, value = text.partition("=")
            env[name] = value
            i += 1
        elif text in WRAPPERS:
            takes_value = WRAPPERS[text]
            i += 1
            if text == "timeout":  # its duration
                while i < len(words) and words[i].text.startswith("-"):
                    i += 2 if words[i].text in takes_value else 1
                i += 1
            while i < len(words) and words[i].text.startswith("-"):
                i += 2 if words[i].text in takes_value else 1
        else:
            break
    return env, words[i:]


ELISIONS = ("...", "\u2026")


def _optional_and_elided(words: list[Word]) -> list[Word]:
    """``[args ...]`` optional groups opened (their brackets removed: no override or option
    starts with ``[``), ``...`` and ``…`` dropped."""
    out: list[Word] = []
    optional = False
    for word in words:
        text = word.text
        if word.quoted:
            out.append(word)
            continue
        if text in ELISIONS:
            continue
        if not optional and text.startswith("["):
            optional, text = True, text[1:]
        if optional and text.endswith("]") and text.count("]") > text.count("["):
            optional, text = False, text[:-1]
        if text and text not in ELISIONS:
            out.append(Word(text, word.quoted))
    return out


# --------------------------------------------------------------------------------------------
# checking


@dataclass
class Context:
    command: DocCommand
    env: dict[str, str] = field(default_factory=dict)  # variables the program would see
    cwd: Path = REPO


def check_command(command: DocCommand) -> list[str]:
    """Check every simple command of ``command``; raise DocCommandError naming the doc line.
    Returns what was done for each (for the test output and the self-tests)."""
    try:
        return _check(command)
    except DocCommandError as err:
        raise DocCommandError(f"{command.where}: {command.text}\n    -> {err}") from None


def _check(command: DocCommand) -> list[str]:
    segments = split_commands(command.text, dict(command.variables))
    exported = {name: "x" * 64 for name in command.exported}  # dummy values (tokens: long)
    done = []
    for words in segments:
        env, argv = strip_prefix(words)
        if not argv:
            done.append("assignment")
            continue
        context = Context(command, {**exported, **env}, (REPO / command.cwd).resolve())
        done.append(check_argv(_optional_and_elided(argv), context))
    return done


def check_argv(argv: list[Word], context: Context) -> str:
    program = argv[0].text
    args = [w.text for w in argv[1:]]
    name = os.path.basename(program)
    if PYTHON.match(name):
        return check_python(args, context)
    if name == "make":
        return check_make(args, context)
    if name in ("export", "cd"):
        return name
    if name in IGNORED_COMMANDS:
        return f"ignored: {name}"
    raise DocCommandError(
        f"unknown command {program!r}: teach tests/docs_support.py to check it, or add it to "
        "IGNORED_COMMANDS there if it has nothing of this project's to check")


PYTHON_VALUE_OPTIONS = {"-X", "-W", "-Q"}


def check_python(args: list[str], context: Context) -> str:
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] not in ("-m", "-c"):
        i += 2 if args[i] in PYTHON_VALUE_OPTIONS else 1
    if i >= len(args):
        raise DocCommandError("python without a module, script or -c")
    if args[i] == "-c":
        if i + 1 >= len(args):
            raise DocCommandError("python -c without code")
        try:
            compile(args[i + 1], "<python -c>", "exec")
        except SyntaxError as err:
            raise DocCommandError(f"python -c: {err}") from None
        return "python -c: compiles"
    if args[i] == "-m":
        if i + 1 >= len(args):
            raise DocCommandError("python -m without a module")
        return check_module(args[i + 1], args[i + 2:], context)
    return check_script(args[i], args[i + 1:], context)


# ---- modules


@cache
def module_source(module: str) -> tuple[str, str] | None:
    """(origin, source) of an importable module (a package's __main__), None if not found."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations is not None:  # a package: python -m runs __main__
        return module_source(f"{module}.__main__")
    if not spec.origin or not spec.origin.endswith(".py"):
        return None
    return spec.origin, Path(spec.origin).read_text(encoding="utf-8")


def hydra_config_name(source: str) -> str | None:
    match = re.search(r"@hydra\.main\(([^)]*)\)", source)
    if not match:
        return None
    name = re.search(r"config_name\s*=\s*[\"']([^\"']+)[\"']", match[1])
    if not name:
        raise DocCommandError("@hydra.main without a literal config_name")
    return name[1]


def cli_modules() -> list[str]:
    """The project's ``python -m iodvideo.<name>`` entry points (top-level modules)."""
    package = REPO / "src" / "iodvideo"
    return sorted(f"iodvideo.{p.stem}" for p in package.glob("*.py")
                  if "__main__" in p.read_text(encoding="utf-8") and p.stem != "__main__")


def check_module(module: str, args: list[str], context: Context) -> str:
    if PLACEHOLDER in module:  # python -m iodvideo.<cli> --help: every CLI
        pattern = re.compile("^" + re.escape(module).replace(PLACEHOLDER, r"\w+") + "$")
        matches = [m for m in cli_modules() if pattern.match(m)]
        if not matches:
            raise DocCommandError(f"no entry point matches python -m {module}")
        return "; ".join(check_module(m, args, context) for m in matches)
    if module in IGNORED_MODULES:
        return f"ignored: python -m {module}"
    if module == "pytest":
        return check_pytest(args, context)
    if not module.startswith("iodvideo"):
        raise DocCommandError(f"python -m {module}: not a module of this project; teach "
                              "tests/docs_support.py to check it or add it to IGNORED_MODULES")
    found = module_source(module)
    if found is None:
        raise DocCommandError(f"python -m {module}: no such module")
    _origin, source = found
    if "__main__" not in source:
        raise DocCommandError(f"python -m {module}: the module has no __main__ entry point")
    config_name = hydra_config_name(source)
    if config_name is not None:
        return check_hydra(module, config_name, source, args, context)
    if "ArgumentParser" in source:
        return check_argparse(module, args, context, is_module=True)
    raise DocCommandError(f"python -m {module}: neither a Hydra nor an argparse program; teach "
                          "tests/docs_support.py how to check its arguments")


def check_script(script: str, args: list[str], context: Context) -> str:
    path = (context.cwd / script).resolve()
    if not path.is_file():
        raise DocCommandError(f"{script}: no such file (from {os.path.relpath(context.cwd, REPO)})")
    if path.suffix != ".py":
        raise DocCommandError(f"{script}: not a python script")
    if "ArgumentParser" not in path.read_text(encoding="utf-8"):
        return f"{script}: exists (takes no argparse arguments)"
    return check_argparse(str(path), args, context, is_module=False)


# ---- argparse programs


class _Parsed(BaseException):
    """Raised right after the program's outermost argparse call returns (a BaseException: the
    program's own ``except Exception`` lets it through)."""


@contextlib.contextmanager
def _stop_after_parsing() -> Iterator[None]:
    parser_class = argparse.ArgumentParser
    originals = {name: getattr(parser_class, name)
                 for name in ("parse_args", "parse_known_args", "parse_intermixed_args",
                              "parse_known_intermixed_args") if hasattr(parser_class, name)}
    depth = 0

    def wrap(original):
        def patched(self, *args, **kwargs):
            nonlocal depth
            depth += 1
            try:
                result = original(self, *args, **kwargs)
            finally:
                depth -= 1
            if depth == 0:
                raise _Parsed(result)
            return result
        return patched

    for name, original in originals.items():
        setattr(parser_class, name, wrap(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(parser_class, name, original)


@contextlib.contextmanager
def _isolated_process_state(argv: list[str]) -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """sys.argv set; sys.path, os.environ and the streams restored afterwards."""
    saved_argv, saved_path, saved_env = sys.argv[:], sys.path[:], dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    sys.argv = argv
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield out, err
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_env)


def check_argparse(program: str, args: list[str], context: Context, is_module: bool) -> str:
    """Parse ``args`` with the program's own parser, in-process, without running it."""
    shown = f"python -m {program}" if is_module else Path(program).relative_to(REPO).as_posix()
    if is_module:
        module = importlib.import_module(program)
        direct = getattr(module, "parse_args", None)
    else:
        direct = None
    with _isolated_process_state([program, *args]) as (_out, err):
        try:
            if callable(direct):
                direct(list(args))
            else:
                with _stop_after_parsing():
                    if is_module:
                        runpy.run_module(program, run_name="__main__", alter_sys=True)
                    else:
                        runpy.run_path(program, run_name="__main__")
        except _Parsed:
            pass
        except SystemExit as exit_:
            message = err.getvalue().strip().splitlines()[-1:]
            if context.command.inline and "required" in "".join(message):
                return f"{shown}: arguments parse (a fragment: {message[0]})"
            if exit_.code not in (0, None):
                raise DocCommandError(f"{shown}: its arguments do not parse: "
                                      f"{err.getvalue().strip().splitlines()[-1:]}") from None
        except Exception as error:  # any failure before parsing is the doc's
            raise DocCommandError(f"{shown}: failed before parsing its arguments: "
                                  f"{type(error).__name__}: {error}") from None
        else:
            if not callable(direct):
                raise DocCommandError(f"{shown}: returned without parsing arguments with "
                                      "argparse; teach tests/docs_support.py to check it")
    return f"{shown}: arguments parse"


# ---- pytest


def check_pytest(args: list[str], context: Context) -> str:
    paths = [a for a in args if not a.startswith("-")
             and ("/" in a or a.endswith(".py") or "::" in a)]
    for item in paths:
        if not (context.cwd / item.split("::")[0]).exists():
            raise DocCommandError(f"pytest: {item}: no such test path")
    return f"pytest: {len(paths)} test path(s) exist"


# ---- make


@dataclass(frozen=True)
class Makefile:
    variables: dict[str, str]
    targets: dict[str, list[str]]  # name -> recipe lines (raw)
    first: str


@cache
def read_makefile(path: Path) -> Makefile:
    variables: dict[str, str] = {}
    targets: dict[str, list[str]] = {}
    current: list[str] | None = None
    first = ""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):  # continuations
            i += 1
            line = line[:-1] + " " + lines[i].strip()
        i += 1
        if line.startswith("\t"):
            if current is not None:
                current.append(line[1:])
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assignment = re.match(
            r"^(?:export\s+|override\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(\?=|::=|:=|\+=|=)\s*(.*)$",
            line)
        if assignment:
            name, op, value = assignment.groups()
            if op == "?=" and name in variables:
                continue
            variables[name] = (variables.get(name, "") + " " + value).strip() \
                if op == "+=" else value
            current = None
            continue
        rule = re.match(r"^([^:#=][^:=]*?)\s*::?(?!=)(.*)$", line)
        if rule:
            recipe: list[str] = []
            for raw in rule[1].split():
                name = expand_make(raw, variables)
                if not name.startswith("."):
                    targets.setdefault(name, recipe)
                    first = first or name
            inline = rule[2].partition(";")
            if inline[1]:
                recipe.append(inline[2].strip())
            current = recipe
    return Makefile(variables, targets, first)


def expand_make(text: str, variables: dict[str, str], depth: int = 0) -> str:
    if depth > 20:
        raise DocCommandError(f"Makefile: recursive variable in {text!r}")

    def one(match: re.Match) -> str:
        if match[0] == "$$":
            return "\0"  # a literal $, put back after the expansion
        return expand_make(variables.get(match[1] or match[2] or match[3], ""), variables,
                           depth + 1)

    expanded = re.sub(r"\$\$|\$\(([^)]+)\)|\$\{([^}]+)\}|\$([A-Za-z_@<^])", one, text)
    return expanded if depth else expanded.replace("\0", "$")


def check_make(args: list[str], context: Context) -> str:
    makefile = context.cwd / "Makefile"
    if not makefile.is_file():
        raise DocCommandError(f"make: no Makefile in {context.cwd}")
    make = read_makefile(makefile)
    given: dict[str, str] = {}
    wanted: list[str] = []
    for arg in args:
        if ASSIGNMENT.match(arg):
            name, _, value = arg.partition("=")
            given[name] = value
        elif arg.startswith("-"):
            if arg in ("-C", "-f", "--file", "--directory") or arg.startswith(("-C", "-f")):
                raise DocCommandError(f"make {arg}: not supported by tests/docs_support.py")
        else:
            wanted.append(arg)
    done = []
    for target in wanted or [make.first]:
        if target not in make.targets:
            raise DocCommandError(f"make {target}: no such target in the Makefile "
                                  f"(targets: {', '.join(sorted(make.targets))})")
        variables = {**make.variables, **given}
        used = set()
        for line in make.targets[target]:
            names = {m[0] or m[1] for m in re.findall(r"\$\(([^)]+)\)|\$\{([^}]+)\}", line)}
            if not names & set(given):
                continue
            used |= names & set(given)
            recipe = expand_make(line, variables).lstrip("@-+ ")
            inner = DocCommand(context.command.path, context.command.line, recipe,
                               context.command.inline, exported=context.command.exported)
            try:
                done.extend(_check(inner))
            except DocCommandError as err:
                raise DocCommandError(f"make {target} runs `{recipe}`: {err}") from None
        unused = sorted(set(given) - used - set(make.variables))
        if unused:
            raise DocCommandError(f"make {target}: its recipe does not use {unused}")
        done.append(f"make {target}: target exists")
    return "; ".join(done)


# ---- Hydra CLIs


def _exists(cfg: Any, key: str) -> bool:
    from omegaconf import OmegaConf

    return OmegaConf.select(cfg, key, default=None, throw_on_missing=False) is not None


def _container(cfg: Any, key: str) -> Any:
    from omegaconf import OmegaConf

    node = OmegaConf.select(cfg, key, default=None)
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def _check_synth(cfg: Any, env: dict[str, str]) -> None:
    from iodvideo.synth import _split

    _split(cfg)


def _check_monitor(cfg: Any, env: dict[str, str]) -> None:
    from iodvideo.inference.adapt import AdaptOptions
    from iodvideo.inference.serve.auth import check_bind, resolve_token
    from iodvideo.inference.serve.options import ServeOptions
    from iodvideo.inference.stream.alarm import AlarmConfig

    serve = ServeOptions.from_mapping(_container(cfg, "serve"))
    if serve.enabled:  # the token rule, with the variables the doc exported before
        check_bind(serve.host, resolve_token(serve.token, environ=env))
    AdaptOptions.from_mapping(_container(cfg, "adapt"))
    AlarmConfig(**(_container(cfg, "alarm") or {}))


def _check_predict(cfg: Any, env: dict[str, str]) -> None:
    from iodvideo.inference.adapt import AdaptOptions

    AdaptOptions.from_mapping(_container(cfg, "adapt"))


def _check_eval(cfg: Any, env: dict[str, str]) -> None:
    from iodvideo.errors import ConfigError
    from iodvideo.evaluation.baselines import BASELINES
    from iodvideo.evaluation.sources import split_list

    ckpt, detections = _exists(cfg, "ckpt"), _exists(cfg, "detections")
    baseline = cfg.get("baseline")
    if ckpt and detections or not (ckpt or detections or baseline is not None):
        raise ConfigError("give exactly one of ckpt=<checkpoint> or detections=<directory> "
                          "(or baseline=copied_box alone)")
    if baseline is not None and baseline not in BASELINES:
        raise ConfigError(f"baseline={baseline}: not one of {sorted(BASELINES)}")
    split_list(cfg)


def _check_export(cfg: Any, env: dict[str, str]) -> None:
    from iodvideo.errors import ConfigError
    from iodvideo.export import FORMATS

    if str(cfg.format) not in FORMATS:
        raise ConfigError(f"format must be one of {FORMATS}, got {cfg.format!r}")


def _check_diagnose(cfg: Any, env: dict[str, str]) -> None:
    from iodvideo.diagnose import settings_of

    settings_of(cfg)


# config name -> the CLI's own option checks that need no file (run on the composed config)
CLI_CHECKS = {"synth": _check_synth, "monitor": _check_monitor, "predict": _check_predict,
              "eval": _check_eval, "export": _check_export, "diagnose": _check_diagnose}


@cache
def _hydra_parser() -> argparse.ArgumentParser:
    from hydra._internal.utils import get_args_parser

    return get_args_parser()


@dataclass
class _Sweep:
    key: str  # the override's key element (a +, ++ or ~ prefix included)
    name: str  # the key or group itself
    lines: list[str]  # one override line per value (one for a plain override)
    values: list[Any]  # the values as Hydra parses them
    plain: bool  # a change of a key with no prefix or package: values can be set directly


def _sweeps(overrides: list[str]) -> list[_Sweep]:
    """What Hydra's BasicSweeper makes of ``overrides``: one entry per key, a later override of
    a key replacing an earlier one (the command line's replace the config's sweeper params)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType

    by_key: dict[str, _Sweep] = {}
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.get_key_element()
        if override.is_sweep_override():
            if not override.is_discrete_sweep():
                raise DocCommandError(f"{override.input_line}: only discrete sweeps are "
                                      "supported by tests/docs_support.py")
            plain = override.type == OverrideType.CHANGE and not override.package
            by_key[key] = _Sweep(key, override.key_or_group,
                                 [f"{key}={v}" for v in override.sweep_string_iterator()],
                                 list(override.sweep_iterator()), plain)
        else:
            by_key[key] = _Sweep(key, override.key_or_group, [override.input_line], [None],
                                 False)
    return list(by_key.values())


_COMPOSED: dict[tuple[str, tuple[str, ...]], Any] = {}
_PASSED: set[tuple] = set()  # the jobs already checked (the docs repeat commands)


def _composed(config_name: str, overrides: list[str]) -> Any:
    """``compose`` with the Hydra config, cached: one object, shared by the callers."""
    from hydra import compose

    key = (config_name, tuple(overrides))
    if key not in _COMPOSED:
        _COMPOSED[key] = compose(config_name, overrides=list(overrides),
                                 return_hydra_config=True)
    return _COMPOSED[key]


Job = tuple[tuple[str, ...], Any, Any]  # its overrides, its composed config, an undo or None


def _multirun_jobs(config_name: str, overrides: list[str]) -> Iterator[Job]:
    """The jobs of a ``-m`` command to check: the first (every sweep at its first value, the
    experiment's ``hydra.sweeper.params`` included), then each other value of each sweep once,
    the rest at their first: a plain key's values set on the first job's config (undone after
    its check: a fraction of a composition's cost). A group's other options must exist
    (composing each, 9 backbones for a table sweep, would double the time of these tests;
    whether every option composes with every experiment is tests/test_configs.py's business)."""
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    first = _composed(config_name, [s.lines[0] for s in _sweeps(overrides)])
    params = first.hydra.sweeper.get("params") or {}
    sweeps = _sweeps([f"{key}={value}" for key, value in params.items()] + overrides)
    base = [s.lines[0] for s in sweeps]
    base_cfg = _composed(config_name, base)
    groups = set(base_cfg.hydra.runtime.choices)
    yield tuple(base), base_cfg, None
    for i, sweep in enumerate(sweeps):
        for line, value in zip(sweep.lines[1:], sweep.values[1:], strict=True):
            job = (*base[:i], line, *base[i + 1:])
            if sweep.name in groups:
                options = GlobalHydra.instance().config_loader().get_group_options(sweep.name)
                if str(value) not in options:
                    raise DocCommandError(f"{line}: no option {value!r} in the group "
                                          f"{sweep.name!r} (options: {', '.join(options)})")
            elif sweep.plain:
                OmegaConf.update(base_cfg, sweep.key, value, merge=False)
                yield job, base_cfg, lambda key=sweep.key, first=sweep.values[0]: \
                    OmegaConf.update(base_cfg, key, first, merge=False)
            else:
                yield job, _composed(config_name, list(job)), None


def check_hydra(module: str, config_name: str, source: str, args: list[str],
                context: Context) -> str:
    """Compose ``config_name`` with the overrides as Hydra would, and check the result."""
    from hydra import initialize_config_dir

    from iodvideo.config import CONFIG_DIR

    commands = re.search(r"^COMMANDS\s*=\s*(\([^)]*\)|\[[^\]]*\])", source, re.M)
    if commands and args and args[0] in ast.literal_eval(commands[1]):
        args = args[1:]  # python -m iodvideo.synth stats ...: the subcommand
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            parsed = _hydra_parser().parse_args(args)
    except SystemExit:
        raise DocCommandError(f"python -m {module}: Hydra refuses the arguments: "
                              f"{err.getvalue().strip().splitlines()[-1:]}") from None
    unsupported = [name for name in HYDRA_UNSUPPORTED if getattr(parsed, name, None)]
    if unsupported:
        raise DocCommandError(f"--{unsupported[0].replace('_', '-')}: not supported by "
                              "tests/docs_support.py")
    config_name = parsed.config_name or config_name
    # <group>=<option>, <key>=<value>: a synopsis, nothing to compose
    overrides = [o for o in parsed.overrides if PLACEHOLDER not in o.split("=", 1)[0]]
    runs = not (parsed.help or parsed.hydra_help or parsed.cfg or parsed.info
                or getattr(parsed, "version", False))
    jobs = 0
    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            configs = _multirun_jobs(config_name, overrides) if parsed.multirun \
                else iter([(tuple(overrides), _composed(config_name, overrides), None)])
            complete = runs and not context.command.inline
            for job, cfg, undo in configs:
                key = (config_name, job, complete, tuple(sorted(context.env.items())))
                try:
                    if key not in _PASSED:
                        _check_composed(cfg, config_name, context, complete)
                        _PASSED.add(key)
                finally:
                    if undo is not None:
                        undo()
                jobs += 1
    except DocCommandError:
        raise
    except Exception as error:  # Hydra's and the CLI's own errors
        message = str(error).strip().split("\n")
        raise DocCommandError(f"python -m {module} ({config_name}.yaml): {type(error).__name__}:"
                              f" {' | '.join(line for line in message[:4] if line.strip())}"
                              ) from None
    return f"python -m {module}: {jobs} job(s) of {config_name}.yaml checked"


def _check_composed(cfg: Any, config_name: str, context: Context, runs: bool) -> None:
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, open_dict, read_write

    from iodvideo.errors import ConfigError

    singleton = HydraConfig.instance()
    saved = singleton.cfg
    if OmegaConf.is_missing(cfg.hydra.runtime, "output_dir"):  # as in a run
        with read_write(cfg.hydra), open_dict(cfg.hydra):
            cfg.hydra.runtime.output_dir = str(REPO / "outputs" / "docs-check")
            cfg.hydra.job.num = 0
    singleton.set_config(cfg)  # what ${hydra:runtime.output_dir} resolves from
    try:
        job = cfg.copy()  # shallow: the job's keys without hydra
        with open_dict(job):
            del job["hydra"]
        assert "hydra" in cfg
        _resolve_everything(job, "")
        if runs:
            missing = sorted(str(k) for k in job.keys() if OmegaConf.is_missing(job, k))
            if missing:
                raise ConfigError(f"{', '.join(k + '=...' for k in missing)} required")
        check = CLI_CHECKS.get(config_name)
        if check is not None and runs:
            check(job, context.env)
    finally:
        singleton.cfg = saved


def _resolve_everything(node: Any, path: str) -> None:
    """Every value resolved (interpolations, resolvers), every ``_target_`` importable;
    missing values (``???``) are the required-keys check's business."""
    from hydra.utils import get_object
    from omegaconf import DictConfig, ListConfig
    from omegaconf.errors import InterpolationToMissingValueError, MissingMandatoryValue

    keys = list(node.keys()) if isinstance(node, DictConfig) else range(len(node))
    for key in keys:
        where = f"{path}{key}" if isinstance(node, DictConfig) else f"{path.rstrip('.')}[{key}]"
        try:
            value = node[key]
        except (MissingMandatoryValue, InterpolationToMissingValueError):
            continue
        except Exception as error:
            raise DocCommandError(f"{where}: does not resolve: {type(error).__name__}: "
                                  f"{str(error).splitlines()[0]}") from None
        if isinstance(value, DictConfig | ListConfig):
            _resolve_everything(value, f"{where}.")
        elif key == "_target_" and isinstance(value, str):
            try:
                get_object(value)
            except Exception as error:
                raise DocCommandError(f"{where}={value}: cannot be imported: "
                                      f"{str(error).splitlines()[0]}") from None


def python_programs(commands: list[DocCommand]) -> list[str]:
    """The project's programs the docs run with python: ``-m iodvideo.<name>`` modules and
    scripts (paths relative to the repository), for the --help subprocess tests."""
    found: set[str] = set()
    for command in commands:
        try:
            segments = split_commands(command.text, dict(command.variables))
        except DocCommandError:
            continue
        for words in segments:
            argv = [w.text for w in _optional_and_elided(strip_prefix(words)[1])]
            if not argv or not PYTHON.match(os.path.basename(argv[0])):
                continue
            rest = [a for a in argv[1:] if a not in ("-u", "-B", "-O")]
            if len(rest) >= 2 and rest[0] == "-m" and rest[1].startswith("iodvideo") \
                    and PLACEHOLDER not in rest[1]:
                found.add(f"-m {rest[1]}")
            elif rest and rest[0].endswith(".py"):
                path = (REPO / command.cwd / rest[0]).resolve()
                if path.is_file():
                    found.add(os.path.relpath(path, REPO))
    return sorted(found)
