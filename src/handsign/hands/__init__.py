"""The hand-landmark route: MediaPipe's landmarks, what a landmark classifier sees, a hand classifier."""
