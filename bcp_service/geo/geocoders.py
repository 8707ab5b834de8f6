"""Geocoder adapters (address → coordinates) on geopy, chosen by ``GEOCODER`` = none | gsi | nominatim.

- ``GSI`` is a geopy ``Geocoder`` for 国土地理院's address search (no key; Japanese addresses).
- Nominatim is geopy's own (OpenStreetMap; needs a real User-Agent, low rate limits).
- ``none`` geocodes nothing: coordinates are entered by hand or picked on the map.

Every outcome is explicit: a ``GeocodeResult``, or ``AddressNotFound`` / ``GeocoderUnavailable`` /
``GeocodingDisabled``. Never a silent ``None``, never a guessed point.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping, Protocol
from urllib.parse import urlencode

from geopy.exc import GeopyError
from geopy.geocoders import Nominatim
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location

GEOCODER_NAMES = ("none", "gsi", "nominatim")
DEFAULT_USER_AGENT = "bcp-service (zaitaku BCP registry)"


class GeocodeFailure(Exception):
    """Base for explicit geocoding outcomes other than a result; ``message`` is Japanese."""

    message = "住所から座標を求められませんでした"

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)
        if message:
            self.message = message


class GeocodingDisabled(GeocodeFailure):
    message = "住所からの座標変換は無効です。座標を手入力するか地図で選んでください"


class AddressNotFound(GeocodeFailure):
    message = "該当する住所が見つかりません。座標を手入力するか地図で選んでください"


class GeocoderUnavailable(GeocodeFailure):
    message = "座標変換サービスに接続できません。座標を手入力するか地図で選んでください"


@dataclass(frozen=True)
class GeocodeResult:
    lat: float
    lon: float
    address: str   # the address the service matched (may be coarser than what was asked)
    source: str    # gsi | nominatim


class AddressGeocoder(Protocol):
    name: str

    def geocode(self, address: str) -> GeocodeResult: ...


class GSI(Geocoder):
    """国土地理院 address search (``/address-search/AddressSearch?q=``) as a geopy geocoder.

    The service answers a GeoJSON-like list of features, best match first:
    ``[{"geometry": {"coordinates": [lon, lat]}, "properties": {"title": "…"}}]``.
    """

    geocode_path = "/address-search/AddressSearch"

    def __init__(self, *, domain: str = "msearch.gsi.go.jp", scheme: str | None = None,
                 timeout: Any = DEFAULT_SENTINEL, proxies: Any = DEFAULT_SENTINEL,
                 user_agent: str | None = None, ssl_context: Any = DEFAULT_SENTINEL,
                 adapter_factory: Any = None):
        super().__init__(scheme=scheme, timeout=timeout, proxies=proxies, user_agent=user_agent,
                         ssl_context=ssl_context, adapter_factory=adapter_factory)
        self.domain = domain.strip("/")
        self.api = f"{self.scheme}://{self.domain}{self.geocode_path}"

    def geocode(self, query: str, *, exactly_one: bool = True, timeout: Any = DEFAULT_SENTINEL):
        url = f"{self.api}?{urlencode({'q': query})}"
        return self._call_geocoder(url, lambda data: self._parse_json(data, exactly_one), timeout=timeout)

    @staticmethod
    def _parse_json(data: Any, exactly_one: bool):
        if not data:
            return None
        if not isinstance(data, list):
            from geopy.exc import GeocoderParseError
            raise GeocoderParseError("unexpected GSI response")
        locations = []
        for feature in data:
            try:
                lon, lat = feature["geometry"]["coordinates"][:2]
                title = feature.get("properties", {}).get("title", "")
                locations.append(Location(title, (float(lat), float(lon)), feature))
            except (KeyError, TypeError, ValueError):
                continue  # skip malformed features rather than invent a point
        if not locations:
            return None
        return locations[0] if exactly_one else locations


class GeopyAddressGeocoder:
    """Wraps any geopy geocoder into the explicit-outcome port."""

    def __init__(self, geocoder: Geocoder, name: str):
        self._geocoder = geocoder
        self.name = name

    def geocode(self, address: str) -> GeocodeResult:
        query = unicodedata.normalize("NFKC", address or "").strip()
        if not query:
            raise AddressNotFound("住所が空です")
        try:
            loc = self._geocoder.geocode(query, exactly_one=True)
        except GeopyError as e:
            raise GeocoderUnavailable() from e
        if loc is None:
            raise AddressNotFound()
        lat, lon = float(loc.latitude), float(loc.longitude)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise GeocoderUnavailable("座標変換サービスが不正な座標を返しました")
        return GeocodeResult(lat, lon, loc.address or "", self.name)


class DisabledGeocoder:
    name = "none"

    def geocode(self, address: str) -> GeocodeResult:
        raise GeocodingDisabled()


def make_geocoder(config: Mapping[str, Any]) -> AddressGeocoder:
    """Build the configured geocoder. Keys: ``GEOCODER``, and optionally ``GEOCODER_DOMAIN``,
    ``GEOCODER_SCHEME`` (tests point these at a loopback fake), ``GEOCODER_USER_AGENT``,
    ``GEOCODER_TIMEOUT`` (seconds, default 5)."""
    name = (config.get("GEOCODER") or "none").strip().lower()
    if name not in GEOCODER_NAMES:
        raise ValueError(f"GEOCODER must be one of {', '.join(GEOCODER_NAMES)}")
    if name == "none":
        return DisabledGeocoder()
    kw: dict[str, Any] = {
        "timeout": float(config.get("GEOCODER_TIMEOUT") or 5),
        "user_agent": config.get("GEOCODER_USER_AGENT") or DEFAULT_USER_AGENT,
    }
    if config.get("GEOCODER_SCHEME"):
        kw["scheme"] = config["GEOCODER_SCHEME"]
    if config.get("GEOCODER_DOMAIN"):
        kw["domain"] = config["GEOCODER_DOMAIN"]
    if name == "gsi":
        return GeopyAddressGeocoder(GSI(**kw), "gsi")
    return GeopyAddressGeocoder(_JapanNominatim(**kw), "nominatim")


class _JapanNominatim(Nominatim):
    """Nominatim restricted to Japan, answering in Japanese."""

    def geocode(self, query, *, exactly_one=True, timeout=DEFAULT_SENTINEL, **kw):
        kw.setdefault("country_codes", "jp")
        kw.setdefault("language", "ja")
        return super().geocode(query, exactly_one=exactly_one, timeout=timeout, **kw)
