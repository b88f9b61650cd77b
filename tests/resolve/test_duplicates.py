from graphrag.resolve.duplicates import differ_by_number, duplicate_pairs, duplicate_report


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


def test_duplicates_that_differ_only_by_a_number_are_counted_apart_for_the_second_figure():
    report = duplicate_report(
        [
            ("april 1862", "DATE"),
            ("april 1868", "DATE"),  # distinct months: near-identical strings, only numbers differ
            ("16 december 2015", "DATE"),
            ("december 2015", "DATE"),  # a word-subset, the extra word a number
            ("albert ii", "PERSON"),
            ("albert iii", "PERSON"),  # Roman numerals
            ("albert", "PERSON"),  # a subset of "albert ii" by a number, but of "albert einstein" by a name
            ("albert einstein", "PERSON"),
            ("utah", "LOCATION"),
            ("utah county", "LOCATION"),
        ]
    )
    assert report.duplicates == 7  # all but "16 december 2015", "albert einstein", "utah county"
    assert report.number_only == 5  # not "albert" (a subset of "albert einstein"), not "utah"
    assert round(report.share_without_numbers, 3) == round(2 / 10, 3)


def test_duplicate_pairs_name_a_partner_that_differs_by_more_than_a_number_where_there_is_one():
    pairs = {a: b for a, b, _ in duplicate_pairs([("albert", "PERSON"), ("albert ii", "PERSON"), ("albert einstein", "PERSON")])}
    assert pairs == {"albert": "albert einstein"}
    assert differ_by_number("lx legislature", "lxi legislature") and not differ_by_number("civil war", "war")
