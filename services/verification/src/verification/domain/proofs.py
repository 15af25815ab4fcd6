"""Proof of difficulty (贫困证明材料) for a supplementary record: a JPG of at most 2 MB (FAQ Q20).

The format is judged by content, not by the file's name: Pillow must recognise a JPEG and decode
it whole (a renamed PNG or PDF, or a truncated JPEG, is refused). Images with absurd dimensions
are refused before decoding, so a small file cannot make the service decode gigapixels.
"""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, UnidentifiedImageError

MAX_PROOF_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 40_000_000


class ProofRefused(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_proof(content: bytes) -> str:
    """The proof's SHA-256, or ProofRefused saying why it is not accepted."""
    if not content:
        raise ProofRefused("proof_empty", "证明材料为空 (the proof file is empty)")
    if len(content) > MAX_PROOF_BYTES:
        raise ProofRefused("proof_too_large",
                           f"证明材料不能大于 2M（本文件超过 {MAX_PROOF_BYTES} 字节）(the proof is larger than 2 MB: "
                           f"at most {MAX_PROOF_BYTES} bytes)")
    if not is_jpeg(content):
        raise ProofRefused("proof_not_jpeg", "证明材料须为 JPG 图片（按文件内容判断）(the proof must be a JPG image, judged by its content)")
    return hashlib.sha256(content).hexdigest()


def is_jpeg(content: bytes) -> bool:
    """Whether the bytes decode as a whole JPEG image of sane dimensions."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=["JPEG"]) as image:
                if image.width * image.height > MAX_PIXELS:
                    return False
                image.load()
        return True
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError):
        return False
