//! End-to-end tests: the real `mooring` binary over real bundles.
