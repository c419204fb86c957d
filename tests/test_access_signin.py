"""The access file: signed-in e-mail addresses and groups mapped to administrator and unit coordinator."""

from __future__ import annotations

import pytest

from assessment.access.signin import groups_of, load_access_map
from assessment.framework.yamlsource import SourceError


def test_emails_and_groups_map_to_roles(tmp_path):
    path = tmp_path / "access.yaml"
    path.write_text("administrators:\n  - Anna.Admin@Region.se\n  - group: region-admins\n"
                    "coordinators:\n  Exempelstad:\n    - kim@exempelstad.se\n    - group: ex-samverkan\n"
                    "  Annanstad:\n    - kim@exempelstad.se\n", encoding="utf-8")
    mapping = load_access_map(path)
    assert mapping.roles_for("anna.admin@region.se") == (True, frozenset())
    assert mapping.roles_for("someone@else.se", ["region-admins"]) == (True, frozenset())
    assert mapping.roles_for("KIM@exempelstad.se") == (False, frozenset({"Exempelstad", "Annanstad"}))
    assert mapping.roles_for("x@y.se", ["ex-samverkan"]) == (False, frozenset({"Exempelstad"}))
    assert mapping.roles_for("nobody@nowhere.se", ["other"]) == (False, frozenset())
    assert mapping.roles_for(None) == (False, frozenset())
    assert load_access_map(tmp_path / "missing.yaml").roles_for("anna.admin@region.se") == (False, frozenset())


def test_a_mistake_is_reported_with_file_line_and_field(tmp_path):
    path = tmp_path / "access.yaml"
    path.write_text("administrators:\n  - anna.admin@region.se\n  - region-admins\n", encoding="utf-8")
    with pytest.raises(SourceError) as error:
        load_access_map(path)
    assert "access.yaml" in str(error.value) and "administrators" in str(error.value)
    assert "group: region-admins" in str(error.value)


def test_groups_claim_as_list_or_text():
    assert groups_of({"groups": ["a", "b"]}) == ["a", "b"]
    assert groups_of({"groups": "a"}) == ["a"]
    assert groups_of({}) == []
