"""The ISO 14083 / GLEC calculator against published worked figures, and its rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderhub.carbon.factors import default_factors, parse_rows
from orderhub.carbon.model import (
    DataQuality,
    Factor,
    FactorKind,
    Hub,
    Leg,
    ParcelNetwork,
    ShipmentFootprint,
    allocate_by_mass,
    fuel_leg_kg,
    great_circle_km,
    leg_kg,
    pick,
)
from orderhub.core.errors import InvalidInput

DEFAULTS = {f.key: f for f in default_factors()}


def within_1pct(got: float, want: float) -> bool:
    return abs(got - want) <= 0.01 * abs(want)


def test_defra_2012_tonne_km_method_articulated_over_33t():
    """Defra/DECC 2012 GHG Conversion Factors, Annex 7 ('multiply the weight of goods in tonnes by
    the distance travelled … by the factor'), Table 7e, articulated >33 t, UK average load:
    0.10273 kg CO2e/t.km all scopes, of which 0.08473 direct. 10 t over 100 km = 1,000 t.km."""
    leg = Leg(DEFAULTS["road.artic.gt33t.diesel"], distance_km=100, mass_kg=10_000)
    assert leg.tkm == pytest.approx(1000)
    assert within_1pct(leg.kg, 102.73)
    assert within_1pct(leg.ttw_kg, 84.73)


def test_defra_2012_rigid_small_lorry_and_all_hgv_average():
    """Table 7e: rigid >3.5–7.5 t 0.70978 and all HGVs 0.14993 kg CO2e/t.km; 2.5 t × 40 km = 100 t.km."""
    assert within_1pct(Leg(DEFAULTS["road.rigid.3_5-7_5t.diesel"], 40, 2500).kg, 70.978)
    assert within_1pct(Leg(DEFAULTS["road.hgv.avg.diesel"], 40, 2500).kg, 14.993)


def test_defra_2007_fuel_based_method_rigid_lorry_half_laden():
    """Defra guidelines as quoted in Hansard (HC, 4 June 2007): rigid lorry 50 % laden uses
    0.288 l/km; diesel 2.63 kg CO2 per litre. 100 km → 100 × 0.288 × 2.63 = 75.744 kg CO2."""
    assert within_1pct(fuel_leg_kg(100, 0.288, 2.63), 75.744)


def test_defra_2011_tonne_km_method_van_rail_air_and_sea_well_to_wheel():
    """Defra/DECC 2011 GHG Conversion Factors, Annex 7 (freight, tonne.km basis): average diesel
    van up to 3.5 t 0.63657 kg CO2e/t.km (direct 0.53402); rail 0.03694; long-haul air 0.72731;
    average container ship 0.01875. 1 t van 100 km, 20 t rail 250 km, 0.5 t air 8,000 km,
    12 t by sea 15,000 km."""
    van = Leg(DEFAULTS["road.van.le3_5t.diesel"], 100, 1000)
    assert within_1pct(van.kg, 63.657) and within_1pct(van.ttw_kg, 53.402)
    assert within_1pct(Leg(DEFAULTS["rail.freight.avg"], 250, 20_000).kg, 184.7)
    assert within_1pct(Leg(DEFAULTS["air.freight.longhaul"], 8000, 500).kg, 2909.24)
    assert within_1pct(Leg(DEFAULTS["sea.container.avg"], 15_000, 12_000).kg, 3375.0)


def test_defra_rows_add_up_as_published():
    """Every 2011 row states its parts: CO2 + CH4 + N2O = direct (tank-to-wheel), and direct +
    indirect (well-to-tank) = the row's well-to-wheel value. Catches a mistyped figure."""
    import re

    checked = 0
    for f in DEFAULTS.values():
        parts = re.search(r"direct ([\d.]+) \(CO2 ([\d.]+), CH4 ([\d.]+), N2O ([\d.]+)\) \+ indirect ([\d.]+)", f.note)
        if not parts:
            continue
        direct, co2, ch4, n2o, indirect = map(float, parts.groups())
        assert co2 + ch4 + n2o == pytest.approx(direct, abs=2e-5), f.key
        assert f.ttw == pytest.approx(direct * 1000, abs=0.01), f.key
        assert f.value == pytest.approx((direct + indirect) * 1000, abs=0.02), f.key
        checked += 1
    assert checked >= 17


def test_van_fuel_types_are_all_shipped():
    fuels = {k.rsplit(".", 1)[1] for k in DEFAULTS if k.startswith("road.van.le3_5t.")}
    assert fuels == {"diesel", "petrol", "lpg", "cng", "avg"}
    assert all(DEFAULTS[f"road.van.le3_5t.{x}"].quality == DataQuality.default for x in fuels)


def test_every_default_factor_cites_its_source_and_edition():
    rows = default_factors()
    assert len(rows) >= 12
    assert all(f.source and f.edition for f in rows)
    assert all(f.ttw is None or f.ttw <= f.value for f in rows)


def test_shipment_sums_legs_and_hubs_and_allocates_by_mass():
    hub = Factor(FactorKind.hub, "hub.parcel", 2.0, "test", "1")
    sf = ShipmentFootprint(
        legs=(Leg(DEFAULTS["road.artic.gt33t.diesel"], 300, 20), Leg(DEFAULTS["road.van.le3_5t.diesel"], 25, 20)),
        hubs=(Hub(hub, 20),),
    )
    want = 20 * 300 * 102.73e-6 + 20 * 25 * 636.57e-6 + 0.02 * 2.0
    assert sf.kg == pytest.approx(want)
    assert sf.quality == DataQuality.default  # the weakest part: every part is a published default
    shares = allocate_by_mass(sf.kg, {"a": 15, "b": 5})
    assert shares["a"] == pytest.approx(0.75 * sf.kg) and sum(shares.values()) == pytest.approx(sf.kg)


def test_parcel_network_goes_direct_when_close_and_via_depot_when_far():
    net = ParcelNetwork(trunk=DEFAULTS["road.artic.gt33t.diesel"], last_mile=DEFAULTS["road.van.le3_5t.diesel"])
    near = net.shipment(gc_km=30, mass_kg=2)
    assert [leg.factor.key for leg in near.legs] == ["road.van.le3_5t.diesel"] and near.legs[
        0
    ].distance_km == pytest.approx(36)
    far = net.shipment(gc_km=300, mass_kg=2)
    assert [leg.factor.key for leg in far.legs] == ["road.artic.gt33t.diesel", "road.van.le3_5t.diesel"]
    assert sum(leg.distance_km for leg in far.legs) == pytest.approx(360)


def test_carrier_primary_figure_beats_modelled_beats_default():
    d = Factor(FactorKind.transport, "k", 100, "s", "2012")
    m = Factor(FactorKind.transport, "k", 90, "s", "2012", quality=DataQuality.modelled)
    p = Factor(FactorKind.transport, "k", 80, "s", "2025", quality=DataQuality.primary, carrier="DHL")
    assert pick([d, m, p], carrier="DHL") is p
    assert pick([d, m, p], carrier="UPS") is m
    assert pick([d]) is d and pick([]) is None


def test_great_circle_berlin_munich():
    assert great_circle_km(52.5200, 13.4050, 48.1351, 11.5820) == pytest.approx(504, rel=0.01)


@given(st.floats(0.01, 1e5), st.floats(0.1, 1e4), st.floats(1, 2000))
def test_leg_emissions_scale_linearly(mass, distance, intensity):
    assert leg_kg(2 * mass, distance, intensity) == pytest.approx(2 * leg_kg(mass, distance, intensity))
    assert leg_kg(mass, distance, intensity) == pytest.approx(mass / 1000 * distance * intensity / 1000)


@pytest.mark.parametrize(
    ("row", "pointer"),
    [
        ({"kind": "transport", "key": "x", "value": "120", "source": "s"}, "/rows/0/edition"),
        ({"kind": "truck", "key": "x", "value": "1", "source": "s", "edition": "1"}, "/rows/0/kind"),
        (
            {"kind": "transport", "key": "x", "value": "0.12", "unit": "kg CO2e/t.km", "source": "s", "edition": "1"},
            "/rows/0/unit",
        ),
        ({"kind": "transport", "key": "x", "value": "120000", "source": "s", "edition": "1"}, "/rows/0/value"),
        ({"kind": "transport", "key": "x", "value": "abc", "source": "s", "edition": "1"}, "/rows/0/value"),
        ({"kind": "transport", "key": "x", "value": "100", "ttw": "120", "source": "s", "edition": "1"}, "/rows/0/ttw"),
        (
            {"kind": "product", "key": "x", "value": "1", "source": "s", "edition": "1", "quality": "great"},
            "/rows/0/quality",
        ),
    ],
)
def test_bad_factor_rows_are_named(row, pointer):
    with pytest.raises(InvalidInput) as err:
        parse_rows([row])
    assert pointer in [e["pointer"] for e in err.value.errors]
