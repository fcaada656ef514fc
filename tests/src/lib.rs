//! Root-only end-to-end tests live in `tests/tests/`; see ARCHITECTURE.md.
