"""The ground floor: what every other package stands on and that stands on nothing of handsign's
(atomic writes, the repository's paths, the runtime and precision, pinned weights, archives, image
reading, and the typed settings that datasets and config share). `make lint` holds it to that."""
