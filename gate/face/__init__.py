"""Face verification: the live face against the chip portrait.

Modules: ``models`` (pinned model files, fetch and verification), ``detect`` (YuNet with our
numpy decoder), ``align`` (ArcFace five-point template), ``embed`` (SFace), ``match`` (cosine
similarity and threshold), ``quality`` (size, pose, sharpness, exposure, guidance), ``fuse``
(best frames, mean embedding), ``liveness`` (interface and motion baseline), ``portrait``
(safe JPEG / JPEG 2000 decoding and enhancement), ``pipeline`` (:class:`FaceEngine`), ``errors``.
See docs/face.md and models/README.md.
"""
