"""Training value of triplets (issue 20) on real git repositories built with pygit2: the token budget and the
file views, single-intent steps (boilerplate, shared files, documentation lines, one triplet per endpoint,
automatic merge endpoints with the pull-request title), the docstring-only filter and the end-of-sample token."""

from __future__ import annotations

import pytest

from codeflow.commits.config import TripletConfig
from codeflow.commits.history import first_parent_history
from codeflow.commits.patchapply import apply_patch
from codeflow.commits.scan import Scanner
from codeflow.commits.stage import TripletStage
from codeflow.commits.views import MARKER, is_projection
from codeflow.tokens import END_OF_SAMPLE
from tests.commits.gitbuild import RepoBuilder, module


def big_module(n: int, changed: int = -1, tag: str = "") -> str:
    """A Python module of ``n`` documented functions inside a class; function ``changed`` carries ``tag``."""
    out = ['"""A large module: most of it is never touched by a change."""\n\nimport os\n\n\nclass Engine:\n']
    for i in range(n):
        body = f"        value = x * {i}\n" + "".join(f"        value += {i} * {k}\n" for k in range(6))
        extra = f"        value = value - {tag!r}.count('a')\n" if i == changed else ""
        out.append(f"    def step_{i}(self, x):\n        \"\"\"Step {i} of the engine.\"\"\"\n{body}{extra}"
                   f"        return value\n\n")
    return "".join(out)


def mine(path: str, name: str, **kw) -> tuple[list[dict], object]:
    res = TripletStage(TripletConfig(**kw)).mine(path, name)
    return res.kept.to_pylist(), res


def sections(text: str) -> dict[str, dict[str, str]]:
    """``{"before": {path: view}, "after": {...}}`` parsed back from a triplet text."""
    before = text.split("<|commit_before|>\n", 1)[1].split("<|commit_msg|>", 1)[0]
    after = text.split("<|commit_after|>\n", 1)[1].removesuffix(END_OF_SAMPLE)
    return {k: dict(b.split("\n", 1) for b in block.split("<|file_sep|>")[1:])
            for k, block in (("before", before), ("after", after))}


def check_row(r: dict, max_tokens: int) -> dict[str, dict[str, str]]:
    """The invariants every triplet row keeps: budget, complete message and patch, faithful views, apply."""
    assert r["stats"]["text_tokens"] <= max_tokens
    text = r["text"]
    assert text.endswith(END_OF_SAMPLE) and text.count(END_OF_SAMPLE) == 1
    assert "<|commit_patch|>\n" + r["patch"] + "<|commit_after|>" in text
    assert "<|commit_msg|>\n" + "\n\n".join(r["messages"]) + "\n<|commit_patch|>" in text
    # R_old / P / R_new order of the recipe
    assert text.index("<|commit_before|>") < text.index("<|commit_msg|>") < text.index("<|commit_patch|>") < \
        text.index("<|commit_after|>")
    views = sections(text)
    old = {f["path"]: f["content"] for f in r["files_old"]}
    new = {f["path"]: f["content"] for f in r["files_new"]}
    assert views["before"].keys() == old.keys() and views["after"].keys() == new.keys()
    assert all(is_projection(views["before"][p], old[p]) for p in old)
    assert all(is_projection(views["after"][p], new[p]) for p in new)
    assert apply_patch(old, r["patch"]) == new  # the full files the row keeps still carry the invariant
    return views


def big_repo(path: str) -> RepoBuilder:
    b = RepoBuilder(path)
    b.commit({"pkg/engine.py": big_module(300), "README.md": "# engine\n", "pkg/small.py": module(0)},
             "Create the engine package with its steps")
    for k in range(1, 16):
        changes = {"pkg/engine.py": big_module(300, changed=(k * 37) % 300, tag=f"t{k}"), "pkg/small.py": module(k)}
        if k % 3 == 0:
            changes["README.md"] = "# engine\n" + "".join(f"Line {j} of the guide, round {k}.\n" for j in range(40))
        b.commit(changes, f"Adjust step {(k * 37) % 300} of the engine for case {k}\n\nThe caller needs it.")
    return b


def test_budget_views_are_faithful_and_keep_message_and_patch_whole(tmp_path):
    big_repo(str(tmp_path / "big"))
    rows, res = mine(str(tmp_path / "big"), "big", per_repo=8, window=(0.0, 1.0), max_tokens=4000)
    assert res.stats["rows_in"] == len(rows) + res.rejects.num_rows and len(rows) >= 6
    for r in rows:
        engine_old = next(f["content"] for f in r["files_old"] if f["path"] == "pkg/engine.py")
        assert len(engine_old) / 2.5 > 4000  # the whole file alone would be over the budget
        views = check_row(r, 4000)
        before, after = views["before"]["pkg/engine.py"], views["after"]["pkg/engine.py"]
        assert MARKER.match(before.split("\n", 1)[0])  # elided head of the file
        assert "class Engine:\n" in before  # enclosing definition's header
        step = r["messages"][-1].split()[2]
        assert f"    def step_{step}(self, x):\n" in before and f"    def step_{step}(self, x):\n" in after
        assert "return value" in after  # the touched method is shown whole ...
        assert before.count("    def step_") <= 2  # ... and (nearly) nothing else
        small = views["before"]["pkg/small.py"]
        assert small == next(f["content"] for f in r["files_old"] if f["path"] == "pkg/small.py")  # fits: whole
        if "README.md" in views["before"]:  # documentation: a diff only
            assert MARKER.fullmatch(views["before"]["README.md"].rstrip("\n"))
    assert any("README.md" in sections(r["text"])["before"] for r in rows)


def test_budget_with_the_trainers_tokenizer_and_over_budget_reject(tmp_path):
    from codeflow.model.tokenizer import save_tokenizer, train_tokenizer

    b = big_repo(str(tmp_path / "big"))
    tok = train_tokenizer([big_module(40, 3, "x"), module(1), "# engine\nLine 1 of the guide.\n"], 400)
    save_tokenizer(tok, str(tmp_path / "tok"), ["test"], 3, 1)
    rows, _ = mine(str(tmp_path / "big"), "big", per_repo=6, window=(0.0, 1.0), max_tokens=3000,
                   tokenizer=str(tmp_path / "tok"))
    assert len(rows) >= 4
    for r in rows:
        check_row(r, 3000)
        assert r["stats"]["text_tokens"] == len(tok.encode(r["text"], add_special_tokens=False).ids)
    # a message + patch that cannot fit is never cut: the start is rejected
    b.commit({"pkg/small.py": module(99) + "".join(f"X{i} = {i}\n" for i in range(250))},
             "Add the constant table the engine reads")
    n = len(b.log)
    rows, res = mine(str(tmp_path / "big"), "big", per_repo=1, window=((n - 2) / (n - 1), (n - 2) / (n - 1)),
                     max_tokens=600)
    assert not rows and res.rejects.column("reason").to_pylist() == ["over_budget"]


def test_docstring_only_edit_is_not_an_endpoint(tmp_path):
    b = RepoBuilder(str(tmp_path / "doc"))
    text = '"""Helpers."""\n\n\ndef area(w, h):\n    """Area of a rectangle.\n\n    Multiply width by height,\n' \
           '    both in metres.\n    """\n    return w * h\n'
    b.commit({"geo.py": text}, "Create the geometry helpers module")
    b.commit({"geo.py": text.replace("both in metres", "both in the same unit of length")},
             "Clarify the units in the area docstring")
    b.commit({"geo.py": text.replace("return w * h", "return abs(w * h)")}, "Return a positive area for flips")
    java = 'class Geo {\n  static final String GLOB = "**/*.java";\n  /*\n    Area of a rectangle:\n' \
           '    width times height.\n  */\n  static int area(int w, int h) { return w * h; }\n}\n'
    b.commit({"Geo.java": java}, "Create the Java port of the helpers")
    b.commit({"Geo.java": java.replace("width times height", "width multiplied by height")},
             "Reword the block comment of the Java area helper")
    b.commit({"Geo.java": java.replace("return w * h", "return Math.abs(w * h)")}, "Return a positive Java area")
    repo = b.repo
    ids = first_parent_history(repo)
    scanner = Scanner(repo, ids, TripletConfig())
    assert scanner.endpoint_filter(scanner.get(1)) == "comment_only"  # lines inside the docstring only
    assert scanner.endpoint_filter(scanner.get(2)) is None  # a real code change
    # a block comment whose lines do not start with '*', after a string holding "*/": still comment-only
    assert scanner.endpoint_filter(scanner.get(4)) == "comment_only"
    assert scanner.endpoint_filter(scanner.get(5)) is None


def test_steps_skip_boilerplate_and_keep_to_the_endpoints_files(tmp_path):
    b = RepoBuilder(str(tmp_path / "mix"))
    b.commit({"pkg/a.py": module(0), "pkg/b.py": module(100), "VERSION": "0.1\n"}, "Create the package files")
    for k in range(1, 13):
        b.commit({"VERSION": f"0.{k}\n", "pkg/b.py": module(100 + k)}, f"Release 0.{k}")
        b.commit({"pkg/b.py": module(200 + k)}, f"Rework the b helper for case {k}")
        b.commit({"README.md": f"[![badge {k}](x)](y)\n"}, "Add coverage badge")
        b.commit({"pkg/a.py": module(k)}, f"Scale the a function by {k} for the caller")
        b.commit({"pkg/a.py": module(k, extra=f" + {k}")}, f"Shift the a function by {k} as well")
    rows, res = mine(str(tmp_path / "mix"), "mix", per_repo=20, window=(0.0, 0.95))
    assert len(rows) >= 10 and res.stats.get("filter_boilerplate", 0) + res.stats.get("filter_trivial_message", 0)
    log = [sha for sha, _ in b.log]
    msg = dict(b.log)
    changed = {sha: set(files) for sha, files in _changed_files(b).items()}
    for r in rows:
        check_row(r, 16384)
        s, e = log.index(r["start_commit"]), log.index(r["end_commit"])
        span = log[s + 1:e + 1]
        assert len(span) == r["n_commits"] >= 1
        for sha in span:
            assert not msg[sha].startswith(("Release", "Add coverage badge"))
            assert changed[sha] & changed[log[e]], (msg[sha], msg[log[e]])
        assert "VERSION" not in r["patch"] and "README.md" not in r["patch"]


def _changed_files(b: RepoBuilder) -> dict[str, list[str]]:
    repo = b.repo
    out = {}
    for sha, _ in b.log:
        c = repo[sha]
        if not c.parent_ids:
            out[sha] = [e.name for e in c.tree]
            continue
        diff = repo.diff(repo[c.parent_ids[0]].tree, c.tree)
        out[sha] = [d.new_file.path for d in diff.deltas]
    return out


def test_documentation_lines_are_not_charged_to_the_budget(tmp_path):
    b = RepoBuilder(str(tmp_path / "docs"))
    b.commit({"pkg/a.py": module(0), "docs/guide.md": "# Guide\n"}, "Create the package and its guide")
    for k in range(1, 12):
        guide = "# Guide\n" + "".join(f"Paragraph {j} explains option {k}.\n" for j in range(150))
        b.commit({"pkg/a.py": module(k), "docs/guide.md": guide}, f"Add option {k} to the a function")
    rows, res = mine(str(tmp_path / "docs"), "docs", per_repo=6, window=(0.0, 0.9), max_lines=100)
    assert len(rows) == 6, res.rejects.to_pylist()  # 300 doc lines per commit > max_lines, 6 code lines
    for r in rows:
        views = check_row(r, 16384)
        assert "docs/guide.md" in r["patch"] and MARKER.fullmatch(views["before"]["docs/guide.md"].rstrip("\n"))


def test_one_triplet_per_endpoint_with_redrawn_starts(tmp_path):
    b = RepoBuilder(str(tmp_path / "u"))
    b.commit({"pkg/a.py": module(0)}, "Create the package with the a module")
    for k in range(1, 40):
        if k % 4 == 0:
            b.commit({"pkg/a.py": module(k)}, f"Implement scaling by {k} in the a function")
        else:
            b.commit({"pkg/a.py": module(k)}, "wip")  # a trivial message: never an endpoint, still in the step
    rows, res = mine(str(tmp_path / "u"), "u", per_repo=12, window=(0.0, 1.0))
    ends = [r["end_commit"] for r in rows]
    assert len(ends) == len(set(ends)) >= 8
    assert res.stats["rows_in"] == 12 == len(rows) + res.rejects.num_rows
    assert res.stats.get("starts_redrawn", 0) >= 1
    assert set(res.rejects.column("reason").to_pylist()) <= {"endpoint_taken", "no_endpoint", "unrelated_span"}


@pytest.mark.parametrize("merges_per_commit", [1, 0])
def test_merge_endpoints_switch_on_when_merges_dominate(tmp_path, merges_per_commit):
    b = RepoBuilder(str(tmp_path / "pr"))
    b.commit({"pkg/core.py": module(0)}, "Create the core module of the package")
    for k in range(1, 30):
        change = {"pkg/core.py": module(k), "tests/test_core.py": f"def test_{k}():\n    pass\n"}
        if merges_per_commit or k % 5 == 0:
            b.merge(change, f"Add feature {k} to the core",
                    f"Merge pull request #{k} from dev/feature-{k}\n\nAdd feature {k} to the core module\n\n"
                    f"Callers asked for case {k}.")
        else:
            b.commit(change, f"Add feature {k} to the core module directly")
    rows, res = mine(str(tmp_path / "pr"), "pr", per_repo=4)
    assert res.stats["merge_endpoints"] == merges_per_commit and len(rows) == 4
    for r in rows:
        check_row(r, 16384)
        assert r["messages"][-1].startswith("Add feature")  # the PR title: the merge header is gone
        assert not any(m.startswith("Merge pull request") for m in r["messages"])
        if merges_per_commit:  # ... and the PR body is kept as the step's intent
            assert r["messages"][-1].endswith(".") and "\n\nCallers asked for case" in r["messages"][-1]
    if merges_per_commit:
        off, res_off = mine(str(tmp_path / "pr"), "pr", per_repo=4, merge_endpoints=False)
        assert not off and res_off.stats["merge_endpoints"] == 0


def test_merge_endpoints_follow_the_local_regime(tmp_path):
    """A project that moved to pull requests: merges are 25 of 66 first-parent commits (under half), but the
    walks from starts in the pull-request era see only merges and take them as endpoints."""
    b = RepoBuilder(str(tmp_path / "moved"))
    b.commit({"pkg/core.py": module(0)}, "Create the core module of the package")
    for k in range(1, 41):
        b.commit({"pkg/core.py": module(k)}, f"Implement direct change {k} of the core")
    for k in range(41, 66):
        b.merge({"pkg/core.py": module(k)}, f"Add feature {k} to the core",
                f"Merge pull request #{k} from dev/feature-{k}\n\nAdd feature {k} to the core module")
    rows, res = mine(str(tmp_path / "moved"), "moved", per_repo=4, window=(0.7, 0.9))
    assert res.stats["merge_endpoints"] == 0 and res.stats["walks_with_merge_endpoints"] >= 4
    assert len(rows) == 4
    merges = {sha for sha, msg in b.log if msg.startswith("Merge pull request")}
    assert all(r["end_commit"] in merges and r["messages"][-1].startswith("Add feature") for r in rows)
    early, res_early = mine(str(tmp_path / "moved"), "moved", per_repo=4, window=(0.1, 0.3))
    assert res_early.stats.get("walks_with_merge_endpoints", 0) == 0
    assert len(early) == 4 and not any(r["end_commit"] in merges for r in early)
