"""models of speechbrain-ssdctx."""
