"""協議の場: the 拠点's regular multi-profession meetings on disaster issues, per region."""
