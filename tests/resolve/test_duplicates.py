from graphrag.resolve.duplicates import duplicate_report


def test_word_subsets_and_near_identical_strings_of_one_type_count():
    report = duplicate_report(
        [
            ("bob", "PERSON"),
            ("bob cratchit", "PERSON"),
            ("cratchits", "PERSON"),
            ("cratchit", "PERSON"),  # near-identical to "cratchits" and a subset of "bob cratchit"
            ("london", "LOCATION"),
            ("bob", "ORGANIZATION"),  # another type: no duplicate of anything
            ("marley", "PERSON"),
        ]
    )
    assert report.entities == 7
    assert report.duplicates == 3  # bob, cratchit, cratchits
    assert {a for a, _ in report.examples} == {"bob", "cratchit", "cratchits"}
    assert round(report.share, 3) == round(3 / 7, 3)


def test_empty_graph_has_no_duplicates():
    assert duplicate_report([]).share == 0.0
