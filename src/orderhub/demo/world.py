"""The demo world's fixed facts: German cities, nodes, product categories, calendar events."""

from __future__ import annotations

# (city, region code, lat, lon, population in thousands) — coordinates of city centres.
CITIES = [
    ("Berlin", "BE", 52.5200, 13.4050, 3755),
    ("Hamburg", "HH", 53.5511, 9.9937, 1892),
    ("München", "BY", 48.1351, 11.5820, 1512),
    ("Köln", "NW", 50.9375, 6.9603, 1084),
    ("Frankfurt am Main", "HE", 50.1109, 8.6821, 773),
    ("Stuttgart", "BW", 48.7758, 9.1829, 633),
    ("Düsseldorf", "NW", 51.2277, 6.7735, 629),
    ("Leipzig", "SN", 51.3397, 12.3731, 616),
    ("Dortmund", "NW", 51.5136, 7.4653, 593),
    ("Essen", "NW", 51.4556, 7.0116, 584),
    ("Bremen", "HB", 53.0793, 8.8017, 569),
    ("Dresden", "SN", 51.0504, 13.7373, 563),
    ("Hannover", "NI", 52.3759, 9.7320, 545),
    ("Nürnberg", "BY", 49.4521, 11.0767, 523),
    ("Duisburg", "NW", 51.4344, 6.7623, 502),
    ("Bochum", "NW", 51.4818, 7.2162, 364),
    ("Wuppertal", "NW", 51.2562, 7.1508, 358),
    ("Bielefeld", "NW", 52.0302, 8.5325, 334),
    ("Bonn", "NW", 50.7374, 7.0982, 336),
    ("Münster", "NW", 51.9607, 7.6261, 320),
    ("Mannheim", "BW", 49.4875, 8.4660, 315),
    ("Karlsruhe", "BW", 49.0069, 8.4037, 308),
    ("Augsburg", "BY", 48.3705, 10.8978, 301),
    ("Kiel", "SH", 54.3233, 10.1228, 247),
    ("Rostock", "MV", 54.0924, 12.0991, 209),
    ("Freiburg im Breisgau", "BW", 47.9990, 7.8421, 236),
]

# Distribution centres: (id, name, city, region, lat, lon, daily capacity in orders)
DCS = [
    ("DC-NORTH", "DC Hamburg-Allermöhe", "Hamburg", "HH", 53.4896, 10.1270, 4000),
    ("DC-CENTRAL", "DC Bad Hersfeld", "Bad Hersfeld", "HE", 50.8686, 9.7070, 6000),
    ("DC-SOUTH", "DC Nürnberg Hafen", "Nürnberg", "BY", 49.4095, 11.0440, 4000),
]

# The 20 largest cities get a store.
STORE_CITIES = [c[0] for c in CITIES[:20]]

# category: (share of demand, weight range g, price range EUR, margin, yearly peak month, names)
CATEGORIES = {
    "apparel": (
        0.24,
        (150, 900),
        (15, 140),
        0.55,
        10,
        ["Rain jacket", "Merino shirt", "Fleece", "Chino", "Hoodie", "Wool cap", "Down vest"],
    ),
    "footwear": (
        0.14,
        (500, 1400),
        (45, 190),
        0.45,
        4,
        ["Trail shoe", "Sneaker", "Hiking boot", "Sandal", "Running shoe"],
    ),
    "kitchen": (
        0.15,
        (200, 4000),
        (8, 220),
        0.40,
        12,
        ["Pour-over set", "Chef knife", "Cast-iron pan", "Kettle", "Spice rack"],
    ),
    "electronics": (
        0.12,
        (80, 2500),
        (20, 450),
        0.18,
        12,
        ["Headphones", "Speaker", "Power bank", "Smart plug", "E-reader"],
    ),
    "beauty": (0.10, (50, 600), (5, 80), 0.60, 12, ["Face cream", "Shampoo bar", "Perfume", "Lip balm", "Serum"]),
    "home": (0.13, (300, 9000), (10, 300), 0.50, 11, ["Throw blanket", "Lamp", "Cushion", "Vase", "Towel set"]),
    "outdoor": (
        0.07,
        (100, 6000),
        (10, 350),
        0.42,
        6,
        ["Tent", "Steel bottle", "Headlamp", "Backpack", "Camping chair"],
    ),
    "toys": (0.05, (100, 2500), (8, 120), 0.48, 12, ["Puzzle", "Building set", "Plush bear", "Board game", "Kite"]),
}
VARIANTS = ["S", "M", "L", "XL", "Blue", "Black", "Green", "Grey", "Sand", "Red"]

# Channel mix and where each channel's weekly peak falls (0 = Monday).
CHANNELS = {"web": 0.34, "shopify": 0.20, "woocommerce": 0.09, "pos": 0.26, "social": 0.11}
WEEKDAY = {
    "web": [1.15, 1.05, 1.0, 0.98, 0.95, 0.85, 1.1],
    "shopify": [1.1, 1.05, 1.0, 1.0, 0.95, 0.9, 1.05],
    "woocommerce": [1.1, 1.05, 1.0, 1.0, 0.95, 0.9, 1.0],
    "pos": [0.8, 0.85, 0.9, 0.95, 1.15, 1.55, 0.0],  # shops are closed on Sunday
    "social": [0.9, 0.9, 0.95, 1.0, 1.1, 1.2, 1.3],
}

# (month, day, name, multiplier, channels it lifts or None for all) — promotion spikes.
PROMOTIONS = [
    (11, 11, "Singles' Day live sale", 3.5, ["social"]),
    (3, 20, "Spring sale", 1.8, ["web", "shopify", "woocommerce"]),
    (7, 10, "Summer sale", 1.7, None),
]
# Black Friday and Cyber Monday move every year: computed in the generator.

# fmt: off
FIRST_NAMES = ['Anna', 'Ben', 'Clara', 'David', 'Emma', 'Felix', 'Greta', 'Hannes', 'Ida', 'Jonas', 'Lena', 'Max', 'Mia', 'Noah', 'Paula', 'Paul', 'Sofia', 'Tom', 'Lea', 'Luca', 'Marie', 'Elias', 'Nora', 'Finn']
LAST_NAMES = ['Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Schulz', 'Hoffmann', 'Koch', 'Richter', 'Klein', 'Wolf', 'Neumann', 'Schwarz', 'Zimmermann', 'Braun', 'Krüger', 'Hofmann']
# fmt: on
