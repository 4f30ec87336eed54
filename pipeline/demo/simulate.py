"""A seeded simulation of contacts over time. THE TEXTS ARE REAL; TIMES, CUSTOMERS, TICKETS, REPEAT CONTACTS,
HANDLE TIMES AND BUSINESS VOLUME ARE SIMULATED.

The labelled data sets have no times or customers, so the over-time features (touches, ranking, touch index,
trends, stable ids) are exercised on this: weeks of business volume that grows, a contact rate per order that
slowly falls (the touch index should fall while the business grows), issues whose intent is drawn from a mix,
customers who come back about the same issue a number of times that depends on the intent, and intents that only
appear in the last two weeks. Each contact's text is drawn from the real texts of its intent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Simulation:
    contacts: pd.DataFrame  # contact_id, text, created_at, customer_id, ticket_id, channel, handle_time_s, intent
    volume: pd.DataFrame  # date, volume (daily orders)
    touches_per_issue: dict[str, float]  # the intent's mean touches per issue, as drawn


def simulate(
    texts: pd.DataFrame,
    weeks: int = 12,
    contacts: int = 13_000,
    new_intents: tuple[str, ...] = (),
    start: str = "2026-08-31",
    seed: int = 7,
) -> Simulation:
    """`texts`: `text` and `intent` columns (real data). About `contacts` contacts over `weeks` weeks; the
    `new_intents` appear only in the last 14 days."""
    rng = np.random.default_rng(seed)
    intents = sorted(texts["intent"].unique())
    old = [i for i in intents if i not in new_intents]
    pool = {i: texts.loc[texts["intent"] == i, "text"].tolist() for i in intents}
    days = pd.date_range(start, periods=weeks * 7, freq="D", tz="UTC")
    growth = np.linspace(1.0, 1.4, len(days))  # the business grows 40%
    weekday = np.where(days.weekday >= 5, 0.7, 1.0)
    orders = np.round(10_000 * growth * weekday * rng.normal(1.0, 0.03, len(days)))
    rate = np.linspace(1.0, 0.8, len(days))  # contacts per order fall 20% over the period
    repeat = {i: float(rng.uniform(0.0, 1.5)) for i in intents}  # extra touches per issue, on average
    mix = dict(zip(old, rng.dirichlet(np.full(len(old), 2.0))))
    mean_touches = 1 + np.mean(list(repeat.values()))
    issues_total = contacts / mean_touches
    per_order = issues_total / float((orders * rate).sum())
    customers = max(50, int(issues_total * 0.7))

    rows = []
    for d, day in enumerate(days):
        recent = d >= len(days) - 14
        weights = {i: w * (0.9 if recent and new_intents else 1.0) for i, w in mix.items()}
        if recent:
            weights.update({i: 0.1 / len(new_intents) for i in new_intents})
        names = list(weights)
        p = np.array([weights[i] for i in names])
        for _ in range(rng.poisson(orders[d] * rate[d] * per_order)):
            intent = names[rng.choice(len(names), p=p / p.sum())]
            customer = f"K{int(rng.zipf(1.6) + rng.integers(customers)) % customers:06d}"
            when = day + pd.Timedelta(seconds=int(rng.integers(8 * 3600, 20 * 3600)))
            ticket = f"T{len(rows):07d}"
            shared_ticket = rng.random() < 0.6
            for touch in range(1 + rng.poisson(repeat[intent])):
                if touch:
                    when = when + pd.Timedelta(hours=float(rng.exponential(36)))
                if when > days[-1] + pd.Timedelta(days=1):
                    break
                rows.append(
                    {
                        "text": pool[intent][rng.integers(len(pool[intent]))],
                        "created_at": when,
                        "customer_id": customer,
                        "ticket_id": ticket if shared_ticket or touch == 0 else f"{ticket}-{touch}",
                        "channel": str(rng.choice(["email", "chat", "phone"], p=[0.4, 0.4, 0.2])),
                        "handle_time_s": float(np.round(rng.lognormal(5.5, 0.5))),
                        "intent": intent,
                    }
                )
    frame = pd.DataFrame(rows).sort_values("created_at", kind="stable").reset_index(drop=True)
    frame.insert(0, "contact_id", [f"S{i:06d}" for i in range(1, len(frame) + 1)])
    frame["created_at"] = frame["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    volume = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "volume": orders.astype(int)})
    return Simulation(frame, volume, {i: 1 + r for i, r in repeat.items()})
