"""The ISO 14083 / GLEC calculator against published worked figures, and its rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderhub.carbon.factors import FactorSet, default_factors, parse_rows, region_of
from orderhub.carbon.model import (
    DataQuality,
    Factor,
    FactorKind,
    Hub,
    Leg,
    ShipmentFootprint,
    allocate_by_mass,
    fuel_leg_kg,
    great_circle_km,
    leg_kg,
    pick,
)
from orderhub.core.errors import InvalidInput

#: the Defra/DECC 2011 and 2012 rows the project shipped before: older editions, still loaded
DEFAULTS = {f.key: f for f in default_factors() if f.edition in ("2011", "2012")}
FS = FactorSet(default_factors())


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
    assert len(rows) >= 100
    assert all(f.source and f.edition and f.region for f in rows)
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


# -- the current defaults: GLEC v3 for continental Europe, DESNZ 2026 for Great Britain ---------
def test_current_defaults_are_glec_v3_for_europe_and_desnz_with_wtt_for_gb():
    eu_van = FS.get(FactorKind.transport, "road.van.le3_5t.diesel", region="EU")
    assert (eu_van.value, eu_van.ttw, eu_van.wtt) == (803, 616, 187) and "GLEC Framework v3.0" in eu_van.source
    gb_van = FS.get(FactorKind.transport, "road.van.le3_5t.diesel", region="GB")
    assert gb_van.edition == "2026" and gb_van.value == pytest.approx(786.06) and gb_van.ttw == pytest.approx(635.11)
    assert FS.get(FactorKind.transport, "road.artic.le40t.diesel", region="EU").value == 95
    # older editions stay usable by naming them: DESNZ 2025 van, direct 0.63130 + WTT 0.15095
    gb_2025 = FS.get(FactorKind.transport, "road.van.le3_5t.diesel", region="GB", edition="2025")
    assert gb_2025.value == pytest.approx(782.25) and gb_2025.ttw == pytest.approx(631.30)
    assert FS.get(FactorKind.transport, "road.van.le3_5t.diesel", region="GB", edition="2011").value == 636.57
    assert region_of("GB") == "GB" and region_of("de") == "EU" and region_of("") == "EU"


def test_desnz_rows_are_direct_plus_well_to_tank():
    for f in default_factors():
        if f.source.startswith("UK Government GHG Conversion Factors") and f.scope == "WTW" and f.ttw:
            direct, wtt = (float(x) for x in __import__("re").findall(r"(?:direct|WTT) ([\d.]+)", f.note))
            assert f.value == pytest.approx((direct + wtt) * 1000, abs=0.01), (f.key, f.edition)


def test_hub_defaults_are_glecs_medians_per_tonne_handled():
    want = {
        "hub.transshipment": 0.6,
        "hub.transshipment.controlled": 2.2,
        "hub.storage_transshipment": 2.1,
        "hub.storage_transshipment.controlled": 4.0,
        "hub.warehouse": 17.5,
        "hub.warehouse.controlled": 33.0,
        "hub.liquid_bulk": 3.1,
        "hub.liquid_bulk.controlled": 8.1,
    }
    assert {k: FS.get(FactorKind.hub, k).value for k in want} == want


def test_pick_prefers_the_routes_region_then_global_then_the_newer_year():
    eu = Factor(FactorKind.transport, "k", 95, "GLEC", "v3.0 (2024)", region="EU")
    gb_old = Factor(FactorKind.transport, "k", 107, "Defra", "2012", region="GB")
    gb_new = Factor(FactorKind.transport, "k", 97, "DESNZ", "2026", region="GB")
    assert pick([eu, gb_old, gb_new], region="GB") is gb_new
    assert pick([eu, gb_old, gb_new], region="EU") is eu
    assert pick([gb_old, gb_new], region="EU") is gb_new  # another region's newest, for want of one
    assert pick([eu, gb_old, gb_new], region="GB", edition="2012") is gb_old


# -- the parcel network ---------------------------------------------------------------------------
def test_a_parcel_carries_a_share_of_the_delivery_round_whatever_it_weighs():
    net = FS.network("EU")
    dc = FS.origin("DC-1", "distribution_centre")
    light, heavy = net.parcel(300, 0.5, dc), net.parcel(300, 5.0, dc)
    assert [r.factor.key for r in light.rounds] == ["round.delivery.urban.van.diesel"]
    assert light.rounds[0].kg == pytest.approx(0.0870)  # GLEC v3 E1 element 9
    assert [h.factor.key for h in light.hubs] == ["hub.warehouse", "hub.transshipment"]
    assert [(leg.factor.key, leg.distance_km) for leg in light.legs] == [("road.artic.le40t.diesel", 300)]
    per_kg = (17.5 + 0.6) / 1000 + 300 * 95e-6
    assert light.kg == pytest.approx(0.0870 + 0.5 * per_kg)
    assert heavy.kg - light.kg == pytest.approx(4.5 * per_kg)
    assert net.terms(300, dc) == pytest.approx((0.0870, per_kg))
    # two parcels cost one round share more than one parcel of the same goods
    assert net.kg(300, 0.25, dc) * 2 - net.kg(300, 0.5, dc) == pytest.approx(0.0870)


def test_a_store_is_collected_by_a_round_and_a_long_route_passes_two_sort_centres():
    net = FS.network("EU")
    store = FS.origin("ST-1", "store")
    local = net.parcel(20, 1.0, store)
    assert [r.factor.key for r in local.rounds] == [
        "round.collection.urban.van.diesel",
        "round.delivery.urban.van.diesel",
    ]
    assert local.legs == () and [h.factor.key for h in local.hubs] == ["hub.warehouse", "hub.transshipment"]
    far = net.parcel(400, 1.0, store)
    assert [h.factor.key for h in far.hubs] == ["hub.warehouse", "hub.transshipment", "hub.transshipment"]
    assert far.legs[0].distance_km == 400


def test_gb_routes_take_desnz_linehaul_and_a_sites_own_figure_wins():
    assert FS.network("GB").linehaul.key == "road.artic.avg.diesel"
    assert FS.network("GB").linehaul.edition == "2026"
    own = Factor(FactorKind.hub, "hub.site:DC-1", 4.1, "site energy data", "2025", quality=DataQuality.primary)
    fs = FactorSet([*default_factors(), own])
    assert fs.origin("DC-1", "distribution_centre").hub is own
    assert fs.origin("DC-2", "distribution_centre").hub.key == "hub.warehouse"


def test_a_carriers_own_round_figure_for_its_service_wins():
    own = Factor(FactorKind.round, "round.delivery.service:eco", 0.031, "carrier data", "2025", carrier="GreenHaul")
    fs = FactorSet([*default_factors(), own])
    assert fs.round("delivery", carrier="GreenHaul", service="eco") is own
    assert fs.round("delivery", carrier="Other", service="eco").key == "round.delivery.urban.van.diesel"
    assert fs.round("delivery", vehicle="cargo_bike").quality == DataQuality.modelled


# -- rounds, hubs, blends -------------------------------------------------------------------------
def test_a_tracked_round_is_allocated_by_tkm_and_an_untracked_one_by_items():
    from orderhub.carbon.chains import RoundItem, allocate_round

    items = [RoundItem("a", "o1", 1.0, 10.0), RoundItem("b", "o2", 3.0, 10.0)]
    tracked = allocate_round(8.0, 6.0, items)
    assert tracked.method == "tkm" and [s.kg for s in tracked.shares] == pytest.approx([2.0, 6.0])
    assert [s.ttw_kg for s in tracked.shares] == pytest.approx([1.5, 4.5])
    untracked = allocate_round(8.0, None, [RoundItem("a"), RoundItem("b", mass_kg=3.0)], unlisted_items=2)
    assert untracked.method == "items" and [s.kg for s in untracked.shares] == pytest.approx([2.0, 2.0])
    with pytest.raises(InvalidInput):
        allocate_round(8.0, None, [RoundItem("a")], method="tkm")


def test_a_blend_is_linear_in_its_bio_share_between_the_blends_the_table_holds():
    from orderhub.carbon.chains import energy

    b7 = energy(FS, "diesel.eu/l", bio_share=0.07)
    assert b7.value == pytest.approx(3.44 - 0.07 / 0.05 * 0.12)  # 3.272
    assert b7.ttw == pytest.approx(2.64 - 0.07 / 0.05 * 0.13)
    assert b7.quality == DataQuality.modelled
    assert energy(FS, "diesel.eu/l").value == 3.44 and energy(FS, "natural_gas").unit == "kg CO2e/kWh"
    assert energy(FS, "hydrogen/kg") is None


def test_a_hubs_controlled_tonnes_carry_the_energy_only_they_use():
    from orderhub.carbon.chains import Energy, EnergyUse, hub_intensity

    power = Energy(0.5, 0.0, "kg CO2e/kWh", "grid", DataQuality.default, "s")
    h = hub_intensity(1000, 100, [EnergyUse(400, power), EnergyUse(200, power, controlled_only=True)])
    assert (h.kg, h.kg_per_t, h.ambient_kg_per_t) == pytest.approx((300, 0.3, 0.2))
    assert h.controlled_kg_per_t == pytest.approx(0.2 + 100 / 100)


# -- a DESNZ workbook read by label -----------------------------------------------------------
DESNZ_2026 = """UK Government GHG Conversion Factors for Company Reporting,,,,,,,,,
Flat file for automatic processing,,,,,,,,,
,,,,,,,,,
GHG Conversion Factor 2026,Scope,ID,Level 4,UOM,Level 1,Level 2,Level 3,Column Text,GHG/Unit
0.63511,Scope 3,1,,tonne.km,Freighting goods,Vans,Average (up to 3.5 tonnes),Diesel,kg CO2e
0.62,Scope 3,2,,tonne.km,Freighting goods,Vans,Average (up to 3.5 tonnes),Diesel,kg CO2
0.14699,Scope 3,3,,tonne.km,Freighting goods,Vans,Average (up to 3.5 tonnes),Battery Electric Vehicle,kg CO2e
0.19947,Scope 3,4,,tonne.km,Freighting goods,HGV (all diesel) non-refrigerated,All rigids,Average laden,kg CO2e
0.30,Scope 3,5,,tonne.km,Freighting goods,HGV (all diesel) non-refrigerated,All rigids,100% Laden,kg CO2e
0.07926,Scope 3,6,,tonne.km,Freighting goods,HGV (all diesel) non-refrigerated,All artics,Average laden,kg CO2e
0.12122,Scope 3,7,,tonne.km,Freighting goods,HGVs refrigerated (all diesel),All HGVs,Average laden,kg CO2e
0.10356,Scope 3,8,,tonne.km,Freighting goods,HGV (all diesel) non-refrigerated,All HGVs,Average laden,kg CO2e
1.2,Scope 3,9,,km,Freighting goods,Vans,Average (up to 3.5 tonnes),Diesel,kg CO2e
0.15095,Scope 3,10,,tonne.km,WTT- delivery vehs & freight,WTT- vans,Average (up to 3.5 tonnes),Diesel,kg CO2e
0.04332,Scope 3,11,,tonne.km,WTT- delivery vehs & freight,WTT- HGV (all diesel) non-refrigerated,All rigids,Average laden,kg CO2e
0.01823,Scope 3,12,,tonne.km,WTT- delivery vehs & freight,WTT- HGV (all diesel) non-refrigerated,All artics,Average laden,kg CO2e
0.02583,Scope 3,13,,tonne.km,Freighting goods,Rail,Freight train,,kg CO2e
0.00691,Scope 3,14,,tonne.km,WTT- delivery vehs & freight,WTT- rail,Freight train,,kg CO2e
0.5,Scope 3,15,,tonne.km,Freighting goods,Cargo ship,Bulk carrier,Average,kg CO2e
2.1,Scope 1,16,,litres,Fuels,Liquid fuels,Diesel (average biofuel blend),,kg CO2e
"""


def test_a_desnz_flat_file_is_read_by_label_whatever_the_column_order():
    from orderhub.carbon import desnz

    rows, skipped = desnz.parse(DESNZ_2026)
    got = {r["key"]: (r["value"], r["ttw"], r["scope"], r["edition"]) for r in rows}
    assert got == {
        "road.van.le3_5t.diesel": (pytest.approx(786.06), pytest.approx(635.11), "WTW", "2026"),
        "road.van.le3_5t.electric": (pytest.approx(146.99), 0.0, "WTW", "2026"),
        "road.rigid.avg.diesel": (pytest.approx(242.79), pytest.approx(199.47), "WTW", "2026"),
        "road.artic.avg.diesel": (pytest.approx(97.49), pytest.approx(79.26), "WTW", "2026"),
        "road.hgv.refrigerated.avg.diesel": (pytest.approx(121.22), pytest.approx(121.22), "TTW", "2026"),
        "road.hgv.avg.diesel": (pytest.approx(103.56), pytest.approx(103.56), "TTW", "2026"),
        "rail.freight.avg": (pytest.approx(32.74), pytest.approx(25.83), "WTW", "2026"),
    }
    # freight rows it does not know (another ship, another load factor) are reported, not guessed
    assert skipped == [
        "cargo ship | bulk carrier | average",
        "hgv (all diesel) non-refrigerated | all rigids | 100% laden",
    ]
    assert parse_rows(rows)  # and every row passes the table's own checks
    # the same rows with 2022 labels and another column order: same keys
    old = "Level 1,Level 2,Level 3,Level 4,Column Text,UOM,GHG/Unit,GHG Conversion Factor 2022\n"
    old += "Freighting goods,HGV (all diesel),All rigids,,Average laden,tonne.km,kg CO2e,0.21345\n"
    old += "WTT- delivery vehs & freight,WTT- HGV (all diesel),All rigids,,Average laden,tonne.km,kg CO2e,0.05041\n"
    rows, _ = desnz.parse(old)
    assert [(r["key"], r["edition"], r["value"]) for r in rows] == [("road.rigid.avg.diesel", "2022", 263.86)]


def test_a_file_without_the_desnz_header_is_refused():
    from orderhub.carbon import desnz

    with pytest.raises(InvalidInput):
        desnz.parse("a,b,c\n1,2,3\n")


def test_demo_product_factors_come_from_cited_tables_not_made_up():
    import random

    from orderhub import demo

    items = demo.build_items(random.Random(7))
    rows = parse_rows(list(__import__("csv").DictReader(demo.demo_factors(items).splitlines())))
    assert rows and all(f.source.startswith("ADEME Impact CO2") for f in rows)
    by_key = {f.key: f for f in rows}
    assert by_key["category:apparel"].value == 11.2 and by_key["category:footwear"].value == 17.3
    jacket = next(i for i in items if i.name.startswith("Rain jacket"))
    assert by_key[f"sku:{jacket.sku}"].value == 85.8 and "coat" in by_key[f"sku:{jacket.sku}"].note
    assert not any(k.startswith("category:kitchen") for k in by_key)  # no cited source: left missing


def test_the_planners_parcel_model_is_the_networks_arithmetic():
    model = FS.parcel_model("EU")
    net = FS.network("EU")
    for node_id, kind in (("DC-1", "distribution_centre"), ("ST-1", "store")):
        origin = FS.origin(node_id, kind)
        for road in (0.0, 12.0, 50.0, 50.1, 333.0):
            assert model.terms(road, node_id, kind) == pytest.approx(net.terms(road, origin)), (node_id, road)
            fixed, per_kg = model.terms(road, node_id, kind)
            assert fixed + per_kg * 2.5 == pytest.approx(net.parcel(road, 2.5, origin).kg)
