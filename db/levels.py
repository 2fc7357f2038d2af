"""The level vocabulary, in the order of the ENUM columns (least to most severe)."""
LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
