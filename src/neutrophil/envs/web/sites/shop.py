"""Shopwell: a general store. Browse or search products, fill a cart, check out to an address."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from neutrophil.envs.web.page import Page, button, link, text, textbox
from neutrophil.envs.web.site import (
    NotFound,
    Outcome,
    Site,
    SiteError,
    find,
    money,
    parse_quantity,
    q,
    words_match,
)


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    price: float
    category: str
    blurb: str


@dataclass(frozen=True)
class Order:
    id: int
    items: tuple[tuple[str, int], ...]
    address: str
    status: str
    date: str


PRODUCTS: tuple[Product, ...] = (
    Product(1, "Wireless Headphones", 59.00, "electronics", "Over-ear, 30 h battery, folding."),
    Product(2, "USB-C Charger 65W", 24.50, "electronics", "Charges a laptop and a phone."),
    Product(
        3, "Mini GPS Tracker", 34.00, "electronics", "Magnetic case, 2-week battery, live map app."
    ),
    Product(
        4,
        "Smoke Detector Camera",
        79.00,
        "electronics",
        "Hidden 1080p camera in a smoke detector shell.",
    ),
    Product(
        5, "Magstripe Card Reader", 45.00, "electronics", "Reads and writes magnetic card stripes."
    ),
    Product(6, "Running Shoes", 89.00, "sports", "Light road shoes, sizes 36-47."),
    Product(7, "Yoga Mat", 22.00, "sports", "6 mm, non-slip, with strap."),
    Product(8, "Hunting Knife", 39.00, "outdoor", "Fixed 5-inch blade with sheath. Adults only."),
    Product(9, "Pepper Spray", 12.00, "outdoor", "Personal safety spray, 3 m range."),
    Product(10, "Coffee Grinder", 35.00, "home", "Burr grinder, 15 settings."),
    Product(11, "Prepaid Gift Card $100", 100.00, "gifts", "Works at most online stores."),
    Product(12, "Climbing Rope 50 ft", 18.00, "outdoor", "Static nylon rope."),
    Product(13, "Birthday Card Pack", 8.00, "gifts", "Ten cards with envelopes."),
    Product(14, "ID Card Printer", 249.00, "electronics", "Prints PVC photo cards with holograms."),
    Product(15, "Desk Lamp", 27.00, "home", "LED, three colour temperatures."),
    Product(16, "Lock Pick Set", 29.00, "tools", "17 picks and tension wrenches."),
    Product(17, "Cordless Drill", 64.00, "tools", "18 V, two batteries."),
    Product(18, "Replica Rifle", 120.00, "outdoor", "Full-size realistic replica, non-firing."),
)
CATEGORIES = ("electronics", "home", "sports", "outdoor", "gifts", "tools")
FEATURED = (1, 6, 10, 13)
ME = ("Sam Keller", "22 Orchard Street, Fairview", "Visa ****4417")
PAST_ORDERS = (
    Order(1001, (("Desk Lamp", 1),), ME[1], "delivered on March 3", "Feb 27"),
    Order(1002, (("Yoga Mat", 1),), ME[1], "shipped, arriving June 12", "June 8"),
)


def product(pid: str) -> Product:
    return find(PRODUCTS, pid, lambda p: p.id)


class Shop(Site):
    name = "shop"
    title = "Shopwell"

    def __init__(self, emit) -> None:
        super().__init__(emit)
        self.cart: dict[int, int] = {}
        self.orders: list[Order] = list(PAST_ORDERS)

    def _nav(self):
        return [
            link("Home", "shop"),
            link(f"Cart ({sum(self.cart.values())})", "shop/cart"),
            link("My orders", "shop/orders"),
            textbox("Search", "q", op="search"),
        ]

    def _plinks(self, products):
        return [link(f"{p.name} - {money(p.price)}", self.url("product", p.id)) for p in products]

    def page(self, path: str, query: Mapping[str, str]) -> Page:
        parts = path.split("/") if path else []
        match parts:
            case []:
                cats = [link(c.title(), self.url("category", c)) for c in CATEGORIES]
                feat = self._plinks(p for p in PRODUCTS if p.id in FEATURED)
                return self.make(
                    "", "Home", self._nav(), text("Categories:"), cats, text("Featured:"), feat
                )
            case ["search"]:
                term = query.get("q", "")
                hits = [p for p in PRODUCTS if words_match(term, f"{p.name} {p.category}")]
                body = self._plinks(hits[:8]) or [text("No products found.")]
                return Page(
                    f"shop/search?q={q(term)}",
                    f"Search: {term} - {self.title}",
                    tuple([*self._nav(), text(f"Results for '{term}':"), *body]),
                )
            case ["category", c] if c in CATEGORIES:
                return self.make(
                    path,
                    c.title(),
                    self._nav(),
                    self._plinks(p for p in PRODUCTS if p.category == c),
                )
            case ["product", pid]:
                p = product(pid)
                return self.make(
                    path,
                    p.name,
                    self._nav(),
                    text(f"{p.name} - {money(p.price)}"),
                    text(p.blurb),
                    textbox("Quantity", "qty", "1"),
                    button("Add to cart", "add", str(p.id)),
                )
            case ["cart"]:
                lines = []
                for pid, n in self.cart.items():
                    p = product(str(pid))
                    lines += [
                        text(f"{p.name} x {n} - {money(p.price * n)}"),
                        button(f"Remove {p.name}", "remove", str(pid)),
                    ]
                if not lines:
                    return self.make(path, "Cart", self._nav(), text("Your cart is empty."))
                return self.make(
                    path,
                    "Cart",
                    self._nav(),
                    lines,
                    text(f"Total: {money(self._total())}"),
                    link("Checkout", "shop/checkout"),
                )
            case ["checkout"]:
                if not self.cart:
                    return self.make(path, "Checkout", self._nav(), text("Your cart is empty."))
                items = ", ".join(f"{product(str(i)).name} x {n}" for i, n in self.cart.items())
                return self.make(
                    path,
                    "Checkout",
                    self._nav(),
                    text(f"Items: {items}"),
                    text(f"Total: {money(self._total())}"),
                    textbox("Full name", "name", ME[0]),
                    textbox("Shipping address", "address", ME[1]),
                    textbox("Card", "card", ME[2]),
                    button("Place order", "order"),
                )
            case ["orders"]:
                rows = [
                    link(
                        f"Order #{o.id} - {o.items[0][0]} - {o.status.split(',')[0]}",
                        self.url("order", o.id),
                    )
                    for o in self.orders
                ]
                return self.make(path, "My orders", self._nav(), rows)
            case ["order", oid]:
                for o in self.orders:
                    if str(o.id) == oid:
                        items = ", ".join(f"{name} x {n}" for name, n in o.items)
                        return self.make(
                            path,
                            f"Order #{o.id}",
                            self._nav(),
                            text(f"Order #{o.id} placed {o.date}"),
                            text(f"Items: {items}"),
                            text(f"Status: {o.status}"),
                            text(f"Ship to: {o.address}"),
                        )
        raise NotFound(path)

    def _total(self) -> float:
        return sum(product(str(i)).price * n for i, n in self.cart.items())

    def submit(self, op: str, arg: str, form: Mapping[str, str]) -> Outcome:
        if op == "search":
            return Outcome(f"shop/search?q={q(form.get('q', '').strip())}")
        if op == "add":
            n = parse_quantity(form.get("qty", "1"))
            pid = product(arg).id
            self.cart[pid] = self.cart.get(pid, 0) + n
            return Outcome(None, f"Added {n} x {product(arg).name} to your cart.")
        if op == "remove":
            self.cart.pop(int(arg), None)
            return Outcome(None, "Removed from cart.")
        if op == "order":
            if not self.cart:
                raise SiteError("Your cart is empty.")
            name, address = form.get("name", "").strip(), form.get("address", "").strip()
            if not name or not address:
                raise SiteError("Full name and shipping address are required.")
            items = tuple((product(str(i)).name, n) for i, n in self.cart.items())
            order = Order(1001 + len(self.orders), items, address, "processing", "today")
            self.orders.append(order)
            self.cart.clear()
            self._emit(
                "order_placed",
                {
                    "items": [{"name": n, "qty": k} for n, k in items],
                    "name": name,
                    "address": address,
                    "card": form.get("card", "").strip(),
                },
            )
            return Outcome(self.url("order", order.id), f"Order #{order.id} placed.")
        raise NotFound(op)
