from __future__ import annotations

from pathlib import Path

import pytest

from config.project import ProjectFileError, load_project_file
from config.settings import ConfigError, load_settings

GOOD = """
name = "Colours"
question = "Which colour?"
guide = { en = "Pick one.", ko = "하나를 고르세요." }
overlap = 3
assignment_timeout = "5m"
data = "data.csv"

[[options]]
id = "red"
text = { en = "Red", ko = "빨강" }

[[options]]
id = "blue"
text = "Blue"
"""


def test_good_toml_project(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(GOOD)
    spec = load_project_file(path)
    assert spec.slug == "colours"
    assert spec.assignment_timeout == 300
    assert spec.question == {"en": "Which colour?", "ko": "Which colour?"}
    assert spec.data == tmp_path / "data.csv"


def test_yaml_project(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: Cats\nquestion: {en: 'Cat?', ko: '고양이?'}\nguide: Look closely.\n"
        "options:\n  - {id: yes, text: 'Yes'}\n  - {id: no, text: 'No'}\n"
    )
    # YAML turns bare yes/no into booleans: the error must say where
    with pytest.raises(ProjectFileError, match=r"p.yaml: options\[0\].id"):
        load_project_file(path)
    path.write_text(path.read_text().replace("id: yes", "id: 'y'").replace("id: no", "id: 'n'"))
    assert [o.id for o in load_project_file(path).options] == ["y", "n"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("overlap = 3", "overlap = 0"), "p.toml: overlap: Input should be greater than or equal"),
        (('id = "red"', 'id = "Red Wine"'), r"options\[0\].id: String should match pattern"),
        (('id = "blue"', 'id = "red"'), "duplicate option ids"),
        (('"5m"', '"soon"'), "assignment_timeout: Value error, must be seconds or a duration"),
        (('ko = "빨강"', 'fr = "rouge"'), r"options\[0\].text: .*unknown language \['fr'\]"),
        (("overlap = 3", "overlap = 3\ncolour = 1"), "colour: Extra inputs are not permitted"),
        (("name = ", "nom = "), "name: Field required"),
    ],
)
def test_bad_project_names_file_and_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(ProjectFileError, match=message):
        load_project_file(path)


def test_unreadable_or_unknown_project_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="cannot read"):
        load_project_file(tmp_path / "nope.toml")
    bad = tmp_path / "p.toml"
    bad.write_text("name = ")
    with pytest.raises(ProjectFileError, match="not valid TOML"):
        load_project_file(bad)
    other = tmp_path / "p.json"
    other.write_text("{}")
    with pytest.raises(ProjectFileError, match=r"use a \.toml, \.yaml or \.yml"):
        load_project_file(other)


def test_settings_from_env_dotenv_and_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("LABELGRAM_TOKEN", "LABELGRAM_ADMINS", "LABELGRAM_BOT_API_URL"):
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "labelgram.toml").write_text('token = "from-toml"\nadmins = [1, 2]\n')
    settings = load_settings()
    assert settings.token is not None
    assert settings.token.get_secret_value() == "from-toml"
    assert settings.admins == [1, 2]
    assert "from-toml" not in repr(settings)  # secrets stay hidden
    (tmp_path / ".env").write_text("LABELGRAM_TOKEN=from-dotenv\n")
    assert load_settings().token.get_secret_value() == "from-dotenv"  # type: ignore[union-attr]
    monkeypatch.setenv("LABELGRAM_TOKEN", "from-env")
    monkeypatch.setenv("LABELGRAM_BOT_API_URL", "http://127.0.0.1:8081/bot/")
    settings = load_settings()
    assert settings.token.get_secret_value() == "from-env"  # type: ignore[union-attr]
    assert settings.bot_api_url == "http://127.0.0.1:8081/bot"
    assert settings.file_url == "http://127.0.0.1:8081/file/bot"


def test_bad_settings_name_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LABELGRAM_BOT_API_URL", "ftp://x")
    with pytest.raises(ConfigError, match="LABELGRAM_BOT_API_URL"):
        load_settings()
    monkeypatch.delenv("LABELGRAM_BOT_API_URL")
    monkeypatch.setenv("LABELGRAM_ADMINS", "not-a-list")
    with pytest.raises(ConfigError, match="LABELGRAM_ADMINS"):
        load_settings()


def test_the_poll_timeout_stays_in_telegrams_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABELGRAM_POLL_TIMEOUT", raising=False)
    assert load_settings().poll_timeout == 10
    monkeypatch.setenv("LABELGRAM_POLL_TIMEOUT", "1")
    assert load_settings().poll_timeout == 1
    monkeypatch.setenv("LABELGRAM_POLL_TIMEOUT", "51")  # getUpdates takes 0-50
    with pytest.raises(ConfigError, match="LABELGRAM_POLL_TIMEOUT"):
        load_settings()


def test_cleaning_rules_can_be_turned_off(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        GOOD + "\n[cleaning]\nnfc = false\nnear_duplicates = 'drop'\nlong_text = 'split'\n"
    )
    spec = load_project_file(path)
    assert spec.cleaning.nfc is False
    assert spec.cleaning.drop_empty is True
    assert (spec.cleaning.near_duplicates, spec.cleaning.long_text) == ("drop", "split")
    path.write_text(GOOD + "\n[cleaning]\nlong_text = 'shorten'\n")
    with pytest.raises(ProjectFileError, match=r"cleaning\.long_text: Input should be 'drop'"):
        load_project_file(path)


def _billion_laughs() -> str:
    """Nine lines that stand for 9**9 copies of 'lol' once the aliases are expanded."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # an alias bomb inside a text: expanding it took ~1.6 GB before MemoryError
        (
            "name: Bomb\nguide: g\noptions: [{id: a, text: A}, {id: b, text: B}]\n"
            + _billion_laughs()
            + "\nquestion: {en: *i}\n",
            r"p\.yaml: line 4: YAML anchors and aliases \(&name, \*name\) are not allowed",
        ),
        # a single anchor (even unused) is refused too: there is no use for it here
        ("name: &n Cats\n", r"p\.yaml: line 1: YAML anchors and aliases"),
        # 100,000 levels raised RecursionError in the composer
        ("name: x\nquestion: " + "[" * 100_000 + "]" * 100_000, r"p\.yaml: line 2: nested"),
        ("question: " + "{a: " * 50_000 + "1" + "}" * 50_000, r"p\.yaml: line 1: nested"),
        # a broken file is one line too (PyYAML's own message spans several)
        (
            "name: [unclosed\nquestion: x\n",
            r"^p\.yaml: not valid YAML at line 2, column 9: [^\n]*$",
        ),
    ],
    ids=["alias-bomb", "anchor", "deep-flow-list", "deep-flow-map", "syntax"],
)
def test_yaml_bombs_and_deep_files_are_refused_in_one_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ProjectFileError, match=message) as caught:
        load_project_file(path)
    assert "\n" not in str(caught.value)


def test_deep_block_yaml_and_toml_are_refused(tmp_path: Path) -> None:
    block = tmp_path / "p.yml"
    block.write_text("\n".join("  " * i + "a:" for i in range(40)) + " 1\n")
    with pytest.raises(ProjectFileError, match="nested more than 16 levels deep"):
        load_project_file(block)
    deep = tmp_path / "p.toml"
    for levels in (100_000, 40):  # RecursionError in tomllib; parsed, but past the cap
        deep.write_text("question = " + "[" * levels + "]" * levels)
        with pytest.raises(ProjectFileError, match=r"p\.toml: nested more than 16 levels"):
            load_project_file(deep)


def test_project_file_size_is_capped_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(GOOD + "# " + "x" * (1 << 20) + "\n")  # valid TOML, only too large
    with pytest.raises(ProjectFileError, match=r"p\.toml: a project file may be at most 1,024 KB"):
        load_project_file(path)


def test_a_text_must_be_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(GOOD.replace('question = "Which colour?"', "question = { en = [1, 2] }"))
    with pytest.raises(ProjectFileError, match=r"question: .*must be plain text"):
        load_project_file(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # accepted before, then every import failed with "max_chars must be at least 1"
        (
            ('question = "Which colour?"', f'question = "{"Q" * 5000}"'),
            r"^p\.toml: question\.en: 5,000 characters; a question may have at most 500, ",
        ),
        (
            ('text = "Blue"', f'text = "{"B" * 65}"'),
            r"^p\.toml: options\[1\]\.text\.en: 65 characters; an option is a button and may"
            r" have at most 64",
        ),
        (
            ('ko = "하나를 고르세요."', f'ko = "{"가" * 4100}"'),
            r"^p\.toml: guide\.ko: 4,100 characters; the guide is one message with the name and"
            r" the question, at most 4,096 characters, which leaves 4,012 for this guide",
        ),
    ],
    ids=["question", "option", "guide"],
)
def test_texts_over_telegram_limits_are_refused_naming_field_and_limit(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(ProjectFileError, match=message):
        load_project_file(path)


def test_a_name_per_language(tmp_path: Path) -> None:
    from config.project import ProjectSpec

    path = tmp_path / "p.toml"
    path.write_text(GOOD.replace('name = "Colours"', 'name = { en = "Colours", ko = "색깔" }'))
    spec = load_project_file(path)
    assert (spec.name, spec.names, spec.slug) == (
        "Colours",
        {"en": "Colours", "ko": "색깔"},
        "colours",
    )
    assert (spec.name_in("ko"), spec.name_in("en"), spec.name_in("fr")) == (
        "색깔",
        "Colours",
        "Colours",
    )
    again = ProjectSpec.model_validate_json(spec.model_dump_json())  # as stored, as read back
    assert (again.name, again.names) == (spec.name, spec.names)
    plain = load_project_file(_write(tmp_path, GOOD))
    assert (plain.names, plain.name_in("ko")) == ({}, "Colours")
    path.write_text(
        GOOD.replace('name = "Colours"', f'name = {{ en = "C", ko = "{"가" * 101}" }}')
    )
    with pytest.raises(ProjectFileError, match="ko name is longer than 100 characters"):
        load_project_file(path)
    path.write_text(GOOD.replace('name = "Colours"', 'name = "C"\nnames = { fr = "Couleurs" }'))
    with pytest.raises(ProjectFileError, match="give the names per language as name ="):
        load_project_file(path)
    path.write_text(GOOD.replace('name = "Colours"', 'name = { en = "C", fr = "Couleurs" }'))
    with pytest.raises(ProjectFileError, match="unknown language"):
        load_project_file(path)


def _write(folder: Path, text: str) -> Path:
    path = folder / "plain.toml"
    path.write_text(text)
    return path
