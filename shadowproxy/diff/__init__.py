"""The pure comparison core: profiles, normalizers and the diff engine. No I/O."""
