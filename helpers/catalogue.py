"""A deterministic product catalogue and order history (fixed seed, made in memory), and loading it into Redis.

Products carry nested fields (variants, ratings, a store with real coordinates), free text (name, description),
a category hierarchy ("home>kitchen>coffee makers"), brands, status values with spaces ("in stock"), prices and
stock. Orders reference products and carry a shipping address, line items and internal notes.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from typing import Iterable

import redis
from tqdm import tqdm

from .keys import memory_of
from .search import (build_index, index_memory, profile_iterators, search_ids,  # noqa: F401 - for notebook 05
                     wait_indexed)

SEED = 20240601

CATEGORIES = {  # category path -> (nouns, price range)
    "electronics>audio>headphones": (["Headphones", "Earbuds", "Headset"], (19, 399)),
    "electronics>audio>speakers": (["Speaker", "Soundbar", "Party Speaker"], (29, 699)),
    "electronics>computers>laptops": (["Laptop", "Notebook", "Ultrabook"], (399, 2499)),
    "electronics>computers>accessories": (["Keyboard", "Mouse", "USB-C Hub", "Webcam"], (9, 149)),
    "electronics>phones>smartphones": (["Smartphone", "Phone"], (149, 1399)),
    "home>kitchen>coffee makers": (["Espresso Machine", "Coffee Maker", "Milk Frother"], (29, 899)),
    "home>kitchen>cookware": (["Frying Pan", "Saucepan", "Dutch Oven", "Wok"], (15, 299)),
    "home>furniture>office chairs": (["Office Chair", "Desk Chair", "Gaming Chair"], (79, 899)),
    "sports>outdoor>tents": (["Tent", "Shelter", "Bivy"], (49, 799)),
    "sports>outdoor>backpacks": (["Backpack", "Daypack", "Hydration Pack"], (25, 349)),
    "sports>fitness>yoga": (["Yoga Mat", "Yoga Block", "Yoga Strap"], (9, 129)),
    "toys>building>bricks": (["Brick Set", "Building Kit"], (9, 249)),
}
BRANDS = ["Acme", "Nordlys", "Veloce", "Kumo", "Brightline", "Oakridge", "Sundial", "Polaris", "Tidewater",
          "Marlow", "Quill", "Everpeak", "Lumen", "Halcyon", "Ironbark", "Cobalt"]
ADJECTIVES = ["Wireless", "Compact", "Pro", "Ultra", "Classic", "Lightweight", "Premium", "Eco", "Smart", "Rugged",
              "Foldable", "Silent", "Bluetooth", "Portable", "Deluxe", "Studio"]
FEATURES = ["long battery life", "noise cancelling", "a recycled aluminium body", "a two-year warranty",
            "fast charging", "a water-resistant finish", "a quiet motor", "a carrying case", "a modular design",
            "dishwasher-safe parts", "a breathable mesh", "an ergonomic grip", "USB-C", "a steel frame",
            "a lifetime guarantee", "an app for settings"]
TAGS = ["bestseller", "new", "sale", "eco", "gift idea", "premium", "wireless", "bluetooth", "refurbished",
        "limited edition"]
COLOURS = ["black", "white", "silver", "navy", "red", "green", "sand", "graphite"]
SIZES = ["S", "M", "L", "XL"]
STATUSES = {"in stock": 0.62, "low stock": 0.13, "out of stock": 0.15, "preorder": 0.05, "discontinued": 0.05}
ORDER_STATUSES = {"pending": 0.08, "paid": 0.12, "shipped": 0.15, "delivered": 0.45, "cancelled": 0.05,
                  "archived": 0.15}
CITIES = [  # (city, country, latitude, longitude)
    ("Lisbon", "PT", 38.7223, -9.1393), ("Madrid", "ES", 40.4168, -3.7038), ("Barcelona", "ES", 41.3874, 2.1686),
    ("Paris", "FR", 48.8566, 2.3522), ("Lyon", "FR", 45.7640, 4.8357), ("Brussels", "BE", 50.8503, 4.3517),
    ("Amsterdam", "NL", 52.3676, 4.9041), ("Berlin", "DE", 52.5200, 13.4050), ("Munich", "DE", 48.1351, 11.5820),
    ("Hamburg", "DE", 53.5511, 9.9937), ("Vienna", "AT", 48.2082, 16.3738), ("Zurich", "CH", 47.3769, 8.5417),
    ("Milan", "IT", 45.4642, 9.1900), ("Rome", "IT", 41.9028, 12.4964), ("Copenhagen", "DK", 55.6761, 12.5683),
    ("Stockholm", "SE", 59.3293, 18.0686), ("Oslo", "NO", 59.9139, 10.7522), ("Warsaw", "PL", 52.2297, 21.0122),
    ("Prague", "CZ", 50.0755, 14.4378), ("Dublin", "IE", 53.3498, -6.2603), ("London", "GB", 51.5072, -0.1276),
    ("Manchester", "GB", 53.4808, -2.2426),
]
STREETS = ["High Street", "Station Road", "Church Lane", "Market Square", "Park Avenue", "Mill Road", "King Street",
           "Harbour Way", "Garden Row", "Bridge Street"]
EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z: every created_at is after this


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def stores(count: int = 60, seed: int = SEED) -> list[dict]:
    """`count` stores spread over real European cities, each within ~8 km of its city centre."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        city, country, lat, lon = CITIES[i % len(CITIES)]
        lat += rng.uniform(-0.07, 0.07)
        lon += rng.uniform(-0.07, 0.07) / math.cos(math.radians(lat))
        out.append({"id": f"S{i:03d}", "name": f"{city} {STREETS[i % len(STREETS)]}", "city": city,
                    "country": country, "lat": round(lat, 5), "lon": round(lon, 5)})
    return out


def products(count: int, seed: int = SEED) -> list[dict]:
    """`count` product documents, the same ones for the same seed."""
    rng = random.Random(seed)
    shops = stores(seed=seed)
    categories = list(CATEGORIES)
    out = []
    for i in range(count):
        category = categories[i % len(categories)] if i < len(categories) else rng.choice(categories)
        nouns, (low, high) = CATEGORIES[category]
        brand, noun = rng.choice(BRANDS), rng.choice(nouns)
        name = f"{brand} {rng.choice(ADJECTIVES)} {noun} {rng.randint(1, 9)}{rng.choice('0000SXL')}"
        features = rng.sample(FEATURES, 3)
        price = round(math.exp(rng.uniform(math.log(low), math.log(high))), 2) - 0.01
        status = _pick(rng, STATUSES)
        stock = 0 if status in ("out of stock", "preorder", "discontinued") else (
            rng.randint(1, 9) if status == "low stock" else rng.randint(10, 500))
        store = shops[rng.randrange(len(shops))]
        variants = [{"sku": f"P{i:06d}-{v}", "colour": rng.choice(COLOURS), "size": rng.choice(SIZES),
                     "price": round(price + rng.choice([0, 0, 5, 10, 20]), 2), "stock": rng.randint(0, 60)}
                    for v in range(rng.randint(1, 4))]
        out.append({
            "id": f"P{i:06d}",
            "name": name,
            "description": f"The {name} from {brand} comes with {features[0]}, {features[1]} and {features[2]}. "
                           f"A {rng.choice(['great', 'solid', 'popular', 'reliable'])} choice in "
                           f"{category.split('>')[-1]}.",
            "brand": brand,
            "category": category,
            "tags": rng.sample(TAGS, rng.randint(1, 3)),
            "status": status,
            "price": price,
            "stock": stock,
            "rating": {"average": round(rng.triangular(1.0, 5.0, 4.3), 1), "count": rng.randint(0, 2500)},
            "variants": variants,
            "store": {"id": store["id"], "name": store["name"], "city": store["city"],
                      "location": f"{store['lon']},{store['lat']}"},
            "units_sold": 0,
            "created_at": EPOCH + rng.randint(0, 365 * 86_400),
            "internal_notes": f"Supplier batch {rng.randint(1000, 9999)}; reorder at {rng.randint(5, 50)} units; "
                              f"buyer {rng.choice(['ana', 'bo', 'chen', 'dee', 'eli'])}.",
        })
    return out


def orders(count: int, catalogue: list[dict], seed: int = SEED) -> list[dict]:
    """`count` orders of products from `catalogue`; also adds each product's sold quantity to its `units_sold`."""
    rng = random.Random(seed + 1)
    out = []
    for i in range(count):
        city, country, _, _ = rng.choice(CITIES)
        items = []
        for product in rng.sample(catalogue, rng.randint(1, 4)):
            quantity = rng.choice([1, 1, 1, 2, 3])
            product["units_sold"] += quantity
            items.append({"sku": product["id"], "name": product["name"], "quantity": quantity,
                          "price": product["price"]})
        out.append({
            "id": f"O{i:07d}",
            "customer_id": f"C{rng.randint(0, max(1, count // 5)):06d}",
            "status": _pick(rng, ORDER_STATUSES),
            "items": items,
            "total": round(sum(it["price"] * it["quantity"] for it in items), 2),
            "created_at": EPOCH + rng.randint(0, 365 * 86_400),
            "shipping_address": {"street": f"{rng.randint(1, 240)} {rng.choice(STREETS)}", "city": city,
                                 "zip": f"{rng.randint(1000, 99999):05d}", "country": country},
            "internal_notes": rng.choice(["", "", "customer called about delivery", "gift wrap requested",
                                          "left with neighbour", "address corrected by support"]),
        })
    return out


def catalogue(products_count: int, orders_count: int, seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """(products, orders): the products' `units_sold` agree with the orders."""
    items = products(products_count, seed)
    return items, orders(orders_count, items, seed)


def load_json(r: redis.Redis, prefix: str, docs: Iterable[dict], *, batch: int = 500, desc: str = "loading",
              total: int | None = None) -> float:
    """Write each doc as a JSON document at `prefix + doc['id']`, pipelined, with a progress bar; returns seconds."""
    docs = list(docs)
    started = time.perf_counter()
    # stdout, not stderr: a notebook keeps no warning-coloured output; TQDM_DISABLE=1 silences it in tests
    with tqdm(total=total or len(docs), desc=desc, unit="doc", file=sys.stdout) as bar:
        for i in range(0, len(docs), batch):
            pipe = r.pipeline(transaction=False)
            for doc in docs[i:i + batch]:
                pipe.execute_command("JSON.SET", prefix + doc["id"], "$", json.dumps(doc))
            pipe.execute()
            bar.update(len(docs[i:i + batch]))
    return time.perf_counter() - started


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km (haversine, the Earth radius Redis uses for GEO)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6372.7976 * math.asin(math.sqrt(a))


def flatten(doc: dict, prefix: str = "") -> dict[str, str | int | float]:
    """A nested document as flat hash fields: 'store.city' for nested objects, JSON text for arrays."""
    flat: dict[str, str | int | float] = {}
    for name, value in doc.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{name}."))
        elif isinstance(value, list):
            flat[prefix + name] = json.dumps(value)
        elif isinstance(value, bool):
            flat[prefix + name] = int(value)
        else:
            flat[prefix + name] = value
    return flat


def bytes_per_layout(r: redis.Redis, prefix: str, docs: list[dict]) -> dict[str, float]:
    """Store each doc as a hash (flattened), a JSON document and a JSON string; mean MEMORY USAGE per doc of each."""
    pipe = r.pipeline(transaction=False)
    for i, doc in enumerate(docs):
        pipe.hset(f"{prefix}hash:{i}", mapping=flatten(doc))
        pipe.json().set(f"{prefix}json:{i}", "$", doc)
        pipe.set(f"{prefix}str:{i}", json.dumps(doc))
    pipe.execute()
    return {layout: memory_of(r, f"{prefix}{kind}:*")[0] / len(docs)
            for layout, kind in [("Hash", "hash"), ("JSON", "json"), ("JSON string", "str")]}


def interleaved_writes(r: redis.Redis, docs: list[str], prefixes: dict[str, str], *,
                       rounds: int = 9) -> dict[str, list[tuple[float, float]]]:
    """Pipelined JSON.SET of `docs` under each prefix, round after round in alternating order, the first round a
    warm-up; per label, (client seconds, server µs per JSON.SET) of each round. Resets the server's stats: use a
    private server."""
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label in prefixes}
    for round_ in range(rounds):
        for label in list(prefixes) if round_ % 2 == 0 else list(prefixes)[::-1]:
            r.config_resetstat()
            started = time.perf_counter()
            pipe = r.pipeline(transaction=False)
            for i, doc in enumerate(docs):
                pipe.execute_command("JSON.SET", f"{prefixes[label]}{i}", "$", doc)
            pipe.execute()
            sample = time.perf_counter() - started, float(r.info("commandstats")["cmdstat_json.set"]["usec_per_call"])
            if round_:                     # the first round creates the keys: a warm-up, not a sample
                samples[label].append(sample)
    return samples
