"""Round types: the shipped defaults per area and vehicle, and urban or rural for an address."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from orderhub.carbon.factors import FactorSet, default_factors
from orderhub.carbon.model import DataQuality
from orderhub.carbon.network import RURAL, URBAN, Areas

FS = FactorSet(default_factors())
BERLIN = (52.5200, 13.4050)


def node(node_id: str, kind: str, lat: float, lon: float) -> SimpleNamespace:
    return SimpleNamespace(id=node_id, type=SimpleNamespace(value=kind), lat=lat, lon=lon)


@pytest.mark.parametrize(
    ("kind", "area", "vehicle", "kg", "quality"),
    [
        ("delivery", "urban", "van.diesel", 0.087, DataQuality.default),  # GLEC v3 E1 element 9
        ("delivery", "urban", "van.electric", 0.0163, DataQuality.modelled),  # × DESNZ 2026 BEV / diesel van
        ("delivery", "urban", "cargo_bike", 0.0087, DataQuality.modelled),
        ("delivery", "rural", "van.diesel", 0.261, DataQuality.modelled),  # × 3, stops a ninth as dense
        ("delivery", "rural", "van.electric", 0.0489, DataQuality.modelled),
        ("delivery", "rural", "cargo_bike", 0.0261, DataQuality.modelled),
        ("collection", "urban", "van.diesel", 0.087, DataQuality.modelled),
        ("collection", "urban", "van.electric", 0.0163, DataQuality.modelled),
        ("collection", "rural", "van.diesel", 0.261, DataQuality.modelled),
    ],
)
def test_every_round_type_has_a_cited_default_labelled_by_how_it_was_found(kind, area, vehicle, kg, quality):
    f = FS.round(kind, area=area, vehicle=vehicle)
    assert f.key == f"round.{kind}.{area}.{vehicle}"
    assert (f.value, f.quality) == (pytest.approx(kg), quality)
    assert "GLEC Framework v3.0" in f.source and f.note  # its inputs are cited, its derivation noted


def test_the_modelled_electric_round_is_the_glec_round_scaled_by_desnz_2026_van_intensities():
    ratio = 0.14699 / (0.63511 + 0.15095)  # battery-electric / diesel van WTW, kg CO2e per t·km
    assert FS.round("delivery", vehicle="van.electric").value == pytest.approx(0.087 * ratio, abs=5e-5)
    assert FS.round("delivery", area="rural").value == pytest.approx(3 * 0.087)


def test_an_unknown_vehicle_takes_its_areas_diesel_round_not_the_urban_one():
    assert FS.round("delivery", area="rural", vehicle="drone").key == "round.delivery.rural.van.diesel"
    assert FS.round("delivery", area="moon", vehicle="van.diesel").key == "round.delivery.urban.van.diesel"


def test_an_address_near_a_store_is_urban_and_one_far_from_every_store_is_rural():
    nodes = [
        node("ST-BER", "store", 52.52, 13.40),
        node("DC-RURAL", "distribution_centre", 52.0, 12.0),  # a DC in the fields marks nothing
    ]
    areas = Areas.of_nodes(nodes)
    assert areas(BERLIN) == URBAN
    assert areas((52.52, 13.614)) == URBAN  # 14.5 km east of the store
    assert areas((52.52, 13.630)) == RURAL  # 15.6 km east of it
    assert areas((52.0, 12.0)) == RURAL  # next to the DC, far from any store
    assert areas(None) == URBAN


def test_a_network_without_stores_delivers_every_address_on_the_published_urban_round():
    areas = Areas.of_nodes([node("DC-1", "distribution_centre", 50.0, 8.0)])
    assert areas((54.0, 10.0)) == URBAN


def test_a_rural_address_pays_the_rural_round_in_the_planners_terms_and_the_itemised_chain():
    dc = FS.origin("DC-1", "distribution_centre")
    urban, rural = FS.network("EU"), FS.network("EU", area=RURAL)
    assert rural.terms(300, dc)[0] - urban.terms(300, dc)[0] == pytest.approx(0.261 - 0.087)
    assert rural.terms(300, dc)[1] == urban.terms(300, dc)[1]  # hubs and linehaul do not change
    chain = rural.parcel(300, 1.0, dc)
    assert [r.factor.key for r in chain.rounds] == ["round.delivery.rural.van.diesel"]
    assert chain.kg == pytest.approx(rural.kg(300, 1.0, dc))
    model = FS.parcel_model("EU", area=RURAL)
    assert model.terms(300, "DC-1", "distribution_centre") == pytest.approx(rural.terms(300, dc))
    # a store's parcels are collected in town: the collection round stays the urban one
    store = rural.parcel(20, 1.0, FS.origin("ST-1", "store"))
    assert [r.factor.key for r in store.rounds] == [
        "round.collection.urban.van.diesel",
        "round.delivery.rural.van.diesel",
    ]


# -- checkout fee schedules per currency ----------------------------------------------------------
def test_fee_entries_parse_per_currency_and_a_bad_one_is_named():
    from decimal import Decimal

    from orderhub.carbon.options import FEES, parse_fees

    assert {"EUR", "GBP", "USD"} <= set(FEES)
    assert parse_fees(" CHF:6.9/60, GBP:3.50/30.00 ,") == {
        "CHF": (Decimal("6.90"), Decimal("60.00")),
        "GBP": (Decimal("3.50"), Decimal("30.00")),
    }
    for bad in ("chf:1/2", "CHF:1", "CHF:x/2", "CHFX:1/2", "CHF:-1/2"):
        with pytest.raises(ValueError, match=repr(bad).replace("-", r"\-")):
            parse_fees(bad)


def test_settings_refuse_a_malformed_fee_table_at_start():
    from pydantic import ValidationError

    from orderhub.platform.settings import Settings

    assert Settings(delivery_fees="CHF:6.90/60.00,GBP:3.50/30").delivery_fees.startswith("CHF")
    with pytest.raises(ValidationError, match="delivery_fees"):
        Settings(delivery_fees="CHF:six/60")


def test_the_grid_finds_the_same_areas_as_checking_every_store():
    import random

    from orderhub.carbon.model import great_circle_km

    rng = random.Random(3)
    stores = [(rng.uniform(47, 55), rng.uniform(6, 15)) for _ in range(300)]
    stores += [(69.5, 19.0), (69.6, 25.0)]  # far north, where a degree of longitude is short
    areas = Areas(stores)
    addresses = [(rng.uniform(47, 55), rng.uniform(6, 15)) for _ in range(2000)] + [(69.55, 19.3), (69.55, 22.0)]
    for a in addresses:
        want = URBAN if any(great_circle_km(*s, *a) <= 15.0 for s in stores) else RURAL
        assert areas(a) == want, a
    assert areas((69.55, 19.3)) == URBAN and areas((69.55, 22.0)) == RURAL
