"""Each dataset's classes as hand shapes. A 2-D render cannot show everything a real hand does;
the limits are noted beside the shapes they affect (and in the README).

Curl tuples are (thumb, index, middle, ring, little): 0 straight, 1 fully bent.
"""

from __future__ import annotations

from handsign.synth.hand import HandShape, extended

# LeapGestRecog, in folder order. "moved" variants add displacement and motion blur at render time.
LEAP_SHAPES: dict[str, HandShape] = {
    "palm": HandShape(curl=(0.0, 0.0, 0.0, 0.0, 0.0), spread=(0, 6, 0, -4, -8)),
    "l": extended("thumb", "index", spread=(-15, 0, 0, 0, 0)),
    "fist": HandShape(curl=(0.7, 1.0, 1.0, 1.0, 1.0), thumb_across=0.9),
    "fist_moved": HandShape(curl=(0.7, 1.0, 1.0, 1.0, 1.0), thumb_across=0.9),
    "thumb": HandShape(curl=(0.0, 1.0, 1.0, 1.0, 1.0), spread=(10, 0, 0, 0, 0), roll=-35.0),
    "index": extended("index"),
    "ok": HandShape(curl=(0.45, 0.6, 0.0, 0.0, 0.0), spread=(0, -2, 2, -4, -10), thumb_across=0.45),
    "palm_moved": HandShape(curl=(0.0, 0.0, 0.0, 0.0, 0.0), spread=(0, 6, 0, -4, -8)),
    "c": HandShape(curl=(0.35, 0.5, 0.5, 0.5, 0.5), spread=(20, 0, 0, 0, 0), thumb_across=0.1, roll=-70.0),
    "down": extended("index", roll=180.0),
}
MOVED = {"fist_moved", "palm_moved"}

# Sign Language MNIST: ASL letters without J and Z. A 2-D silhouette cannot show which finger is
# in front (R's crossed fingers are drawn as touching), or the thumb tucked under fingers (M, N, T
# differ only in where the thumb's tip shows), so those letters are close to each other by design.
SIGN_SHAPES: dict[str, HandShape] = {
    "A": HandShape(curl=(0.1, 1.0, 1.0, 1.0, 1.0), spread=(-40, 0, 0, 0, 0), thumb_across=0.35),
    "B": HandShape(curl=(1.0, 0.0, 0.0, 0.0, 0.0), spread=(0, -6, 0, 4, 8), thumb_across=1.0),
    "C": HandShape(curl=(0.3, 0.45, 0.45, 0.45, 0.45), spread=(25, -4, 0, 3, 6), thumb_across=0.1, roll=-80.0),
    "D": HandShape(curl=(0.8, 0.0, 0.75, 0.75, 0.75), thumb_across=0.7),
    "E": HandShape(curl=(1.0, 0.75, 0.75, 0.75, 0.75), thumb_across=1.0),
    "F": HandShape(curl=(0.5, 0.65, 0.0, 0.0, 0.0), spread=(0, 0, 4, 0, -8), thumb_across=0.5),
    "G": extended("index", "thumb", spread=(30, 0, 0, 0, 0), roll=-90.0),
    "H": extended("index", "middle", spread=(0, -6, 4, 0, 0), roll=-90.0),
    "I": extended("little", thumb_across=1.0),
    "K": HandShape(curl=(0.2, 0.0, 0.0, 1.0, 1.0), spread=(-40, 12, -10, 0, 0), thumb_across=0.55),
    "L": extended("thumb", "index", spread=(-25, 0, 0, 0, 0)),
    "M": HandShape(curl=(1.0, 0.9, 0.9, 0.9, 1.0), thumb_across=0.75),
    "N": HandShape(curl=(1.0, 0.9, 0.9, 1.0, 1.0), thumb_across=0.55),
    "O": HandShape(curl=(0.5, 0.55, 0.55, 0.55, 0.55), spread=(0, -6, -2, 2, 6), thumb_across=0.55),
    "P": HandShape(curl=(0.2, 0.0, 0.3, 1.0, 1.0), spread=(-30, 15, -15, 0, 0), thumb_across=0.5, roll=160.0),
    "Q": extended("index", "thumb", spread=(-20, 0, 0, 0, 0), roll=170.0),
    "R": extended("index", "middle", spread=(0, -10, 10, 0, 0)),
    "S": HandShape(curl=(0.6, 1.0, 1.0, 1.0, 1.0), thumb_across=1.0),
    "T": HandShape(curl=(0.9, 1.0, 1.0, 1.0, 1.0), thumb_across=0.35),
    "U": extended("index", "middle", spread=(0, -5, 5, 0, 0)),
    "V": extended("index", "middle", spread=(0, 12, -12, 0, 0)),
    "W": extended("index", "middle", "ring", spread=(0, 14, 0, -14, 0)),
    "X": HandShape(curl=(0.9, 0.55, 1.0, 1.0, 1.0), thumb_across=0.8),
    "Y": extended("thumb", "little", spread=(-20, 0, 0, 0, -25)),
}

# Fingers: which fingers are up for each count (alternatives drawn at random, as people differ).
FINGER_COUNTS: dict[int, tuple[tuple[str, ...], ...]] = {
    0: ((),),
    1: (("index",),),  # a lone thumb, seen from the front, reads as a fist
    2: (("index", "middle"), ("thumb", "index")),
    3: (("index", "middle", "ring"), ("thumb", "index", "middle")),
    4: (("index", "middle", "ring", "little"),),
    5: (("thumb", "index", "middle", "ring", "little"),),
}


# A fist shows its thumb bent over the side of the index finger, not across the palm: a silhouette
# whose thumb lies across the palm is read by MediaPipe's detector as the other hand (left fists:
# 44% with the thumb on their side; this way 88%, and 97% of all left hands).
FIST = HandShape(curl=(0.5, 1.0, 1.0, 1.0, 1.0), thumb_across=0.2, spread=(-40, 10, 0, -8, -18))


def finger_count_shape(fingers_up: tuple[str, ...], thumb_across: float = 0.3) -> HandShape:
    """The hand for a count: the fingers named up, the others curled, a curled thumb along the palm's
    side (or, with a larger `thumb_across`, folded over the curled fingers, as many people hold them)."""
    if not fingers_up:
        return FIST
    return extended(*fingers_up, thumb_across=thumb_across, spread=(-15, 10, 0, -8, -18))
