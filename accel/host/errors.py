"""Error codes the core reports in STATUS[15:8] (with STATUS.ERROR set)."""

from amaranth.lib import enum

__all__ = ["ErrorCode"]


class ErrorCode(enum.Enum, shape=8):
    """Why the last command failed. Cleared by CTRL.CLEAR or the next accepted start."""

    NONE = 0
    #: START with WIDTH/HEIGHT zero, above MAX_WIDTH/MAX_HEIGHT, or not multiples of PATCH.
    FRAME_SIZE = 1
    #: START selected a precision this build does not carry (HWINFO bits 16/17).
    PRECISION = 2
    #: A weight-stream packet named a memory this build does not have.
    WGT_MEMORY = 3
    #: A weight-stream packet ran past the end of its memory; the rest was dropped.
    WGT_RANGE = 4
    #: A weight-stream packet ended (tlast) inside a memory word; the partial word was dropped.
    WGT_TRUNCATED = 5
    #: START of a video frame job with FRAME_COUNT zero, or FIRST_FRAME + FRAME_COUNT past
    #: CLIP_FRAMES.
    CLIP_RANGE = 6

    @classmethod
    def describe(cls, code):
        """One line for a status code, for host software and the docs."""
        return {
            0: "no error",
            1: "frame size is zero, too large or not a multiple of the patch size",
            2: "precision not carried by this build",
            3: "weight packet for an unknown memory",
            4: "weight packet past the end of its memory",
            5: "weight packet ended inside a memory word",
            6: "clip frames out of range (FRAME_COUNT zero, or FIRST_FRAME + FRAME_COUNT "
               "past CLIP_FRAMES)",
        }.get(int(code), f"unknown error code {int(code)}")
