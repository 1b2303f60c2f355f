"""cli of speechbrain-ssdctx."""
