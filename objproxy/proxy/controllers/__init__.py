"""Per-resource controllers of the proxy (account, container, object)."""
