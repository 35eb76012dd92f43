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
