"""A large daily list imported in chunks (the ListImport workflow)."""
