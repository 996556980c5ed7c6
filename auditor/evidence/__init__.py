"""The evidence record, auditor.evidence/1, as a public contract: its records (records), the
vocabulary of decisions (rules), the one reader and writer of evidence files and the CSVs
(files), and the sentences rendered from it in English and Japanese (wording)."""
