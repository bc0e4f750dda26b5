//! Python pickle codec (protocols 0–5 read, 4 written by default). Never runs code.
