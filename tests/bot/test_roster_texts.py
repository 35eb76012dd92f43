"""How the roster names people and says a coordinator's suspension."""

from __future__ import annotations

from bot.reasons import reason_text
from bot.texts_roster import person
from storage.roster import COORDINATOR_REASON, flag_rule


def test_a_worker_is_a_name_with_the_id_never_a_bare_id() -> None:
    assert person("Mina", "mina_k", 1003) == "Mina (1003)"
    assert person("", "mina_k", 1003) == "@mina_k (1003)"
    assert person("  ", None, 1003) == "(1003)"


def test_a_coordinators_suspension_is_said_in_the_readers_language() -> None:
    assert reason_text("ko", COORDINATOR_REASON) == "코디네이터의 결정"
    assert reason_text("en", COORDINATOR_REASON) == "a coordinator's decision"


def test_a_flag_is_the_same_flag_with_other_figures() -> None:
    a = flag_rule("agrees with the consensus on 41% of 30 answers (< 55%, well below the crowd)")
    b = flag_rule("agrees with the consensus on 38% of 34 answers (< 52%, well below the crowd)")
    assert a == b
    assert a != flag_rule("the same option 16 times in a row (>= 15)")
