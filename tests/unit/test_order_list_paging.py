"""The orders list's page numbers and the query a saved view keeps."""

from orderhub.orders.list_pages import _clean_query, _page_numbers


def test_page_numbers_show_the_first_the_last_and_two_either_side_with_gaps():
    assert _page_numbers(1, 1) == [1]
    assert _page_numbers(1, 4) == [1, 2, 3, 4]
    assert _page_numbers(1, 713) == [1, 2, 3, None, 713]
    assert _page_numbers(7, 713) == [1, None, 5, 6, 7, 8, 9, None, 713]
    assert _page_numbers(4, 713) == [1, 2, 3, 4, 5, 6, None, 713]
    assert _page_numbers(713, 713) == [1, None, 711, 712, 713]


def test_a_saved_view_keeps_the_filters_and_sort_but_not_the_page_or_strangers():
    query = "?view=late&page=7&q=berlin&sort=-total&evil=1&status=&channel=web"
    assert _clean_query(query) == "view=late&q=berlin&sort=-total&channel=web"
