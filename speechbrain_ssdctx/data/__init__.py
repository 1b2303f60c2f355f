"""data of speechbrain-ssdctx."""
