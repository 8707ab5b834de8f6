"""Event-driven simulation of the vital devices drawing on their pools. Pure.

Dedicated power first (external batteries, cylinders, a spare's battery by a swap, then the internal
battery kept as the reserve), then the shared ladder: station on 12 V DC → station through the
inverter (the devices' watts plus the inverter's idle draw) → vehicle inverter → generator.
Timing: a device's ``phase`` is how far into its daily cycle it is when the power goes (hours; it
runs while the phase is below its ``use_hours``). Phase 0 for every device is the worst case (each
daily block starts when the power goes); a daily schedule and a known start give the real phase.
"""
from __future__ import annotations

import math

from bcp_service.registry.runway.model import HORIZON_HOURS, Device
from bcp_service.registry.runway.sources import Pools

_EPS = 1e-9


def simulate(vital: list[Device], pools: Pools, idle_watts: float,
             phases: list[float] | None = None) -> tuple[float, int]:
    """(hours, index of the device that stops first; -1 when none stops within the horizon)."""
    phases = phases or [0.0] * len(vital)
    own = list(pools.own)
    dc, ac = pools.dc_wh, pools.ac_wh
    vehicle, generator = pools.vehicle_h, pools.generator_h
    t = 0.0
    for _ in range(100_000):  # bound: each step passes an event; a month has a few hundred
        if t >= HORIZON_HOURS - _EPS:
            return HORIZON_HOURS, -1
        nxt = HORIZON_HOURS
        on_station: list[int] = []
        on_vehicle = on_generator = False
        own_draw: list[int] = []
        for i, d in enumerate(vital):
            on, boundary = window(t, d.use_hours, phases[i])
            nxt = min(nxt, boundary)
            if not on:
                continue
            if own[i] > _EPS:
                own_draw.append(i)
            elif (dc > _EPS or ac > _EPS) and d.watts is not None:
                on_station.append(i)
            elif vehicle > _EPS:
                on_vehicle = True
            elif generator > _EPS:
                on_generator = True
            else:
                return t, i
        for i in own_draw:
            nxt = min(nxt, t + own[i])
        load = sum(vital[i].watts or 0.0 for i in on_station)
        use_dc = dc > _EPS
        draw = 0.0
        if on_station:
            draw = load if use_dc else load + idle_watts
            if draw > 0:
                nxt = min(nxt, t + (dc if use_dc else ac) / draw)
        if on_vehicle:
            nxt = min(nxt, t + vehicle)
        if on_generator:
            nxt = min(nxt, t + generator)
        dt = max(nxt - t, 0.0)
        for i in own_draw:
            own[i] = max(own[i] - dt, 0.0)
        if use_dc:
            dc = max(dc - draw * dt, 0.0)
        else:
            ac = max(ac - draw * dt, 0.0)
        if on_vehicle:
            vehicle = max(vehicle - dt, 0.0)
        if on_generator:
            generator = max(generator - dt, 0.0)
        t = nxt
    raise RuntimeError("runway simulation did not converge")  # pragma: no cover


def window(t: float, hours_per_day: float, phase: float = 0.0) -> tuple[bool, float]:
    """Whether a device is in its daily use period at ``t`` (hours since the power went), and the
    next on/off boundary. ``phase``: hours into its daily cycle at ``t`` = 0."""
    if hours_per_day >= 24:
        return True, HORIZON_HOURS
    c = t + phase
    day = math.floor((c + _EPS) / 24.0)
    start = day * 24.0
    end = start + hours_per_day
    if c < end - _EPS:
        return True, end - phase
    return False, start + 24.0 - phase
