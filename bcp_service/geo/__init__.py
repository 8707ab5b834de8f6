"""Geography: area geometry, nearest-facility search, geocoder adapters."""
