"""Serial full-page document readers (MRZ as text): sans-IO framings and an asyncio shell."""

from drivers.docreader.framing import (
    FRAMINGS,
    DeskoDecoder,
    DocumentRead,
    DocumentRemoved,
    FrameDropped,
    FramingError,
    ThreeMDecoder,
    decoder,
    encode,
)

__all__ = [
    "FRAMINGS",
    "DeskoDecoder",
    "DocumentRead",
    "DocumentRemoved",
    "FrameDropped",
    "FramingError",
    "ThreeMDecoder",
    "decoder",
    "encode",
]
