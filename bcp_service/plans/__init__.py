"""Plans: 機関型 / 連携型 / 地域BCP drafted from versioned templates in `plans/*.yaml`."""
