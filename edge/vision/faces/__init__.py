"""Faces: YuNet detection, landmark alignment, embeddings, galleries and matching."""
