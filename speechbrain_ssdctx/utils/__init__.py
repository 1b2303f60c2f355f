"""Helpers shared by the package, each in its own module: distributed training
(``distributed``), random generators and their checkpointed state (``reproducibility``),
state kept outside ``state_dict`` (``module_state``), the allocator setting
(``allocator``), atomic writes (``atomic``), text reading (``textio``), the training
YAMLs' shared blocks (``hparams_blocks``), the import paths of 0.1.0 (``legacy_paths``) and
one SpeechBrain log line dropped
(``quiet_logs``)."""
