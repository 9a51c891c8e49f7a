from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderhub.core.money import Money, currency_exponent, is_known_currency


def test_parse_and_format_round_trip_in_minor_units():
    assert Money.parse("19.99", "EUR") == Money(1999, "EUR")
    assert Money(1999, "EUR").to_decimal_string() == "19.99"
    assert Money.parse("1999", "JPY") == Money(1999, "JPY")
    assert Money(5, "KWD").to_decimal_string() == "0.005"


@pytest.mark.parametrize("bad", ["abc", "1e", "NaN", "Infinity", ""])
def test_parse_rejects_what_is_not_a_number(bad):
    with pytest.raises(ValueError):
        Money.parse(bad, "EUR")


def test_parse_refuses_more_decimals_than_the_currency_has():
    with pytest.raises(ValueError, match="more than 2 decimals"):
        Money.parse("1.999", "EUR")
    with pytest.raises(ValueError, match="more than 0 decimals"):
        Money.parse("10.5", "JPY")


def test_unknown_currency_is_refused():
    assert not is_known_currency("XYZ")
    with pytest.raises(ValueError):
        Money(1, "XYZ")
    assert currency_exponent("BHD") == 3


def test_money_does_not_mix_currencies():
    with pytest.raises(ValueError):
        Money(1, "EUR") + Money(1, "USD")


# every amount within the accepted range (at most 10^12 major units, so 10^12 minor units in JPY)
@given(st.integers(min_value=-(10**12), max_value=10**12), st.sampled_from(["EUR", "JPY", "KWD", "CLF"]))
def test_decimal_string_round_trips_for_every_amount(minor, currency):
    money = Money(minor, currency)
    assert Money.parse(money.to_decimal_string(), currency) == money
    assert Decimal(money.to_decimal_string()).scaleb(currency_exponent(currency)) == minor


@given(
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=1, max_value=100),
    st.integers(min_value=1, max_value=100),
)
def test_share_is_within_half_a_minor_unit(minor, num, den):
    share = Money(minor, "EUR").share(num, den)
    assert abs(share.minor - minor * num / den) <= 0.5


@pytest.mark.parametrize(
    "text",
    ["1e400", "1E2", "92233720368547758.08", "1000000000000.01", "-1000000000001", "NaN", "Infinity", "0x10", ""],
)
def test_amounts_out_of_range_or_not_plain_decimals_are_refused(text):
    with pytest.raises(ValueError):
        Money.parse(text, "EUR")


def test_the_largest_amount_is_taken():
    assert Money.parse("1000000000000.00", "EUR").minor == 10**14
    assert Money.parse("-1000000000000", "JPY").minor == -(10**12)
