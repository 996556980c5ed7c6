"""The evidence PDF (pdf, story, pictures, fonts, text) and its check (check)."""
