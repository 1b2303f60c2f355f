"""speechbrain-ssdctx: inter-frequency (InF) and inter-instance (InI) context training for
synthetic speech detection, as a SpeechBrain plugin."""

__version__ = "0.1.0"
